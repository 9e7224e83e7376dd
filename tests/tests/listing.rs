//! The `assets` connection: filters, order, stable pages under concurrent
//! inserts, and a constant number of SQL statements whatever the page size.

use std::collections::HashSet;

use std::time::Duration;

use chrono::Duration as Span;
use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{PASSWORD, UploadFile, spawn_app};

fn ids(body: &Value) -> Vec<String> {
    body["data"]["assets"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

const PAGE: &str = "query($after: String, $first: Int) { assets(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } }";

#[tokio::test]
async fn pages_stay_stable_while_assets_are_added() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let file = UploadFile::fixture("chelsea.png");
    let mut original = Vec::new();
    for i in 0..30 {
        // Half of them share a creation instant: the id breaks the tie.
        if i % 2 == 0 {
            app.clock.advance(Span::milliseconds(1));
        }
        let asset = app
            .upload_asset(&admin, &file, json!({ "title": format!("a{i:02}") }))
            .await;
        original.push(asset["id"].as_str().unwrap().to_owned());
    }
    let first = app.gql(Some(&admin), PAGE, json!({ "first": 10 })).await;
    assert_eq!(first["data"]["assets"]["totalCount"], 30);
    let mut seen = ids(&first);
    let mut cursor = first["data"]["assets"]["pageInfo"]["endCursor"].clone();

    // Ten more arrive while the client pages through.
    let inserting = {
        let client = app.client.clone();
        let base = app.base.clone();
        let admin = admin.clone();
        let bytes = file.bytes.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                let form = reqwest::multipart::Form::new()
                    .text("operations", json!({
                        "query": "mutation($file: Upload!, $t: String) { uploadAsset(file: $file, input: { title: $t }) { id } }",
                        "variables": { "file": null, "t": format!("new{i}") }
                    }).to_string())
                    .text("map", json!({ "0": ["variables.file"] }).to_string())
                    .part("0", reqwest::multipart::Part::bytes(bytes.clone()).file_name("c.png"));
                let body: Value = client
                    .post(format!("{base}/graphql"))
                    .bearer_auth(&admin)
                    .multipart(form)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(body["errors"].is_null(), "{body}");
            }
        })
    };
    loop {
        let page = app
            .gql(Some(&admin), PAGE, json!({ "first": 10, "after": cursor }))
            .await;
        seen.extend(ids(&page));
        if page["data"]["assets"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursor = page["data"]["assets"]["pageInfo"]["endCursor"].clone();
    }
    inserting.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was listed twice");
    let expected: HashSet<&String> = original.iter().collect();
    assert_eq!(
        unique, expected,
        "rows were skipped (or new rows leaked into later pages)"
    );
    // Newest first.
    let mut newest_first = original.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    app.finish().await;
}

#[tokio::test]
async fn a_page_costs_the_same_number_of_statements_at_10_and_at_50() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("other@example.com", Role::Editor).await;
    let other = app.login("other@example.com", PASSWORD).await;
    let mut folders = Vec::new();
    for name in ["Rings", "Necklaces", "Watches"] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($n: String!) { createFolder(input: { name: $n }) { id } }",
                json!({ "n": name }),
            )
            .await;
        let parent = body["data"]["createFolder"]["id"].clone();
        let body = app
            .gql(
                Some(&admin),
                "mutation($p: ID, $n: String!) { createFolder(input: { parentId: $p, name: $n }) { id } }",
                json!({ "p": parent, "n": "Gold" }),
            )
            .await;
        folders.push(body["data"]["createFolder"]["id"].clone());
    }
    let files = [
        UploadFile::fixture("chelsea.png"),
        UploadFile::fixture("coffee.png"),
    ];
    for i in 0..55 {
        let token = if i % 2 == 0 { &admin } else { &other };
        app.upload_asset(
            token,
            &files[i % 2],
            json!({ "folderId": folders[i % 3], "tags": [format!("t{}", i % 4), "jewel"] }),
        )
        .await;
    }
    // Background processing shares the connection pool (and its statement
    // counter): let it finish first.
    if !vitrine_tests::uses_redis() {
        assert!(app.wait_until_processed(Duration::from_secs(120)).await);
    }
    let query = |n: usize| {
        format!(
            "{{ assets(first: {n}) {{ totalCount edges {{ node {{ id title tags createdBy {{ email }} folder {{ name path }} currentVersion {{ number width height uploadedBy {{ email }} }} }} }} }} }}"
        )
    };
    // The counter is shared with background work (scheduled jobs, the audit
    // batcher), which can only add statements to a window: the cost of a page
    // is the least of three measurements.
    let mut costs = Vec::new();
    for n in [10, 50] {
        let mut cost = u64::MAX;
        let mut body = Value::Null;
        for _ in 0..3 {
            let before = app.statements();
            body = app.gql(Some(&admin), &query(n), Value::Null).await;
            cost = cost.min(app.statements() - before);
        }
        let edges = body["data"]["assets"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n, "{body}");
        assert_eq!(
            edges[0]["node"]["folder"]["path"]
                .as_str()
                .map(|p| p.ends_with("/Gold")),
            Some(true)
        );
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["currentVersion"]["uploadedBy"]["email"].is_string())
        );
        costs.push(cost);
    }
    assert_eq!(
        costs[0], costs[1],
        "statements for 10 vs 50 assets: {costs:?}"
    );
    eprintln!("statements per page: {costs:?}");
    // session + count + page + tags + users + folders + folder ancestors + versions
    assert!(costs[1] <= 10, "{costs:?}");
    app.finish().await;
}

#[tokio::test]
async fn filters_and_orders() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let file = UploadFile::fixture("chelsea.png");
    let start = app.clock.now();
    let a = app
        .upload_asset(
            &admin,
            &file,
            json!({ "title": "Gold Ring", "tags": ["gold", "ring"], "stage": "FINAL" }),
        )
        .await;
    app.clock.advance(Span::hours(1));
    app.upload_asset(
        &admin,
        &file,
        json!({ "title": "Silver Ring", "tags": ["silver", "ring"] }),
    )
    .await;
    app.clock.advance(Span::hours(1));
    app.upload_asset(
        &admin,
        &file,
        json!({ "title": "Pearl Necklace", "tags": ["pearl"], "stage": "RETOUCHED" }),
    )
    .await;

    const LIST: &str = "query($f: AssetFilter, $o: AssetOrder) { assets(filter: $f, orderBy: $o) { totalCount edges { node { title } } } }";
    let titles = |body: Value| -> Vec<String> {
        body["data"]["assets"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = |f: Value, o: Value| app.gql(Some(&admin), LIST, json!({ "f": f, "o": o }));
    assert_eq!(
        titles(q(json!({ "tags": ["ring"] }), Value::Null).await),
        ["Silver Ring", "Gold Ring"]
    );
    assert_eq!(
        titles(q(json!({ "tags": ["ring", "GOLD"] }), Value::Null).await),
        ["Gold Ring"]
    );
    assert_eq!(
        titles(q(json!({ "stage": "FINAL" }), Value::Null).await),
        ["Gold Ring"]
    );
    assert_eq!(
        titles(q(json!({ "text": "ring" }), Value::Null).await),
        ["Silver Ring", "Gold Ring"]
    );
    assert_eq!(
        titles(q(json!({ "text": "PEARL" }), Value::Null).await),
        ["Pearl Necklace"]
    );
    assert_eq!(
        titles(q(json!({ "text": "%" }), Value::Null).await),
        Vec::<String>::new()
    );
    let after = (start + Span::minutes(30)).to_rfc3339();
    let before = (start + Span::minutes(90)).to_rfc3339();
    assert_eq!(
        titles(
            q(
                json!({ "createdAfter": after, "createdBefore": before }),
                Value::Null
            )
            .await
        ),
        ["Silver Ring"]
    );
    assert_eq!(
        titles(q(Value::Null, json!({ "field": "TITLE", "direction": "ASC" })).await),
        ["Gold Ring", "Pearl Necklace", "Silver Ring"]
    );
    assert_eq!(
        titles(
            q(
                Value::Null,
                json!({ "field": "CREATED_AT", "direction": "ASC" })
            )
            .await
        ),
        ["Gold Ring", "Silver Ring", "Pearl Necklace"]
    );
    // Editing moves an asset up by update time.
    app.clock.advance(Span::hours(1));
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateAsset(id: $id, input: { tags: [\"gold\", \"ring\", \"bestseller\"] }) { id } }",
        json!({ "id": a["id"] }),
    )
    .await;
    assert_eq!(
        titles(q(Value::Null, json!({ "field": "UPDATED_AT" })).await)[0],
        "Gold Ring"
    );
    app.finish().await;
}

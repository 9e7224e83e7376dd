//! Relay conventions: `node(id:)` refetches any object through its own
//! authorization (what the caller may not see is null, like what does not
//! exist), and connections page backwards with `last`/`before`.

use serde_json::{Value, json};
use vitrine_tests::{UploadFile, error_code, spawn_app};

#[tokio::test]
async fn node_refetches_objects_as_their_own_queries_would() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let partner = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let folder = app.create_folder(&admin, None, "Shown").await;
    let hidden_folder = app.create_folder(&admin, None, "Hidden").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    let shown = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder, "title": "Shown" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hidden = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": hidden_folder, "title": "Hidden" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_access(&admin, &[&shown, &hidden], "PUBLIC", None, None)
        .await;
    let query = "query($id: ID!) { node(id: $id) { id __typename ... on Asset { title } ... on Folder { name } ... on PartnerOrg { name } } }";
    let node = |token: &str, id: &str| {
        let (token, id) = (token.to_owned(), id.to_owned());
        let app = &app;
        async move { app.gql(Some(&token), query, json!({ "id": id })).await }
    };
    let body = node(&admin, &shown).await;
    assert_eq!(body["data"]["node"]["__typename"], "Asset", "{body}");
    assert_eq!(body["data"]["node"]["title"], "Shown");
    assert_eq!(body["data"]["node"]["id"], shown.as_str());
    let body = node(&admin, &folder).await;
    assert_eq!(body["data"]["node"]["__typename"], "Folder", "{body}");
    // The partner: its own asset and organisation; the rest is null, the
    // same null as an id that exists nowhere or is not an id at all.
    assert_eq!(
        node(&partner.token, &shown).await["data"]["node"]["title"],
        "Shown"
    );
    let own = node(&partner.token, &partner.org_id).await;
    assert_eq!(own["data"]["node"]["name"], "Maison P", "{own}");
    for id in [
        hidden.clone(),
        hidden_folder.clone(),
        partner.user_id.clone(),
        uuid::Uuid::now_v7().to_string(),
        "not-an-id".to_owned(),
    ] {
        let body = node(&partner.token, &id).await;
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(body["data"]["node"], Value::Null, "{id}: {body}");
    }
    let body = app
        .gql(
            Some(&partner.token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [shown, hidden] }),
        )
        .await;
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "id": shown }, null]),
        "{body}"
    );
    let body = app.gql(None, query, json!({ "id": shown })).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn assets_page_backwards_with_last_and_before() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for n in 1..=5 {
        app.upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "title": format!("A{n}") }),
        )
        .await;
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let page = |args: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.gql(
                Some(&admin),
                "query($first: Int, $after: String, $last: Int, $before: String) { assets(first: $first, after: $after, last: $last, before: $before, orderBy: { field: TITLE, direction: ASC }) { edges { cursor node { title } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
                args,
            )
            .await
        }
    };
    let titles = |body: &Value| -> Vec<String> {
        body["data"]["assets"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    // The end of the listing.
    let tail = page(json!({ "last": 2 })).await;
    assert_eq!(titles(&tail), ["A4", "A5"]);
    let info = &tail["data"]["assets"]["pageInfo"];
    assert_eq!(info["hasPreviousPage"], true);
    assert_eq!(info["hasNextPage"], false);
    // And back from there, page by page, in listing order.
    let before = info["startCursor"].as_str().unwrap().to_owned();
    let middle = page(json!({ "last": 2, "before": before })).await;
    assert_eq!(titles(&middle), ["A2", "A3"]);
    let info = &middle["data"]["assets"]["pageInfo"];
    assert_eq!(info["hasPreviousPage"], true);
    assert_eq!(info["hasNextPage"], true);
    let before = info["startCursor"].as_str().unwrap().to_owned();
    let head = page(json!({ "last": 2, "before": before })).await;
    assert_eq!(titles(&head), ["A1"]);
    assert_eq!(head["data"]["assets"]["pageInfo"]["hasPreviousPage"], false);
    // Forwards from the same cursor gets what followed.
    let after = head["data"]["assets"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = page(json!({ "first": 2, "after": after })).await;
    assert_eq!(titles(&next), ["A2", "A3"]);
    assert_eq!(next["data"]["assets"]["pageInfo"]["hasPreviousPage"], true);
    // Both directions at once is refused.
    let both = page(json!({ "first": 2, "last": 2 })).await;
    assert_eq!(error_code(&both), Some("BAD_USER_INPUT"), "{both}");
    app.finish().await;
}

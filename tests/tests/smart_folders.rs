//! Smart folders from the outside: a saved search shared with a partner
//! shows it only its own assets, gains an asset the moment it qualifies and
//! loses it the moment its license ends; the partner's live feed filtered by
//! the folder follows; only the owner changes it; nobody else opens it. A
//! share link over a smart folder shows its visitors what the search finds
//! at each visit.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_entity::Clock;
use vitrine_tests::share::{
    create_link, delivery_urls, link_url, published, visit_cookie, visitor,
};
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, fixture, spawn_with};

const CREATE: &str = "mutation($i: SmartFolderInput!) { createSmartFolder(input: $i) { id name sharing partnerOrgId filter } }";
const OPEN: &str = "query($id: ID!) { smartFolder(id: $id) { name count assets(first: 20) { totalCount edges { node { id title } } facets { tags { value count } } } } }";

async fn open(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(Some(token), OPEN, json!({ "id": id })).await
}

fn ids(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body["data"]["smartFolder"]["assets"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

async fn retag(app: &TestApp, token: &str, id: &str, tags: &[&str]) {
    let body = app
        .gql(
            Some(token),
            "mutation($id: ID!, $t: [String!]) { updateAsset(id: $id, input: { tags: $t }) { id } }",
            json!({ "id": id, "t": tags }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn a_shared_smart_folder_follows_tags_and_licenses_live_and_shows_a_partner_its_own() {
    // Unlicensed assets may not leave: "usable on MARKETPLACE in DE" means a
    // license in force covers it.
    let app = spawn_with(|env| {
        env.insert(
            "VITRINE_LICENSE_UNLICENSED_DELIVERABLE".into(),
            "false".into(),
        );
    })
    .await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let p = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let q = app.create_partner(&admin, "Maison Q", "q@q.test").await;
    let granted = app.create_folder(&admin, None, "For P").await;
    let internal = app.create_folder(&admin, None, "Internal").await;
    app.grant(&admin, &granted, "PARTNER_ORG", &p.org_id, "VIEW")
        .await;
    let file = UploadFile::new("ring.png", "image/png", fixture("coffee.png"));
    let mine = app
        .upload_asset(
            &admin,
            &file,
            json!({ "title": "Ring 0042", "folderId": granted }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = app
        .upload_asset(
            &admin,
            &file,
            json!({ "title": "Ring 0043", "folderId": internal, "tags": ["SS27"] }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .set_access(&admin, &[&mine, &theirs], "PUBLIC", None, None)
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // Processing adds colour tags (and events): done before the feed starts.
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let now = app.clock.now();
    let ends = now + chrono::Duration::hours(2);
    let body = app
        .gql(
            Some(&admin),
            "mutation($s: DateTime!, $e: DateTime!) { createLicense(input: { name: \"SS27 DE\", licensor: \"Studio\", channels: [MARKETPLACE], territories: [\"DE\"], startsAt: $s, endsAt: $e }) { id } }",
            json!({ "s": now - chrono::Duration::days(1), "e": ends }),
        )
        .await;
    let license = body["data"]["createLicense"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $a: [ID!]) { attachLicense(licenseId: $l, assetIds: $a) }",
            json!({ "l": license, "a": [mine, theirs] }),
        )
        .await;
    assert_eq!(body["data"]["attachLicense"], 2, "{body}");

    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": {
                "name": "SS27 marketplace DE",
                "filter": { "tags": ["ss27"], "usableFor": { "channel": "MARKETPLACE", "territory": "DE" } },
                "sharing": "PARTNER", "partnerOrgId": p.org_id,
            } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let folder = body["data"]["createSmartFolder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body["data"]["createSmartFolder"]["filter"]["tags"],
        json!(["ss27"])
    );

    // The partner's feed, filtered by the folder.
    let mut ws = app
        .ws_connect(json!({ "authorization": format!("Bearer {}", p.token) }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe_with(
        "feed",
        "subscription($f: ID) { assetEvents(smartFolderId: $f) { kind assetId } }",
        json!({ "f": folder }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Only the internal asset qualifies; the partner cannot see it.
    assert_eq!(
        ids(&open(&app, &admin, &folder).await),
        vec![theirs.clone()]
    );
    let as_p = open(&app, &p.token, &folder).await;
    assert_eq!(as_p["data"]["smartFolder"]["count"], 0, "{as_p}");
    assert!(ids(&as_p).is_empty());

    // Tagged SS27, the partner's asset qualifies at once — for both.
    retag(&app, &admin, &mine, &["SS27"]).await;
    let mut both = vec![mine.clone(), theirs.clone()];
    both.sort();
    assert_eq!(ids(&open(&app, &admin, &folder).await), both);
    let as_p = open(&app, &p.token, &folder).await;
    assert_eq!(ids(&as_p), vec![mine.clone()]);
    assert_eq!(as_p["data"]["smartFolder"]["count"], 1);
    // Its tags (ss27 and the automatic ones), each counted once: the
    // internal asset's tags are not counted.
    let tags = as_p["data"]["smartFolder"]["assets"]["facets"]["tags"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        tags.contains(&json!({ "value": "ss27", "count": 1 })),
        "{as_p}"
    );
    assert!(tags.iter().all(|t| t["count"] == 1), "{as_p}");
    let event = ws.message().await;
    assert_eq!(
        event["payload"]["data"]["assetEvents"]["assetId"],
        mine.as_str(),
        "{event}"
    );

    // An unrelated change to an asset outside the folder is not in the feed.
    retag(&app, &admin, &theirs, &["SS27", "archive"]).await;
    assert!(ws.quiet_for(Duration::from_millis(500)).await.is_none());

    // The license ends: the folder empties at that instant.
    app.clock.advance(chrono::Duration::hours(3));
    assert!(ids(&open(&app, &admin, &folder).await).is_empty());
    assert_eq!(
        open(&app, &p.token, &folder).await["data"]["smartFolder"]["count"],
        0
    );

    // Another partner, a forged token: nothing to open; the partner may not
    // change it; the owner may.
    let body = open(&app, &q.token, &folder).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = open(&app, "forged.token", &folder).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let lists = app
        .gql(Some(&q.token), "{ smartFolders { id } }", json!({}))
        .await;
    assert_eq!(lists["data"]["smartFolders"], json!([]), "{lists}");
    let lists = app
        .gql(Some(&p.token), "{ smartFolders { id name } }", json!({}))
        .await;
    assert_eq!(lists["data"]["smartFolders"][0]["id"], folder.as_str());
    let update = "mutation($id: ID!, $i: SmartFolderInput!) { updateSmartFolder(id: $id, input: $i) { name } }";
    let body = app
        .gql(
            Some(&p.token),
            update,
            json!({ "id": folder, "i": { "name": "Mine now", "sharing": "PARTNER", "partnerOrgId": p.org_id } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // A partner cannot share its own saved searches either.
    let body = app
        .gql(
            Some(&p.token),
            CREATE,
            json!({ "i": { "name": "Shared", "sharing": "MEMBERS" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // A saved search must run for its owner: GPS is for administrators.
    let body = app
        .gql(
            Some(&p.token),
            CREATE,
            json!({ "i": { "name": "Where", "filter": { "hasGps": true } } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app
        .gql(
            Some(&admin),
            update,
            json!({ "id": folder, "i": { "name": "Members only", "sharing": "MEMBERS" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateSmartFolder"]["name"], "Members only",
        "{body}"
    );
    // Unshared, the partner cannot open it any more.
    let body = open(&app, &p.token, &folder).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deleteSmartFolder(id: $id) }",
            json!({ "id": folder }),
        )
        .await;
    assert_eq!(body["data"]["deleteSmartFolder"], true, "{body}");
}

#[tokio::test]
async fn a_feed_filtered_by_a_smart_folder_ends_when_the_folder_is_no_longer_shared() {
    let app = vitrine_tests::spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let p = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let granted = app.create_folder(&admin, None, "For P").await;
    app.grant(&admin, &granted, "PARTNER_ORG", &p.org_id, "VIEW")
        .await;
    let file = UploadFile::new("ring.png", "image/png", fixture("coffee.png"));
    let asset = app
        .upload_asset(&admin, &file, json!({ "folderId": granted }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .set_access(&admin, &[&asset], "PUBLIC", None, None)
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "Tagged", "filter": { "tags": ["x"] }, "sharing": "PARTNER", "partnerOrgId": p.org_id } }),
        )
        .await;
    let folder = body["data"]["createSmartFolder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let mut ws = app
        .ws_connect(json!({ "authorization": format!("Bearer {}", p.token) }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe_with(
        "feed",
        "subscription($f: ID) { assetEvents(smartFolderId: $f) { kind assetId } }",
        json!({ "f": folder }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    retag(&app, &admin, &asset, &["x"]).await;
    let event = ws.message().await;
    assert_eq!(
        event["payload"]["data"]["assetEvents"]["assetId"],
        asset.as_str(),
        "{event}"
    );
    // Leaving the folder is news too (the stream saw it inside).
    retag(&app, &admin, &asset, &["y"]).await;
    let event = ws.message().await;
    assert_eq!(
        event["payload"]["data"]["assetEvents"]["assetId"],
        asset.as_str(),
        "{event}"
    );
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: SmartFolderInput!) { updateSmartFolder(id: $id, input: $i) { id } }",
            json!({ "id": folder, "i": { "name": "Tagged", "filter": { "tags": ["x"] }, "sharing": "MEMBERS" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    retag(&app, &admin, &asset, &["x"]).await;
    let end = ws.message().await;
    assert_eq!(
        end["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{end}"
    );
    // Someone else's subscription to it is refused from the start.
    let mut other = app
        .ws_connect(json!({ "authorization": format!("Bearer {}", p.token) }))
        .await;
    assert_eq!(other.message().await["type"], "connection_ack");
    other
        .subscribe_with(
            "feed",
            "subscription($f: ID) { assetEvents(smartFolderId: $f) { kind } }",
            json!({ "f": folder }),
        )
        .await;
    let refused = other.message().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
}

/// The preview URLs a visitor's page carries, and how many assets it shows.
async fn visit(app: &TestApp, url: &str) -> (usize, Vec<String>) {
    let client = visitor();
    let first = client.get(url).send().await.unwrap();
    assert_eq!(first.status(), 200, "{url}");
    let cookie = visit_cookie(&first);
    let html = client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (
        html.matches("class=\"asset\"").count(),
        delivery_urls(app, &html, "src"),
    )
}

#[tokio::test]
async fn a_share_link_over_a_smart_folder_shows_what_its_search_finds_at_each_visit() {
    let app = vitrine_tests::spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 2).await;
    let (first, second) = (ids[0].clone(), ids[1].clone());
    retag(&app, &admin, &first, &["SS27"]).await;
    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "SS27", "filter": { "tags": ["ss27"] } } }),
        )
        .await;
    let folder = body["data"]["createSmartFolder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = create_link(&app, &admin, json!({ "smartFolderId": folder })).await;
    assert!(body["errors"].is_null(), "{body}");
    let link = &body["data"]["createShareLink"];
    let url = format!("{}{}", app.base, link["url"].as_str().unwrap());
    let link_id = link["link"]["id"].as_str().unwrap().to_owned();
    let listed = app
        .gql(
            Some(&admin),
            "query($id: ID!) { shareLink(id: $id) { smartFolderId folderId assetIds } }",
            json!({ "id": link_id }),
        )
        .await;
    assert_eq!(
        listed["data"]["shareLink"],
        json!({ "smartFolderId": folder, "folderId": null, "assetIds": [] })
    );

    // The visitor sees what the search finds: the tagged asset.
    let (shown, images) = visit(&app, &url).await;
    assert_eq!(shown, 1);
    let client = visitor();
    assert_eq!(client.get(&images[0]).send().await.unwrap().status(), 200);

    // Untagged, it leaves the link at once: its page and the image URL the
    // visitor already holds. The other asset, tagged, enters.
    retag(&app, &admin, &first, &[]).await;
    assert_eq!(client.get(&images[0]).send().await.unwrap().status(), 403);
    assert_eq!(visit(&app, &url).await.0, 0);
    retag(&app, &admin, &second, &["ss27"]).await;
    let (shown, images) = visit(&app, &url).await;
    assert_eq!(shown, 1);
    assert_eq!(client.get(&images[0]).send().await.unwrap().status(), 200);

    // Whoever may not open the folder may not link it; partners make no
    // links; one target at a time.
    let p = app.create_partner(&admin, "Maison P", "p@p.test").await;
    app.create_member("editor@vitrine.test", vitrine_entity::Role::Editor)
        .await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;
    let body = create_link(&app, &editor, json!({ "smartFolderId": folder })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let shared = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "For P", "query": "look", "sharing": "PARTNER", "partnerOrgId": p.org_id } }),
        )
        .await;
    let shared = shared["data"]["createSmartFolder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = create_link(&app, &p.token, json!({ "smartFolderId": shared })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = create_link(
        &app,
        &admin,
        json!({ "smartFolderId": folder, "assetIds": [first] }),
    )
    .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = create_link(
        &app,
        &admin,
        json!({ "smartFolderId": uuid::Uuid::now_v7().to_string() }),
    )
    .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");

    // A second link over another folder; deleting that folder empties it.
    let (other_url, _) = link_url(&app, &admin, json!({ "smartFolderId": shared })).await;
    assert_eq!(visit(&app, &other_url).await.0, 2);
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deleteSmartFolder(id: $id) }",
            json!({ "id": shared }),
        )
        .await;
    assert_eq!(body["data"]["deleteSmartFolder"], true, "{body}");
    assert_eq!(visit(&app, &other_url).await.0, 0);

    // Taking the asset out of every link reaches the links whose search
    // finds it.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeShareLinksForAsset(assetId: $id) }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(body["data"]["revokeShareLinksForAsset"], 1, "{body}");
    assert_eq!(client.get(&images[0]).send().await.unwrap().status(), 403);
    assert_eq!(visitor().get(&url).send().await.unwrap().status(), 410);
    app.finish().await;
}

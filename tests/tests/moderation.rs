//! Moderation: a version uploaded into a folder that requires it is
//! invisible outside the organisation — by id, in lists, through `node`, by
//! delivery URL, on a share page — until a moderator approves it, and then
//! visible at the next request; a rejection keeps it hidden; an override is
//! recorded as one; only moderators decide.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::{TestApp, UploadFile, error_code, spawn_app};

async fn titles(app: &TestApp, token: &str) -> Vec<String> {
    let body = app
        .gql(
            Some(token),
            "{ assets(first: 50) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    body["data"]["assets"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn moderate(app: &TestApp, token: &str, version: &str, decision: &str) -> Value {
    app.gql(
        Some(token),
        "mutation($v: [ID!]!, $d: Decision!) { moderate(versionIds: $v, decision: $d, reason: \"checked\") { id moderation { state kind reason } } }",
        json!({ "v": [version], "d": decision }),
    )
    .await
}

#[tokio::test]
async fn a_pending_version_leaves_the_organisation_only_once_approved() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let partner = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let folder = app.create_folder(&admin, None, "Moderated").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($f: ID!) { setFolderModeration(folderId: $f, required: true) { requiresModeration } }",
            json!({ "f": folder }),
        )
        .await;
    assert_eq!(
        body["data"]["setFolderModeration"]["requiresModeration"], true,
        "{body}"
    );

    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder, "title": "Ring held" }),
        )
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    let v1 = asset["currentVersion"]["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    app.set_access(&admin, &[&id], "PUBLIC", None, None).await;
    let (share_page, _) = app
        .create_share_link(&admin, json!({ "assetIds": [id], "scope": "PREVIEW" }))
        .await;

    // Held back: for the partner it does not exist, by every path.
    let hidden = |token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            let one = app
                .gql(
                    Some(&token),
                    "query($id: ID!) { asset(id: $id) { title } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(error_code(&one), Some("NOT_FOUND"), "{one}");
            let node = app
                .gql(
                    Some(&token),
                    "query($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(node["data"]["node"], Value::Null, "{node}");
            assert!(titles(app, &token).await.is_empty());
            let url = app.delivery_url(&token, &id, "PREVIEW", None).await;
            assert!(url.is_err(), "a URL for a held-back asset");
        }
    };
    hidden(partner.token.clone()).await;
    let page = app.fetch(&share_page).await.text().await.unwrap();
    assert!(
        !page.contains("<img"),
        "the share page shows a held-back image"
    );
    // Members see it, marked; the queue holds it; explainAccess says why.
    let seen = app
        .gql(
            Some(&admin),
            "query($id: ID!) { asset(id: $id) { currentVersion { moderation { state } } } moderationQueue(first: 10) { edges { node { id } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        seen["data"]["asset"]["currentVersion"]["moderation"]["state"], "PENDING",
        "{seen}"
    );
    assert_eq!(
        seen["data"]["moderationQueue"]["edges"][0]["node"]["id"],
        v1.as_str()
    );
    let why = app
        .gql(
            Some(&admin),
            "query($a: ID!, $o: ID!) { explainAccess(assetId: $a, subject: { partnerOrgId: $o }) { decisions { code } } }",
            json!({ "a": id, "o": partner.org_id }),
        )
        .await;
    assert_eq!(
        why["data"]["explainAccess"]["decisions"][0]["code"], "AWAITING_MODERATION",
        "{why}"
    );
    // Only moderators decide.
    let editor_id = app
        .create_member("ed@vitrine.test", vitrine_entity::Role::Editor)
        .await;
    let editor = app.login("ed@vitrine.test", vitrine_tests::PASSWORD).await;
    let refused = moderate(&app, &editor, &v1, "APPROVED").await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let queue = "{ moderationQueue(first: 10) { edges { node { id } } } }";
    let body = app.gql(Some(&editor), queue, json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // An editor with a MODERATE grant on the folder sees what is in it.
    app.grant(&admin, &folder, "USER", &editor_id.to_string(), "MODERATE")
        .await;
    let body = app.gql(Some(&editor), queue, json!({})).await;
    assert_eq!(
        body["data"]["moderationQueue"]["edges"][0]["node"]["id"],
        v1.as_str(),
        "{body}"
    );
    // A partner never moderates, whatever its grant.
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "MANAGE")
        .await;
    let refused = moderate(&app, &partner.token, &v1, "APPROVED").await;
    assert!(refused["errors"].is_array(), "{refused}");
    let body = app.gql(Some(&partner.token), queue, json!({})).await;
    assert!(body["errors"].is_array(), "{body}");

    // Approved: visible at the next request, by every path.
    let approved = moderate(&app, &editor, &v1, "APPROVED").await;
    assert_eq!(
        approved["data"]["moderate"][0]["moderation"]["state"], "APPROVED",
        "{approved}"
    );
    assert_eq!(
        approved["data"]["moderate"][0]["moderation"]["kind"],
        "MANUAL"
    );
    assert_eq!(titles(&app, &partner.token).await, ["Ring held"]);
    let url = app
        .delivery_url(&partner.token, &id, "PREVIEW", Some(600))
        .await
        .expect("a URL once approved");
    assert_eq!(app.fetch(&url).await.status(), 200);
    let page = app.fetch(&share_page).await.text().await.unwrap();
    assert!(page.contains("<img"), "the share page after approval");

    // A new version waits again: nothing of the asset leaves meanwhile.
    let body = app
        .upload_gql(
            Some(&admin),
            "mutation($id: ID!, $file: Upload!) { uploadVersion(assetId: $id, file: $file) { id } }",
            json!({ "id": id }),
            &UploadFile::fixture("yellow-flower.jpg"),
        )
        .await;
    let v2 = body["data"]["uploadVersion"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    hidden(partner.token.clone()).await;
    assert_ne!(
        app.fetch(&url).await.status(),
        200,
        "the old URL after a pending version"
    );

    // Rejected: stays hidden. Then approved after all: an override.
    let rejected = moderate(&app, &admin, &v2, "REJECTED").await;
    assert_eq!(
        rejected["data"]["moderate"][0]["moderation"]["state"], "REJECTED",
        "{rejected}"
    );
    hidden(partner.token.clone()).await;
    let overridden = moderate(&app, &admin, &v2, "APPROVED").await;
    assert_eq!(
        overridden["data"]["moderate"][0]["moderation"]["kind"], "OVERRIDE",
        "{overridden}"
    );
    assert_eq!(titles(&app, &partner.token).await, ["Ring held"]);
    assert_eq!(
        app.count_rows(
            "audit_events WHERE action IN ('MODERATION_APPROVED', 'MODERATION_REJECTED')"
        )
        .await,
        2
    );
    assert_eq!(
        app.count_rows("audit_events WHERE action = 'MODERATION_OVERRIDDEN'")
            .await,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn versions_outside_moderated_folders_need_no_moderation() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "title": "Free" }),
        )
        .await;
    let version = asset["currentVersion"]["id"].as_str().unwrap().to_owned();
    let body = app
        .gql(
            Some(&admin),
            "query($id: ID!) { asset(id: $id) { currentVersion { moderation { state } } } }",
            json!({ "id": asset["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["asset"]["currentVersion"]["moderation"]["state"],
        "NOT_REQUIRED"
    );
    let refused = moderate(&app, &admin, &version, "REJECTED").await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let empty = moderate(&app, &admin, "not-an-id", "APPROVED").await;
    assert_eq!(error_code(&empty), Some("BAD_USER_INPUT"), "{empty}");
    app.finish().await;
}

#[tokio::test]
async fn turning_moderation_on_never_hides_the_live_library_until_an_admin_queues_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let partner = app.create_partner(&admin, "Maison Q", "q@q.test").await;
    let top = app.create_folder(&admin, None, "Live").await;
    let below = app.create_folder(&admin, Some(&top), "Below").await;
    app.grant(&admin, &top, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    let mut ids = Vec::new();
    for (folder, title) in [(&top, "Top"), (&below, "Below")] {
        let asset = app
            .upload_asset(
                &admin,
                &UploadFile::fixture("garden.jpg"),
                json!({ "folderId": folder, "title": title }),
            )
            .await;
        ids.push(asset["id"].as_str().unwrap().to_owned());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    app.set_access(&admin, &refs, "PUBLIC", None, None).await;
    assert_eq!(titles(&app, &partner.token).await.len(), 2);
    // Turning it on changes nothing already there.
    app.gql(
        Some(&admin),
        "mutation($f: ID!) { setFolderModeration(folderId: $f, required: true) { id } }",
        json!({ "f": top }),
    )
    .await;
    assert_eq!(titles(&app, &partner.token).await.len(), 2);
    // An admin queues them: hidden until approved.
    let body = app
        .gql(
            Some(&admin),
            "mutation($f: ID!) { requireModeration(folderId: $f, recursive: true) }",
            json!({ "f": top }),
        )
        .await;
    assert_eq!(body["data"]["requireModeration"], 2, "{body}");
    assert!(titles(&app, &partner.token).await.is_empty());
    // Again: nothing more to queue.
    let body = app
        .gql(
            Some(&admin),
            "mutation($f: ID!) { requireModeration(folderId: $f) }",
            json!({ "f": top }),
        )
        .await;
    assert_eq!(body["data"]["requireModeration"], 0, "{body}");
    assert_eq!(
        app.count_rows("audit_events WHERE action = 'MODERATION_REQUIRED'")
            .await,
        2
    );
    // Not for managers: it takes the live library out of circulation.
    app.create_member("m@vitrine.test", vitrine_entity::Role::Manager)
        .await;
    let manager = app.login("m@vitrine.test", vitrine_tests::PASSWORD).await;
    let body = app
        .gql(
            Some(&manager),
            "mutation($f: ID!) { requireModeration(folderId: $f) }",
            json!({ "f": top }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn subscribers_hear_of_a_held_back_asset_only_once_it_is_approved() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let partner = app.create_partner(&admin, "Maison S", "s@s.test").await;
    let folder = app.create_folder(&admin, None, "Held").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    app.gql(
        Some(&admin),
        "mutation($f: ID!) { setFolderModeration(folderId: $f, required: true) { id } }",
        json!({ "f": folder }),
    )
    .await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder, "title": "Quiet" }),
        )
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    let version = asset["currentVersion"]["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    let mut ws = app.ws_connect(json!({ "token": partner.token })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe(
        "events",
        "subscription { assetEvents { kind assetId asset { title } } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Published and renamed while pending: the partner hears nothing.
    app.set_access(&admin, &[&id], "PUBLIC", None, None).await;
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Quiet v2\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(
        ws.quiet_for(Duration::from_secs(2)).await.is_none(),
        "an event about a held-back asset"
    );
    // Approved: told at once, with the asset.
    let approved = moderate(&app, &admin, &version, "APPROVED").await;
    assert!(approved["errors"].is_null(), "{approved}");
    let event = ws.message().await;
    let event = &event["payload"]["data"]["assetEvents"];
    assert_eq!(event["kind"], "PUBLISHED", "{event}");
    assert_eq!(event["assetId"], id.as_str());
    assert_eq!(event["asset"]["title"], "Quiet v2");
    app.finish().await;
}

#[tokio::test]
async fn the_queue_filters_by_folder_uploader_and_time() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let top = app.create_folder(&admin, None, "Top").await;
    let below = app.create_folder(&admin, Some(&top), "Below").await;
    let other = app.create_folder(&admin, None, "Other").await;
    for folder in [&top, &other] {
        app.gql(
            Some(&admin),
            "mutation($f: ID!) { setFolderModeration(folderId: $f, required: true) { id } }",
            json!({ "f": folder }),
        )
        .await;
    }
    let mut versions = Vec::new();
    for (folder, title) in [(&below, "In below"), (&other, "In other")] {
        let asset = app
            .upload_asset(
                &admin,
                &UploadFile::fixture("garden.jpg"),
                json!({ "folderId": folder, "title": title }),
            )
            .await;
        versions.push(asset["currentVersion"]["id"].as_str().unwrap().to_owned());
    }
    let queue = |filter: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let body = app
                .gql(
                    Some(&admin),
                    "query($f: ModerationQueueFilter) { moderationQueue(filter: $f, first: 10) { edges { node { id } } } }",
                    json!({ "f": filter }),
                )
                .await;
            body["data"]["moderationQueue"]["edges"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(queue(Value::Null).await, versions);
    assert_eq!(queue(json!({ "folderId": top })).await, versions[..1]);
    assert!(
        queue(json!({ "folderId": top, "recursive": false }))
            .await
            .is_empty()
    );
    assert_eq!(queue(json!({ "folderId": other })).await, versions[1..]);
    let someone = uuid::Uuid::now_v7().to_string();
    assert!(queue(json!({ "uploadedBy": someone })).await.is_empty());
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    assert!(queue(json!({ "from": later })).await.is_empty());
    assert_eq!(queue(json!({ "to": later })).await.len(), 2);
    app.finish().await;
}

//! Outgoing webhooks against a real HTTP receiver on loopback: signed,
//! verifiable events for what the subscriber may see and nothing else;
//! retries with backoff, in order per asset; automatic disabling after
//! sustained failure; redelivery and test pings; private addresses refused.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use vitrine_tests::receiver::{Received, Receiver, standard_signature};
use vitrine_tests::{TestApp, UploadFile, error_code, eventually, spawn_with};

/// Verifies a Standard Webhooks signature as a receiver would.
fn verify(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let expected = standard_signature(
        &key,
        &r.header("webhook-id"),
        &r.header("webhook-timestamp"),
        &r.body,
    );
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

async fn spawn() -> TestApp {
    spawn_with(|env| {
        env.insert("VITRINE_WEBHOOK_ALLOW_PRIVATE".into(), "true".into());
        env.insert("VITRINE_WEBHOOK_MAX_ATTEMPTS".into(), "3".into());
        env.insert("VITRINE_WEBHOOK_DISABLE_AFTER".into(), "4".into());
    })
    .await
}

const CREATE: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id events active } } }";

async fn endpoint(app: &TestApp, token: &str, input: Value) -> (String, String) {
    let body = app.gql(Some(token), CREATE, json!({ "i": input })).await;
    let created = &body["data"]["createWebhookEndpoint"];
    (
        created["endpoint"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createWebhookEndpoint: {body}"))
            .to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn upload_final(app: &TestApp, admin: &str, folder: &str, title: &str) -> (String, String) {
    let asset = app
        .upload_asset(
            admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder, "title": title, "stage": "FINAL" }),
        )
        .await;
    (
        asset["id"].as_str().unwrap().to_owned(),
        asset["currentVersion"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, token: &str, endpoint: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(token),
            "query($id: ID!) { webhookEndpoint(id: $id) { deliveries(first: 100) { id eventId type status attempts lastStatusCode lastResponseMs lastError attemptLog { statusCode responseMs } } } }",
            json!({ "id": endpoint }),
        )
        .await;
    body["data"]["webhookEndpoint"]["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

#[tokio::test]
async fn a_partner_endpoint_gets_signed_events_for_its_own_assets_only() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let a = app.create_partner(&admin, "Maison A", "a@a.test").await;
    let b = app.create_partner(&admin, "Maison B", "b@b.test").await;
    let folder_a = app.create_folder(&admin, None, "A").await;
    let folder_b = app.create_folder(&admin, None, "B").await;
    app.grant(&admin, &folder_a, "PARTNER_ORG", &a.org_id, "VIEW")
        .await;
    app.grant(&admin, &folder_b, "PARTNER_ORG", &b.org_id, "VIEW")
        .await;

    // The partner's portal backend, with an API key of its organisation,
    // registers its endpoint (and only its own organisation's).
    let key = app
        .gql(
            Some(&admin),
            "mutation($o: ID!) { createApiKey(input: { name: \"Portal A\", partnerOrgId: $o, scopes: [WRITE] }) { secret } }",
            json!({ "o": a.org_id }),
        )
        .await;
    let key = key["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{key}"))
        .to_owned();
    let receiver = Receiver::start().await;
    let (hook, secret) = endpoint(
        &app,
        &key,
        json!({ "name": "Portal A", "url": receiver.url, "partnerOrgId": a.org_id,
                "events": ["asset.published", "asset.version_approved"] }),
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let foreign = app
        .gql(
            Some(&b.token),
            CREATE,
            json!({ "i": { "name": "x", "url": receiver.url, "partnerOrgId": a.org_id, "events": ["asset.published"] } }),
        )
        .await;
    assert_eq!(error_code(&foreign), Some("FORBIDDEN"), "{foreign}");
    let peek = app
        .gql(
            Some(&b.token),
            "query($id: ID!) { webhookEndpoint(id: $id) { url } }",
            json!({ "id": hook }),
        )
        .await;
    assert_eq!(error_code(&peek), Some("NOT_FOUND"), "{peek}");
    let brand_only = app
        .gql(
            Some(&a.token),
            CREATE,
            json!({ "i": { "name": "x", "url": receiver.url, "partnerOrgId": a.org_id, "events": ["anomaly.detected"] } }),
        )
        .await;
    assert_eq!(
        error_code(&brand_only),
        Some("BAD_USER_INPUT"),
        "{brand_only}"
    );

    // One asset of each organisation, published, then a new FINAL version approved.
    let (asset_a, version_a) = upload_final(&app, &admin, &folder_a, "Ring A").await;
    let (asset_b, version_b) = upload_final(&app, &admin, &folder_b, "Ring B").await;
    let set = app
        .set_access(&admin, &[&asset_a, &asset_b], "PUBLIC", None, None)
        .await;
    assert!(set["errors"].is_null(), "{set}");
    for version in [&version_a, &version_b] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($v: ID!) { approveVersion(versionId: $v) { id } }",
                json!({ "v": version }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let got = receiver.wait_for(2).await;
    // Everything about B's asset was decided and skipped, not sent.
    let settled = eventually(Duration::from_secs(20), || async {
        let log = deliveries(&app, &admin, &hook).await;
        log.len() == 4 && log.iter().all(|d| d["status"] != "PENDING")
    })
    .await;
    let log = deliveries(&app, &admin, &hook).await;
    assert!(settled, "{log:?}");
    assert_eq!(
        log.iter().filter(|d| d["status"] == "SKIPPED").count(),
        2,
        "{log:?}"
    );
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 2, "{got_all:?}");
    let mut types = Vec::new();
    for r in &got {
        assert!(verify(&secret, r), "bad signature on {r:?}");
        let body = r.json();
        assert_eq!(body["id"], r.header("webhook-id").as_str());
        assert!(r.header("webhook-id").starts_with("evt_"));
        assert_eq!(body["data"]["assetId"], asset_a.as_str(), "{body}");
        assert_eq!(body["data"]["asset"]["title"], "Ring A");
        assert!(!r.body.contains(&asset_b), "{body}");
        types.push(body["type"].as_str().unwrap().to_owned());
        // A forged body does not verify.
        let mut forged = r.clone();
        forged.body = forged.body.replace("Ring A", "Ring Z");
        assert!(!verify(&secret, &forged));
    }
    assert_eq!(types, vec!["asset.published", "asset.version_approved"]);
    let ok = log.iter().find(|d| d["status"] == "SUCCEEDED").unwrap();
    assert_eq!(ok["lastStatusCode"], 204);
    assert!(ok["lastResponseMs"].is_number());
    assert_eq!(ok["attemptLog"].as_array().unwrap().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn failures_are_retried_in_order_then_the_endpoint_is_disabled() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "F").await;
    let (asset, _) = upload_final(&app, &admin, &folder, "First").await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    // Events before an endpoint exists are not its business.
    app.clock.advance(chrono::Duration::seconds(1));
    let receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    let (hook, _secret) = endpoint(
        &app,
        &admin,
        json!({ "name": "DAM sync", "url": receiver.url, "events": ["asset.updated"] }),
    )
    .await;
    for title in ["Second", "Third"] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($id: ID!, $t: String!) { updateAsset(id: $id, input: { title: $t }) { id } }",
                json!({ "id": asset, "t": title }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // The first rename fails; the second waits behind it (in order per asset).
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().len(), 1, "sent out of order");
    let log = deliveries(&app, &admin, &hook).await;
    let first = log.iter().find(|d| d["attempts"] == 1).unwrap();
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["lastStatusCode"], 500);
    // Backoff: nothing more until its time comes (10 s on the server's clock).
    receiver.status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "retried before its backoff");
    app.clock.advance(chrono::Duration::seconds(11));
    let got = receiver.wait_for(3).await;
    let titles: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["asset"]["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The retry carried the same event id; then the second event.
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_ne!(got[1].header("webhook-id"), got[2].header("webhook-id"));
    assert_eq!(titles[2], "Third", "{titles:?}");

    // Sustained failure: FAILED after 3 attempts, disabled after 4 in a row.
    receiver.status.store(503, Ordering::SeqCst);
    for title in ["Fourth", "Fifth"] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($id: ID!, $t: String!) { updateAsset(id: $id, input: { title: $t }) { id } }",
                json!({ "id": asset, "t": title }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // Move time on (past each backoff) until the endpoint gives up.
    let disabled = eventually(Duration::from_secs(60), || async {
        app.clock.advance(chrono::Duration::seconds(100));
        let body = app
            .gql(
                Some(&admin),
                "query($id: ID!) { webhookEndpoint(id: $id) { active disabledReason } }",
                json!({ "id": hook }),
            )
            .await;
        body["data"]["webhookEndpoint"]["active"] == false
    })
    .await;
    assert!(disabled, "the endpoint was not disabled");
    // Three attempts of the first, then the second's first: four in a row.
    assert_eq!(
        receiver.received().len(),
        3 + 4,
        "{:?}",
        receiver.received()
    );
    assert_eq!(
        app.count_rows("audit_events WHERE action = 'WEBHOOK_ENDPOINT_DISABLED'")
            .await,
        1
    );
    let log = deliveries(&app, &admin, &hook).await;
    let failed = log
        .iter()
        .find(|d| d["status"] == "FAILED")
        .unwrap_or_else(|| panic!("{log:?}"));
    assert_eq!(failed["attempts"], 3);

    // Fixed and re-enabled: a redelivery and a test ping go through.
    receiver.status.store(200, Ordering::SeqCst);
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { active: true }) { active failureStreak } }",
            json!({ "id": hook }),
        )
        .await;
    assert_eq!(body["data"]["updateWebhookEndpoint"]["failureStreak"], 0);
    let before = receiver.received().len();
    let body = app
        .gql(
            Some(&admin),
            "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { status } }",
            json!({ "d": failed["id"] }),
        )
        .await;
    assert_eq!(body["data"]["redeliverWebhook"]["status"], "PENDING");
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { testWebhookEndpoint(id: $id) { type } }",
            json!({ "id": hook }),
        )
        .await;
    assert_eq!(body["data"]["testWebhookEndpoint"]["type"], "ping");
    let got = receiver.wait_for(before + 2).await;
    let types: Vec<String> = got[before..]
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.contains(&"ping".to_owned()), "{types:?}");
    assert!(types.contains(&"asset.updated".to_owned()), "{types:?}");
    app.finish().await;
}

#[tokio::test]
async fn private_addresses_and_plain_http_are_refused_by_default() {
    let app = vitrine_tests::spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "x", "url": "http://example.com/hook", "events": ["asset.updated"] } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // The metadata service of a cloud, by name: refused when sending.
    let (hook, _) = endpoint(
        &app,
        &admin,
        json!({ "name": "x", "url": "https://localhost:9/hook", "events": ["asset.updated"] }),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { testWebhookEndpoint(id: $id) { id } }",
            json!({ "id": hook }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let refused = eventually(Duration::from_secs(20), || async {
        deliveries(&app, &admin, &hook).await[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("refused"))
    })
    .await;
    assert!(refused, "{:?}", deliveries(&app, &admin, &hook).await);
    // Non-admins manage no brand endpoints.
    app.create_member("ed@vitrine.test", vitrine_entity::Role::Editor)
        .await;
    let editor = app.login("ed@vitrine.test", vitrine_tests::PASSWORD).await;
    let body = app
        .gql(Some(&editor), "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn finished_deliveries_leave_the_log_after_the_retention() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let receiver = Receiver::start().await;
    let (hook, _) = endpoint(
        &app,
        &admin,
        json!({ "name": "x", "url": receiver.url, "events": ["asset.updated"] }),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { testWebhookEndpoint(id: $id) { id } }",
            json!({ "id": hook }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    receiver.wait_for(1).await;
    let done = eventually(Duration::from_secs(20), || async {
        deliveries(&app, &admin, &hook).await[0]["status"] == "SUCCEEDED"
    })
    .await;
    assert!(done);
    let now = vitrine_entity::Clock::now(&app.clock);
    // Not yet: kept for the retention period.
    let kept = vitrine_worker::webhooks::purge_log(
        app.db(),
        now - vitrine_worker::webhooks::LOG_RETENTION,
    )
    .await
    .unwrap();
    assert_eq!(kept, 0);
    let purged = vitrine_worker::webhooks::purge_log(app.db(), now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(deliveries(&app, &admin, &hook).await.is_empty());
    assert_eq!(app.count_rows("webhook_attempts").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_partner_registers_a_bounded_number_of_endpoints_even_in_parallel() {
    let app = vitrine_tests::spawn_app().await;
    let admin = app.admin_token().await;
    let partner = app.create_partner(&admin, "Maison N", "n@n.test").await;
    let attempts = (0..14).map(|i| {
        let app = &app;
        let token = partner.token.clone();
        let org = partner.org_id.clone();
        async move {
            app.gql(
                Some(&token),
                CREATE,
                json!({ "i": { "name": format!("hook {i}"), "url": format!("https://portal.example.com/{i}"),
                               "partnerOrgId": org, "events": ["asset.published"] } }),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let created = answers.iter().filter(|b| b["errors"].is_null()).count();
    assert_eq!(created, 10, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|b| !b["errors"].is_null())
            .all(|b| error_code(b) == Some("CONFLICT")),
        "{answers:?}"
    );
    assert_eq!(app.count_rows("webhook_endpoints").await, 10);
    app.finish().await;
}

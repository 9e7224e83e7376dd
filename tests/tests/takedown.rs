//! License takedowns and declared uses: what the sweep records after a
//! license ends (read-time refusal does not wait for it), that it is
//! idempotent, catches up, runs once at a time; channel and territory on
//! share links and signed URLs; versions' authorization records.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Clock;
use vitrine_tests::{PASSWORD, Partner, TestApp, UploadFile, error_code, eventually};

const CREATE: &str = "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id } }";
const ATTACH: &str = "mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }";

async fn spawn() -> TestApp {
    vitrine_tests::spawn_with(|env| {
        env.insert(
            "VITRINE_LICENSE_UNLICENSED_DELIVERABLE".into(),
            "false".into(),
        );
    })
    .await
}

/// A license from a day ago to `ends`, attached to `assets`.
async fn license(
    app: &TestApp,
    admin: &str,
    name: &str,
    channels: &[&str],
    territories: &[&str],
    ends: DateTime<Utc>,
    assets: &[&str],
) -> String {
    let body = app
        .gql(
            Some(admin),
            CREATE,
            json!({ "i": {
                "name": name, "licensor": "Studio Lumière",
                "channels": channels, "territories": territories,
                "startsAt": (app.clock.now() - chrono::Duration::days(1)).to_rfc3339(),
                "endsAt": ends.to_rfc3339(),
            } }),
        )
        .await;
    let id = body["data"]["createLicense"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    if !assets.is_empty() {
        let attached = app
            .gql(Some(admin), ATTACH, json!({ "l": id, "a": assets }))
            .await;
        assert_eq!(
            attached["data"]["attachLicense"],
            assets.len(),
            "{attached}"
        );
    }
    id
}

/// Published assets in one folder a partner holds a DOWNLOAD grant on.
async fn setup(app: &TestApp, admin: &str, n: usize) -> (Vec<String>, Partner, String) {
    let folder = app.create_folder(admin, None, "Retail").await;
    let mut assets = Vec::new();
    for _ in 0..n {
        let a = app
            .upload_asset(
                admin,
                &UploadFile::fixture("garden.jpg"),
                json!({ "folderId": folder }),
            )
            .await;
        assets.push(a["id"].as_str().unwrap().to_owned());
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let refs: Vec<&str> = assets.iter().map(String::as_str).collect();
    app.set_access(admin, &refs, "PUBLIC", None, None).await;
    let partner = app
        .create_partner(admin, "Retailer", "buyer@retailer.example")
        .await;
    app.grant(admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    (assets, partner, folder)
}

/// The visitor page's HTML and its first image URL, if any.
async fn visit(app: &TestApp, page_url: &str) -> (String, Option<String>) {
    let html = reqwest::get(page_url).await.unwrap().text().await.unwrap();
    let image = html
        .split("src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| format!("{}{u}", app.base));
    (html, image)
}

async fn audit(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(token),
            "query($a: AuditAction) { auditEvents(first: 200, filter: { action: $a }) { edges { node { action actorKind targetId details } } } }",
            json!({ "a": action }),
        )
        .await;
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn link_state(app: &TestApp, token: &str, id: &str) -> String {
    let body = app
        .gql(
            Some(token),
            "query($id: ID!) { shareLink(id: $id) { state } }",
            json!({ "id": id }),
        )
        .await;
    body["data"]["shareLink"]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn taken_down_at(app: &TestApp, token: &str, id: &str) -> Value {
    let body = app
        .gql(
            Some(token),
            "query($id: ID!) { asset(id: $id) { takenDownAt } }",
            json!({ "id": id }),
        )
        .await;
    body["data"]["asset"]["takenDownAt"].clone()
}

/// The check: with the clock past `endsAt` the signed URL, the share
/// page and the download all refuse within the same second with no sweep;
/// after the scheduled job runs, the audit log shows the takedown and the
/// link is revoked. Run again, it changes nothing.
#[tokio::test]
async fn after_the_end_every_path_refuses_and_the_job_records_the_takedown() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let stop_worker = app.start_worker_if_needed().await;
    let (assets, partner, _) = setup(&app, &admin, 1).await;
    let asset = assets[0].as_str();
    let ends = app.clock.now() + chrono::Duration::hours(2);
    let license_id = license(
        &app,
        &admin,
        "SS27",
        &["ECOMMERCE"],
        &["WORLD"],
        ends,
        &[asset],
    )
    .await;
    let preview = app
        .delivery_url(&partner.token, asset, "PREVIEW", Some(86_400))
        .await
        .unwrap();
    let (page_url, link_id) = app.create_share_link(
        &admin,
        json!({ "assetIds": [asset], "scope": "DOWNLOAD", "expiresAt": (ends + chrono::Duration::days(5)).to_rfc3339() }),
    )
    .await;
    app.clock.set(ends - chrono::Duration::seconds(1));
    let html = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    let download = html
        .split("<a class=\"download\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| format!("{}{}", app.base, u.replace("&amp;", "&")))
        .unwrap_or_else(|| panic!("no download button: {html}"));
    assert_eq!(app.fetch(&preview).await.status(), 200);
    assert_eq!(app.fetch(&download).await.status(), 200);

    // T + 1 ms: every path refuses, and no job has run.
    app.clock.set(ends + chrono::Duration::milliseconds(1));
    assert_eq!(app.fetch(&preview).await.status(), 403);
    assert_eq!(app.fetch(&download).await.status(), 403);
    let html = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"empty\""), "{html}");
    assert!(!html.contains("/r/"), "{html}");
    let admin = app.login("admin@vitrine.test", PASSWORD).await;
    assert!(audit(&app, &admin, "ASSET_TAKEN_DOWN").await.is_empty());
    assert_eq!(taken_down_at(&app, &admin, asset).await, Value::Null);
    assert_eq!(link_state(&app, &admin, &link_id).await, "ACTIVE");

    // The scheduled job, through the queue.
    app.state.queue.enqueue_license_takedown(1).await.unwrap();
    let done = eventually(Duration::from_secs(20), || async {
        link_state(&app, &admin, &link_id).await == "REVOKED"
    })
    .await;
    assert!(done, "the job did not revoke the link");
    let down = audit(&app, &admin, "ASSET_TAKEN_DOWN").await;
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0]["actorKind"], "SYSTEM");
    assert_eq!(down[0]["targetId"], asset);
    assert_eq!(down[0]["details"]["expiredLicenseIds"], json!([license_id]));
    let expired = audit(&app, &admin, "LICENSE_EXPIRED").await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["actorKind"], "SYSTEM");
    assert_eq!(expired[0]["targetId"], license_id);
    assert_eq!(expired[0]["details"]["takenDown"], 1);
    let revoked = audit(&app, &admin, "SHARE_LINK_REVOKED").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["actorKind"], "SYSTEM");
    assert_eq!(revoked[0]["details"]["reason"], "LICENSE_EXPIRED");
    assert!(taken_down_at(&app, &admin, asset).await.is_string());
    let gone = reqwest::get(&page_url).await.unwrap();
    assert_eq!(gone.status(), 410);

    // Again: the same result, nothing recorded twice.
    let again = app.sweep_licenses().await;
    assert!(again.ran);
    assert_eq!(
        (
            again.licenses_expired,
            again.assets_taken_down,
            again.links_revoked
        ),
        (0, 0, 0)
    );
    assert_eq!(audit(&app, &admin, "ASSET_TAKEN_DOWN").await.len(), 1);
    assert_eq!(audit(&app, &admin, "LICENSE_EXPIRED").await.len(), 1);
    stop_worker.cancel();
    app.finish().await;
}

/// A sweep that did not run for an hour handles every end of that hour at
/// its next run; overlapping licenses keep an asset live; links with
/// something left stay; an extension reinstates.
#[tokio::test]
async fn a_late_sweep_catches_up_and_overlapping_licenses_keep_assets_live() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (assets, partner, folder) = setup(&app, &admin, 3).await;
    let [a, b, c] = [assets[0].as_str(), assets[1].as_str(), assets[2].as_str()];
    let t = app.clock.now() + chrono::Duration::hours(1);
    // a: two overlapping licenses, the second runs on. b: one, ending at T.
    // c: one ending 30 minutes after T.
    let first = license(&app, &admin, "First", &["ECOMMERCE"], &["FR"], t, &[a, b]).await;
    license(
        &app,
        &admin,
        "Renewal",
        &["ECOMMERCE"],
        &["FR"],
        t + chrono::Duration::days(30),
        &[a],
    )
    .await;
    let late = license(
        &app,
        &admin,
        "Late",
        &["SOCIAL"],
        &["WORLD"],
        t + chrono::Duration::minutes(30),
        &[c],
    )
    .await;
    let (_, listing_b) = app
        .create_share_link(&admin, json!({ "assetIds": [b] }))
        .await;
    let (_, listing_ab) = app
        .create_share_link(&admin, json!({ "assetIds": [a, b] }))
        .await;
    let (_, folder_link) = app
        .create_share_link(&admin, json!({ "folderId": folder }))
        .await;
    assert_eq!(app.sweep_licenses().await.licenses_expired, 0);

    // Down for an hour past T.
    app.clock.set(t + chrono::Duration::hours(1));
    let admin = app.login("admin@vitrine.test", PASSWORD).await;
    let report = app.sweep_licenses().await;
    assert_eq!(report.licenses_expired, 2, "{report:?}");
    assert_eq!(report.assets_taken_down, 2, "{report:?}");
    assert_eq!(report.links_revoked, 1, "{report:?}");
    assert_eq!(taken_down_at(&app, &admin, a).await, Value::Null);
    assert!(taken_down_at(&app, &admin, b).await.is_string());
    assert!(taken_down_at(&app, &admin, c).await.is_string());
    assert_eq!(link_state(&app, &admin, &listing_b).await, "REVOKED");
    assert_eq!(link_state(&app, &admin, &listing_ab).await, "ACTIVE");
    assert_eq!(link_state(&app, &admin, &folder_link).await, "ACTIVE");
    let expired: Vec<Value> = audit(&app, &admin, "LICENSE_EXPIRED")
        .await
        .into_iter()
        .map(|e| e["targetId"].clone())
        .collect();
    assert_eq!(expired.len(), 2);
    assert!(expired.contains(&json!(first)) && expired.contains(&json!(late)));
    // The partner still gets a, not b.
    let partner_token = app.login("buyer@retailer.example", PASSWORD).await;
    let _ = partner;
    assert!(
        app.delivery_url(&partner_token, a, "PREVIEW", None)
            .await
            .is_ok()
    );
    assert!(
        app.delivery_url(&partner_token, b, "PREVIEW", None)
            .await
            .is_err()
    );

    // Extending b's license gives it back at the next sweep.
    let extended = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $e: DateTime!) { updateLicense(id: $id, input: { endsAt: $e }) { state } }",
            json!({ "id": first, "e": (t + chrono::Duration::days(60)).to_rfc3339() }),
        )
        .await;
    assert_eq!(
        extended["data"]["updateLicense"]["state"], "ACTIVE",
        "{extended}"
    );
    let report = app.sweep_licenses().await;
    assert_eq!(report.assets_reinstated, 1, "{report:?}");
    assert_eq!(taken_down_at(&app, &admin, b).await, Value::Null);
    let reinstated = audit(&app, &admin, "ASSET_REINSTATED").await;
    assert_eq!(reinstated.len(), 1);
    assert_eq!(reinstated[0]["targetId"], b);
    assert!(
        app.delivery_url(&partner_token, b, "PREVIEW", None)
            .await
            .is_ok()
    );
    app.finish().await;
}

/// One sweep at a time: while another runner holds the lease, a sweep does
/// nothing; once it is given back, the next one does the work.
#[tokio::test]
async fn one_sweep_runs_at_a_time() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (assets, _, _) = setup(&app, &admin, 1).await;
    let ends = app.clock.now() + chrono::Duration::minutes(5);
    license(
        &app,
        &admin,
        "Short",
        &["PRESS"],
        &["WORLD"],
        ends,
        &[assets[0].as_str()],
    )
    .await;
    app.clock.set(ends + chrono::Duration::seconds(1));
    let held = vitrine_tests::vitrine_worker::lease::Lease::acquire(
        &app.state.db,
        "license-takedown",
        chrono::Duration::minutes(5),
    )
    .await
    .unwrap()
    .expect("the lease is free");
    let blocked = app.sweep_licenses().await;
    assert!(!blocked.ran);
    assert_eq!(blocked.assets_taken_down, 0);
    held.release(&app.state.db).await.unwrap();
    let report = app.sweep_licenses().await;
    assert!(report.ran);
    assert_eq!(report.assets_taken_down, 1);
    app.finish().await;
}

/// "Expiring soon": once per license per end date.
#[tokio::test]
async fn expiring_soon_is_announced_once_per_end_date() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (assets, _, _) = setup(&app, &admin, 1).await;
    let now = app.clock.now();
    let soon = license(
        &app,
        &admin,
        "Soon",
        &["PRINT"],
        &["BE"],
        now + chrono::Duration::days(10),
        &[assets[0].as_str()],
    )
    .await;
    license(
        &app,
        &admin,
        "Later",
        &["PRINT"],
        &["BE"],
        now + chrono::Duration::days(100),
        &[],
    )
    .await;
    assert_eq!(app.sweep_licenses().await.expiring_notices, 1);
    assert_eq!(app.sweep_licenses().await.expiring_notices, 0);
    let notices = audit(&app, &admin, "LICENSE_EXPIRING").await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["targetId"], soon);
    assert_eq!(notices[0]["actorKind"], "SYSTEM");
    assert_eq!(notices[0]["details"]["assets"], 1);
    // A new end date inside the notice period is a new notice.
    app.gql(
        Some(&admin),
        "mutation($id: ID!, $e: DateTime!) { updateLicense(id: $id, input: { endsAt: $e }) { id } }",
        json!({ "id": soon, "e": (now + chrono::Duration::days(12)).to_rfc3339() }),
    )
    .await;
    assert_eq!(app.sweep_licenses().await.expiring_notices, 1);
    assert_eq!(audit(&app, &admin, "LICENSE_EXPIRING").await.len(), 2);
    app.finish().await;
}

/// A link or URL for a channel and territory delivers only what a license
/// in force covers for that use.
#[tokio::test]
async fn a_channel_or_territory_mismatch_is_refused() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (assets, partner, _) = setup(&app, &admin, 1).await;
    let asset = assets[0].as_str();
    let ends = app.clock.now() + chrono::Duration::days(30);
    license(
        &app,
        &admin,
        "E-commerce FR",
        &["ECOMMERCE", "SOCIAL"],
        &["FR", "BE"],
        ends,
        &[asset],
    )
    .await;
    const URL: &str = "query($id: ID!, $c: Channel, $t: String) { asset(id: $id) { url(kind: PREVIEW, channel: $c, territory: $t) } }";
    let url_for =
        |token: String, channel: Option<&'static str>, territory: Option<&'static str>| {
            let app = &app;
            async move {
                let body = app
                    .gql(
                        Some(&token),
                        URL,
                        json!({ "id": asset, "c": channel, "t": territory }),
                    )
                    .await;
                match body["data"]["asset"]["url"].as_str() {
                    Some(u) => Ok(format!("{}{u}", app.base)),
                    None => Err(body),
                }
            }
        };
    for token in [admin.clone(), partner.token.clone()] {
        for (channel, territory) in [
            (Some("ECOMMERCE"), Some("FR")),
            (Some("SOCIAL"), None),
            (None, Some("be")),
        ] {
            let url = url_for(token.clone(), channel, territory).await.unwrap();
            assert_eq!(
                app.fetch(&url).await.status(),
                200,
                "{channel:?} {territory:?}"
            );
        }
        for (channel, territory) in [
            (Some("MARKETPLACE"), Some("FR")),
            (Some("ECOMMERCE"), Some("DE")),
            (Some("PRINT"), None),
            (None, Some("WORLD")),
        ] {
            // Members are told why; partners learn nothing.
            let refused = url_for(token.clone(), channel, territory)
                .await
                .unwrap_err();
            let expected = if token == admin {
                "FORBIDDEN"
            } else {
                "NOT_FOUND"
            };
            assert_eq!(
                error_code(&refused),
                Some(expected),
                "{channel:?} {territory:?} {refused}"
            );
        }
    }
    let bad = url_for(admin.clone(), None, Some("EU")).await.unwrap_err();
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");

    // A marketplace link shows nothing; an e-commerce link for France shows it.
    let (marketplace, _) = app
        .create_share_link(
            &admin,
            json!({ "assetIds": [asset], "channel": "MARKETPLACE" }),
        )
        .await;
    let (html, image) = visit(&app, &marketplace).await;
    assert!(html.contains("id=\"empty\"") && image.is_none(), "{html}");
    let (shop_de, _) = app
        .create_share_link(
            &admin,
            json!({ "assetIds": [asset], "channel": "ECOMMERCE", "territory": "DE" }),
        )
        .await;
    assert!(visit(&app, &shop_de).await.1.is_none());
    let (shop_fr, shop_fr_id) = app
        .create_share_link(
            &admin,
            json!({ "assetIds": [asset], "channel": "ECOMMERCE", "territory": "fr" }),
        )
        .await;
    let (_, image) = visit(&app, &shop_fr).await;
    let image = image.expect("the covered link shows the asset");
    assert_eq!(reqwest::get(&image).await.unwrap().status(), 200);
    let body = app
        .gql(
            Some(&admin),
            "query($id: ID!) { shareLink(id: $id) { channel territory } }",
            json!({ "id": shop_fr_id }),
        )
        .await;
    assert_eq!(
        body["data"]["shareLink"],
        json!({ "channel": "ECOMMERCE", "territory": "FR" })
    );
    let bad = app
        .gql(
            Some(&admin),
            "mutation($a: [ID!]!) { createShareLink(input: { assetIds: $a, territory: \"XX\" }) { url } }",
            json!({ "a": [asset] }),
        )
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    // After the license ends the covered link's image stops too.
    app.clock.set(ends);
    assert_eq!(reqwest::get(&image).await.unwrap().status(), 403);
    app.finish().await;
}

/// Each version's approval records the license state and licenses then.
#[tokio::test]
async fn a_versions_approval_records_its_authorization() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let a = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "stage": "FINAL" }),
        )
        .await;
    let asset = a["id"].as_str().unwrap().to_owned();
    let v1 = a["currentVersion"]["id"].as_str().unwrap().to_owned();
    const APPROVE: &str = "mutation($id: ID!) { approveVersion(versionId: $id) { number } }";
    const HISTORY: &str = "query($id: ID!) { asset(id: $id) { versions { number authorization { approvedAt approvedBy { email } licenseState licenses { name channels territories endsAt } } } } }";
    let approved = app.gql(Some(&admin), APPROVE, json!({ "id": v1 })).await;
    assert_eq!(
        approved["data"]["approveVersion"]["number"], 1,
        "{approved}"
    );
    let ends = app.clock.now() + chrono::Duration::days(90);
    license(
        &app,
        &admin,
        "Campaign",
        &["SOCIAL"],
        &["WORLD"],
        ends,
        &[&asset],
    )
    .await;
    let v2 = app
        .upload_gql(
            Some(&admin),
            "mutation($a: ID!, $file: Upload!) { uploadVersion(assetId: $a, file: $file, input: { stage: FINAL }) { id } }",
            json!({ "a": asset }),
            &UploadFile::fixture("garden.jpg"),
        )
        .await;
    let v2 = v2["data"]["uploadVersion"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v2}"))
        .to_owned();
    app.gql(Some(&admin), APPROVE, json!({ "id": v2 })).await;
    let history = app.gql(Some(&admin), HISTORY, json!({ "id": asset })).await;
    let versions = history["data"]["asset"]["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    let auth = |n: usize| versions[n]["authorization"].clone();
    assert_eq!(auth(0)["licenseState"], "UNLICENSED", "{history}");
    assert_eq!(auth(0)["licenses"], json!([]));
    assert_eq!(auth(0)["approvedBy"]["email"], "admin@vitrine.test");
    assert_eq!(auth(1)["licenseState"], "ACTIVE");
    assert_eq!(auth(1)["licenses"][0]["name"], "Campaign");
    assert_eq!(auth(1)["licenses"][0]["channels"], json!(["SOCIAL"]));
    assert_eq!(auth(1)["licenses"][0]["territories"], json!(["WORLD"]));
    app.finish().await;
}

/// The takedown reaches `assetEvents`: members get the asset, a partner who
/// saw it is told it is gone (without it).
#[tokio::test]
async fn subscribers_hear_of_the_takedown() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (assets, partner, _) = setup(&app, &admin, 1).await;
    let asset = assets[0].as_str();
    let ends = app.clock.now() + chrono::Duration::minutes(10);
    license(
        &app,
        &admin,
        "Short",
        &["SOCIAL"],
        &["WORLD"],
        ends,
        &[asset],
    )
    .await;
    const EVENTS: &str = "subscription { assetEvents { kind assetId asset { id } } }";
    let mut member = app.ws_connect(json!({ "token": admin })).await;
    assert_eq!(member.message().await["type"], "connection_ack");
    member.subscribe("events", EVENTS).await;
    let mut outside = app.ws_connect(json!({ "token": partner.token })).await;
    assert_eq!(outside.message().await["type"], "connection_ack");
    outside.subscribe("events", EVENTS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.clock.set(ends + chrono::Duration::seconds(1));
    assert_eq!(app.sweep_licenses().await.assets_taken_down, 1);
    let told = member.message().await;
    let event = &told["payload"]["data"]["assetEvents"];
    assert_eq!(event["kind"], "TAKEN_DOWN", "{told}");
    assert_eq!(event["asset"]["id"], asset);
    let told = outside.message().await;
    let event = &told["payload"]["data"]["assetEvents"];
    assert_eq!(event["kind"], "TAKEN_DOWN", "{told}");
    assert_eq!(event["assetId"], asset);
    assert_eq!(event["asset"], Value::Null, "{told}");
    app.finish().await;
}

//! Licenses: creation, attachment, and the license state of assets over
//! time (with the injected clock). Enforcement on delivery paths is not part
//! of this increment.

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, spawn_app};

const CREATE: &str = "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id name channels territories state startsAt endsAt } }";
const STATE: &str = "query($id: ID!) { asset(id: $id) { licenseState licenses { name state } } }";

fn input(app: &TestApp, name: &str, start_days: i64, end_days: i64) -> Value {
    let now = app.clock.now();
    json!({ "i": {
        "name": name,
        "licensor": "Studio Lumière",
        "reference": "SL-2027-014",
        "channels": ["SOCIAL", "ECOMMERCE", "SOCIAL"],
        "territories": ["fr", "BE"],
        "startsAt": (now + chrono::Duration::days(start_days)).to_rfc3339(),
        "endsAt": (now + chrono::Duration::days(end_days)).to_rfc3339(),
    } })
}

async fn create(app: &TestApp, token: &str, name: &str, start: i64, end: i64) -> String {
    let body = app
        .gql(Some(token), CREATE, input(app, name, start, end))
        .await;
    body["data"]["createLicense"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn asset_state(app: &TestApp, token: &str, id: &str) -> String {
    let body = app.gql(Some(token), STATE, json!({ "id": id })).await;
    body["data"]["asset"]["licenseState"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test]
async fn licenses_are_validated_and_need_manage_licenses() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;
    let denied = app
        .gql(Some(&editor), CREATE, input(&app, "X", 0, 10))
        .await;
    assert_eq!(error_code(&denied), Some("FORBIDDEN"), "{denied}");
    let listed = app
        .gql(
            Some(&editor),
            "{ licenses { counts { active } } }",
            Value::Null,
        )
        .await;
    assert_eq!(error_code(&listed), Some("FORBIDDEN"));

    let made = app
        .gql(Some(&admin), CREATE, input(&app, "Campaign SS27", 0, 90))
        .await;
    let l = &made["data"]["createLicense"];
    assert_eq!(l["channels"], json!(["ECOMMERCE", "SOCIAL"]), "{made}");
    assert_eq!(l["territories"], json!(["BE", "FR"]));
    assert_eq!(l["state"], "ACTIVE");
    for (field, value) in [
        ("territories", json!(["EU"])),
        ("territories", json!([])),
        ("channels", json!([])),
        ("name", json!("  ")),
        ("endsAt", json!(app.clock.now().to_rfc3339())),
    ] {
        let mut bad = input(&app, "Bad", 1, 10);
        bad["i"][field] = value.clone();
        let body = app.gql(Some(&admin), CREATE, bad).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{field}={value}: {body}"
        );
    }
    let world = {
        let mut w = input(&app, "Worldwide", 0, 10);
        w["i"]["territories"] = json!(["world", "FR"]);
        app.gql(Some(&admin), CREATE, w).await
    };
    assert_eq!(
        world["data"]["createLicense"]["territories"],
        json!(["WORLD"]),
        "{world}"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_assets_license_state_follows_its_licenses_and_the_clock() {
    let app = spawn_app().await;
    let mut admin = app.admin_token().await;
    let folder = app.create_folder(&admin, None, "SS27").await;
    let inner = app.create_folder(&admin, Some(&folder), "Rings").await;
    let mut ids = Vec::new();
    for f in [&folder, &inner] {
        let a = app
            .upload_asset(
                &admin,
                &UploadFile::fixture("coffee.png"),
                json!({ "folderId": f }),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let loose = app
        .upload_asset(&admin, &UploadFile::fixture("coffee.png"), json!({}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(asset_state(&app, &admin, &ids[0]).await, "UNLICENSED");

    // Attach to a folder: every asset below it, not the others.
    let first = create(&app, &admin, "First", 10, 40).await;
    let attached = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $f: ID) { attachLicense(licenseId: $l, folderId: $f) }",
            json!({ "l": first, "f": folder }),
        )
        .await;
    assert_eq!(attached["data"]["attachLicense"], 2, "{attached}");
    let again = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }",
            json!({ "l": first, "a": ids }),
        )
        .await;
    assert_eq!(
        again["data"]["attachLicense"], 0,
        "already attached: {again}"
    );
    assert_eq!(asset_state(&app, &admin, &loose).await, "UNLICENSED");
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "SCHEDULED");

    app.clock.advance(chrono::Duration::days(10));
    // Sessions last hours, not weeks: sign in again.
    admin = app.login("admin@vitrine.test", PASSWORD).await;
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "ACTIVE");
    app.clock.advance(chrono::Duration::days(17));
    // Sessions last hours, not weeks: sign in again.
    admin = app.login("admin@vitrine.test", PASSWORD).await;
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "EXPIRING");

    // A second, overlapping license carries it on: active again.
    let second = create(&app, &admin, "Renewal", -1, 200).await;
    app.gql(
        Some(&admin),
        "mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }",
        json!({ "l": second, "a": [ids[1]] }),
    )
    .await;
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "ACTIVE");
    assert_eq!(asset_state(&app, &admin, &ids[0]).await, "EXPIRING");
    let seen = app.gql(Some(&admin), STATE, json!({ "id": ids[1] })).await;
    assert_eq!(
        seen["data"]["asset"]["licenses"].as_array().map(Vec::len),
        Some(2)
    );

    // The first ends: the asset it alone covered is EXPIRED.
    app.clock.advance(chrono::Duration::days(14));
    // Sessions last hours, not weeks: sign in again.
    admin = app.login("admin@vitrine.test", PASSWORD).await;
    assert_eq!(asset_state(&app, &admin, &ids[0]).await, "EXPIRED");
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "ACTIVE");

    // The dashboard counts and filters.
    let board = app
        .gql(
            Some(&admin),
            "{ licenses { counts { scheduled active expiring expired } items { name state assetCount } } }",
            Value::Null,
        )
        .await;
    let counts = &board["data"]["licenses"]["counts"];
    assert_eq!(counts["expired"], 1, "{board}");
    assert_eq!(counts["active"], 1);
    let expired = app
        .gql(
            Some(&admin),
            "{ licenses(filter: { state: EXPIRED }) { items { name assetCount } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        expired["data"]["licenses"]["items"],
        json!([{ "name": "First", "assetCount": 2 }]),
        "{expired}"
    );
    let soon = app
        .gql(
            Some(&admin),
            "{ licenses(filter: { expiringWithinDays: 200, channel: SOCIAL }) { items { name } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        soon["data"]["licenses"]["items"],
        json!([{ "name": "Renewal" }]),
        "{soon}"
    );

    // Detach: back to what is left.
    let detached = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $a: [ID!]!) { detachLicense(licenseId: $l, assetIds: $a) }",
            json!({ "l": second, "a": [ids[1]] }),
        )
        .await;
    assert_eq!(detached["data"]["detachLicense"], 1, "{detached}");
    assert_eq!(asset_state(&app, &admin, &ids[1]).await, "EXPIRED");
    let audit = app
        .gql(
            Some(&admin),
            "{ auditEvents(first: 100) { edges { node { action } } } }",
            Value::Null,
        )
        .await;
    let actions: Vec<&str> = audit["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["action"].as_str())
        .collect();
    for a in ["LICENSE_CREATED", "LICENSE_ATTACHED", "LICENSE_DETACHED"] {
        assert!(actions.contains(&a), "{a} missing");
    }
    app.finish().await;
}

/// A partner with a DOWNLOAD grant on a folder holding one published asset,
/// on a server with the default (unlicensed assets stay inside).
async fn partner_setup(app: &TestApp, admin: &str) -> (String, String, String) {
    let folder = app.create_folder(admin, None, "Retail").await;
    let a = app
        .upload_asset(
            admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder }),
        )
        .await;
    let asset = a["id"].as_str().unwrap().to_owned();
    assert!(
        app.wait_until_processed(std::time::Duration::from_secs(60))
            .await
    );
    app.set_access(admin, &[&asset], "PUBLIC", None, None).await;
    let partner = app
        .create_partner(admin, "Retailer", "buyer@retailer.example")
        .await;
    app.grant(admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    (asset, partner.token, folder)
}

#[tokio::test]
async fn a_license_ending_closes_every_path_at_that_instant_without_any_job() {
    let app = vitrine_tests::spawn_with(|env| {
        env.insert(
            "VITRINE_LICENSE_UNLICENSED_DELIVERABLE".into(),
            "false".into(),
        );
    })
    .await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (asset, partner, _) = partner_setup(&app, &admin).await;
    let list = "{ assets { edges { node { id } } } }";
    let count = |b: &Value| b["data"]["assets"]["edges"].as_array().map(Vec::len);

    // Unlicensed: members see it; nothing of it leaves.
    assert_eq!(
        count(&app.gql(Some(&partner), list, Value::Null).await),
        Some(0)
    );
    let refused = app
        .delivery_url(&partner, &asset, "PREVIEW", None)
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    let share = app
        .gql(
            Some(&admin),
            "mutation($a: [ID!]!) { createShareLink(input: { assetIds: $a, scope: DOWNLOAD }) { url } }",
            json!({ "a": [asset] }),
        )
        .await;
    let page_url = format!(
        "{}{}",
        app.base,
        share["data"]["createShareLink"]["url"].as_str().unwrap()
    );
    let client = reqwest::Client::new();
    let page = client
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"empty\""), "{page}");

    // Licensed until T (whole seconds from now).
    let now = app.clock.now();
    let ends = now + chrono::Duration::hours(2);
    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": {
                "name": "SS27 e-commerce", "licensor": "Studio Lumière",
                "channels": ["ECOMMERCE"], "territories": ["WORLD"],
                "startsAt": (now - chrono::Duration::days(1)).to_rfc3339(),
                "endsAt": ends.to_rfc3339(),
            } }),
        )
        .await;
    let license = body["data"]["createLicense"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Some(&admin),
        "mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }",
        json!({ "l": license, "a": [asset] }),
    )
    .await;
    assert_eq!(
        count(&app.gql(Some(&partner), list, Value::Null).await),
        Some(1)
    );
    let preview = app
        .delivery_url(&partner, &asset, "PREVIEW", Some(86_400))
        .await
        .unwrap();
    let original = app
        .delivery_url(&partner, &asset, "ORIGINAL", Some(86_400))
        .await
        .unwrap();
    let served = app.fetch(&preview).await;
    assert_eq!(served.status(), 200);
    let cc = served.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let age: i64 = cc.rsplit('=').next().unwrap().parse().unwrap();
    assert!(age <= 7200, "cached beyond the license: {cc}");
    let page = client.get(&page_url).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let link_image = html
        .split("src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| format!("{}{u}", app.base))
        .unwrap_or_else(|| panic!("no image: {html}"));
    assert_eq!(client.get(&link_image).send().await.unwrap().status(), 200);

    // One second before T everything is served; one millisecond after, no path.
    app.clock.set(ends - chrono::Duration::seconds(1));
    let partner = app
        .login("buyer@retailer.example", vitrine_tests::PASSWORD)
        .await;
    assert_eq!(app.fetch(&preview).await.status(), 200);
    // The page's image URLs live minutes: take fresh ones from the page.
    let html = client
        .get(&page_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link_image = html
        .split("src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| format!("{}{u}", app.base))
        .unwrap_or_else(|| panic!("no image: {html}"));
    assert_eq!(client.get(&link_image).send().await.unwrap().status(), 200);
    app.clock.set(ends + chrono::Duration::milliseconds(1));
    assert_eq!(app.fetch(&preview).await.status(), 403);
    assert_eq!(app.fetch(&original).await.status(), 403);
    assert_eq!(client.get(&link_image).send().await.unwrap().status(), 403);
    let html = client
        .get(&page_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"empty\""), "{html}");
    assert_eq!(
        count(&app.gql(Some(&partner), list, Value::Null).await),
        Some(0)
    );
    let by_id = app
        .gql(
            Some(&partner),
            "query($id: ID!) { asset(id: $id) { id } }",
            json!({ "id": asset }),
        )
        .await;
    assert_eq!(error_code(&by_id), Some("NOT_FOUND"), "{by_id}");
    // Members still work with it.
    let admin = app.login("admin@vitrine.test", PASSWORD).await;
    assert_eq!(asset_state(&app, &admin, &asset).await, "EXPIRED");
    assert!(
        app.delivery_url(&admin, &asset, "ORIGINAL", None)
            .await
            .is_ok()
    );
    app.finish().await;
}

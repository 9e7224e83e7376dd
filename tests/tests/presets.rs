//! Upload presets: one upload through a preset lands in its folder with its
//! tags (and what its filename rule captures), its publication, its
//! licenses and its moderation — atomically; the default preset applies when
//! none is named; changing a preset changes later uploads only.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::{TestApp, UploadFile, error_code, fixture, spawn_app};

const CREATE: &str = "mutation($i: UploadPresetInput!) { createUploadPreset(input: $i) { id name tags moderation isDefault } }";
const UPLOAD: &str = "mutation($file: Upload!, $input: UploadAssetInput) { uploadAsset(file: $file, input: $input) { id title tags accessMode folder { id } licenses { id } currentVersion { id moderation { state } } } }";

async fn license(app: &TestApp, token: &str) -> String {
    let body = app
        .gql(
            Some(token),
            "mutation { createLicense(input: { name: \"SS27\", licensor: \"Studio\", channels: [ECOMMERCE], territories: [\"WORLD\"], startsAt: \"2026-01-01T00:00:00Z\", endsAt: \"2030-01-01T00:00:00Z\" }) { id } }",
            json!({}),
        )
        .await;
    body["data"]["createLicense"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

fn named(name: &str) -> UploadFile {
    UploadFile::new(name, "image/jpeg", fixture("garden.jpg"))
}

async fn upload(app: &TestApp, token: &str, file: &UploadFile, input: Value) -> Value {
    app.upload_gql(Some(token), UPLOAD, json!({ "input": input }), file)
        .await
}

#[tokio::test]
async fn a_manual_preset_files_tags_licenses_and_holds_back_an_upload() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let partner = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let folder = app.create_folder(&admin, None, "SS27").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    let license_id = license(&app, &admin).await;
    let preset = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": {
                "name": "SS27 e-shop", "folderId": folder, "accessMode": "PUBLIC",
                "moderation": "MANUAL", "tags": ["SS27"], "licenseIds": [license_id],
                "filenamePattern": "^(?P<sku>[A-Z]+-\\d+)_(?P<tag>[a-z]+)\\.",
            } }),
        )
        .await;
    let preset_id = preset["data"]["createUploadPreset"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{preset}"))
        .to_owned();

    let body = upload(
        &app,
        &admin,
        &named("RING-0042_front.jpg"),
        json!({ "presetId": preset_id }),
    )
    .await;
    let asset = &body["data"]["uploadAsset"];
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(asset["folder"]["id"], folder.as_str());
    // The preset's tag and the filename's captures, with the shape and
    // resolution the file's header gives at once (automatic tags).
    assert_eq!(
        asset["tags"],
        json!(["front", "high-res", "landscape", "sku:ring-0042", "ss27"])
    );
    assert_eq!(asset["accessMode"], "PUBLIC");
    assert_eq!(asset["licenses"][0]["id"], license_id.as_str());
    assert_eq!(asset["currentVersion"]["moderation"]["state"], "PENDING");
    let id = asset["id"].as_str().unwrap().to_owned();
    let version = asset["currentVersion"]["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    // Invisible to the partner with a grant on the folder, by every path…
    let one = "query($id: ID!) { asset(id: $id) { title } }";
    let body = app
        .gql(Some(&partner.token), one, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    assert!(
        app.delivery_url(&partner.token, &id, "PREVIEW", None)
            .await
            .is_err()
    );
    let list = app
        .gql(
            Some(&partner.token),
            "{ assets(first: 10) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(list["data"]["assets"]["totalCount"], 0, "{list}");
    let (share_page, _) = app
        .create_share_link(&admin, json!({ "assetIds": [id], "scope": "PREVIEW" }))
        .await;
    let page = app.fetch(&share_page).await.text().await.unwrap();
    assert!(
        !page.contains("<img"),
        "the share page shows a held-back image"
    );
    let mut ws = app.ws_connect(json!({ "token": partner.token })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("events", "subscription { assetEvents { kind assetId } }")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"RING-0042_front\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(
        ws.quiet_for(Duration::from_secs(1)).await.is_none(),
        "an event about a held-back asset"
    );
    // …until approved; then within one request.
    let approved = app
        .gql(
            Some(&admin),
            "mutation($v: [ID!]!) { moderate(versionIds: $v, decision: APPROVED) { id } }",
            json!({ "v": [version] }),
        )
        .await;
    assert!(approved["errors"].is_null(), "{approved}");
    let body = app
        .gql(Some(&partner.token), one, json!({ "id": id }))
        .await;
    assert_eq!(body["data"]["asset"]["title"], "RING-0042_front", "{body}");
    let event = ws.message().await;
    assert_eq!(
        event["payload"]["data"]["assetEvents"]["kind"], "PUBLISHED",
        "{event}"
    );
    let page = app.fetch(&share_page).await.text().await.unwrap();
    assert!(page.contains("<img"), "the share page after approval");
    let url = app
        .delivery_url(&partner.token, &id, "PREVIEW", Some(600))
        .await
        .expect("a URL once approved");
    assert_eq!(app.fetch(&url).await.status(), 200);
    app.finish().await;
}

#[tokio::test]
async fn a_preset_applies_all_or_nothing_and_the_default_applies_unasked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let folder = app.create_folder(&admin, None, "Default").await;
    let license_id = license(&app, &admin).await;
    let preset = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "House", "folderId": folder, "tags": ["house"],
                           "licenseIds": [license_id], "isDefault": true } }),
        )
        .await;
    assert_eq!(
        preset["data"]["createUploadPreset"]["isDefault"], true,
        "{preset}"
    );
    let preset_id = preset["data"]["createUploadPreset"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // No preset named: the default one files and tags it.
    let body = upload(&app, &admin, &named("plain.jpg"), json!({})).await;
    assert_eq!(
        body["data"]["uploadAsset"]["folder"]["id"],
        folder.as_str(),
        "{body}"
    );
    assert_eq!(
        body["data"]["uploadAsset"]["tags"],
        json!(["high-res", "house", "landscape"])
    );
    assert_eq!(
        body["data"]["uploadAsset"]["currentVersion"]["moderation"]["state"],
        "NOT_REQUIRED"
    );

    // Its license disappears behind its back: the upload fails whole.
    let before = app.count_rows("assets").await;
    let versions_before = app.count_rows("asset_versions").await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use vitrine_entity::entities::{asset_license, license};
        let id = uuid::Uuid::parse_str(&license_id).unwrap();
        asset_license::Entity::delete_many()
            .filter(asset_license::Column::LicenseId.eq(id))
            .exec(app.db())
            .await
            .unwrap();
        license::Entity::delete_by_id(id)
            .exec(app.db())
            .await
            .unwrap();
    }
    let body = upload(
        &app,
        &admin,
        &named("second.jpg"),
        json!({ "presetId": preset_id }),
    )
    .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    assert_eq!(app.count_rows("assets").await, before, "an asset was left");
    assert_eq!(app.count_rows("asset_versions").await, versions_before);

    // Changed: later uploads only.
    let updated = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: UploadPresetInput!) { updateUploadPreset(id: $id, input: $i) { tags } }",
            json!({ "id": preset_id, "i": { "name": "House", "tags": ["house", "v2"], "isDefault": true } }),
        )
        .await;
    assert_eq!(
        updated["data"]["updateUploadPreset"]["tags"],
        json!(["house", "v2"]),
        "{updated}"
    );
    let body = upload(&app, &admin, &named("third.jpg"), json!({})).await;
    assert_eq!(
        body["data"]["uploadAsset"]["tags"],
        json!(["high-res", "house", "landscape", "v2"]),
        "{body}"
    );
    let first = app
        .gql(
            Some(&admin),
            "{ assets(first: 10, filter: { tags: [\"v2\"] }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(first["data"]["assets"]["totalCount"], 1, "{first}");

    // Refusals: who, and what.
    app.create_member("c@vitrine.test", vitrine_entity::Role::Contributor)
        .await;
    let contributor = app.login("c@vitrine.test", vitrine_tests::PASSWORD).await;
    let body = app
        .gql(
            Some(&contributor),
            CREATE,
            json!({ "i": { "name": "Mine" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    for bad in [
        json!({ "name": "Bad regex", "filenamePattern": "(" }),
        json!({ "name": "No capture", "filenamePattern": "^[A-Z]+" }),
        json!({ "name": "Window", "accessStartsAt": "2027-01-02T00:00:00Z", "accessEndsAt": "2027-01-01T00:00:00Z" }),
    ] {
        let body = app.gql(Some(&admin), CREATE, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    let body = upload(
        &app,
        &admin,
        &named("x.jpg"),
        json!({ "presetId": uuid::Uuid::now_v7().to_string() }),
    )
    .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    app.finish().await;
}

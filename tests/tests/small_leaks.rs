//! Small leaks and mistakes: the schema is not revealed to anonymous
//! callers, nor field names through suggestions; a malformed scalar is the
//! caller's error; partners learn nothing of private metadata; WebP
//! orientation written the way exiftool writes it is honoured.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::images::webp_with_exif_orientation;
use vitrine_tests::{UploadFile, error_code, spawn_app, spawn_with};

const SCHEMA: &str = "{ __schema { queryType { name } } }";

#[tokio::test]
async fn the_schema_is_for_signed_in_callers_and_suggestions_name_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = app.gql(None, SCHEMA, Value::Null).await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    let body = app.gql(Some(&admin), SCHEMA, Value::Null).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    for token in [None, Some(admin.as_str())] {
        let body = app.gql(token, "{ assetz { id } }", Value::Null).await;
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("Did you mean"), "{message}");
        assert!(!message.contains("\"assets\""), "{message}");
    }
    app.finish().await;

    // Open to everyone, the schema is no secret: suggestions help.
    let open = spawn_with(|env| {
        env.insert("VITRINE_INTROSPECTION".into(), "everyone".into());
    })
    .await;
    let body = open.gql(None, "{ assetz { id } }", Value::Null).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
    open.finish().await;
}

#[tokio::test]
async fn a_malformed_scalar_is_bad_user_input() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for query in [
        "{ assets(filter: { createdAfter: \"2026-13-45\" }) { totalCount } }",
        "{ auditEvents(filter: { from: \"yesterday\" }) { edges { cursor } } }",
    ] {
        let body = app.gql(Some(&admin), query, Value::Null).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{query}: {body}");
    }
    let body = app
        .gql(
            Some(&admin),
            "query($d: DateTime) { assets(filter: { createdAfter: $d }) { totalCount } }",
            json!({ "d": "not a date" }),
        )
        .await;
    let code = error_code(&body).unwrap_or_default();
    assert!(code != "INTERNAL" && !code.is_empty(), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn partners_learn_nothing_of_private_metadata() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "Launch").await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("kite-orient8-gps.jpg"),
            json!({ "folderId": folder }),
        )
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    app.set_access(&admin, &[&id], "PUBLIC", None, None).await;
    let partner = app
        .create_partner(&admin, "Distributor", "buyer@distributor.example")
        .await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    let query = "query($id: ID!) { asset(id: $id) { currentVersion { metadata { cameraModel orientation hasGps hasSerialNumbers gps { latitude } } processing { state error } } } }";
    let body = app.gql(Some(&admin), query, json!({ "id": id })).await;
    let metadata = &body["data"]["asset"]["currentVersion"]["metadata"];
    assert_eq!(metadata["hasGps"], true, "{body}");
    assert!(metadata["gps"]["latitude"].is_number());
    let body = app
        .gql(Some(&partner.token), query, json!({ "id": id }))
        .await;
    let version = &body["data"]["asset"]["currentVersion"];
    assert_eq!(version["processing"]["state"], "READY", "{body}");
    let metadata = &version["metadata"];
    assert_eq!(metadata["orientation"], 8, "{body}");
    assert!(metadata["hasGps"].is_null(), "{body}");
    assert!(metadata["hasSerialNumbers"].is_null(), "{body}");
    assert!(metadata["gps"].is_null(), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn webp_orientation_behind_an_exif_prefix_is_honoured() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    // Landscape pixels, to be shown turned a quarter (orientation 6).
    let file = UploadFile::new(
        "turned.webp",
        "image/webp",
        webp_with_exif_orientation(300, 200, 6),
    );
    let asset = app.upload_asset(&admin, &file, json!({})).await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let body = app
        .gql(
            Some(&admin),
            "query($id: ID!) { asset(id: $id) { currentVersion { metadata { orientation } renditions { kind width height } } } }",
            json!({ "id": asset["id"] }),
        )
        .await;
    let version = &body["data"]["asset"]["currentVersion"];
    assert_eq!(version["metadata"]["orientation"], 6, "{body}");
    for r in version["renditions"].as_array().unwrap() {
        assert!(
            r["height"].as_i64() > r["width"].as_i64(),
            "not upright: {r}"
        );
    }
    app.finish().await;
}

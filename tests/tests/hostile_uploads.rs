//! Hostile and broken files: each is refused with a typed error, leaves no
//! row, no blob and no job behind, and is recorded as UPLOAD_REJECTED.

use serde_json::{Value, json};
use vitrine_tests::images::{gif, gradient, pdf, png_bomb, png_lying_header, truncated};
use vitrine_tests::{TestApp, UploadFile, error_code, fixture, spawn_app, spawn_with};

const UPLOAD: &str = "mutation($file: Upload!) { uploadAsset(file: $file) { id } }";

async fn assert_refused(app: &TestApp, token: &str, file: &UploadFile, code: &str, says: &str) {
    let response = app
        .upload_response(Some(token), UPLOAD, json!({}), file)
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some(code), "{}: {body}", file.name);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{}: {message:?} should mention {says:?}",
        file.name
    );
    if code == "PAYLOAD_TOO_LARGE" {
        assert_eq!(status, 413);
    }
    // Nothing kept: no asset, version or blob row, no stored original, no job.
    assert_eq!(app.count_rows("assets").await, 0, "{}", file.name);
    assert_eq!(app.count_rows("asset_versions").await, 0);
    assert_eq!(app.count_rows("blobs").await, 0);
    assert!(app.stored_originals().await.is_empty(), "{}", file.name);
    assert_eq!(tmp_files(app), 0, "{}: temporary file left", file.name);
}

/// Files staged by the server's upload directory (its lock aside).
fn tmp_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.state.uploads.path())
        .map(|d| d.flatten().filter(|e| e.file_name() != ".lock").count())
        .unwrap_or(0)
}

async fn rejections(app: &TestApp, token: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(token),
            "{ auditEvents(filter: { action: UPLOAD_REJECTED }, first: 50) { edges { node { details actorKind } } } }",
            Value::Null,
        )
        .await;
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["details"].clone())
        .collect()
}

#[tokio::test]
async fn wrong_types_are_refused_naming_what_was_detected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let cases = [
        (UploadFile::new("cat.gif", "image/gif", gif()), "GIF"),
        // The declared type and name lie: the bytes are a PDF.
        (UploadFile::new("ring.jpg", "image/jpeg", pdf()), "PDF"),
        (
            UploadFile::new("notes.png", "image/png", b"just some text\n".to_vec()),
            "plain text",
        ),
        (
            UploadFile::new("empty.jpg", "image/jpeg", Vec::new()),
            "empty",
        ),
    ];
    for (file, detected) in &cases {
        assert_refused(&app, &token, file, "BAD_USER_INPUT", detected).await;
    }
    let events = rejections(&app, &token).await;
    assert_eq!(events.len(), cases.len());
    let reasons: Vec<&str> = events
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"unsupported type"));
    assert!(reasons.contains(&"empty"));
    assert_eq!(events[0]["filename"], "empty.jpg");
    app.finish().await;
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // 40000 × 40000 = 1.6 gigapixels in a few hundred bytes.
    let bomb = UploadFile::new("bomb.png", "image/png", png_bomb(40_000, 40_000));
    assert!(bomb.bytes.len() < 200);
    assert_refused(&app, &token, &bomb, "BAD_USER_INPUT", "1600 megapixels").await;
    let events = rejections(&app, &token).await;
    assert_eq!(events[0]["reason"], "too many pixels");
    app.finish().await;
}

#[tokio::test]
async fn decoding_stays_under_its_memory_limit() {
    // 2560×1600 fits the pixel limit but needs more memory than allowed here.
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_DECODE_BYTES".into(), "4MiB".into());
    })
    .await;
    let token = app.admin_token().await;
    let file = UploadFile::fixture("garden.jpg");
    assert_refused(&app, &token, &file, "BAD_USER_INPUT", "more memory").await;
    app.finish().await;
}

#[tokio::test]
async fn the_pixel_limit_is_configurable() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_IMAGE_PIXELS".into(), "1000000".into());
    })
    .await;
    let token = app.admin_token().await;
    let file = UploadFile::fixture("garden.jpg");
    assert_refused(&app, &token, &file, "BAD_USER_INPUT", "2560×1600").await;
    app.finish().await;
}

#[tokio::test]
async fn truncated_and_lying_files_are_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let jpeg = fixture("garden.jpg");
    let png = fixture("chelsea.png");
    let webp = gradient(300, 200, image::ImageFormat::WebP);
    let cases = [
        UploadFile::new("half.jpg", "image/jpeg", truncated(&jpeg, 0.6)),
        UploadFile::new("header-only.jpg", "image/jpeg", truncated(&jpeg, 0.02)),
        UploadFile::new("half.png", "image/png", truncated(&png, 0.5)),
        UploadFile::new("half.webp", "image/webp", truncated(&webp, 0.5)),
        UploadFile::new("liar.png", "image/png", png_lying_header(64)),
    ];
    for file in &cases {
        let response = app
            .upload_response(Some(&token), UPLOAD, json!({}), file)
            .await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{}: {body}",
            file.name
        );
        assert_eq!(app.count_rows("assets").await, 0);
        assert_eq!(app.count_rows("blobs").await, 0);
        assert!(app.stored_originals().await.is_empty());
    }
    assert_eq!(rejections(&app, &token).await.len(), cases.len());
    app.finish().await;
}

#[tokio::test]
async fn oversized_uploads_are_refused_with_413() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_UPLOAD_BYTES".into(), "300KiB".into());
    })
    .await;
    let token = app.admin_token().await;
    // coffee.png is 456 KiB.
    let file = UploadFile::fixture("coffee.png");
    assert_refused(
        &app,
        &token,
        &file,
        "PAYLOAD_TOO_LARGE",
        "exceeds the limit",
    )
    .await;
    // A file under the limit still goes through.
    app.upload_asset(&token, &UploadFile::fixture("chelsea.png"), json!({}))
        .await;
    app.finish().await;
}

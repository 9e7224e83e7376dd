//! The share-link visitor page in headless Chromium, driven by
//! playwright-core (`tests/browser/share.mjs`): the password prompt, a wrong
//! then the right password, the previews, a download, no download button on
//! a PREVIEW link, the unavailable page after revocation.
//!
//! Needs Node.js, `npm ci --prefix tests/browser` and Debian's `chromium`.
//! Without them the test says so and passes, unless
//! `VITRINE_TEST_REQUIRE_BROWSER` is set (`.ci/run` installs them and sets it).

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use vitrine_tests::{UploadFile, spawn_app, spawn_with};

fn browser_ready(dir: &Path, chromium: &str) -> Result<(), String> {
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Err(format!("run `npm ci --prefix {}`", dir.display()));
    }
    if !Path::new(chromium).exists() {
        return Err(format!("{chromium} is missing (apt-get install chromium)"));
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("node is not installed".into()),
    }
}

/// The harness directory and browser, or `None` (after saying why) when the
/// browser tests cannot run here and are not required.
fn harness() -> Option<(std::path::PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let chromium = std::env::var("VT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Err(why) = browser_ready(&dir, &chromium) {
        assert!(
            std::env::var("VITRINE_TEST_REQUIRE_BROWSER").is_err(),
            "the browser test is required here: {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return None;
    }
    Some((dir, chromium))
}

/// Runs a harness script; panics with its output unless it passed.
async fn run_script(mut command: tokio::process::Command) {
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the browser run finished in time")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("browser checks passed"),
        "the browser run failed:\n{stdout}\n{stderr}"
    );
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_uses_the_api_and_another_origin_is_blocked() {
    let Some((dir, chromium)) = harness() else {
        return;
    };
    let (allowed, other) = (free_port(), free_port());
    let app = spawn_with(|env| {
        env.insert(
            "VITRINE_CORS_ALLOWED_ORIGINS".into(),
            format!("http://127.0.0.1:{allowed}, https://portal.example.com"),
        );
    })
    .await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let asset = app
        .upload_asset(&admin, &UploadFile::fixture("garden.jpg"), json!({}))
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let url = app
        .delivery_url(&admin, &id, "PREVIEW", Some(600))
        .await
        .expect("a delivery URL");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("cors.mjs"))
        .env("VT_API", &app.base)
        .env("VT_TOKEN", &admin)
        .env("VT_DELIVERY_URL", &url)
        .env("VT_EMAIL", "admin@vitrine.test")
        .env("VT_ALLOWED_PORT", allowed.to_string())
        .env("VT_OTHER_PORT", other.to_string())
        .env("VT_CHROMIUM", &chromium);
    run_script(command).await;
    // The foreign page's cross-site sign-in attempts never ran.
    assert_eq!(
        app.count_rows("audit_events WHERE action = 'LOGIN_FAILED'")
            .await,
        0,
        "a cross-site simple request ran a mutation"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_visitor_uses_share_links_in_a_real_browser() {
    let Some((dir, chromium)) = harness() else {
        return;
    };
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let mut ids = Vec::new();
    for (name, title) in [
        ("garden.jpg", "Look garden"),
        ("yellow-flower.jpg", "Look flower"),
    ] {
        let a = app
            .upload_asset(
                &admin,
                &UploadFile::fixture(name),
                json!({ "title": title }),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let set = app.set_access(&admin, &refs, "PUBLIC", None, None).await;
    assert!(set["errors"].is_null(), "{set}");
    let create =
        "mutation($i: CreateShareLinkInput!) { createShareLink(input: $i) { url link { id } } }";
    let protected = app
        .gql(
            Some(&admin),
            create,
            json!({ "i": { "assetIds": ids, "scope": "DOWNLOAD", "password": "open sesame 2027" } }),
        )
        .await;
    let preview = app
        .gql(
            Some(&admin),
            create,
            json!({ "i": { "assetIds": [ids[0]], "scope": "PREVIEW" } }),
        )
        .await;
    let url = |body: &serde_json::Value| {
        format!(
            "{}{}",
            app.base,
            body["data"]["createShareLink"]["url"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
        )
    };
    let downloads = std::env::temp_dir().join(format!("vitrine-dl-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&downloads).unwrap();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("share.mjs"))
        .env("VT_PROTECTED_URL", url(&protected))
        .env("VT_PASSWORD", "open sesame 2027")
        .env("VT_PREVIEW_URL", url(&preview))
        .env("VT_GRAPHQL_URL", format!("{}/graphql", app.base))
        .env("VT_ADMIN_TOKEN", &admin)
        .env(
            "VT_PROTECTED_ID",
            protected["data"]["createShareLink"]["link"]["id"]
                .as_str()
                .unwrap(),
        )
        .env("VT_CHROMIUM", &chromium)
        .env("VT_DOWNLOAD_DIR", &downloads);
    run_script(command).await;
    std::fs::remove_dir_all(&downloads).ok();
    app.finish().await;
}

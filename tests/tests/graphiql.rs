//! GraphiQL served from the binary: the page's security headers, every file
//! it loads served by the server with the integrity hash the page names, no
//! URL of another origin; then the page in headless Chromium with every
//! request to another origin blocked (it works offline): a signed-in admin
//! pastes a token in the headers editor, the schema loads, `{ me { email } }`
//! runs from the run button and its result is on screen (screenshot checked).
//!
//! The browser part needs Node.js, `npm ci --prefix tests/browser` and
//! Debian's `chromium`; without them it says so and passes, unless
//! `VITRINE_TEST_REQUIRE_BROWSER` is set (`.ci/run` installs them and sets it).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha384};
use vitrine_tests::{spawn_app, spawn_with};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// The value of `attr="…"` inside one tag, if any.
fn attribute<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// `(url, integrity)` of every `<script src>` and `<link href>` of a page.
fn subresources(html: &str) -> Vec<(String, Option<String>)> {
    html.split('<')
        .filter(|tag| tag.starts_with("script ") || tag.starts_with("link "))
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            let url = attribute(tag, "src").or_else(|| attribute(tag, "href"))?;
            Some((
                url.to_owned(),
                attribute(tag, "integrity").map(str::to_owned),
            ))
        })
        .collect()
}

#[tokio::test]
async fn the_page_and_every_file_it_loads_come_from_the_server_with_their_hashes() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert_eq!(
        csp.split_whitespace().collect::<Vec<_>>(),
        CSP.split_whitespace().collect::<Vec<_>>()
    );
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page names another origin:\n{html}"
    );
    assert!(
        !html.contains("<script>"),
        "an inline script (CSP forbids it)"
    );

    let resources = subresources(&html);
    let urls: HashSet<&str> = resources.iter().map(|(u, _)| u.as_str()).collect();
    for wanted in [
        "/graphql/assets/graphiql.min.js",
        "/graphql/assets/graphiql.min.css",
        "/graphql/assets/react.production.min.js",
        "/graphql/assets/react-dom.production.min.js",
        "/graphql/assets/init.js",
        "/graphql/assets/init.css",
    ] {
        assert!(urls.contains(wanted), "the page does not load {wanted}");
    }
    for (url, integrity) in &resources {
        if url.starts_with("data:") {
            continue; // the favicon
        }
        assert!(url.starts_with("/graphql/assets/"), "{url}");
        let integrity = integrity
            .as_deref()
            .unwrap_or_else(|| panic!("{url} has no integrity attribute"));
        let response = app
            .client
            .get(format!("{}{url}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let expected_type = if url.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(expected_type),
            "{url}: {:?}",
            headers["content-type"]
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["cache-control"], "no-cache", "{url}");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(sri(&bytes), integrity, "{url}: the page names another hash");
        // Revalidation: unchanged, so 304 with nothing in the body.
        let again = app
            .client
            .get(format!("{}{url}", app.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{url}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = app
            .client
            .get(format!("{}{url}", app.base))
            .header("if-none-match", "\"sha384-something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{url}");
    }

    // Nothing else is served from there: not the licences, not the source
    // map graphiql.min.js mentions, not a path outside the directory.
    for other in [
        "LICENSE.react",
        "MANIFEST.md",
        "index.html",
        "index.umd.js.map",
        "nope.js",
        "%2e%2e%2fgraphql",
        "",
    ] {
        let response = app
            .client
            .get(format!("{}/graphql/assets/{other}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{other}");
    }
    // The subscription endpoint is still the WebSocket one.
    let admin = app.admin_token().await;
    let mut ws = app.ws_connect(serde_json::json!({ "token": admin })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    app.finish().await;
}

#[tokio::test]
async fn no_page_without_introspection_but_the_files_are_static() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_INTROSPECTION".into(), "false".into());
    })
    .await;
    let page = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("content-security-policy").is_none());
    let file = app
        .client
        .get(format!("{}/graphql/assets/init.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    app.finish().await;
}

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
/// browser test cannot run here and is not required.
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

#[tokio::test]
async fn graphiql_runs_a_query_offline_in_a_real_browser() {
    let Some((dir, chromium)) = harness() else {
        return;
    };
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let screenshot = std::env::temp_dir().join(format!(
        "vitrine-graphiql-{}.png",
        uuid::Uuid::now_v7().simple()
    ));
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("graphiql.mjs"))
        .env("VT_BASE", &app.base)
        .env("VT_TOKEN", &admin)
        .env("VT_EMAIL", "admin@vitrine.test")
        .env("VT_SCREENSHOT", &screenshot)
        .env("VT_CHROMIUM", &chromium);
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

    // The screenshot: a real picture of the page, not an empty one.
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.len() > 20_000, "a {} byte screenshot", png.len());
    let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .expect("the screenshot is a PNG")
        .to_rgb8();
    assert_eq!(image.dimensions(), (1280, 800));
    let colours: HashSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "the screenshot has {} colours: blank?",
        colours.len()
    );
    // Dark text on a light page: both are there in quantity.
    let luma =
        |p: &image::Rgb<u8>| (u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10;
    let total = image.pixels().count();
    let light = image.pixels().filter(|p| luma(p) > 200).count();
    let dark = image.pixels().filter(|p| luma(p) < 100).count();
    assert!(light > total / 2, "mostly light: {light} of {total}");
    assert!(dark > 500, "text on the page: {dark} dark pixels");
    eprintln!("screenshot: {}", screenshot.display());
    if std::env::var("VT_KEEP_SCREENSHOT").is_err() {
        std::fs::remove_file(&screenshot).ok();
    }
    app.finish().await;
}

//! The README's walk-through, run as written: the first admin made with the
//! real `vitrine admin create-user` command from the README, then every
//! block of "The first hour", in order, on a fresh data directory. A README
//! edit that breaks the walk-through breaks this test.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::{TestApp, UploadFile, spawn_app, vitrine_binary};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md")
}

/// The text of a `## ` section, up to the next one.
fn section<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title:?}"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The fenced blocks of a section: (language, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let newline = after.find('\n').expect("a fence line");
        let lang = after[..newline].trim().to_owned();
        let body_start = &after[newline + 1..];
        let end = body_start.find("```").expect("a closing fence");
        out.push((lang, body_start[..end].to_owned()));
        rest = &body_start[end + 3..];
    }
    out
}

/// `data.<path>` of a response.
fn at<'a>(body: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(&body["data"], |v, key| &v[key])
}

/// The value between `start` and the next `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("{start:?} not in {text}"));
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not after {start:?}"));
    &text[from..from + len]
}

/// Creates the first admin exactly as the README says, with the real binary
/// on the test server's data directory and database.
fn create_first_admin(app: &TestApp, text: &str) -> (String, String) {
    let block = blocks(section(text, "The first admin, and signing in"))
        .into_iter()
        .map(|(_, body)| body)
        .find(|b| b.contains("admin create-user"))
        .expect("a create-user block");
    let password = between(&block, "printf '%s\\n' '", "'").to_owned();
    let args = between(&block, "-- admin create-user", "\n");
    let words: Vec<String> = {
        // --email X --role ADMIN --name "First Admin"
        let mut out = Vec::new();
        let mut quoted = false;
        let mut word = String::new();
        for c in args.trim().chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    };
    let email = words[words.iter().position(|w| w == "--email").unwrap() + 1].clone();
    let mut child = std::process::Command::new(vitrine_binary())
        .args(["admin", "create-user"])
        .args(&words)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VITRINE_DATA_DIR", &app.config.data_dir)
        .env("VITRINE_DATABASE_URL", app.config.database_url.expose())
        .env("VITRINE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vitrine runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "admin create-user failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (email, password)
}

#[tokio::test]
async fn the_readme_walk_through_runs_as_written() {
    let app = spawn_app().await;
    let text = readme();
    let (email, password) = create_first_admin(&app, &text);
    let login = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            json!({ "e": email, "p": password }),
        )
        .await;
    let admin = login["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the README's admin cannot sign in: {login}"))
        .to_owned();
    let _worker = app.start_worker_if_needed().await;

    let mut vars: HashMap<String, Value> = HashMap::new();
    let mut ran = 0;
    for (lang, body) in blocks(section(&text, "The first hour")) {
        match lang.as_str() {
            "graphql" => {
                let header = body.lines().next().unwrap_or_default();
                let who = header
                    .trim()
                    .strip_prefix("# as ")
                    .unwrap_or_else(|| panic!("a block without `# as …`: {header}"))
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let token = match who.as_str() {
                    "admin" => Some(admin.clone()),
                    "partner" => Some(
                        vars["partnerToken"]
                            .as_str()
                            .expect("the partner's token")
                            .to_owned(),
                    ),
                    "nobody" => None,
                    other => panic!("unknown runner {other:?} in {header}"),
                };
                // The variables the operation declares, from earlier answers.
                let mut variables = serde_json::Map::new();
                for (name, value) in &vars {
                    if body.contains(&format!("${name}:")) {
                        variables.insert(name.clone(), value.clone());
                    }
                }
                let answer = app
                    .gql(token.as_deref(), &body, Value::Object(variables))
                    .await;
                assert!(
                    answer["errors"].is_null(),
                    "README block failed:\n{body}\n→ {answer}"
                );
                if let Some(keep) = header.split("· keep $").nth(1) {
                    let (name, path) = keep.split_once(" = ").expect("keep $x = path");
                    let value = at(&answer, path.trim()).clone();
                    assert!(!value.is_null(), "{path} missing in {answer}");
                    vars.insert(name.trim().to_owned(), value);
                }
                if body.contains("url(kind: PREVIEW") {
                    let url = answer["data"]["asset"]["url"].as_str().unwrap();
                    let response = app.fetch(&format!("{}{url}", app.base)).await;
                    assert_eq!(response.status(), 200, "the partner's preview URL");
                    assert_eq!(
                        response.headers()["content-type"].to_str().unwrap(),
                        "image/jpeg"
                    );
                }
                if body.contains("explainAccess") {
                    let decisions = answer["data"]["explainAccess"]["decisions"]
                        .as_array()
                        .unwrap();
                    let allowed = |action: &str| {
                        decisions
                            .iter()
                            .find(|d| d["action"] == action)
                            .map(|d| d["allowed"] == true)
                    };
                    for action in ["VIEW_METADATA", "VIEW_PREVIEW", "DOWNLOAD_ORIGINAL"] {
                        assert_eq!(allowed(action), Some(true), "{action}: {answer}");
                    }
                    assert_eq!(allowed("EDIT"), Some(false), "{answer}");
                }
                if body.contains("createShareLink") {
                    let url = answer["data"]["createShareLink"]["url"].as_str().unwrap();
                    let page = app.fetch(&format!("{}{url}", app.base)).await;
                    assert_eq!(page.status(), 200, "the share page");
                }
            }
            "sh" => {
                // The upload, as the README's curl sends it.
                let operations = between(&body, "-F operations='", "'");
                let folder = vars["folder"].as_str().expect("$folder").to_owned();
                let operations: Value =
                    serde_json::from_str(&operations.replace("FOLDER_ID", &folder))
                        .expect("the operations JSON");
                let file = between(&body, "-F 0=@tests/fixtures/", "\n").trim();
                let answer = app
                    .upload_gql(
                        Some(&admin),
                        operations["query"].as_str().unwrap(),
                        operations["variables"].clone(),
                        &UploadFile::fixture(file),
                    )
                    .await;
                assert!(answer["errors"].is_null(), "upload: {answer}");
                vars.insert("asset".into(), answer["data"]["uploadAsset"]["id"].clone());
                assert!(app.wait_until_processed(Duration::from_secs(60)).await);
            }
            other => panic!("unexpected block language {other:?} in The first hour"),
        }
        ran += 1;
    }
    assert!(ran >= 12, "only {ran} blocks ran");

    // The same question with a window in the future: the embargo is named.
    let asset = vars["asset"].as_str().unwrap().to_owned();
    let start = chrono::Utc::now() + chrono::Duration::days(30);
    let set = app
        .set_access(&admin, &[&asset], "PUBLIC", Some(start), None)
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let explained = app
        .gql(
            Some(&admin),
            "query($a: ID!, $u: ID!) { explainAccess(assetId: $a, subject: { userId: $u }) { subject decisions { action allowed code reason } } }",
            json!({ "a": asset, "u": vars["partnerUser"] }),
        )
        .await;
    let first = &explained["data"]["explainAccess"]["decisions"][0];
    assert_eq!(first["allowed"], false, "{explained}");
    assert_eq!(first["code"], "NOT_PUBLISHED");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("embargoed until"),
        "{explained}"
    );
    // And the partner's own request agrees with the explanation.
    let partner = vars["partnerToken"].as_str().unwrap();
    let refused = app
        .gql(
            Some(partner),
            "query($a: ID!) { asset(id: $a) { title } }",
            json!({ "a": asset }),
        )
        .await;
    assert_eq!(vitrine_tests::error_code(&refused), Some("NOT_FOUND"));
    // Partners may not ask.
    let body = app
        .gql(
            Some(partner),
            "query($a: ID!, $u: ID!) { explainAccess(assetId: $a, subject: { userId: $u }) { subject } }",
            json!({ "a": asset, "u": vars["partnerUser"] }),
        )
        .await;
    assert_eq!(vitrine_tests::error_code(&body), Some("FORBIDDEN"));
    app.finish().await;
}

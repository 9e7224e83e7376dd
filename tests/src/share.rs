//! Share links from the visitor's side: a cookie-less client, the links'
//! pages and the delivery URLs they carry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{TestApp, UploadFile};

const CREATE: &str = "mutation($i: CreateShareLinkInput!) { createShareLink(input: $i) { url link { id scope state expiresAt hasPassword } } }";

/// A client that does not follow redirects and keeps no cookies: the test
/// carries the visit cookie by hand.
pub fn visitor() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Uploads, processes and publishes `n` assets in a folder; returns the
/// folder and the asset ids.
pub async fn published(app: &TestApp, admin: &str, n: usize) -> (String, Vec<String>) {
    let folder = app.create_folder(admin, None, "Lookbook").await;
    let mut ids = Vec::new();
    for i in 0..n {
        let a = app
            .upload_asset(
                admin,
                &UploadFile::fixture(if i % 2 == 0 {
                    "garden.jpg"
                } else {
                    "yellow-flower.jpg"
                }),
                json!({ "folderId": folder, "title": format!("Look {i} secret-title") }),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let set = app.set_access(admin, &refs, "PUBLIC", None, None).await;
    assert!(set["errors"].is_null(), "{set}");
    (folder, ids)
}

pub async fn create_link(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "i": input })).await
}

pub async fn link_url(app: &TestApp, token: &str, input: Value) -> (String, String) {
    let body = create_link(app, token, input).await;
    let created = &body["data"]["createShareLink"];
    let url = created["url"]
        .as_str()
        .unwrap_or_else(|| panic!("createShareLink: {body}"));
    (
        format!("{}{url}", app.base),
        created["link"]["id"].as_str().unwrap().to_owned(),
    )
}

pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The `name=value` part of the visit cookie a response sets.
pub fn visit_cookie(r: &reqwest::Response) -> String {
    let set = header(r, "set-cookie");
    assert!(set.starts_with("vitrine_visit="), "{set}");
    set.split(';').next().unwrap().to_owned()
}

/// The values of `attr="…"` in an HTML page.
pub fn attrs(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
        .collect()
}

pub fn delivery_urls(app: &TestApp, html: &str, attr: &str) -> Vec<String> {
    attrs(html, attr)
        .into_iter()
        .filter(|u| u.starts_with("/r/"))
        .map(|u| format!("{}{u}", app.base))
        .collect()
}

/// The HTML of a link's page, as a visitor without a cookie gets it.
pub async fn page(url: &str) -> String {
    visitor()
        .get(url)
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("a page")
}

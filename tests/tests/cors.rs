//! CORS and cross-site requests at the HTTP level (the browser test in
//! `browser.rs` checks the same from real pages): preflights for the API and
//! `/r/`, the headers a listed origin gets, and refusals of everything a
//! foreign origin sends before it runs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use vitrine_tests::{UploadFile, spawn_with};

const ALLOWED: &str = "https://portal.example.com";
const FOREIGN: &str = "https://evil.example.net";

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn preflights_headers_and_refusals_follow_the_allowed_origins() {
    let app = spawn_with(|env| {
        env.insert(
            "VITRINE_CORS_ALLOWED_ORIGINS".into(),
            format!("{ALLOWED}/, http://127.0.0.1:5173"),
        );
        env.insert("VITRINE_CORS_MAX_AGE".into(), "15m".into());
    })
    .await;
    let admin = app.admin_token().await;
    let client = reqwest::Client::new();
    let graphql = format!("{}/graphql", app.base);

    // A preflight from a listed origin, for a multipart upload with the
    // header Apollo clients send.
    let r = client
        .request(Method::OPTIONS, &graphql)
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,apollo-require-preflight",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(header(&r, "access-control-max-age"), Some("900"));
    let allowed_headers = header(&r, "access-control-allow-headers").unwrap_or_default();
    for h in ["authorization", "content-type", "apollo-require-preflight"] {
        assert!(
            allowed_headers.contains(h),
            "{h} not allowed: {allowed_headers}"
        );
    }
    assert!(
        header(&r, "access-control-allow-methods")
            .is_some_and(|m| m.contains("POST") && m.contains("GET"))
    );
    // No cookies are involved: credentials are never allowed.
    assert!(header(&r, "access-control-allow-credentials").is_none());

    // The same preflight from an unlisted origin, or asking for DELETE.
    for (origin, method) in [(FOREIGN, "POST"), ("null", "POST"), (ALLOWED, "DELETE")] {
        let r = client
            .request(Method::OPTIONS, &graphql)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin} {method}");
        assert!(header(&r, "access-control-allow-origin").is_none());
    }

    // A request from the listed origin runs and may be read.
    let query = json!({ "query": "{ me { email } }" });
    let r = client
        .post(&graphql)
        .header("origin", ALLOWED)
        .bearer_auth(&admin)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(ALLOWED));
    assert!(header(&r, "vary").is_some_and(|v| v.contains("Origin")));
    assert_eq!(
        header(&r, "cross-origin-resource-policy"),
        Some("same-origin")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["me"]["email"], "admin@vitrine.test");

    // The server's own origin (GraphiQL) needs no listing.
    let own = app.base.clone();
    let r = client
        .post(&graphql)
        .header("origin", &own)
        .bearer_auth(&admin)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "access-control-allow-origin").is_none());

    // A foreign origin: refused before anything runs, whatever it sends.
    let login = json!({
        "query": "mutation { login(email: \"admin@vitrine.test\", password: \"wrong guess\") { token } }"
    })
    .to_string();
    for (content_type, body) in [
        ("application/json", login.clone()),
        ("text/plain", login.clone()),
        (
            "application/x-www-form-urlencoded",
            format!("query={login}"),
        ),
    ] {
        let r = client
            .post(&graphql)
            .header("origin", FOREIGN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{content_type}");
        assert!(header(&r, "access-control-allow-origin").is_none());
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
    let form = reqwest::multipart::Form::new()
        .text("operations", login.clone())
        .text("map", "{}");
    let r = client
        .post(&graphql)
        .header("origin", FOREIGN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Without any Origin (not a browser), a simple request still runs no
    // mutation: text/plain is not GraphQL, and multipart needs a signed-in
    // caller (its Authorization header forces a preflight in browsers).
    let r = client
        .post(&graphql)
        .header("content-type", "text/plain")
        .body(login.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let form = reqwest::multipart::Form::new()
        .text("operations", login.clone())
        .text("map", "{}");
    let r = client.post(&graphql).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count_rows("audit_events WHERE action = 'LOGIN_FAILED'")
            .await,
        0,
        "a refused request ran a sign-in"
    );

    // The WebSocket endpoint checks Origin against the same list.
    let ws = app.ws_url.clone();
    for (origin, admitted) in [(ALLOWED, true), (own.as_str(), true), (FOREIGN, false)] {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = ws.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let result = tokio_tungstenite::connect_async(request).await;
        match (admitted, result) {
            (true, Ok(_)) => {}
            (false, Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                assert_eq!(response.status(), 403, "{origin}");
            }
            (admitted, other) => panic!("{origin}: admitted {admitted}, got {other:?}"),
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn delivery_urls_embed_anywhere_but_are_read_by_scripts_of_listed_origins_only() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_CORS_ALLOWED_ORIGINS".into(), ALLOWED.into());
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
        .delivery_url(&admin, &id, "THUMBNAIL", Some(600))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let deliveries = || app.count_rows("audit_events WHERE action = 'RENDITION_VIEWED'");

    // An <img> (no Origin): served, embeddable by any site.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "cross-origin-resource-policy"),
        Some("cross-origin")
    );
    assert!(header(&r, "access-control-allow-origin").is_none());
    let before = deliveries().await;

    // A script of a listed origin: served and readable.
    let r = client
        .get(&url)
        .header("origin", ALLOWED)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(ALLOWED));
    assert!(
        header(&r, "access-control-expose-headers")
            .is_some_and(|h| h.contains("content-range") && h.contains("content-disposition"))
    );
    let r = client
        .request(Method::OPTIONS, &url)
        .header("origin", ALLOWED)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(header(&r, "access-control-allow-headers").is_some_and(|h| h.contains("range")));
    let after_allowed = deliveries().await;
    assert_eq!(
        after_allowed,
        before + 1,
        "the allowed fetch was one delivery"
    );

    // A script of another origin: refused before anything is delivered or counted.
    let r = client
        .get(&url)
        .header("origin", FOREIGN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(header(&r, "access-control-allow-origin").is_none());
    assert_eq!(
        deliveries().await,
        after_allowed,
        "a refused fetch was delivered"
    );
    app.finish().await;
}

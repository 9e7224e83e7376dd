//! Derivatives through signed `/r/` URLs: a profile's srcset, the format
//! chosen by `Accept` (and `Vary: Accept`), each file checked by an
//! independent decoder and exiftool, one render for many first requests,
//! a bounded wait answered 503 + Retry-After, 410 once the profile or the
//! version changes, and the profile's entitlement asked at issue and at
//! every request.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use vitrine_tests::{
    PASSWORD, TestApp, UploadFile, error_code, exiftool, independent_decode, spawn_app, spawn_with,
};

const CREATE: &str =
    "mutation($i: DerivativeProfileInput!) { createDerivativeProfile(input: $i) { id revision } }";
const SRCSET: &str = "query($id: ID!, $p: String!, $f: DerivativeFormat) { asset(id: $id) { derivativeSrcset(profile: $p, format: $f) { src srcset links { dpr url } } } }";
const URL: &str = "query($id: ID!, $p: String!, $f: DerivativeFormat, $d: Int) { asset(id: $id) { derivativeUrl(profile: $p, format: $f, dpr: $d) } }";

async fn profile(app: &TestApp, admin: &str, input: Value) -> String {
    let body = app.gql(Some(admin), CREATE, json!({ "i": input })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["createDerivativeProfile"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn url(
    app: &TestApp,
    token: &str,
    asset: &str,
    name: &str,
    dpr: i32,
) -> Result<String, Value> {
    let body = app
        .gql(
            Some(token),
            URL,
            json!({ "id": asset, "p": name, "d": dpr }),
        )
        .await;
    match body["data"]["asset"]["derivativeUrl"].as_str() {
        Some(u) => Ok(format!("{}{u}", app.base)),
        None => Err(body),
    }
}

async fn get(app: &TestApp, url: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let _ = app;
    request.send().await.expect("request sent")
}

fn varies_by_accept_headers(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or_default().split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept"))
}

fn varies_by_accept(r: &reqwest::Response) -> bool {
    varies_by_accept_headers(r.headers())
}

async fn upload(app: &TestApp, token: &str, fixture: &str) -> String {
    app.upload_asset(token, &UploadFile::fixture(fixture), json!({}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_pdp_square_follows_accept_and_carries_the_statement_not_the_gps() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    profile(
        &app,
        &admin,
        json!({ "name": "pdp-square", "width": 160, "height": 160, "fit": "COVER",
                "anchor": "FOCAL_POINT", "format": "AUTO", "dprs": [1, 2] }),
    )
    .await;
    // A photograph with GPS and a serial number, stored sideways (EXIF 6).
    let asset = upload(&app, &admin, "storm-orient6-gps.jpg").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($a: ID!) { setAssetOwnership(assetId: $a, input: { copyright: \"© 2026 Maison Vitrine SA\" }) { id } setFocalPoint(assetId: $a, x: 0.5, y: 0.2) { x } }",
            json!({ "a": asset }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let body = app
        .gql(
            Some(&admin),
            SRCSET,
            json!({ "id": asset, "p": "pdp-square" }),
        )
        .await;
    let set = &body["data"]["asset"]["derivativeSrcset"];
    let links = set["links"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(links.len(), 2, "{set}");
    assert_eq!(
        (links[0]["dpr"].as_i64(), links[1]["dpr"].as_i64()),
        (Some(1), Some(2))
    );
    let (one, two) = (
        links[0]["url"].as_str().unwrap().to_owned(),
        links[1]["url"].as_str().unwrap().to_owned(),
    );
    assert_eq!(set["src"], one.as_str());
    assert_eq!(set["srcset"], format!("{one} 1x, {two} 2x"));
    let one = format!("{}{one}", app.base);
    let two = format!("{}{two}", app.base);

    let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    let mut etags = Vec::new();
    for (accept, media_type, ext) in [
        (Some(chrome), "image/avif", "avif"),
        (Some("image/webp,*/*"), "image/webp", "webp"),
        (Some("image/*,*/*;q=0.8"), "image/jpeg", "jpg"),
        (None, "image/jpeg", "jpg"),
    ] {
        let r = get(&app, &one, accept).await;
        assert_eq!(r.status(), 200, "{accept:?}");
        let headers = r.headers().clone();
        assert_eq!(headers["content-type"], media_type, "{accept:?}");
        assert!(varies_by_accept_headers(&headers), "{headers:?}");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private"),
            "{headers:?}"
        );
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("inline")
                && disposition.contains(&format!("pdp-square@1x.{ext}\"")),
            "{disposition}"
        );
        etags.push(headers["etag"].to_str().unwrap().to_owned());
        let bytes = r.bytes().await.unwrap();
        // 160×160 at 1×, whatever decodes it.
        match ext {
            "jpg" => assert_eq!(vitrine_tests::pixels(&bytes).0, 160),
            other => {
                if let Some(size) = independent_decode(&bytes, other) {
                    assert_eq!(size, (160, 160), "{other}");
                }
            }
        }
        if let Some(tags) = exiftool(&bytes) {
            assert_eq!(
                tags["XMP-dc:Rights"], "© 2026 Maison Vitrine SA",
                "{ext}: {tags}"
            );
            let text = tags.to_string();
            for private in ["GPS", "SerialNumber"] {
                assert!(!text.contains(private), "{ext} carries {private}: {tags}");
            }
        }
    }
    assert_ne!(etags[0], etags[1], "each format its own validator");
    assert_eq!(etags[2], etags[3]);
    // Revalidation answers 304 and still varies by Accept.
    let r = reqwest::Client::new()
        .get(&one)
        .header("accept", chrome)
        .header("if-none-match", &etags[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(varies_by_accept(&r), "{:?}", r.headers());

    // 2×: twice the pixels; a fixed format is not negotiated.
    let r = get(&app, &two, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(vitrine_tests::pixels(&r.bytes().await.unwrap()).0, 320);
    let body = app
        .gql(
            Some(&admin),
            SRCSET,
            json!({ "id": asset, "p": "pdp-square", "f": "WEBP" }),
        )
        .await;
    let webp = format!(
        "{}{}",
        app.base,
        body["data"]["asset"]["derivativeSrcset"]["links"][0]["url"]
            .as_str()
            .unwrap()
    );
    let r = get(&app, &webp, Some("image/avif")).await;
    assert_eq!(r.headers()["content-type"], "image/webp");
    assert!(!varies_by_accept(&r), "{:?}", r.headers());

    // Densities the profile does not offer, and unknown profiles.
    let bad = url(&app, &admin, &asset, "pdp-square", 3)
        .await
        .unwrap_err();
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    let bad = url(&app, &admin, &asset, "no-such", 1).await.unwrap_err();
    assert_eq!(error_code(&bad), Some("NOT_FOUND"), "{bad}");

    // Each delivery is in the audit log as a derivative view.
    let body = app
        .gql(
            Some(&admin),
            "{ auditEvents(filter: { action: RENDITION_VIEWED }, first: 50) { edges { node { details } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<String> = body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| {
            e["node"]["details"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "DERIVATIVE").count(),
        6,
        "{kinds:?}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_hundred_first_requests_make_one_render_and_all_get_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    profile(
        &app,
        &admin,
        json!({ "name": "grid", "width": 400, "height": 500, "fit": "COVER", "format": "WEBP" }),
    )
    .await;
    let asset = upload(&app, &admin, "garden.jpg").await;
    let url = url(&app, &admin, &asset, "grid", 1).await.unwrap();
    let before = vitrine_api::delivery::derivative::RENDERED.load(Ordering::SeqCst);
    let client = reqwest::Client::new();
    let requests = (0..100).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.get(&url).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let rendered = vitrine_api::delivery::derivative::RENDERED.load(Ordering::SeqCst) - before;
    assert_eq!(rendered, 1, "one render for 100 first requests");
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "all 200: {statuses:?} {:?}",
        answers
            .iter()
            .find(|(s, _)| *s != 200)
            .map(|(_, b)| String::from_utf8_lossy(b).to_string())
    );
    assert!(
        answers.iter().all(|(_, b)| *b == answers[0].1),
        "the same file"
    );
    assert_eq!(app.count_rows("derivatives").await, 1);
    if let Some(size) = independent_decode(&answers[0].1, "webp") {
        assert_eq!(size, (400, 500));
    }
    // Kept: asked again, nothing is rendered.
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        vitrine_api::delivery::derivative::RENDERED.load(Ordering::SeqCst) - before,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn a_slow_first_render_answers_503_with_retry_after_then_the_file() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_DERIVATIVE_WAIT".into(), "1ms".into());
    })
    .await;
    let admin = app.admin_token().await;
    profile(
        &app,
        &admin,
        json!({ "name": "feed", "width": 480, "height": 480, "format": "AVIF" }),
    )
    .await;
    let asset = upload(&app, &admin, "yellow-flower.jpg").await;
    let url = url(&app, &admin, &asset, "feed", 1).await.unwrap();
    let r = get(&app, &url, None).await;
    assert_eq!(r.status(), 503, "the wait is bounded");
    assert!(r.headers().get("retry-after").is_some());
    // The render went on: a retry gets the file.
    let mut got = None;
    for _ in 0..120 {
        let r = get(&app, &url, None).await;
        if r.status() == 200 {
            got = Some(r.bytes().await.unwrap());
            break;
        }
        assert_eq!(r.status(), 503);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let got = got.expect("made within a minute");
    if let Some(size) = independent_decode(&got, "avif") {
        assert_eq!(size, (480, 300), "INSIDE");
    }
    app.finish().await;
}

#[tokio::test]
async fn old_urls_are_gone_after_a_profile_change_or_a_new_version() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = profile(
        &app,
        &admin,
        json!({ "name": "thumb", "width": 100, "height": 100, "format": "JPEG" }),
    )
    .await;
    let asset = upload(&app, &admin, "storm-orient6-gps.jpg").await;
    let old = url(&app, &admin, &asset, "thumb", 1).await.unwrap();
    assert_eq!(get(&app, &old, None).await.status(), 200);

    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: DerivativeProfileInput!) { updateDerivativeProfile(id: $id, input: $i) { revision } }",
            json!({ "id": id, "i": { "name": "thumb", "width": 120, "height": 120, "format": "JPEG" } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateDerivativeProfile"]["revision"], 2,
        "{body}"
    );
    assert_eq!(
        get(&app, &old, None).await.status(),
        410,
        "the profile changed"
    );
    let new = url(&app, &admin, &asset, "thumb", 1).await.unwrap();
    let r = get(&app, &new, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(vitrine_tests::pixels(&r.bytes().await.unwrap()).1, 120);

    let body = app
        .upload_gql(
            Some(&admin),
            "mutation($a: ID!, $file: Upload!) { uploadVersion(assetId: $a, file: $file) { number } }",
            json!({ "a": asset }),
            &UploadFile::fixture("kite-orient8-gps.jpg"),
        )
        .await;
    assert_eq!(body["data"]["uploadVersion"]["number"], 2, "{body}");
    assert_eq!(get(&app, &new, None).await.status(), 410, "a new version");

    // A deleted profile's URLs are gone too.
    let newest = url(&app, &admin, &asset, "thumb", 1).await.unwrap();
    assert_eq!(get(&app, &newest, None).await.status(), 200);
    // The cleanup removes the superseded derivatives (an older revision, a
    // version no longer current), rows and files, and keeps the live one.
    let files = || async {
        app.state
            .store
            .list("derivatives/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(files().await.len(), 3);
    let later = vitrine_entity::Clock::now(&app.clock) + chrono::Duration::hours(1);
    let deleted = vitrine_worker::derivatives::collect(app.db(), &app.state.store, later)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(app.count_rows("derivatives").await, 1);
    let left = files().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("-r2-"), "{left:?}");
    assert_eq!(get(&app, &newest, None).await.status(), 200);
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deleteDerivativeProfile(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(get(&app, &newest, None).await.status(), 410);
    app.finish().await;
}

#[tokio::test]
async fn partners_get_only_profiles_they_are_entitled_to_at_issue_and_at_each_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .create_partner(&admin, "Retailer A", "a@partner.test")
        .await;
    let b = app
        .create_partner(&admin, "Retailer B", "b@partner.test")
        .await;
    profile(
        &app,
        &admin,
        json!({ "name": "feed-a", "width": 100, "height": 100, "format": "JPEG",
                "audience": "PARTNERS", "partnerOrgIds": [a.org_id] }),
    )
    .await;
    profile(
        &app,
        &admin,
        json!({ "name": "internal", "width": 100, "height": 100, "format": "JPEG" }),
    )
    .await;
    let folder = app.create_folder(&admin, None, "Launch").await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for org in [&a.org_id, &b.org_id] {
        app.grant(&admin, &folder, "PARTNER_ORG", org, "VIEW").await;
    }
    let set = app
        .set_access(&admin, &[&asset], "PUBLIC", None, None)
        .await;
    assert!(set["errors"].is_null(), "{set}");

    // A's partner gets its profile; B's does not, nor anyone the members'.
    let ok = url(&app, &a.token, &asset, "feed-a", 1).await.unwrap();
    assert_eq!(get(&app, &ok, None).await.status(), 200);
    for (token, name) in [
        (&b.token, "feed-a"),
        (&a.token, "internal"),
        (&b.token, "internal"),
    ] {
        let body = url(&app, token, &asset, name, 1).await.unwrap_err();
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{name}: {body}");
    }
    // An asset it cannot see: not found either, whatever the profile.
    let hidden = upload(&app, &admin, "yellow-flower.jpg").await;
    let body = url(&app, &a.token, &hidden, "feed-a", 1).await.unwrap_err();
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");

    // Decided again at each request: the grant revoked, the URL stops.
    app.revoke(&admin, &folder, "PARTNER_ORG", &a.org_id).await;
    assert_eq!(get(&app, &ok, None).await.status(), 403);
    // And signed out: nothing.
    let body = app
        .gql(None, URL, json!({ "id": asset, "p": "feed-a", "d": 1 }))
        .await;
    assert!(
        body["data"]["asset"].is_null() || error_code(&body).is_some(),
        "{body}"
    );
    let _ = PASSWORD;
    app.finish().await;
}

#[tokio::test]
async fn eager_profiles_are_made_while_processing_and_served_without_a_render() {
    let app = spawn_app().await;
    let _worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    profile(
        &app,
        &admin,
        json!({ "name": "listing", "width": 200, "height": 250, "fit": "COVER",
                "format": "AUTO", "dprs": [1, 2], "eager": true }),
    )
    .await;
    profile(
        &app,
        &admin,
        json!({ "name": "lazy", "width": 100, "height": 100, "format": "JPEG" }),
    )
    .await;
    let asset = upload(&app, &admin, "garden.jpg").await;
    assert!(
        app.wait_until_processed(std::time::Duration::from_secs(60))
            .await
    );
    // JPEG, WebP and AVIF at 1× and 2× of the eager profile; nothing of
    // the lazy one.
    assert_eq!(app.count_rows("derivatives").await, 6);
    let before = vitrine_api::delivery::derivative::RENDERED.load(Ordering::SeqCst);
    let url = url(&app, &admin, &asset, "listing", 2).await.unwrap();
    for (accept, media_type) in [
        ("image/avif,image/webp", "image/avif"),
        ("image/webp", "image/webp"),
        ("*/*", "image/jpeg"),
    ] {
        let r = get(&app, &url, Some(accept)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], media_type);
        let bytes = r.bytes().await.unwrap();
        if media_type == "image/jpeg" {
            assert_eq!(vitrine_tests::pixels(&bytes).0, 400, "2×");
        } else if let Some(size) =
            independent_decode(&bytes, media_type.trim_start_matches("image/"))
        {
            assert_eq!(size, (400, 500));
        }
        if let Some(tags) = exiftool(&bytes) {
            assert!(!tags.to_string().contains("GPS"), "{tags}");
        }
    }
    assert_eq!(
        vitrine_api::delivery::derivative::RENDERED.load(Ordering::SeqCst),
        before,
        "served what processing made"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_share_link_shows_its_images_in_a_visitors_profile_and_no_other() {
    use vitrine_tests::share;
    let app = spawn_app().await;
    let _worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    profile(
        &app,
        &admin,
        json!({ "name": "lookbook", "width": 120, "height": 90, "fit": "COVER",
                "format": "WEBP", "dprs": [1, 2], "audience": "VISITORS" }),
    )
    .await;
    profile(
        &app,
        &admin,
        json!({ "name": "internal", "width": 100, "height": 100, "format": "JPEG" }),
    )
    .await;
    let (_, ids) = share::published(&app, &admin, 2).await;
    // A profile visitors may not receive cannot be put on a link.
    let body = share::create_link(
        &app,
        &admin,
        json!({ "assetIds": ids, "profile": "internal" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body =
        share::create_link(&app, &admin, json!({ "assetIds": ids, "profile": "nope" })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");

    let (url, link) = share::link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "profile": "lookbook" }),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            "query($id: ID!) { shareLink(id: $id) { profile } }",
            json!({ "id": link }),
        )
        .await;
    assert_eq!(body["data"]["shareLink"]["profile"], "lookbook", "{body}");
    let html = share::page(&url).await;
    let srcs = share::delivery_urls(&app, &html, "src");
    assert_eq!(srcs.len(), 2, "{html}");
    let srcsets = share::attrs(&html, "srcset");
    assert_eq!(srcsets.len(), 2, "{html}");
    assert!(srcsets[0].ends_with(" 2x"), "{}", srcsets[0]);
    for (src, dims) in [(srcs[0].clone(), (120, 90))].into_iter().chain(
        srcsets[0]
            .split(", ")
            .filter_map(|s| s.strip_suffix(" 2x"))
            .map(|u| (format!("{}{u}", app.base), (240, 180))),
    ) {
        let r = get(&app, &src, None).await;
        assert_eq!(r.status(), 200, "{src}");
        assert_eq!(r.headers()["content-type"], "image/webp");
        let bytes = r.bytes().await.unwrap();
        if let Some(size) = independent_decode(&bytes, "webp") {
            assert_eq!(size, dims);
        }
    }
    // Narrowing the profile to members stops the link's images at their
    // next request, and the page falls back to thumbnails.
    let body = app
        .gql(
            Some(&admin),
            "query { derivativeProfile(name: \"lookbook\") { id } }",
            json!({}),
        )
        .await;
    let id = body["data"]["derivativeProfile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: DerivativeProfileInput!) { updateDerivativeProfile(id: $id, input: $i) { revision } }",
            json!({ "id": id, "i": { "name": "lookbook", "width": 120, "height": 90, "fit": "COVER",
                    "format": "WEBP", "dprs": [1, 2], "audience": "MEMBERS" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let status = get(&app, &srcs[0], None).await.status();
    assert!(matches!(status.as_u16(), 403 | 410), "{status}");
    let html = share::page(&url).await;
    assert!(share::attrs(&html, "srcset").is_empty(), "{html}");
    assert_eq!(share::delivery_urls(&app, &html, "src").len(), 2);
    app.finish().await;
}

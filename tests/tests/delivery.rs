//! Protected delivery under `/r/`: signed URLs that are decided again at
//! every request, so nothing served outlives the permission that allowed it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{
    PASSWORD, Partner, TestApp, UploadFile, error_code, exiftool, spawn_app, spawn_with,
};

/// Uploads `garden.jpg` into `folder`, waits for its renditions and makes it
/// PUBLIC; returns the asset id.
async fn published_asset(app: &TestApp, admin: &str, folder: &str) -> String {
    let asset = app
        .upload_asset(
            admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder, "title": "Garden" }),
        )
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let set = app.set_access(admin, &[&id], "PUBLIC", None, None).await;
    assert_eq!(set["data"]["setAccess"][0]["accessMode"], "PUBLIC", "{set}");
    id
}

/// A partner organisation with a grant on `folder`.
async fn granted_partner(
    app: &TestApp,
    admin: &str,
    folder: &str,
    name: &str,
    level: &str,
) -> Partner {
    let partner = app
        .create_partner(
            admin,
            name,
            &format!("buyer@{}.example", name.to_lowercase()),
        )
        .await;
    app.grant(admin, folder, "PARTNER_ORG", &partner.org_id, level)
        .await;
    partner
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn max_age(response: &reqwest::Response) -> i64 {
    let cc = header(response, "cache-control");
    assert!(cc.starts_with("private"), "{cc}");
    cc.split("max-age=")
        .nth(1)
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cc}"))
}

/// The audit events of one action, newest first.
async fn audit(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(admin),
            "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { edges { node { action actorKind actorId partnerOrgId targetId ip userAgent details } } } }",
            json!({ "f": { "action": action } }),
        )
        .await;
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn a_partner_url_stops_at_the_next_request_once_its_grant_is_revoked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let launch = app.create_folder(&admin, None, "Launch").await;
    let asset = published_asset(&app, &admin, &launch).await;
    let partner = granted_partner(&app, &admin, &launch, "Agence", "VIEW").await;

    let url = app
        .delivery_url(&partner.token, &asset, "THUMBNAIL", Some(600))
        .await
        .unwrap();
    assert!(url.contains("/r/"), "{url}");
    let ok = app
        .client
        .get(&url)
        .header("user-agent", "PartnerPortal/2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "content-type"), "image/jpeg");
    assert_eq!(header(&ok, "x-content-type-options"), "nosniff");
    let disposition = header(&ok, "content-disposition").to_owned();
    assert!(
        disposition.starts_with("inline; filename=\"vitrine-")
            && disposition.ends_with("-v1-thumbnail.jpg\"")
            && !disposition.contains("garden"),
        "{disposition}"
    );
    let age = max_age(&ok);
    assert!(
        (1..=660).contains(&age),
        "max-age {age} beyond the URL's expiry"
    );
    let length: usize = header(&ok, "content-length").parse().unwrap();
    let bytes = ok.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG");

    // The delivery is in the audit log before the bytes went out.
    let viewed = audit(&app, &admin, "RENDITION_VIEWED").await;
    assert_eq!(viewed.len(), 1, "{viewed:?}");
    let event = &viewed[0];
    assert_eq!(event["actorKind"], "PARTNER");
    assert_eq!(event["actorId"], partner.user_id.as_str());
    assert_eq!(event["partnerOrgId"], partner.org_id.as_str());
    assert_eq!(event["targetId"], asset.as_str());
    assert_eq!(event["ip"], "127.0.0.1");
    assert_eq!(event["userAgent"], "PartnerPortal/2.1");
    assert_eq!(event["details"]["kind"], "THUMBNAIL");

    // Revoking the organisation's grant stops the URL already issued.
    let revoked = app
        .revoke(&admin, &launch, "PARTNER_ORG", &partner.org_id)
        .await;
    assert_eq!(revoked["data"]["revokeAccess"], true, "{revoked}");
    let refused = app.fetch(&url).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "cache-control"), "no-store");
    let body = refused.bytes().await.unwrap();
    assert!(
        !body.starts_with(&[0xFF, 0xD8]),
        "no image bytes on refusal"
    );
    // ...and the partner no longer finds the asset nor gets a new URL.
    let by_id = app
        .delivery_url(&partner.token, &asset, "THUMBNAIL", None)
        .await
        .unwrap_err();
    assert_eq!(error_code(&by_id), Some("NOT_FOUND"), "{by_id}");
    let refusals = audit(&app, &admin, "DELIVERY_REFUSED").await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["details"]["reason"], "not permitted");

    // Granted again: the same URL (bound to the partner's session) works.
    app.grant(&admin, &launch, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    assert_eq!(app.fetch(&url).await.status(), 200);

    // Off the allowlist: every user of the organisation is cut off at once.
    let off = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { setPartnerAllowlisted(id: $id, allowlisted: false) { allowlisted } }",
            json!({ "id": partner.org_id }),
        )
        .await;
    assert_eq!(off["data"]["setPartnerAllowlisted"]["allowlisted"], false);
    assert_eq!(app.fetch(&url).await.status(), 403);
    let me = app
        .gql(Some(&partner.token), "{ me { id } }", Value::Null)
        .await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me}");
    app.finish().await;
}

#[tokio::test]
async fn tampered_foreign_and_expired_urls_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "Catalogue").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let other = published_asset(&app, &admin, &folder).await;
    app.create_member("viewer@vitrine.test", Role::Viewer).await;
    let viewer = app.login("viewer@vitrine.test", PASSWORD).await;

    let url = app
        .delivery_url(&viewer, &asset, "PREVIEW", Some(300))
        .await
        .unwrap();
    assert_eq!(app.fetch(&url).await.status(), 200);
    let (prefix, token) = url.rsplit_once('/').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(token).expect("base64url");

    // A flipped bit anywhere, in the claims or the signature: 403.
    for bit in (0..raw.len() * 8).step_by(7).chain([raw.len() * 8 - 1]) {
        let mut forged = raw.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        let forged_url = format!("{prefix}/{}", URL_SAFE_NO_PAD.encode(&forged));
        let response = app.fetch(&forged_url).await;
        assert_eq!(response.status(), 403, "bit {bit}");
    }
    // Another asset's id pasted into the claims: 403.
    let mut swapped = raw.clone();
    let (a, b) = (
        uuid::Uuid::parse_str(&asset).unwrap(),
        uuid::Uuid::parse_str(&other).unwrap(),
    );
    let at = raw
        .windows(16)
        .position(|w| w == a.as_bytes())
        .expect("the asset id is in the claims");
    swapped[at..at + 16].copy_from_slice(b.as_bytes());
    let swapped_url = format!("{prefix}/{}", URL_SAFE_NO_PAD.encode(&swapped));
    assert_eq!(app.fetch(&swapped_url).await.status(), 403);
    // Truncated, padded, garbage: 403 (never 500).
    for bad in [
        format!("{prefix}/{}", &token[..token.len() - 1]),
        format!("{prefix}/{token}A"),
        format!("{prefix}/not-a-token"),
        format!("{prefix}/{}", "A".repeat(token.len())),
    ] {
        assert_eq!(app.fetch(&bad).await.status(), 403, "{bad}");
    }
    // Forged URLs are not written to the audit log (anyone could fill it).
    assert!(audit(&app, &admin, "DELIVERY_REFUSED").await.is_empty());

    // The URL is good until its expiry (rounded up to the minute), not after.
    app.clock.advance(chrono::Duration::seconds(290));
    assert_eq!(app.fetch(&url).await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(71));
    let expired = app.fetch(&url).await;
    assert_eq!(expired.status(), 403);
    let refusals = audit(&app, &admin, "DELIVERY_REFUSED").await;
    assert_eq!(refusals[0]["details"]["reason"], "expired", "{refusals:?}");

    // TTLs outside what the server allows are refused when asked for.
    for ttl in [0, -5, 86_401] {
        let refused = app
            .delivery_url(&viewer, &asset, "PREVIEW", Some(ttl))
            .await
            .unwrap_err();
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    // Anonymous callers get no URL at all.
    let anonymous = app
        .gql(
            None,
            "query($id: ID!) { asset(id: $id) { url(kind: THUMBNAIL) } }",
            json!({ "id": asset }),
        )
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    app.finish().await;
}

#[tokio::test]
async fn signing_out_or_losing_the_role_stops_member_urls() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "Studio").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let editor_id = app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;

    let lowres = app
        .delivery_url(&editor, &asset, "LOWRES", None)
        .await
        .unwrap();
    assert_eq!(app.fetch(&lowres).await.status(), 200);
    // Demoted to contributor: no more downloads, even with the URL in hand.
    let demoted = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateUser(id: $id, input: { role: CONTRIBUTOR }) { role } }",
            json!({ "id": editor_id.to_string() }),
        )
        .await;
    assert_eq!(
        demoted["data"]["updateUser"]["role"], "CONTRIBUTOR",
        "{demoted}"
    );
    assert_eq!(app.fetch(&lowres).await.status(), 403);
    let refused = app
        .delivery_url(&editor, &asset, "LOWRES", None)
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    // Thumbnails still are a contributor's; signing out ends them too.
    let thumb = app
        .delivery_url(&editor, &asset, "THUMBNAIL", None)
        .await
        .unwrap();
    assert_eq!(app.fetch(&thumb).await.status(), 200);
    app.gql(Some(&editor), "mutation { logout }", Value::Null)
        .await;
    assert_eq!(app.fetch(&thumb).await.status(), 403);
    app.finish().await;
}

#[tokio::test]
async fn an_embargoed_asset_is_delivered_only_inside_its_window() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "SS27").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let partner = granted_partner(&app, &admin, &folder, "Retailer", "DOWNLOAD").await;
    app.create_member("viewer@vitrine.test", Role::Viewer).await;
    let viewer = app.login("viewer@vitrine.test", PASSWORD).await;

    let now = app.clock.now();
    let starts = now + chrono::Duration::hours(2);
    let ends = now + chrono::Duration::hours(4);
    let set = app
        .set_access(&admin, &[&asset], "PUBLIC", Some(starts), Some(ends))
        .await;
    assert!(set["errors"].is_null(), "{set}");

    let list = "{ assets { edges { node { id } } } }";
    let listed = |body: &Value| {
        body["data"]["assets"]["edges"]
            .as_array()
            .map(|e| e.iter().any(|n| n["node"]["id"] == asset.as_str()))
            .unwrap_or(false)
    };

    // Before: the partner neither sees it nor gets a URL; members do.
    let before = app.gql(Some(&partner.token), list, Value::Null).await;
    assert!(!listed(&before), "{before}");
    let refused = app
        .delivery_url(&partner.token, &asset, "PREVIEW", None)
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    let member_url = app
        .delivery_url(&viewer, &asset, "PREVIEW", Some(86_400))
        .await
        .unwrap();
    assert_eq!(app.fetch(&member_url).await.status(), 200);

    // During: delivered, and never cached beyond the window's end.
    app.clock.set(starts + chrono::Duration::minutes(1));
    let during = app.gql(Some(&partner.token), list, Value::Null).await;
    assert!(listed(&during), "{during}");
    let url = app
        .delivery_url(&partner.token, &asset, "PREVIEW", Some(86_400))
        .await
        .unwrap();
    let ok = app.fetch(&url).await;
    assert_eq!(ok.status(), 200);
    let age = max_age(&ok);
    let left = (ends - app.clock.now()).num_seconds();
    assert!(
        age <= left && age > left - 120,
        "max-age {age}, window left {left}"
    );

    // After: RESTRICTED again, the URL issued inside the window stops.
    app.clock.set(ends + chrono::Duration::seconds(1));
    assert_eq!(app.fetch(&url).await.status(), 403);
    let after = app.gql(Some(&partner.token), list, Value::Null).await;
    assert!(!listed(&after), "{after}");
    let by_id = app
        .gql(
            Some(&partner.token),
            "query($id: ID!) { asset(id: $id) { id } }",
            json!({ "id": asset }),
        )
        .await;
    assert_eq!(error_code(&by_id), Some("NOT_FOUND"), "{by_id}");
    // Members with rights still get it.
    assert_eq!(app.fetch(&member_url).await.status(), 200);
    app.finish().await;
}

#[tokio::test]
async fn ranges_validators_and_head_behave_like_a_file_server() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "Web").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let url = app
        .delivery_url(&admin, &asset, "PREVIEW", None)
        .await
        .unwrap();
    let whole = app.fetch(&url).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    let etag = header(&whole, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let full = whole.bytes().await.unwrap();
    let len = full.len();

    let part = app
        .client
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 100-199/{len}")
    );
    assert_eq!(part.bytes().await.unwrap(), full.slice(100..200));
    let suffix = app
        .client
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.unwrap(), full.slice(len - 10..));
    let beyond = app
        .client
        .get(&url)
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(header(&beyond, "content-range"), format!("bytes */{len}"));
    // If-Range with an old validator: the whole, current file.
    let stale = app
        .client
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"old\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap().len(), len);

    let cached = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(header(&cached, "etag"), etag);
    assert!(cached.bytes().await.unwrap().is_empty());

    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-length"), len.to_string());
    assert_eq!(header(&head, "content-type"), "image/jpeg");
    assert!(head.bytes().await.unwrap().is_empty());

    // Every GET that sends bytes is audited (with how many); HEAD, 304 and
    // 416 send no image and are not deliveries.
    let viewed = audit(&app, &admin, "RENDITION_VIEWED").await;
    assert_eq!(viewed.len(), 4, "{viewed:?}");
    app.finish().await;
}

#[tokio::test]
async fn originals_need_a_download_grant_and_carry_the_ownership_statement() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let profile = app
        .gql(
            Some(&admin),
            "mutation { updateOwnershipProfile(input: { copyright: \"© 2026 Maison Vitrine SA\", creator: \"Studio Lumière\" }) { copyright } }",
            Value::Null,
        )
        .await;
    assert!(profile["errors"].is_null(), "{profile}");
    let folder = app.create_folder(&admin, None, "Press").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let partner = granted_partner(&app, &admin, &folder, "Magazine", "VIEW").await;

    for kind in ["LOWRES", "ORIGINAL"] {
        let refused = app
            .delivery_url(&partner.token, &asset, kind, None)
            .await
            .unwrap_err();
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{kind}: {refused}");
    }
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    let url = app
        .delivery_url(&partner.token, &asset, "ORIGINAL", None)
        .await
        .unwrap();
    let original = app.fetch(&url).await;
    assert_eq!(original.status(), 200);
    assert_eq!(header(&original, "content-type"), "image/jpeg");
    let disposition = header(&original, "content-disposition").to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"vitrine-")
            && disposition.ends_with("-v1-original.jpg\""),
        "{disposition}"
    );
    let bytes = original.bytes().await.unwrap();
    if let Some(tags) = exiftool(&bytes) {
        assert_eq!(tags["IFD0:Copyright"], "© 2026 Maison Vitrine SA", "{tags}");
        assert_eq!(tags["IFD0:Artist"], "Studio Lumière");
    }
    let downloads = audit(&app, &admin, "ORIGINAL_DOWNLOADED").await;
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0]["actorKind"], "PARTNER");

    // Back to VIEW: the original URL stops, previews go on.
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    assert_eq!(app.fetch(&url).await.status(), 403);
    let preview = app
        .delivery_url(&partner.token, &asset, "PREVIEW", None)
        .await
        .unwrap();
    assert_eq!(app.fetch(&preview).await.status(), 200);
    app.finish().await;
}

#[tokio::test]
async fn a_new_version_supersedes_old_urls_and_the_trash_stops_them() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let folder = app.create_folder(&admin, None, "Lookbook").await;
    let asset = published_asset(&app, &admin, &folder).await;
    let v1 = app
        .delivery_url(&admin, &asset, "THUMBNAIL", None)
        .await
        .unwrap();
    assert_eq!(app.fetch(&v1).await.status(), 200);

    let body = app
        .upload_gql(
            Some(&admin),
            "mutation($id: ID!, $file: Upload!) { uploadVersion(assetId: $id, file: $file) { number } }",
            json!({ "id": asset }),
            &UploadFile::fixture("yellow-flower.jpg"),
        )
        .await;
    assert_eq!(body["data"]["uploadVersion"]["number"], 2, "{body}");
    assert_eq!(app.fetch(&v1).await.status(), 410);
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let v2 = app
        .delivery_url(&admin, &asset, "THUMBNAIL", None)
        .await
        .unwrap();
    let fresh = app.fetch(&v2).await;
    assert_eq!(fresh.status(), 200);
    assert!(header(&fresh, "content-disposition").contains("-v2-thumbnail.jpg"));

    let deleted = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deleteAsset(id: $id) { deletedAt } }",
            json!({ "id": asset }),
        )
        .await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    assert_eq!(app.fetch(&v2).await.status(), 403);
    app.finish().await;
}

#[tokio::test]
async fn a_rendition_still_being_made_answers_503_with_retry_after() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // No worker runs in the Redis mode here, and the embedded one is slower
    // than the next request: the URL exists before the rendition does.
    let folder = app.create_folder(&admin, None, "Fresh").await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder }),
        )
        .await;
    let id = asset["id"].as_str().unwrap();
    let url = app.delivery_url(&admin, id, "PREVIEW", None).await.unwrap();
    let response = app.fetch(&url).await;
    if response.status() == 503 {
        assert_eq!(header(&response, "retry-after"), "5");
    } else {
        // The embedded worker won the race: then it is the finished file.
        assert_eq!(response.status(), 200);
    }
    let _worker = app.start_worker_if_needed().await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    assert_eq!(app.fetch(&url).await.status(), 200);
    app.finish().await;
}

#[tokio::test]
async fn urls_survive_a_key_rotation_signed_with_the_previous_secret() {
    let first = spawn_app().await;
    let admin = first.admin_token().await;
    let _worker = first.start_worker_if_needed().await;
    let folder = first.create_folder(&admin, None, "Rotation").await;
    let asset = published_asset(&first, &admin, &folder).await;
    let url = first
        .delivery_url(&admin, &asset, "THUMBNAIL", None)
        .await
        .unwrap();
    let path = url.split_once("/r/").unwrap().1.to_owned();
    let old_secret = first.config.secret.clone().unwrap();
    let new_secret = format!("rotated-secret-{}-0123456789", uuid::Uuid::now_v7());

    // A peer on the same data, with a new secret and the old one listed as
    // previous: the old URL still verifies; a peer that forgot it refuses.
    let mut rotated = first.config.clone();
    rotated.secret = Some(vitrine_tests::vitrine_api::config::Secret::new(
        new_secret.clone(),
    ));
    rotated.previous_secrets = vec![old_secret];
    let peer = vitrine_tests::spawn_peer_with(&first, rotated).await;
    assert_eq!(
        peer.fetch(&format!("{}/r/{path}", peer.base))
            .await
            .status(),
        200
    );
    let mut forgotten = first.config.clone();
    forgotten.secret = Some(vitrine_tests::vitrine_api::config::Secret::new(new_secret));
    forgotten.previous_secrets = Vec::new();
    let stranger = vitrine_tests::spawn_peer_with(&first, forgotten).await;
    assert_eq!(
        stranger
            .fetch(&format!("{}/r/{path}", stranger.base))
            .await
            .status(),
        403
    );
    stranger.finish().await;
    peer.finish().await;
    first.finish().await;
}

#[tokio::test]
async fn delivery_urls_use_the_public_url_when_configured() {
    let app = spawn_with(|env| {
        env.insert(
            "VITRINE_PUBLIC_URL".into(),
            "https://assets.maison.example".into(),
        );
    })
    .await;
    let admin = app.admin_token().await;
    let asset = app
        .upload_asset(&admin, &UploadFile::fixture("garden.jpg"), json!({}))
        .await;
    let url = app
        .delivery_url(&admin, asset["id"].as_str().unwrap(), "THUMBNAIL", None)
        .await
        .unwrap();
    assert!(url.starts_with("https://assets.maison.example/r/"), "{url}");
    app.finish().await;
}

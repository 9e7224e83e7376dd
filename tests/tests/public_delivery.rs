//! Public delivery of published images (`/p/`), from the outside: the
//! headers a CDN caches by, every condition of the policy (each refusal a
//! 404 at once, whatever was served a moment before), CDN purges received by
//! a loopback receiver in the generic, Fastly and Cloudflare shapes (retried
//! with backoff, audited), and public deliveries counted in the usage
//! statistics as PUBLIC.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use vitrine_entity::Clock as _;
use vitrine_entity::entities::{audit_event, usage_daily, watermark};
use vitrine_tests::receiver::{Received, Receiver, standard_signature};
use vitrine_tests::{TestApp, UploadFile, error_code, eventually, exiftool, independent_decode};

const CREATE_PROFILE: &str =
    "mutation($i: DerivativeProfileInput!) { createDerivativeProfile(input: $i) { id public } }";
const CREATE_LICENSE: &str =
    "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id } }";
const ATTACH: &str = "mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }";
const PUBLISH: &str = "mutation($a: ID!, $on: Boolean!, $s: String) { setPublicDelivery(assetId: $a, enabled: $on, slug: $s) { optedIn viaFolder slug blockedBy } }";
const PUBLIC_URL: &str = "query($a: ID!, $p: String!, $f: DerivativeFormat, $d: Int) { asset(id: $a) { publicDelivery { slug blockedBy url(profile: $p, format: $f, dpr: $d) } } }";
const SECRET: &str = "purge-signing-secret-0123456789";

async fn spawn(purge: &[(&str, String)]) -> TestApp {
    let purge: Vec<(String, String)> = purge
        .iter()
        .map(|(k, v)| (format!("VITRINE_PURGE_{k}"), v.clone()))
        .collect();
    vitrine_tests::spawn_with(move |env| {
        env.insert("VITRINE_PUBLIC_USAGE_FLUSH".into(), "200ms".into());
        env.insert(
            "VITRINE_LICENSE_UNLICENSED_DELIVERABLE".into(),
            "false".into(),
        );
        env.extend(purge);
    })
    .await
}

async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.gql(Some(token), query, variables).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

async fn public_profile(app: &TestApp, admin: &str, name: &str, public: bool) {
    let data = ok(
        app,
        admin,
        CREATE_PROFILE,
        json!({ "i": { "name": name, "width": 160, "height": 160, "fit": "COVER",
                        "format": "AUTO", "dprs": [1, 2], "public": public } }),
    )
    .await;
    assert_eq!(data["createDerivativeProfile"]["public"], public);
}

/// A license from a day ago for `days`, attached to `assets`.
async fn license(app: &TestApp, admin: &str, channels: &[&str], days: i64, assets: &[&str]) {
    let now = app.clock.now();
    let data = ok(
        app,
        admin,
        CREATE_LICENSE,
        json!({ "i": {
            "name": format!("Campaign {}", uuid::Uuid::now_v7()), "licensor": "Studio Lumière",
            "channels": channels, "territories": ["DE", "FR"],
            "startsAt": (now - chrono::Duration::days(1)).to_rfc3339(),
            "endsAt": (now + chrono::Duration::days(days)).to_rfc3339(),
        } }),
    )
    .await;
    let id = data["createLicense"]["id"].as_str().unwrap().to_owned();
    let data = ok(app, admin, ATTACH, json!({ "l": id, "a": assets })).await;
    assert_eq!(data["attachLicense"], assets.len());
}

/// A processed photograph (GPS, serial number) filed in `folder`, PUBLIC.
async fn published(app: &TestApp, admin: &str, folder: Option<&str>, title: &str) -> String {
    let a = app
        .upload_asset(
            admin,
            &UploadFile::fixture("storm-orient6-gps.jpg"),
            json!({ "folderId": folder, "title": title }),
        )
        .await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let body = app.set_access(admin, &[&id], "PUBLIC", None, None).await;
    assert!(body["errors"].is_null(), "{body}");
    id
}

async fn public_url(
    app: &TestApp,
    token: &str,
    asset: &str,
    profile: &str,
    format: Option<&str>,
    dpr: i32,
) -> String {
    let data = ok(
        app,
        token,
        PUBLIC_URL,
        json!({ "a": asset, "p": profile, "f": format, "d": dpr }),
    )
    .await;
    let url = data["asset"]["publicDelivery"]["url"].as_str().unwrap();
    format!("{}{url}", app.base)
}

async fn get(url: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.expect("request sent")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The `s-maxage` of a `Cache-Control` value.
fn s_maxage(cache_control: &str) -> i64 {
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("s-maxage="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

async fn assert_not_found(url: &str) {
    let r = get(url, None).await;
    assert_eq!(r.status(), 404, "{url}");
    assert_eq!(header(&r, "cache-control"), "no-store", "{url}");
    assert!(header(&r, "surrogate-key").is_empty());
}

/// The first purge request after the `before`th naming `key` (30 s at most).
async fn purge_of(receiver: &Receiver, before: usize, key: &str) -> Received {
    let names = |r: &Received| {
        r.json()["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == key))
    };
    let came = eventually(Duration::from_secs(30), || async {
        receiver.received()[before..].iter().any(names)
    })
    .await;
    assert!(came, "no purge of {key}: {:?}", receiver.received());
    receiver.received()[before..]
        .iter()
        .find(|r| names(r))
        .cloned()
        .unwrap()
}

async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect()
}

#[tokio::test]
async fn a_published_licensed_asset_is_served_to_cdns_and_its_license_end_is_404_at_once_and_purged()
 {
    let receiver = Receiver::start_at("/purge").await;
    let app = spawn(&[
        ("BACKEND", "http".into()),
        ("URL", receiver.url.clone()),
        ("SECRET", SECRET.into()),
    ])
    .await;
    let _worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    public_profile(&app, &admin, "pdp-square", true).await;
    let asset = published(&app, &admin, None, "Bague Rosé 0042 — front").await;
    ok(
        &app,
        &admin,
        "mutation($a: ID!) { setAssetOwnership(assetId: $a, input: { copyright: \"© 2026 Maison Vitrine SA\" }) { id } }",
        json!({ "a": asset }),
    )
    .await;
    license(&app, &admin, &["ECOMMERCE"], 2, &[&asset]).await;
    let by_id = format!("{}/p/pdp-square/{asset}", app.base);
    // Published and licensed, but not opted in: nothing public.
    assert_not_found(&by_id).await;

    let data = ok(&app, &admin, PUBLISH, json!({ "a": asset, "on": true })).await;
    let p = &data["setPublicDelivery"];
    assert_eq!(p["optedIn"], true);
    assert_eq!(p["slug"], "bague-rose-0042-front", "{p}");
    assert_eq!(p["blockedBy"], Value::Null, "{p}");
    let url = public_url(&app, &admin, &asset, "pdp-square", None, 1).await;
    assert_eq!(
        url,
        format!("{}/p/pdp-square/bague-rose-0042-front", app.base)
    );

    // A browser that takes AVIF gets AVIF; the answer varies by Accept and
    // a CDN may keep it until the license ends, not longer.
    let chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
    let r = get(&url, Some(chrome)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/avif");
    let cache = header(&r, "cache-control");
    assert!(cache.starts_with("public"), "{cache}");
    let left = s_maxage(&cache);
    assert!((2 * 86_400 - 120..=2 * 86_400).contains(&left), "{cache}");
    assert!(cache.contains("max-age=300"), "{cache}");
    let keys = header(&r, "surrogate-key");
    let key = format!("asset-{asset}");
    assert_eq!(keys, format!("{key} profile-pdp-square vitrine-public"));
    assert_eq!(
        header(&r, "cache-tag"),
        format!("{key},profile-pdp-square,vitrine-public")
    );
    assert!(header(&r, "vary").to_ascii_lowercase().contains("accept"));
    let etag = header(&r, "etag");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let avif = r.bytes().await.unwrap();
    if let Some(size) = independent_decode(&avif, "avif") {
        assert_eq!(size, (160, 160));
    }
    // Revalidation: 304 with the same keys.
    let r = reqwest::Client::new()
        .get(&url)
        .header("accept", chrome)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "surrogate-key"), keys);

    // A fixed format and density; by id as well as by slug.
    let jpeg_2x = public_url(&app, &admin, &asset, "pdp-square", Some("JPEG"), 2).await;
    assert!(
        jpeg_2x.ends_with("/bague-rose-0042-front@2x.jpg"),
        "{jpeg_2x}"
    );
    for u in [jpeg_2x.clone(), format!("{by_id}@2x.jpg")] {
        let r = get(&u, Some(chrome)).await;
        assert_eq!(r.status(), 200, "{u}");
        assert_eq!(header(&r, "content-type"), "image/jpeg");
        assert!(header(&r, "vary").is_empty());
        let bytes = r.bytes().await.unwrap();
        let (w, h, _) = vitrine_tests::pixels(&bytes);
        assert_eq!((w, h), (320, 320));
        if let Some(tags) = exiftool(&bytes) {
            assert_eq!(tags["XMP-dc:Rights"], "© 2026 Maison Vitrine SA", "{tags}");
            for private in ["GPS", "SerialNumber"] {
                assert!(
                    !tags.to_string().contains(private),
                    "{private} leaked: {tags}"
                );
            }
        }
    }
    // Densities the profile does not offer, unknown slugs, hostile paths.
    for bad in [
        format!("{url}@3x.jpg"),
        format!("{}/p/pdp-square/bague-rose-0043.jpg", app.base),
        format!("{}/p/pdp-square/..%2f..%2fetc.jpg", app.base),
        format!("{}/p/PDP-square/bague-rose-0042-front.jpg", app.base),
        format!("{url}.gif"),
    ] {
        assert_not_found(&bad).await;
    }

    // Served views are counted as PUBLIC (not in the audit log).
    let served = 3;
    let counted = eventually(Duration::from_secs(10), || async {
        usage_daily::Entity::find()
            .filter(usage_daily::Column::Accessor.eq("PUBLIC"))
            .filter(usage_daily::Column::AssetId.eq(uuid::Uuid::parse_str(&asset).unwrap()))
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .map(|r| r.count)
            .sum::<i64>()
            == served
    })
    .await;
    assert!(counted, "public views not counted as PUBLIC");

    // The license ends: the very next request is refused, whatever a CDN
    // still holds, and the CDN is told to drop the asset's key.
    let before = receiver.received().len();
    app.clock.advance(chrono::Duration::days(2));
    assert_not_found(&url).await;
    assert_not_found(&jpeg_2x).await;
    // (Sessions last 12 hours: sign in again.)
    let admin = app
        .login("admin@vitrine.test", vitrine_tests::PASSWORD)
        .await;
    let data = ok(
        &app,
        &admin,
        PUBLIC_URL,
        json!({ "a": asset, "p": "pdp-square", "d": 1 }),
    )
    .await;
    assert_eq!(data["asset"]["publicDelivery"]["blockedBy"], "NOT_LICENSED");
    app.sweep_licenses().await;
    let purge = purge_of(&receiver, before, &key).await;
    assert_eq!(purge.method, "POST");
    assert_eq!(purge.path, "/purge");
    // Signed like a webhook, with the configured secret.
    assert_eq!(
        purge.header("vitrine-signature"),
        standard_signature(
            SECRET.as_bytes(),
            &purge.header("vitrine-purge-id"),
            &purge.header("vitrine-timestamp"),
            &purge.body
        )
    );
    let sent = eventually(Duration::from_secs(10), || async {
        audited(&app, "CDN_PURGE_SENT").await.iter().any(|d| {
            d["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == &key))
        })
    })
    .await;
    assert!(sent, "the purge was not audited");
    app.finish().await;
}

#[tokio::test]
async fn every_condition_of_public_delivery_is_asked_at_each_request() {
    let receiver = Receiver::start_at("/purge").await;
    let app = spawn(&[
        ("BACKEND", "http".into()),
        ("URL", receiver.url.clone()),
        ("SECRET", SECRET.into()),
    ])
    .await;
    let _worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    public_profile(&app, &admin, "grid", true).await;
    public_profile(&app, &admin, "internal", false).await;
    let folder = app.create_folder(&admin, None, "Published").await;
    let asset = published(&app, &admin, Some(&folder), "Ring 0042").await;
    let print_only = published(&app, &admin, Some(&folder), "Ring 0043").await;
    license(&app, &admin, &["ECOMMERCE"], 30, &[&asset]).await;
    license(&app, &admin, &["PRINT", "SOCIAL"], 30, &[&print_only]).await;
    let url = format!("{}/p/grid/{asset}.jpg", app.base);
    let print_url = format!("{}/p/grid/{print_only}.jpg", app.base);
    assert_not_found(&url).await;

    // The folder opts everything below it in.
    let data = ok(
        &app,
        &admin,
        "mutation($f: ID!) { setFolderPublicDelivery(folderId: $f, enabled: true) }",
        json!({ "f": folder }),
    )
    .await;
    assert_eq!(data["setFolderPublicDelivery"], true);
    assert_eq!(get(&url, None).await.status(), 200);
    // Licensed, but not for the web.
    assert_not_found(&print_url).await;
    // A profile that is not public serves nothing, even for opted-in assets.
    assert_not_found(&format!("{}/p/internal/{asset}.jpg", app.base)).await;
    let body = app
        .gql(
            Some(&admin),
            PUBLIC_URL,
            json!({ "a": asset, "p": "internal", "d": 1 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");

    // Each change that ends public visibility is a 404 at the next request,
    // and reversing it serves again.
    let restricted = app
        .set_access(&admin, &[&asset], "RESTRICTED", None, None)
        .await;
    assert!(restricted["errors"].is_null());
    assert_not_found(&url).await;
    app.set_access(&admin, &[&asset], "PUBLIC", None, None)
        .await;
    assert_eq!(get(&url, None).await.status(), 200);
    let window_over = app.clock.now() - chrono::Duration::hours(1);
    app.set_access(&admin, &[&asset], "PUBLIC", None, Some(window_over))
        .await;
    assert_not_found(&url).await;
    app.set_access(&admin, &[&asset], "PUBLIC", None, None)
        .await;
    ok(
        &app,
        &admin,
        "mutation($f: ID!) { setFolderRestricted(folderId: $f, restricted: true) { id } }",
        json!({ "f": folder }),
    )
    .await;
    assert_not_found(&url).await;
    ok(
        &app,
        &admin,
        "mutation($f: ID!) { setFolderRestricted(folderId: $f, restricted: false) { id } }",
        json!({ "f": folder }),
    )
    .await;
    assert_eq!(get(&url, None).await.status(), 200);

    // Partners neither see nor change public delivery.
    let partner = app
        .create_partner(&admin, "Retailer A", "buyer@retailer-a.example")
        .await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
        .await;
    let body = app
        .gql(
            Some(&partner.token),
            PUBLISH,
            json!({ "a": asset, "on": false }),
        )
        .await;
    assert!(
        matches!(error_code(&body), Some("FORBIDDEN" | "NOT_FOUND")),
        "{body}"
    );
    let body = app
        .gql(
            Some(&partner.token),
            "query($a: ID!) { asset(id: $a) { publicDelivery { slug } } }",
            json!({ "a": asset }),
        )
        .await;
    assert_eq!(
        body["data"]["asset"]["publicDelivery"],
        Value::Null,
        "{body}"
    );

    // Opting the folder out is a 404 at once, and a purge of its assets.
    let before = receiver.received().len();
    ok(
        &app,
        &admin,
        "mutation($f: ID!) { setFolderPublicDelivery(folderId: $f, enabled: false) }",
        json!({ "f": folder }),
    )
    .await;
    assert_not_found(&url).await;
    let key = format!("asset-{asset}");
    purge_of(&receiver, before, &key).await;

    // A slug is unique; an id-like or malformed one is refused.
    ok(
        &app,
        &admin,
        PUBLISH,
        json!({ "a": asset, "on": true, "s": "ring-0042" }),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            PUBLISH,
            json!({ "a": print_only, "on": true, "s": "ring-0042" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    for bad in ["Ring 42", "../x", &asset] {
        let body = app
            .gql(
                Some(&admin),
                PUBLISH,
                json!({ "a": print_only, "on": true, "s": bad }),
            )
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{bad}: {body}");
    }
    assert_eq!(
        get(&format!("{}/p/grid/ring-0042.webp", app.base), None)
            .await
            .status(),
        200
    );
    // A SKU (a `sku:` tag, as upload presets' filename rules make) leads
    // the slug made for an asset.
    let sku = published(&app, &admin, None, "Front shot").await;
    ok(
        &app,
        &admin,
        "mutation($a: ID!) { updateAsset(id: $a, input: { tags: [\"sku:RING-0099\", \"ring\"] }) { id } }",
        json!({ "a": sku }),
    )
    .await;
    let data = ok(&app, &admin, PUBLISH, json!({ "a": sku, "on": true })).await;
    assert_eq!(data["setPublicDelivery"]["slug"], "ring-0099-front-shot");
    // In the trash: gone from public delivery at once.
    ok(
        &app,
        &admin,
        "mutation($a: ID!) { deleteAsset(id: $a) { id } }",
        json!({ "a": asset }),
    )
    .await;
    assert_not_found(&format!("{}/p/grid/ring-0042.webp", app.base)).await;
    app.finish().await;
}

#[tokio::test]
async fn purges_take_the_fastly_and_cloudflare_shapes_and_are_retried_with_backoff() {
    for backend in ["fastly", "cloudflare"] {
        let receiver = Receiver::start_at("/").await;
        let mut settings = vec![
            ("BACKEND", backend.to_owned()),
            ("URL", receiver.base.clone()),
            ("TOKEN", "cdn-api-token".to_owned()),
        ];
        settings.push(match backend {
            "fastly" => ("SERVICE_ID", "SU1Z0isxPaozGVKXdv0eY".to_owned()),
            _ => ("ZONE_ID", "023e105f4ecef8ad9ca31a8372d0c353".to_owned()),
        });
        let app = spawn(&settings).await;
        let _worker = app.start_worker_if_needed().await;
        let admin = app.admin_token().await;
        let asset = published(&app, &admin, None, "Ring 0042").await;
        // The purge job has read past the upload's events before the opt-in
        // (else a pass could purge for them and another for the opt-in:
        // two purges, which would read here as a retry too early).
        let head = audit_event::Entity::find()
            .order_by_desc(audit_event::Column::Seq)
            .one(app.db())
            .await
            .unwrap()
            .map_or(0, |e| e.seq);
        let caught_up = eventually(Duration::from_secs(10), || async {
            watermark::Entity::find_by_id("cdn-purge".to_owned())
                .one(app.db())
                .await
                .unwrap()
                .is_some_and(|w| w.last_seq >= head)
        })
        .await;
        assert!(caught_up, "the purge job did not catch up");
        receiver.answer(500);
        ok(&app, &admin, PUBLISH, json!({ "a": asset, "on": true })).await;
        let first = receiver.wait_for(1).await.remove(0);
        let key = format!("asset-{asset}");
        match backend {
            "fastly" => {
                assert_eq!(first.path, "/service/SU1Z0isxPaozGVKXdv0eY/purge");
                assert_eq!(first.header("fastly-key"), "cdn-api-token");
                assert!(
                    first.header("surrogate-key").split(' ').any(|k| k == key),
                    "{first:?}"
                );
            }
            _ => {
                assert_eq!(
                    first.path,
                    "/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"
                );
                assert_eq!(first.header("authorization"), "Bearer cdn-api-token");
                assert!(
                    first.json()["tags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t == &key),
                    "{first:?}"
                );
            }
        }
        assert_eq!(first.method, "POST");
        let failed = eventually(Duration::from_secs(10), || async {
            !audited(&app, "CDN_PURGE_FAILED").await.is_empty()
        })
        .await;
        assert!(failed, "the failed attempt was not audited");
        // Not retried before its backoff (10 s on the injected clock)...
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(receiver.received().len(), 1, "retried before its backoff");
        // ...and retried after it, successfully now.
        receiver.answer(200);
        app.clock.advance(chrono::Duration::seconds(11));
        let retried = receiver.wait_for(2).await;
        assert_eq!(retried[1].path, first.path);
        let sent = eventually(Duration::from_secs(10), || async {
            audited(&app, "CDN_PURGE_SENT")
                .await
                .iter()
                .any(|d| d["attempt"] == 2 && d["backend"] == backend)
        })
        .await;
        assert!(sent, "the successful retry was not audited");
        app.finish().await;
    }
}

//! Derivative profiles and focal points: administrators define profiles
//! (validated, unique by name, revised on change, audited); each actor sees
//! only the profiles it may receive (partners: their audience and
//! organisation; the others answered as not found); editors set focal
//! points, checked from the attacker's side.

use serde_json::{Value, json};
use vitrine_entity::Role;
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, spawn_app};

const CREATE: &str = "mutation($i: DerivativeProfileInput!) { createDerivativeProfile(input: $i) { id name width height fit anchor format quality dprs background sharpen upscale eager audience partnerOrgIds revision } }";
const LIST: &str = "{ derivativeProfiles { name audience partnerOrgIds } }";

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "i": input })).await
}

fn names(body: &Value) -> Vec<String> {
    body["data"]["derivativeProfiles"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn administrators_define_profiles_that_are_validated_revised_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = create(
        &app,
        &admin,
        json!({ "name": "pdp-square", "width": 800, "height": 800, "fit": "COVER",
                "anchor": "FOCAL_POINT", "dprs": [2, 1, 2] }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let p = &body["data"]["createDerivativeProfile"];
    assert_eq!(p["dprs"], json!([1, 2]), "sorted, once each");
    assert_eq!(p["format"], "AUTO", "the default format");
    assert_eq!(p["quality"], 80);
    assert_eq!(p["background"], "#ffffff");
    assert_eq!(p["audience"], "MEMBERS");
    assert_eq!(p["sharpen"], true);
    assert_eq!(p["upscale"], false);
    assert_eq!(p["revision"], 1);
    let id = p["id"].as_str().unwrap().to_owned();

    // Same name: CONFLICT.
    let body = create(
        &app,
        &admin,
        json!({ "name": "pdp-square", "width": 10, "height": 10 }),
    )
    .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");

    // Each bad setting is refused with what is wrong.
    for bad in [
        json!({ "name": "PDP Square", "width": 800, "height": 800 }),
        json!({ "name": "-x", "width": 800, "height": 800 }),
        json!({ "name": "a".repeat(65), "width": 800, "height": 800 }),
        json!({ "name": "zero", "width": 0, "height": 800 }),
        json!({ "name": "huge", "width": 9000, "height": 800 }),
        json!({ "name": "q", "width": 800, "height": 800, "quality": 101 }),
        json!({ "name": "dpr", "width": 800, "height": 800, "dprs": [5] }),
        json!({ "name": "nodpr", "width": 800, "height": 800, "dprs": [] }),
        json!({ "name": "wide", "width": 5000, "height": 800, "dprs": [1, 4] }),
        json!({ "name": "bg", "width": 800, "height": 800, "background": "red" }),
        json!({ "name": "orgs", "width": 800, "height": 800, "audience": "MEMBERS",
                "partnerOrgIds": ["01890000-0000-7000-8000-000000000000"] }),
        json!({ "name": "ghost", "width": 800, "height": 800, "audience": "PARTNERS",
                "partnerOrgIds": ["01890000-0000-7000-8000-000000000000"] }),
    ] {
        let body = create(&app, &admin, bad.clone()).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{bad}: {body}");
    }
    let body = app.gql(Some(&admin), LIST, json!({})).await;
    assert_eq!(
        names(&body),
        vec!["pdp-square"],
        "nothing refused was stored"
    );

    // A change moves the revision on (older derivatives are superseded).
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: DerivativeProfileInput!) { updateDerivativeProfile(id: $id, input: $i) { width format revision } }",
            json!({ "id": id, "i": { "name": "pdp-square", "width": 1000, "height": 1000, "fit": "COVER", "format": "WEBP" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["updateDerivativeProfile"],
        json!({ "width": 1000, "format": "WEBP", "revision": 2 })
    );

    // Editors and managers may not define profiles; nobody signed out may
    // list them.
    app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;
    let body = create(
        &app,
        &editor,
        json!({ "name": "mine", "width": 10, "height": 10 }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app
        .gql(
            Some(&editor),
            "mutation($id: ID!) { deleteDerivativeProfile(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app.gql(Some(&editor), LIST, json!({})).await;
    assert_eq!(
        names(&body),
        vec!["pdp-square"],
        "members see every profile"
    );
    let body = app.gql(None, LIST, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");

    // Every change is in the audit log.
    let body = app
        .gql(
            Some(&admin),
            "{ auditEvents(first: 50, filter: { action: DERIVATIVE_PROFILE_CHANGED }) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["auditEvents"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{body}"
    );

    // Deleted: gone from the list, a second delete is NOT_FOUND.
    let delete = "mutation($id: ID!) { deleteDerivativeProfile(id: $id) }";
    let body = app.gql(Some(&admin), delete, json!({ "id": id })).await;
    assert_eq!(body["data"]["deleteDerivativeProfile"], true, "{body}");
    let body = app.gql(Some(&admin), delete, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn partners_see_only_the_profiles_their_organisation_is_entitled_to() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .create_partner(&admin, "Retailer A", "a@partner.test")
        .await;
    let b = app
        .create_partner(&admin, "Retailer B", "b@partner.test")
        .await;
    for (name, audience, orgs) in [
        ("internal", "MEMBERS", json!([])),
        ("feed", "PARTNERS", json!([])),
        ("feed-a", "PARTNERS", json!([a.org_id])),
        ("web", "VISITORS", json!([])),
    ] {
        let body = create(
            &app,
            &admin,
            json!({ "name": name, "width": 400, "height": 400, "audience": audience, "partnerOrgIds": orgs }),
        )
        .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = app.gql(Some(&admin), LIST, json!({})).await;
    assert_eq!(names(&body), vec!["feed", "feed-a", "internal", "web"]);
    assert_eq!(
        body["data"]["derivativeProfiles"][1]["partnerOrgIds"],
        json!([a.org_id])
    );

    let body = app.gql(Some(&a.token), LIST, json!({})).await;
    assert_eq!(names(&body), vec!["feed", "feed-a", "web"]);
    // Partners do not learn which other organisations are entitled.
    for p in body["data"]["derivativeProfiles"].as_array().unwrap() {
        assert!(p["partnerOrgIds"].is_null(), "{p}");
    }
    let body = app.gql(Some(&b.token), LIST, json!({})).await;
    assert_eq!(names(&body), vec!["feed", "web"]);

    // Asked by name, a profile it may not receive is not found, exactly
    // like one that does not exist.
    let one = "query($n: String!) { derivativeProfile(name: $n) { name } }";
    for (token, name, found) in [
        (&b.token, "feed-a", false),
        (&b.token, "internal", false),
        (&b.token, "no-such", false),
        (&b.token, "feed", true),
        (&a.token, "feed-a", true),
    ] {
        let body = app.gql(Some(token), one, json!({ "n": name })).await;
        if found {
            assert_eq!(body["data"]["derivativeProfile"]["name"], name, "{body}");
        } else {
            assert_eq!(error_code(&body), Some("NOT_FOUND"), "{name}: {body}");
        }
    }
    // And partners define none.
    let body = create(
        &app,
        &a.token,
        json!({ "name": "mine", "width": 10, "height": 10 }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn editors_set_focal_points_and_others_cannot() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let folder = app.create_folder(&admin, None, "Shoot").await;
    let body = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "folderId": folder }),
        )
        .await;
    let id = body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;
    app.create_member("viewer@vitrine.test", Role::Viewer).await;
    let viewer = app.login("viewer@vitrine.test", PASSWORD).await;
    let partner = app
        .create_partner(&admin, "Retailer", "p@partner.test")
        .await;

    let set = "mutation($a: ID!, $x: Float, $y: Float) { setFocalPoint(assetId: $a, x: $x, y: $y) { x y } }";
    let read = "query($a: ID!) { asset(id: $a) { focalPoint { x y } } }";
    let body = app
        .gql(Some(&editor), set, json!({ "a": id, "x": 0.25, "y": 0.75 }))
        .await;
    assert_eq!(
        body["data"]["setFocalPoint"],
        json!({ "x": 0.25, "y": 0.75 }),
        "{body}"
    );
    let body = app.gql(Some(&viewer), read, json!({ "a": id })).await;
    assert_eq!(
        body["data"]["asset"]["focalPoint"],
        json!({ "x": 0.25, "y": 0.75 })
    );

    // Outside the image, or half a point: refused, nothing changed.
    for bad in [
        json!({ "a": id, "x": 1.5, "y": 0.5 }),
        json!({ "a": id, "x": -0.1, "y": 0.5 }),
        json!({ "a": id, "x": 0.5 }),
    ] {
        let body = app.gql(Some(&editor), set, bad.clone()).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{bad}: {body}");
    }
    // A viewer may not; a partner without a grant does not learn the asset
    // exists.
    let body = app
        .gql(Some(&viewer), set, json!({ "a": id, "x": 0.5, "y": 0.5 }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app
        .gql(
            Some(&partner.token),
            set,
            json!({ "a": id, "x": 0.5, "y": 0.5 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = app.gql(Some(&admin), read, json!({ "a": id })).await;
    assert_eq!(
        body["data"]["asset"]["focalPoint"],
        json!({ "x": 0.25, "y": 0.75 })
    );

    // Cleared.
    let body = app.gql(Some(&editor), set, json!({ "a": id })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["setFocalPoint"].is_null());
    let body = app.gql(Some(&admin), read, json!({ "a": id })).await;
    assert!(body["data"]["asset"]["focalPoint"].is_null(), "{body}");
    app.finish().await;
}

/// The renderer's outputs from a photograph carrying GPS and a serial
/// number, stamped the way renditions are: each format keeps the brand's
/// statement and nothing private, read back by exiftool.
#[tokio::test]
async fn derivatives_in_every_format_carry_ownership_and_no_private_metadata() {
    use vitrine_tests::{exiftool, fixture};
    use vitrine_worker::render::RenderLimits;
    use vitrine_worker::render::derive::{Anchor, DerivativeSpec, Fit, Output, derive};
    use vitrine_worker::tagging::{Camera, Ownership, Stamp, tag_original};
    let ownership = Ownership {
        copyright: Some("© 2026 Maison Vitrine SA".into()),
        creator: Some("Studio Lumière".into()),
        ..Default::default()
    };
    let camera = Camera::default();
    let stamp = Stamp {
        ownership: &ownership,
        asset_id: uuid::Uuid::nil(),
        version_number: 1,
        orientation: 1,
        camera: &camera,
    };
    let original = fixture("storm-orient6-gps.jpg");
    let limits = RenderLimits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
        jpeg_scan_limit: 100,
    };
    for (name, output, media_type) in [
        ("jpeg", Output::Jpeg { quality: 80 }, "image/jpeg"),
        ("webp", Output::Webp { quality: 80 }, "image/webp"),
        ("png", Output::Png, "image/png"),
    ] {
        let spec = DerivativeSpec {
            width: 200,
            height: 250,
            fit: Fit::Cover(Anchor::Point { x: 0.5, y: 0.3 }),
            background: [255, 255, 255],
            sharpen: true,
            upscale: false,
            output,
        };
        let made = derive(&original, &spec, limits).unwrap();
        assert_eq!(
            (made.width, made.height, made.media_type),
            (200, 250, media_type)
        );
        let tagged = tag_original(&made.bytes, &stamp).unwrap();
        let decoded = image::load_from_memory(&tagged).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (200, 250), "{name}");
        let Some(tags) = exiftool(&tagged) else {
            continue;
        };
        assert_eq!(
            tags["XMP-dc:Rights"], "© 2026 Maison Vitrine SA",
            "{name}: {tags}"
        );
        let text = tags.to_string();
        for private in ["GPS", "SerialNumber"] {
            assert!(!text.contains(private), "{name} carries {private}: {tags}");
        }
    }
}

//! Automatic moderation rules, from the outside: fixtures made for each rule
//! (blurred, tiny, overexposed, a resized and recompressed copy of a live
//! image, a re-upload of a rejected one) are decided by an AUTOMATIC preset
//! with the measured value in the reason; real photographs pass; a person
//! can override; the queue filters by rule, kind and preset and a moderation
//! page hears of changes live.

use std::time::Duration;

use image::{DynamicImage, imageops::FilterType};
use serde_json::{Value, json};
use vitrine_tests::{TestApp, UploadFile, fixture, spawn_app};

const CREATE: &str = "mutation($i: UploadPresetInput!) { createUploadPreset(input: $i) { id rules { minSharpness duplicateDistance } ownership { copyright } } }";
const UPLOAD: &str = "mutation($file: Upload!, $input: UploadAssetInput) { uploadAsset(file: $file, input: $input) { id currentVersion { id } } }";
const VERSION: &str = "query($id: ID!) { asset(id: $id) { ownershipOverride { copyright } currentVersion { moderation { state kind mode reason presetId failedRules ruleResults { rule verdict measured limit message neighbours { assetId distance } } } } } }";

fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.to_rgb8().write_with_encoder(encoder).unwrap();
    out
}

fn open(name: &str) -> DynamicImage {
    image::load_from_memory(&fixture(name)).unwrap()
}

/// A photograph out of focus: Gaussian blur of σ 10 (it is 600 pixels wide).
fn blurred() -> Vec<u8> {
    jpeg(&open("coffee.png").blur(10.0), 90)
}

/// Too small: 160x106.
fn tiny() -> Vec<u8> {
    jpeg(
        &open("chelsea.png").resize(160, 160, FilterType::Triangle),
        90,
    )
}

/// Blown out: three stops over, most of the picture clipped to white.
fn overexposed() -> Vec<u8> {
    let mut img = open("picture0b-orient3-gps.jpg").to_rgb8();
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = c.saturating_mul(8);
        }
    }
    jpeg(&DynamicImage::ImageRgb8(img), 90)
}

/// The same picture resized to 60 % and recompressed at quality 60.
fn recompressed(name: &str) -> Vec<u8> {
    let img = open(name);
    jpeg(
        &img.resize(
            img.width() * 6 / 10,
            img.height() * 6 / 10,
            FilterType::Triangle,
        ),
        60,
    )
}

fn file(name: &str, bytes: Vec<u8>) -> UploadFile {
    UploadFile::new(name, "image/jpeg", bytes)
}

async fn preset(app: &TestApp, admin: &str, input: Value) -> String {
    let body = app.gql(Some(admin), CREATE, json!({ "i": input })).await;
    body["data"]["createUploadPreset"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Uploads through a preset; the asset and version ids.
async fn upload(app: &TestApp, token: &str, file: &UploadFile, preset: &str) -> (String, String) {
    let body = app
        .upload_gql(
            Some(token),
            UPLOAD,
            json!({ "input": { "presetId": preset } }),
            file,
        )
        .await;
    let asset = &body["data"]["uploadAsset"];
    (
        asset["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        asset["currentVersion"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn moderation(app: &TestApp, token: &str, asset: &str) -> Value {
    let body = app.gql(Some(token), VERSION, json!({ "id": asset })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["asset"]["currentVersion"]["moderation"].clone()
}

fn result<'a>(m: &'a Value, rule: &str) -> &'a Value {
    m["ruleResults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {m}"))
}

async fn partner_sees(app: &TestApp, token: &str, asset: &str) -> bool {
    let body = app
        .gql(
            Some(token),
            "query($id: ID!) { asset(id: $id) { id } }",
            json!({ "id": asset }),
        )
        .await;
    !body["data"]["asset"].is_null()
}

#[tokio::test]
async fn each_rule_rejects_the_fixture_made_for_it_with_its_measure_and_a_good_photo_passes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let partner = app.create_partner(&admin, "Maison R", "r@r.test").await;
    let folder = app.create_folder(&admin, None, "Auto").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    let auto = preset(
        &app,
        &admin,
        json!({ "name": "Auto", "folderId": folder, "accessMode": "PUBLIC", "moderation": "AUTOMATIC" }),
    )
    .await;
    let good = upload(&app, &admin, &UploadFile::fixture("garden.jpg"), &auto).await;
    let blur = upload(&app, &admin, &file("blurred.jpg", blurred()), &auto).await;
    let small = upload(&app, &admin, &file("tiny.jpg", tiny()), &auto).await;
    let bright = upload(&app, &admin, &file("bright.jpg", overexposed()), &auto).await;
    // Before the worker decides, nothing leaves the organisation.
    assert!(!partner_sees(&app, &partner.token, &good.0).await);
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    let m = moderation(&app, &admin, &good.0).await;
    assert_eq!(m["state"], "APPROVED", "{m}");
    assert_eq!(m["kind"], "AUTOMATIC");
    assert_eq!(m["mode"], "AUTOMATIC");
    assert_eq!(m["presetId"], auto.as_str());
    assert_eq!(m["failedRules"], json!([]));
    assert!(partner_sees(&app, &partner.token, &good.0).await);

    for ((asset, _), rule, words) in [
        (&blur, "SHARPNESS", "sharpness "),
        (&small, "MIN_SIZE", "size 160x106 is below 200x200"),
        (&bright, "EXPOSURE", "clipped highlights "),
    ] {
        let m = moderation(&app, &admin, asset).await;
        assert_eq!(m["state"], "REJECTED", "{rule}: {m}");
        assert_eq!(m["kind"], "AUTOMATIC");
        assert_eq!(m["failedRules"], json!([rule]), "{m}");
        let r = result(&m, rule);
        assert_eq!(r["verdict"], "FAILED");
        assert!(
            r["message"].as_str().unwrap().contains(words),
            "{rule}: {r}"
        );
        assert!(m["reason"].as_str().unwrap().contains(words), "{m}");
        assert!(!partner_sees(&app, &partner.token, asset).await);
    }
    // The measured sharpness is in the reason, below its threshold.
    let m = moderation(&app, &admin, &blur.0).await;
    let r = result(&m, "SHARPNESS");
    eprintln!("the blurred fixture: {}", r["message"]);
    let measured: f64 = r["measured"].as_str().unwrap().parse().unwrap();
    assert!(measured < 5.0, "{r}");
    assert_eq!(
        r["message"],
        format!("sharpness {} < 5", r["measured"].as_str().unwrap())
    );
    // The decision is audited with the rules' results.
    let audit = app
        .gql(
            Some(&admin),
            "query($id: ID!) { auditEvents(filter: { targetId: $id }) { edges { node { action actorKind details } } } }",
            json!({ "id": blur.0 }),
        )
        .await;
    let edges = audit["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"));
    let rejected = edges
        .iter()
        .find(|e| e["node"]["action"] == "MODERATION_REJECTED")
        .unwrap_or_else(|| panic!("{audit}"));
    let details = &rejected["node"]["details"];
    let details: Value = match details.as_str() {
        Some(s) => serde_json::from_str(s).unwrap(),
        None => details.clone(),
    };
    assert_eq!(details["kind"], "AUTOMATIC");
    assert!(
        details["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "SHARPNESS" && r["verdict"] == "FAILED"),
        "{details}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_reupload_of_a_rejected_photo_is_caught_on_the_blocklist_and_a_person_may_override() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let partner = app.create_partner(&admin, "Maison B", "b@b.test").await;
    let folder = app.create_folder(&admin, None, "Blocked").await;
    app.grant(&admin, &folder, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    let manual = preset(
        &app,
        &admin,
        json!({ "name": "Manual", "folderId": folder, "accessMode": "PUBLIC", "moderation": "MANUAL" }),
    )
    .await;
    let auto = preset(
        &app,
        &admin,
        json!({ "name": "Auto", "folderId": folder, "accessMode": "PUBLIC", "moderation": "AUTOMATIC" }),
    )
    .await;
    // A live picture, and a picture a moderator pulls.
    let live = upload(
        &app,
        &admin,
        &UploadFile::fixture("yellow-flower.jpg"),
        &manual,
    )
    .await;
    let pulled = upload(&app, &admin, &UploadFile::fixture("garden.jpg"), &manual).await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let m = moderation(&app, &admin, &pulled.0).await;
    assert_eq!(m["state"], "PENDING");
    assert_eq!(m["mode"], "MANUAL");
    // A MANUAL version still shows the moderator the rules' results.
    assert_eq!(result(&m, "SHARPNESS")["verdict"], "PASSED");
    for (version, decision) in [(&live.1, "APPROVED"), (&pulled.1, "REJECTED")] {
        let body = app
            .gql(
                Some(&admin),
                "mutation($v: [ID!]!, $d: Decision!) { moderate(versionIds: $v, decision: $d, reason: \"competitor's shot\") { id } }",
                json!({ "v": [version], "d": decision }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }

    // Resized and recompressed, each comes back through the automatic preset.
    let again = upload(
        &app,
        &admin,
        &file("garden-small.jpg", recompressed("garden.jpg")),
        &auto,
    )
    .await;
    let copy = upload(
        &app,
        &admin,
        &file("flower-small.jpg", recompressed("yellow-flower.jpg")),
        &auto,
    )
    .await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let m = moderation(&app, &admin, &again.0).await;
    assert_eq!(m["state"], "REJECTED", "{m}");
    assert_eq!(m["failedRules"], json!(["BLOCKLISTED"]), "{m}");
    let blocked = result(&m, "BLOCKLISTED");
    assert_eq!(blocked["neighbours"][0]["assetId"], pulled.0.as_str());
    assert!(blocked["neighbours"][0]["distance"].as_u64().unwrap() <= 3);
    let m = moderation(&app, &admin, &copy.0).await;
    assert_eq!(m["state"], "REJECTED", "{m}");
    assert_eq!(m["failedRules"], json!(["NEAR_DUPLICATE"]), "{m}");
    assert_eq!(
        result(&m, "NEAR_DUPLICATE")["neighbours"][0]["assetId"],
        live.0.as_str()
    );

    // A person overrides the automatic rejection: recorded as such.
    let body = app
        .gql(
            Some(&admin),
            "mutation($v: [ID!]!) { moderate(versionIds: $v, decision: APPROVED, reason: \"a licensed alternate\") { moderation { state kind reason } } }",
            json!({ "v": [copy.1, copy.1] }),
        )
        .await;
    // Named twice, decided once.
    assert_eq!(
        body["data"]["moderate"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let decided = &body["data"]["moderate"][0]["moderation"];
    assert_eq!(decided["state"], "APPROVED", "{body}");
    assert_eq!(decided["kind"], "OVERRIDE");
    assert!(partner_sees(&app, &partner.token, &copy.0).await);
    let audit = app
        .gql(
            Some(&admin),
            "query($id: ID!) { auditEvents(filter: { targetId: $id }) { edges { node { action } } } }",
            json!({ "id": copy.0 }),
        )
        .await;
    let actions: Vec<&str> = audit["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .filter_map(|e| e["node"]["action"].as_str())
        .collect();
    assert!(actions.contains(&"MODERATION_REJECTED"), "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "MODERATION_OVERRIDDEN")
            .count(),
        1,
        "{actions:?}"
    );

    // Approving the pulled picture again takes it off the blocklist.
    app.gql(
        Some(&admin),
        "mutation($v: [ID!]!) { moderate(versionIds: $v, decision: APPROVED) { id } }",
        json!({ "v": [pulled.1] }),
    )
    .await;
    assert_eq!(app.count_rows("moderation_blocklist").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn real_photographs_pass_every_default_rule() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let auto = preset(
        &app,
        &admin,
        json!({ "name": "Auto", "moderation": "AUTOMATIC" }),
    )
    .await;
    let mut files: Vec<UploadFile> = [
        "garden.jpg",
        "yellow-flower.jpg",
        "coffee.png",
        "chelsea.png",
        "picture0b-orient3-gps.jpg",
    ]
    .into_iter()
    .map(UploadFile::fixture)
    .collect();
    // The whole corpus when it is on this machine (derived PNGs are copies
    // of corpus JPEGs: near-duplicates by design, so left out).
    let corpus = std::env::var("VITRINE_CORPUS")
        .unwrap_or_else(|_| format!("{}/../../shared/corpus", env!("CARGO_MANIFEST_DIR")));
    if let Ok(dir) = std::fs::read_dir(&corpus) {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let media = match path.extension().and_then(|e| e.to_str()) {
                Some("jpg") => "image/jpeg",
                Some("png") if !name.starts_with("derivedpng_") => "image/png",
                _ => continue,
            };
            // The fixtures above are corpus pictures too.
            if [
                "mate_Garden.jpg",
                "mate_YellowFlower.jpg",
                "skimage_coffee.png",
                "skimage_chelsea.png",
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            files.push(UploadFile::new(&name, media, std::fs::read(&path).unwrap()));
        }
        eprintln!("corpus: {} pictures", files.len());
    } else {
        eprintln!("corpus not found at {corpus}: the repository's fixtures only");
    }
    let mut uploaded = Vec::new();
    for f in &files {
        uploaded.push((f.name.clone(), upload(&app, &admin, f, &auto).await.0));
    }
    assert!(app.wait_until_processed(Duration::from_secs(600)).await);
    for (name, asset) in uploaded {
        let m = moderation(&app, &admin, &asset).await;
        assert_eq!(m["state"], "APPROVED", "{name}: {m}");
        if name == "picture0b-orient3-gps.jpg" {
            // A third party's copyright warns without deciding.
            let w = result(&m, "THIRD_PARTY_COPYRIGHT");
            assert_eq!(w["verdict"], "WARNING");
            assert!(w["message"].as_str().unwrap().contains("Someone Else"));
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn the_queue_filters_by_rule_kind_and_preset_and_a_moderation_page_hears_changes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let then_manual = preset(
        &app,
        &admin,
        json!({ "name": "Then manual", "moderation": "AUTOMATIC_THEN_MANUAL",
                "rules": { "minSharpness": 20.0, "duplicateDistance": null },
                "ownership": { "copyright": "© Preset Studio" } }),
    )
    .await;
    let manual = preset(
        &app,
        &admin,
        json!({ "name": "Manual", "moderation": "MANUAL" }),
    )
    .await;
    let mut ws = app.ws_connect(json!({ "token": admin })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe(
        "queue",
        "subscription { moderationQueueChanged { change version { id moderation { state failedRules } } } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let soft = upload(&app, &admin, &file("soft.jpg", blurred()), &then_manual).await;
    let sharp = upload(
        &app,
        &admin,
        &UploadFile::fixture("coffee.png"),
        &then_manual,
    )
    .await;
    let by_hand = upload(&app, &admin, &UploadFile::fixture("garden.jpg"), &manual).await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    // The preset's ownership override reached the asset.
    let body = app
        .gql(Some(&admin), VERSION, json!({ "id": soft.0 }))
        .await;
    assert_eq!(
        body["data"]["asset"]["ownershipOverride"]["copyright"],
        "© Preset Studio"
    );
    // Failing under AUTOMATIC_THEN_MANUAL waits for a person; passing is approved.
    let m = moderation(&app, &admin, &soft.0).await;
    assert_eq!(m["state"], "PENDING", "{m}");
    assert_eq!(m["failedRules"], json!(["SHARPNESS"]));
    assert!(
        m["ruleResults"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["rule"] != "NEAR_DUPLICATE"),
        "a rule turned off is not evaluated: {m}"
    );
    assert_eq!(
        moderation(&app, &admin, &sharp.0).await["state"],
        "APPROVED"
    );

    let queue = |filter: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let body = app
                .gql(
                    Some(admin),
                    "query($f: ModerationQueueFilter) { moderationQueue(filter: $f, first: 50) { edges { node { id } } } }",
                    json!({ "f": filter }),
                )
                .await;
            body["data"]["moderationQueue"]["edges"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        queue(json!({})).await,
        vec![soft.1.clone(), by_hand.1.clone()]
    );
    assert_eq!(
        queue(json!({ "ruleFailed": "SHARPNESS" })).await,
        vec![soft.1.clone()]
    );
    assert_eq!(
        queue(json!({ "kind": "AUTOMATIC" })).await,
        vec![soft.1.clone()]
    );
    assert_eq!(
        queue(json!({ "kind": "MANUAL" })).await,
        vec![by_hand.1.clone()]
    );
    assert_eq!(
        queue(json!({ "presetId": manual })).await,
        vec![by_hand.1.clone()]
    );
    assert_eq!(
        queue(json!({ "state": "APPROVED" })).await,
        vec![sharp.1.clone()]
    );
    assert_eq!(
        queue(json!({ "newestFirst": true })).await,
        vec![by_hand.1.clone(), soft.1.clone()]
    );

    // The page heard each version enter, its rules' results, the decision.
    let mut heard = Vec::new();
    while let Some(vitrine_tests::WsEvent::Message(m)) = ws.quiet_for(Duration::from_secs(2)).await
    {
        let e = &m["payload"]["data"]["moderationQueueChanged"];
        heard.push((
            e["change"].as_str().unwrap_or_default().to_owned(),
            e["version"]["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    for expected in [
        ("ENTERED", &soft.1),
        ("EVALUATED", &soft.1),
        ("ENTERED", &by_hand.1),
        ("DECIDED", &sharp.1),
    ] {
        assert!(
            heard
                .iter()
                .any(|(c, v)| c == expected.0 && v == expected.1),
            "{expected:?} not in {heard:?}"
        );
    }
    app.finish().await;
}

/// The fewest SQL statements a queue page ran in five tries (background
/// work only ever adds to the process-wide counter).
async fn queue_page_cost(app: &TestApp, token: &str) -> (usize, u64) {
    const PAGE: &str = "{ moderationQueue(first: 50) { edges { node { id number width moderation { state mode failedRules ruleResults { rule message } } uploadedBy { displayName } } asset { title tags folder { name } } } } }";
    let (mut least, mut shown) = (u64::MAX, 0);
    for _ in 0..5 {
        let before = app.statements();
        let body = app.gql(Some(token), PAGE, json!({})).await;
        least = least.min(app.statements() - before);
        shown = body["data"]["moderationQueue"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .len();
    }
    (shown, least)
}

#[tokio::test]
async fn a_queue_page_costs_the_same_statements_for_two_versions_or_eight() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let manual = preset(
        &app,
        &admin,
        json!({ "name": "Manual", "moderation": "MANUAL" }),
    )
    .await;
    let folder = app.create_folder(&admin, None, "Queue").await;
    let up = |i: usize| {
        let (app, admin, manual, folder) = (&app, &admin, &manual, &folder);
        async move {
            app.upload_gql(
                Some(admin),
                UPLOAD,
                json!({ "input": { "presetId": manual, "folderId": folder, "title": format!("Item {i}"), "tags": ["ss27"] } }),
                &UploadFile::fixture("coffee.png"),
            )
            .await
        }
    };
    // Measured once processing is over: its statements share the counter.
    for i in 0..2 {
        up(i).await;
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let (shown, two) = queue_page_cost(&app, &admin).await;
    assert_eq!(shown, 2);
    for i in 2..8 {
        up(i).await;
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let (shown, eight) = queue_page_cost(&app, &admin).await;
    assert_eq!(shown, 8);
    eprintln!("a queue page: {eight} statements");
    assert_eq!(two, eight, "{two} statements for 2 versions, {eight} for 8");
    app.finish().await;
}

//! The asset library over HTTP: multipart uploads of real photographs,
//! deduplication, versions, approval, restore, trash and purge.

use serde_json::{Value, json};
use vitrine_tests::images::gradient;
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, UploadFile, error_code, sha256_hex, spawn_app};

const ASSET: &str = "query($id: ID!) { asset(id: $id) { id title tags currentVersion { number stage sha256 } versions { number stage sha256 note restoredFrom approvedAt approvedBy { email } uploadedBy { email } } createdBy { email } } }";

#[tokio::test]
async fn real_photographs_upload_with_their_true_dimensions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        ("garden.jpg", "image/jpeg", 2560, 1600),
        ("yellow-flower.jpg", "image/jpeg", 2560, 1600),
        ("chelsea.png", "image/png", 451, 300),
        ("coffee.png", "image/png", 600, 400),
    ];
    for (name, media_type, width, height) in cases {
        let file = UploadFile::fixture(name);
        let asset = app
            .upload_asset(&admin, &file, json!({ "tags": ["Campaign", "SS27"] }))
            .await;
        let version = &asset["currentVersion"];
        assert_eq!(version["number"], 1);
        assert_eq!(version["stage"], "RAW");
        assert_eq!(version["mediaType"], media_type, "{name}");
        assert_eq!(version["width"], width, "{name}");
        assert_eq!(version["height"], height, "{name}");
        assert_eq!(version["bytes"], file.bytes.len());
        assert_eq!(version["sha256"], sha256_hex(&file.bytes));
        assert_eq!(version["filename"], name);
        assert_eq!(asset["title"], name.rsplit_once('.').unwrap().0);
        // The tags given, and the automatic shape and resolution classes.
        let tags: Vec<&str> = asset["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(
            tags.contains(&"campaign") && tags.contains(&"ss27"),
            "{tags:?}"
        );
        let shape = if width > height {
            "landscape"
        } else {
            "portrait"
        };
        assert!(tags.contains(&shape), "{name}: {tags:?}");
    }
    // WebP and TIFF, made in code.
    for (format, name, media_type) in [
        (image::ImageFormat::WebP, "made.webp", "image/webp"),
        (image::ImageFormat::Tiff, "made.tiff", "image/tiff"),
    ] {
        let file = UploadFile::new(name, "application/octet-stream", gradient(320, 200, format));
        let asset = app.upload_asset(&admin, &file, json!({})).await;
        assert_eq!(asset["currentVersion"]["mediaType"], media_type);
        assert_eq!(asset["currentVersion"]["width"], 320);
        assert_eq!(asset["currentVersion"]["height"], 200);
    }
    let listed = app
        .gql(
            Some(&admin),
            "{ assets { totalCount edges { node { title } } } }",
            Value::Null,
        )
        .await;
    assert_eq!(listed["data"]["assets"]["totalCount"], 6, "{listed}");
    app.finish().await;
}

#[tokio::test]
async fn identical_bytes_are_stored_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let file = UploadFile::fixture("garden.jpg");
    let a = app
        .upload_asset(&admin, &file, json!({ "title": "Garden A" }))
        .await;
    let b = app
        .upload_asset(&admin, &file, json!({ "title": "Garden B" }))
        .await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["currentVersion"]["sha256"], b["currentVersion"]["sha256"]);
    assert_eq!(app.count_rows("blobs").await, 1);
    assert_eq!(app.count_rows("asset_versions").await, 2);
    let stored = app.stored_originals().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].ends_with(&sha256_hex(&file.bytes)));
    // The stored bytes are the uploaded bytes.
    let (mut reader, size) = app.state.store.open(&stored[0]).await.unwrap().unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
        .await
        .unwrap();
    assert_eq!(size as usize, file.bytes.len());
    assert_eq!(bytes, file.bytes);
    app.finish().await;
}

#[tokio::test]
async fn versions_are_numbered_approved_and_restored_without_rewriting_history() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("retoucher@example.com", Role::Contributor)
        .await;
    app.create_member("manager@example.com", Role::Manager)
        .await;
    let retoucher = app.login("retoucher@example.com", PASSWORD).await;
    let manager = app.login("manager@example.com", PASSWORD).await;

    let raw = UploadFile::fixture("garden.jpg");
    let asset = app
        .upload_asset(&retoucher, &raw, json!({ "title": "Ring" }))
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    const VERSION: &str = "mutation($assetId: ID!, $file: Upload!, $input: UploadVersionInput) { uploadVersion(assetId: $assetId, file: $file, input: $input) { id number stage sha256 note } }";
    let retouched = UploadFile::fixture("yellow-flower.jpg");
    let v2 = app
        .upload_gql(
            Some(&retoucher),
            VERSION,
            json!({ "assetId": id, "input": { "stage": "RETOUCHED", "note": "skin tones" } }),
            &retouched,
        )
        .await;
    assert_eq!(v2["data"]["uploadVersion"]["number"], 2, "{v2}");
    let final_file = UploadFile::new(
        "final.png",
        "image/png",
        gradient(640, 400, image::ImageFormat::Png),
    );
    let v3 = app
        .upload_gql(
            Some(&retoucher),
            VERSION,
            json!({ "assetId": id, "input": { "stage": "FINAL" } }),
            &final_file,
        )
        .await;
    let v3 = &v3["data"]["uploadVersion"];
    assert_eq!(v3["number"], 3);
    assert_eq!(v3["stage"], "FINAL");

    const APPROVE: &str = "mutation($id: ID!) { approveVersion(versionId: $id) { number approvedAt approvedBy { email } } }";
    // A contributor cannot approve; a RETOUCHED version cannot be approved.
    let refused = app
        .gql(Some(&retoucher), APPROVE, json!({ "id": v3["id"] }))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let not_final = app
        .gql(
            Some(&manager),
            APPROVE,
            json!({ "id": v2["data"]["uploadVersion"]["id"] }),
        )
        .await;
    assert_eq!(error_code(&not_final), Some("BAD_USER_INPUT"));
    let approved = app
        .gql(Some(&manager), APPROVE, json!({ "id": v3["id"] }))
        .await;
    assert_eq!(
        approved["data"]["approveVersion"]["approvedBy"]["email"], "manager@example.com",
        "{approved}"
    );
    assert!(approved["data"]["approveVersion"]["approvedAt"].is_string());

    const RESTORE: &str = "mutation($id: ID!, $n: Int!) { restoreVersion(assetId: $id, number: $n) { number sha256 restoredFrom stage } }";
    let refused = app
        .gql(Some(&retoucher), RESTORE, json!({ "id": id, "n": 1 }))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    let restored = app
        .gql(Some(&admin), RESTORE, json!({ "id": id, "n": 1 }))
        .await;
    let restored = &restored["data"]["restoreVersion"];
    assert_eq!(restored["number"], 4, "{restored}");
    assert_eq!(restored["restoredFrom"], 1);
    assert_eq!(restored["stage"], "RAW");
    assert_eq!(restored["sha256"], sha256_hex(&raw.bytes));
    let again = app
        .gql(Some(&admin), RESTORE, json!({ "id": id, "n": 4 }))
        .await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"));
    let missing = app
        .gql(Some(&admin), RESTORE, json!({ "id": id, "n": 9 }))
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"));

    let body = app.gql(Some(&admin), ASSET, json!({ "id": id })).await;
    let asset = &body["data"]["asset"];
    assert_eq!(asset["currentVersion"]["number"], 4);
    let versions = asset["versions"].as_array().unwrap();
    let numbers: Vec<i64> = versions
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(versions[1]["note"], "skin tones");
    assert_eq!(versions[2]["approvedBy"]["email"], "manager@example.com");
    assert_eq!(versions[0]["uploadedBy"]["email"], "retoucher@example.com");
    assert_eq!(versions[0]["sha256"], versions[3]["sha256"]);
    // Three distinct originals, however many versions.
    assert_eq!(app.count_rows("blobs").await, 3);

    let audit = app
        .gql(
            Some(&admin),
            "{ auditEvents(first: 20) { edges { node { action } } } }",
            Value::Null,
        )
        .await;
    let actions: Vec<&str> = audit["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for expected in [
        "ASSET_CREATED",
        "VERSION_UPLOADED",
        "VERSION_APPROVED",
        "VERSION_RESTORED",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn trash_restore_and_purge() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("editor@example.com", Role::Editor).await;
    let editor = app.login("editor@example.com", PASSWORD).await;
    let shared = UploadFile::fixture("chelsea.png");
    let own = UploadFile::fixture("coffee.png");
    let kept = app
        .upload_asset(&editor, &shared, json!({ "title": "Kept" }))
        .await;
    let doomed = app
        .upload_asset(&editor, &own, json!({ "title": "Doomed" }))
        .await;
    let id = doomed["id"].as_str().unwrap().to_owned();
    // The doomed asset also has a version sharing the kept asset's bytes.
    app.upload_gql(
        Some(&editor),
        "mutation($a: ID!, $file: Upload!) { uploadVersion(assetId: $a, file: $file) { number } }",
        json!({ "a": id }),
        &shared,
    )
    .await;

    let deleted = app
        .gql(
            Some(&editor),
            "mutation($id: ID!) { deleteAsset(id: $id) { deletedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        deleted["data"]["deleteAsset"]["deletedAt"].is_string(),
        "{deleted}"
    );
    // Invisible everywhere but the trash.
    let gone = app.gql(Some(&editor), ASSET, json!({ "id": id })).await;
    assert_eq!(error_code(&gone), Some("NOT_FOUND"));
    let listed = app
        .gql(
            Some(&editor),
            "{ assets { totalCount edges { node { title } } } }",
            Value::Null,
        )
        .await;
    assert_eq!(listed["data"]["assets"]["totalCount"], 1);
    let trash = app
        .gql(
            Some(&editor),
            "{ trash { totalCount edges { node { id title deletedAt deletedBy { email } } } } }",
            Value::Null,
        )
        .await;
    assert_eq!(trash["data"]["trash"]["totalCount"], 1, "{trash}");
    assert_eq!(
        trash["data"]["trash"]["edges"][0]["node"]["deletedBy"]["email"],
        "editor@example.com"
    );

    let restored = app
        .gql(
            Some(&editor),
            "mutation($id: ID!) { restoreAsset(id: $id) { deletedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(restored["data"]["restoreAsset"]["deletedAt"], Value::Null);
    let back = app.gql(Some(&editor), ASSET, json!({ "id": id })).await;
    assert_eq!(back["data"]["asset"]["title"], "Doomed");

    // Purge: admins only, and only from the trash.
    const PURGE: &str = "mutation($id: ID!) { purgeAsset(id: $id) }";
    let live = app.gql(Some(&admin), PURGE, json!({ "id": id })).await;
    assert_eq!(error_code(&live), Some("CONFLICT"));
    app.gql(
        Some(&editor),
        "mutation($id: ID!) { deleteAsset(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let refused = app.gql(Some(&editor), PURGE, json!({ "id": id })).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let purged = app.gql(Some(&admin), PURGE, json!({ "id": id })).await;
    assert_eq!(purged["data"]["purgeAsset"], 1, "{purged}");
    // Rows gone; coffee's original deleted; chelsea's kept (still used by "Kept").
    assert_eq!(app.count_rows("assets").await, 1);
    assert_eq!(app.count_rows("asset_versions").await, 1);
    assert_eq!(app.count_rows("blobs").await, 1);
    let stored = app.stored_originals().await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(&sha256_hex(&shared.bytes)));
    assert_eq!(kept["currentVersion"]["sha256"], sha256_hex(&shared.bytes));
    let trash = app
        .gql(Some(&admin), "{ trash { totalCount } }", Value::Null)
        .await;
    assert_eq!(trash["data"]["trash"]["totalCount"], 0);
    app.finish().await;
}

#[tokio::test]
async fn who_may_do_what_with_assets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (email, role) in [
        ("viewer@example.com", Role::Viewer),
        ("contributor@example.com", Role::Contributor),
        ("editor@example.com", Role::Editor),
    ] {
        app.create_member(email, role).await;
    }
    let viewer = app.login("viewer@example.com", PASSWORD).await;
    let contributor = app.login("contributor@example.com", PASSWORD).await;
    let editor = app.login("editor@example.com", PASSWORD).await;
    let file = UploadFile::fixture("chelsea.png");

    const UPLOAD: &str = "mutation($file: Upload!) { uploadAsset(file: $file) { id } }";
    let refused = app
        .upload_gql(Some(&viewer), UPLOAD, json!({}), &file)
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let anonymous = app.upload_response(None, UPLOAD, json!({}), &file).await;
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(app.count_rows("assets").await, 0);

    let asset = app.upload_asset(&contributor, &file, json!({})).await;
    let id = asset["id"].as_str().unwrap().to_owned();
    // Every member reads.
    let seen = app.gql(Some(&viewer), ASSET, json!({ "id": id })).await;
    assert_eq!(seen["data"]["asset"]["id"], id.as_str());
    // Contributors upload but do not edit or delete; editors do.
    const RENAME: &str = "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Renamed\", tags: [\"Gold\"] }) { title tags } }";
    let refused = app
        .gql(Some(&contributor), RENAME, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    let renamed = app.gql(Some(&editor), RENAME, json!({ "id": id })).await;
    assert_eq!(renamed["data"]["updateAsset"]["title"], "Renamed");
    assert_eq!(renamed["data"]["updateAsset"]["tags"], json!(["gold"]));
    const DELETE: &str = "mutation($id: ID!) { deleteAsset(id: $id) { id } }";
    let refused = app
        .gql(Some(&contributor), DELETE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    let refused = app
        .gql(Some(&viewer), "{ trash { totalCount } }", Value::Null)
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));

    // Partners see no asset yet: an empty list, and NOT_FOUND (not FORBIDDEN) by id.
    let org = app
        .gql(
            Some(&admin),
            "mutation { createPartnerOrg(input: { name: \"Dist\", allowlisted: true }) { id } }",
            Value::Null,
        )
        .await;
    let org_id = org["data"]["createPartnerOrg"]["id"].clone();
    app.gql(
        Some(&admin),
        "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
        json!({ "input": { "email": "p@dist.example", "displayName": "P", "password": PASSWORD, "kind": "PARTNER", "partnerOrgId": org_id } }),
    )
    .await;
    let partner = app.login("p@dist.example", PASSWORD).await;
    let list = app
        .gql(
            Some(&partner),
            "{ assets { totalCount edges { node { id } } } }",
            Value::Null,
        )
        .await;
    assert_eq!(list["data"]["assets"]["totalCount"], 0, "{list}");
    let by_id = app.gql(Some(&partner), ASSET, json!({ "id": id })).await;
    assert_eq!(error_code(&by_id), Some("NOT_FOUND"));
    let upload = app
        .upload_gql(Some(&partner), UPLOAD, json!({}), &file)
        .await;
    assert!(
        matches!(error_code(&upload), Some("NOT_FOUND" | "FORBIDDEN")),
        "{upload}"
    );
    app.finish().await;
}

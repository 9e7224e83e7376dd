//! The access policy as users meet it: restricted folders, grants, roles,
//! partners and their isolation, the access mode, and the `assetEvents`
//! subscription that is re-checked at every event.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, spawn_app};

const ASSET: &str = "query($id: ID!) { asset(id: $id) { id title } }";
const ASSETS: &str = "query($f: AssetFilter) { assets(filter: $f) { edges { node { id } } } }";
const FOLDERS: &str = "query($p: ID) { folders(parentId: $p) { id name } }";

async fn upload(app: &TestApp, token: &str, folder: Option<&str>, title: &str) -> String {
    app.upload_asset(
        token,
        &UploadFile::fixture("coffee.png"),
        json!({ "folderId": folder, "title": title }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let body = app.gql(Some(token), ASSETS, json!({})).await;
    body["data"]["assets"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn folder_names(app: &TestApp, token: &str, parent: Option<&str>) -> Vec<String> {
    let body = app.gql(Some(token), FOLDERS, json!({ "p": parent })).await;
    body["data"]["folders"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn code_of_asset(app: &TestApp, token: &str, id: &str) -> Option<String> {
    let body = app.gql(Some(token), ASSET, json!({ "id": id })).await;
    error_code(&body).map(str::to_owned)
}

async fn restrict(app: &TestApp, token: &str, folder: &str, restricted: bool) -> Value {
    app.gql(
        Some(token),
        "mutation($f: ID!, $r: Boolean!) { setFolderRestricted(folderId: $f, restricted: $r) { restricted } }",
        json!({ "f": folder, "r": restricted }),
    )
    .await
}

#[tokio::test]
async fn restricted_folders_are_invisible_until_granted_whatever_the_role() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let manager_id = app
        .create_member("manager@vitrine.test", Role::Manager)
        .await;
    let manager = app.login("manager@vitrine.test", PASSWORD).await;
    let campaigns = app.create_folder(&admin, None, "Campaigns").await;
    let prelaunch = app
        .create_folder(&admin, Some(&campaigns), "Pre-launch")
        .await;
    let inner = app.create_folder(&admin, Some(&prelaunch), "Rings").await;
    let open = upload(&app, &admin, Some(&campaigns), "Open").await;
    let secret = upload(&app, &admin, Some(&inner), "Secret ring").await;
    let set = restrict(&app, &admin, &prelaunch, true).await;
    assert_eq!(
        set["data"]["setFolderRestricted"]["restricted"], true,
        "{set}"
    );

    // A manager sees everything else, nothing of the restricted collection.
    assert_eq!(
        folder_names(&app, &manager, Some(&campaigns)).await,
        Vec::<String>::new()
    );
    assert_eq!(listed(&app, &manager).await, vec![open.clone()]);
    for id in [&prelaunch, &inner] {
        let body = app
            .gql(
                Some(&manager),
                "query($id: ID!) { folder(id: $id) { name } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    }
    assert_eq!(
        code_of_asset(&app, &manager, &secret).await.as_deref(),
        Some("NOT_FOUND")
    );
    // Asking for the folder's contents by id, searching by title, or uploading into it.
    let by_folder = app
        .gql(
            Some(&manager),
            ASSETS,
            json!({ "f": { "folderId": prelaunch, "recursive": true } }),
        )
        .await;
    assert_eq!(error_code(&by_folder), Some("NOT_FOUND"), "{by_folder}");
    let search = app
        .gql(Some(&manager), ASSETS, json!({ "f": { "text": "secret" } }))
        .await;
    assert_eq!(search["data"]["assets"]["edges"], json!([]), "{search}");
    let into = app
        .upload_gql(
            Some(&manager),
            "mutation($file: Upload!, $input: UploadAssetInput) { uploadAsset(file: $file, input: $input) { id } }",
            json!({ "input": { "folderId": inner } }),
            &UploadFile::fixture("coffee.png"),
        )
        .await;
    assert_eq!(error_code(&into), Some("NOT_FOUND"), "{into}");
    // Nor can a manager lift the restriction or grant itself in.
    let lift = restrict(&app, &manager, &prelaunch, false).await;
    assert_eq!(error_code(&lift), Some("NOT_FOUND"), "{lift}");

    // A grant on the folder above does not reach into the restricted one.
    app.grant(
        &admin,
        &campaigns,
        "USER",
        &manager_id.to_string(),
        "MANAGE",
    )
    .await;
    assert_eq!(listed(&app, &manager).await, vec![open.clone()]);
    // A grant on the restricted folder opens it and everything below.
    app.grant(&admin, &prelaunch, "USER", &manager_id.to_string(), "VIEW")
        .await;
    assert_eq!(
        folder_names(&app, &manager, Some(&campaigns)).await,
        vec!["Pre-launch"]
    );
    assert_eq!(
        folder_names(&app, &manager, Some(&prelaunch)).await,
        vec!["Rings"]
    );
    let mut both = listed(&app, &manager).await;
    both.sort();
    let mut expected = vec![open.clone(), secret.clone()];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(code_of_asset(&app, &manager, &secret).await, None);
    // Once let in, a member's role applies again (a manager may edit).
    let edit = app
        .gql(
            Some(&manager),
            "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Renamed\" }) { title } }",
            json!({ "id": secret }),
        )
        .await;
    assert_eq!(edit["data"]["updateAsset"]["title"], "Renamed", "{edit}");

    // Revoked: gone again at the next request.
    let revoked = app
        .revoke(&admin, &prelaunch, "USER", &manager_id.to_string())
        .await;
    assert_eq!(revoked["data"]["revokeAccess"], true);
    assert_eq!(
        code_of_asset(&app, &manager, &secret).await.as_deref(),
        Some("NOT_FOUND")
    );
    let again = app
        .revoke(&admin, &prelaunch, "USER", &manager_id.to_string())
        .await;
    assert_eq!(again["data"]["revokeAccess"], false, "{again}");
    app.finish().await;
}

#[tokio::test]
async fn roles_follow_the_documented_matrix() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let asset = upload(&app, &admin, None, "Matrix").await;
    let mut tokens = Vec::new();
    for role in [Role::Manager, Role::Editor, Role::Contributor, Role::Viewer] {
        let email = format!("{}@vitrine.test", role.as_str().to_lowercase());
        app.create_member(&email, role).await;
        tokens.push((role, app.login(&email, PASSWORD).await));
    }
    for (role, token) in &tokens {
        let may = |allowed: bool, body: &Value, what: &str| {
            if allowed {
                assert!(body["errors"].is_null(), "{role:?} {what}: {body}");
            } else {
                assert_eq!(
                    error_code(body),
                    Some("FORBIDDEN"),
                    "{role:?} {what}: {body}"
                );
            }
        };
        let seen = app.gql(Some(token), ASSET, json!({ "id": asset })).await;
        may(true, &seen, "view");
        for (kind, allowed) in [
            ("THUMBNAIL", true),
            ("LOWRES", *role != Role::Contributor),
            ("ORIGINAL", matches!(role, Role::Manager | Role::Editor)),
        ] {
            let body = app
                .gql(
                    Some(token),
                    "query($id: ID!, $k: DeliveryKind!) { asset(id: $id) { url(kind: $k) } }",
                    json!({ "id": asset, "k": kind }),
                )
                .await;
            may(allowed, &body, kind);
        }
        let edited = app
            .gql(
                Some(token),
                "mutation($id: ID!) { updateAsset(id: $id, input: { tags: [\"x\"] }) { id } }",
                json!({ "id": asset }),
            )
            .await;
        may(
            matches!(role, Role::Manager | Role::Editor),
            &edited,
            "edit",
        );
        let uploaded = app
            .upload_gql(
                Some(token),
                "mutation($file: Upload!) { uploadAsset(file: $file) { id } }",
                json!({}),
                &UploadFile::fixture("coffee.png"),
            )
            .await;
        may(*role != Role::Viewer, &uploaded, "upload");
        let access = app.set_access(token, &[&asset], "PUBLIC", None, None).await;
        may(*role == Role::Manager, &access, "setAccess");
        let audit = app
            .gql(
                Some(token),
                "{ auditEvents { edges { node { seq } } } }",
                Value::Null,
            )
            .await;
        may(false, &audit, "audit");
    }
    app.finish().await;
}

#[tokio::test]
async fn partners_see_only_granted_published_assets_and_no_internal_details() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let shared = app.create_folder(&admin, None, "For partners").await;
    let internal = app.create_folder(&admin, None, "Internal").await;
    let public = upload(&app, &admin, Some(&shared), "Public look").await;
    let draft = upload(&app, &admin, Some(&shared), "Draft look").await;
    let elsewhere = upload(&app, &admin, Some(&internal), "Elsewhere").await;
    let set = app
        .set_access(&admin, &[&public, &elsewhere], "PUBLIC", None, None)
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let partner = app
        .create_partner(&admin, "Boutique", "buyer@boutique.example")
        .await;

    // No grant: nothing at all, not even folder names.
    assert!(listed(&app, &partner.token).await.is_empty());
    assert!(folder_names(&app, &partner.token, None).await.is_empty());
    assert_eq!(
        code_of_asset(&app, &partner.token, &public)
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );

    app.grant(&admin, &shared, "PARTNER_ORG", &partner.org_id, "VIEW")
        .await;
    // Only the published asset of the granted folder; the draft stays RESTRICTED.
    assert_eq!(listed(&app, &partner.token).await, vec![public.clone()]);
    assert_eq!(
        folder_names(&app, &partner.token, None).await,
        vec!["For partners"]
    );
    for hidden in [&draft, &elsewhere] {
        assert_eq!(
            code_of_asset(&app, &partner.token, hidden).await.as_deref(),
            Some("NOT_FOUND")
        );
    }
    // The work, not the people or the workflow behind it.
    let seen = app
        .gql(
            Some(&partner.token),
            "query($id: ID!) { asset(id: $id) { title createdBy { id } currentVersion { filename note uploadedBy { id } } } }",
            json!({ "id": public }),
        )
        .await;
    let a = &seen["data"]["asset"];
    assert_eq!(a["title"], "Public look", "{seen}");
    assert_eq!(a["createdBy"], Value::Null);
    assert_eq!(a["currentVersion"]["filename"], Value::Null);
    assert_eq!(a["currentVersion"]["uploadedBy"], Value::Null);
    // Partners administer nothing.
    for query in [
        "{ users { edges { node { id } } } }",
        "{ auditEvents { edges { node { seq } } } }",
        "{ partnerOrgs { id } }",
    ] {
        let body = app.gql(Some(&partner.token), query, Value::Null).await;
        assert!(
            matches!(error_code(&body), Some("FORBIDDEN" | "NOT_FOUND")),
            "{query}: {body}"
        );
    }
    let edit = app
        .gql(
            Some(&partner.token),
            "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Mine\" }) { id } }",
            json!({ "id": public }),
        )
        .await;
    assert_eq!(error_code(&edit), Some("FORBIDDEN"), "{edit}");
    app.finish().await;
}

#[tokio::test]
async fn a_partner_cannot_find_another_partners_asset_by_id_list_url_or_subscription() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let folder_a = app.create_folder(&admin, None, "Partner A").await;
    let folder_b = app.create_folder(&admin, None, "Partner B").await;
    let a = app
        .create_partner(&admin, "Alpha", "ann@alpha.example")
        .await;
    let b = app.create_partner(&admin, "Beta", "bob@beta.example").await;
    app.grant(&admin, &folder_a, "PARTNER_ORG", &a.org_id, "DOWNLOAD")
        .await;
    app.grant(&admin, &folder_b, "PARTNER_ORG", &b.org_id, "DOWNLOAD")
        .await;
    let asset_a = upload(&app, &admin, Some(&folder_a), "Alpha only").await;
    let asset_b = upload(&app, &admin, Some(&folder_b), "Beta only").await;
    let set = app
        .set_access(&admin, &[&asset_a, &asset_b], "PUBLIC", None, None)
        .await;
    assert!(set["errors"].is_null(), "{set}");

    // Processing is over (its events would come first otherwise).
    let _worker = app.start_worker_if_needed().await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    // B subscribes before anything happens to A's asset.
    let mut ws_b = app.ws_connect(json!({ "token": b.token })).await;
    assert_eq!(ws_b.message().await["type"], "connection_ack");
    ws_b.subscribe(
        "events",
        "subscription { assetEvents { kind assetId asset { id title } } }",
    )
    .await;
    let mut ws_a = app.ws_connect(json!({ "token": a.token })).await;
    assert_eq!(ws_a.message().await["type"], "connection_ack");
    ws_a.subscribe(
        "events",
        "subscription { assetEvents { kind assetId asset { id title } } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // By id, in lists, for a URL, by folder: nothing of A's reaches B.
    assert_eq!(listed(&app, &b.token).await, vec![asset_b.clone()]);
    assert_eq!(
        code_of_asset(&app, &b.token, &asset_a).await.as_deref(),
        Some("NOT_FOUND")
    );
    for kind in ["THUMBNAIL", "ORIGINAL"] {
        let url = app
            .delivery_url(&b.token, &asset_a, kind, None)
            .await
            .unwrap_err();
        assert_eq!(error_code(&url), Some("NOT_FOUND"), "{url}");
    }
    let by_folder = app
        .gql(
            Some(&b.token),
            ASSETS,
            json!({ "f": { "folderId": folder_a } }),
        )
        .await;
    assert_eq!(error_code(&by_folder), Some("NOT_FOUND"), "{by_folder}");
    // An id that does not exist answers exactly like A's.
    let missing = uuid::Uuid::now_v7().to_string();
    let none = app
        .gql(Some(&b.token), ASSET, json!({ "id": missing }))
        .await;
    let theirs = app
        .gql(Some(&b.token), ASSET, json!({ "id": asset_a }))
        .await;
    assert_eq!(none["errors"][0]["message"], theirs["errors"][0]["message"]);
    assert_eq!(error_code(&none), error_code(&theirs));

    // Events about A's asset reach A and not B.
    let renamed = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Alpha v2\" }) { id } }",
            json!({ "id": asset_a }),
        )
        .await;
    assert!(renamed["errors"].is_null(), "{renamed}");
    let to_a = ws_a.message().await;
    assert_eq!(
        to_a["payload"]["data"]["assetEvents"]["kind"], "UPDATED",
        "{to_a}"
    );
    assert_eq!(
        to_a["payload"]["data"]["assetEvents"]["asset"]["title"],
        "Alpha v2"
    );
    app.set_access(&admin, &[&asset_a], "RESTRICTED", None, None)
        .await;
    let withdrawn = ws_a.message().await;
    let event = &withdrawn["payload"]["data"]["assetEvents"];
    assert_eq!(event["kind"], "ACCESS_CHANGED", "{withdrawn}");
    // A saw it before: told it is gone, without its content.
    assert_eq!(event["asset"], Value::Null);
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { deleteAsset(id: $id) { id } }",
        json!({ "id": asset_a }),
    )
    .await;
    // Then one event about B's own asset: the first thing B receives.
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateAsset(id: $id, input: { title: \"Beta v2\" }) { id } }",
        json!({ "id": asset_b }),
    )
    .await;
    let first = ws_b.message().await;
    let event = &first["payload"]["data"]["assetEvents"];
    assert_eq!(event["assetId"], asset_b.as_str(), "B heard of A: {first}");
    assert_eq!(event["asset"]["title"], "Beta v2");
    if let Some(more) = ws_b.quiet_for(Duration::from_millis(500)).await {
        panic!("B got more: {more:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn set_access_changes_a_whole_batch_or_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("manager@vitrine.test", Role::Manager)
        .await;
    let manager = app.login("manager@vitrine.test", PASSWORD).await;
    let vault = app.create_folder(&admin, None, "Vault").await;
    restrict(&app, &admin, &vault, true).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(upload(&app, &admin, None, &format!("Look {i}")).await);
    }
    let hidden = upload(&app, &admin, Some(&vault), "Vaulted").await;

    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let now = chrono::Utc::now();
    // Refused as a whole: one asset out of reach, an unknown id, a window
    // that ends before it starts, an empty or oversized batch.
    let mut with_hidden = refs.clone();
    with_hidden.push(&hidden);
    let out_of_reach = app
        .set_access(&manager, &with_hidden, "PUBLIC", None, None)
        .await;
    assert_eq!(
        error_code(&out_of_reach),
        Some("NOT_FOUND"),
        "{out_of_reach}"
    );
    let missing = uuid::Uuid::now_v7().to_string();
    let mut with_missing = refs.clone();
    with_missing.push(&missing);
    let unknown = app
        .set_access(&manager, &with_missing, "PUBLIC", None, None)
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    let backwards = app
        .set_access(
            &manager,
            &refs,
            "PUBLIC",
            Some(now + chrono::Duration::hours(2)),
            Some(now + chrono::Duration::hours(1)),
        )
        .await;
    assert_eq!(
        error_code(&backwards),
        Some("BAD_USER_INPUT"),
        "{backwards}"
    );
    let empty = app.set_access(&manager, &[], "PUBLIC", None, None).await;
    assert_eq!(error_code(&empty), Some("BAD_USER_INPUT"), "{empty}");
    let many: Vec<String> = (0..501).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let oversized = app
        .set_access(&manager, &many_refs, "PUBLIC", None, None)
        .await;
    assert_eq!(
        error_code(&oversized),
        Some("BAD_USER_INPUT"),
        "{oversized}"
    );
    for id in &ids {
        let body = app
            .gql(
                Some(&admin),
                "query($id: ID!) { asset(id: $id) { accessMode } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            body["data"]["asset"]["accessMode"], "RESTRICTED",
            "changed: {body}"
        );
    }

    // Accepted: every asset, with the window as given.
    let starts = now + chrono::Duration::hours(1);
    let done = app
        .set_access(&manager, &refs, "PUBLIC", Some(starts), None)
        .await;
    let changed = done["data"]["setAccess"]
        .as_array()
        .unwrap_or_else(|| panic!("{done}"));
    assert_eq!(changed.len(), 3);
    for a in changed {
        assert_eq!(a["accessMode"], "PUBLIC");
        let at =
            chrono::DateTime::parse_from_rfc3339(a["accessStartsAt"].as_str().unwrap()).unwrap();
        assert_eq!(at.timestamp(), starts.timestamp());
        assert_eq!(a["accessEndsAt"], Value::Null);
    }
    let audit = app
        .gql(
            Some(&admin),
            "{ auditEvents(filter: { action: ASSET_ACCESS_CHANGED }) { edges { node { targetId } } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        audit["data"]["auditEvents"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{audit}"
    );
    app.finish().await;
}

//! API keys for machines: a partner-org key sees exactly what its
//! organisation sees, scopes narrow it, use is recorded, rotation keeps two
//! secrets live for the overlap, revocation stops the key (and the URLs it
//! issued) at the next request; keys work on GraphQL, WebSocket and URL
//! issuance, and are refused where they should be.

use std::time::Duration;

use vitrine_entity::Clock;

use serde_json::{Value, json};
use vitrine_tests::{TestApp, UploadFile, WsEvent, error_code, spawn_app};

const CREATE: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id name role partnerOrgId scopes expiresAt active } } }";

async fn create_key(app: &TestApp, admin: &str, input: Value) -> (String, String) {
    let body = app.gql(Some(admin), CREATE, json!({ "i": input })).await;
    let created = &body["data"]["createApiKey"];
    (
        created["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("createApiKey: {body}"))
            .to_owned(),
        created["apiKey"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn titles(app: &TestApp, token: &str) -> Result<Vec<String>, Value> {
    let body = app
        .gql(
            Some(token),
            "{ assets(first: 50) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    let Some(edges) = body["data"]["assets"]["edges"].as_array() else {
        return Err(body);
    };
    let mut titles: Vec<String> = edges
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    titles.sort();
    Ok(titles)
}

/// Two organisations, each with a folder of two published assets.
async fn two_organisations(app: &TestApp, admin: &str) -> (String, String, Vec<String>) {
    let mut orgs = Vec::new();
    let mut ids = Vec::new();
    for (org, email) in [("Maison A", "a@a.test"), ("Maison B", "b@b.test")] {
        let partner = app.create_partner(admin, org, email).await;
        let folder = app.create_folder(admin, None, org).await;
        app.grant(admin, &folder, "PARTNER_ORG", &partner.org_id, "DOWNLOAD")
            .await;
        for n in 1..=2 {
            let asset = app
                .upload_asset(
                    admin,
                    &UploadFile::fixture("garden.jpg"),
                    json!({ "folderId": folder, "title": format!("{org} {n}") }),
                )
                .await;
            ids.push(asset["id"].as_str().unwrap().to_owned());
        }
        orgs.push(partner.org_id);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let set = app.set_access(admin, &refs, "PUBLIC", None, None).await;
    assert!(set["errors"].is_null(), "{set}");
    (orgs[0].clone(), orgs[1].clone(), ids)
}

#[tokio::test]
async fn a_partner_key_sees_its_organisation_and_its_scopes_narrow_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (org_a, _org_b, ids) = two_organisations(&app, &admin).await;
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);

    let body = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "i": { "name": "Portal A (delivery)", "partnerOrgId": org_a, "scopes": ["DELIVER"] } }),
        )
        .await;
    let created = &body["data"]["createApiKey"];
    let key = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("vtk_") && key.len() > 40, "{key}");
    assert_eq!(created["apiKey"]["scopes"], json!(["DELIVER"]));
    assert_eq!(created["apiKey"]["partnerOrgId"], org_a);
    assert_eq!(created["apiKey"]["expiresAt"], Value::Null);
    assert_eq!(created["apiKey"]["active"], true);

    // Exactly organisation A's assets, as A's own users see them.
    let partner_a = app.login("a@a.test", vitrine_tests::PASSWORD).await;
    assert_eq!(
        titles(&app, &key).await.unwrap(),
        vec!["Maison A 1", "Maison A 2"]
    );
    assert_eq!(
        titles(&app, &key).await.unwrap(),
        titles(&app, &partner_a).await.unwrap()
    );
    // A delivery URL for A's asset works; B's asset does not exist for it.
    let url = app
        .delivery_url(&key, &ids[0], "PREVIEW", Some(600))
        .await
        .expect("a URL for the key");
    assert_eq!(app.fetch(&url).await.status(), 200);
    let refused = app
        .delivery_url(&key, &ids[2], "PREVIEW", None)
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    // DELIVER cannot change anything, even what the organisation could.
    let share = app
        .gql(
            Some(&key),
            "mutation($i: CreateShareLinkInput!) { createShareLink(input: $i) { url } }",
            json!({ "i": { "assetIds": [ids[0]], "scope": "PREVIEW" } }),
        )
        .await;
    assert_eq!(error_code(&share), Some("FORBIDDEN"), "{share}");
    assert!(
        share["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("API key"),
        "{share}"
    );
    // A key is not a person: it cannot create keys nor sign in.
    let other = app
        .gql(
            Some(&key),
            CREATE,
            json!({ "i": { "name": "x", "role": "ADMIN", "scopes": ["WRITE"] } }),
        )
        .await;
    assert_eq!(error_code(&other), Some("FORBIDDEN"), "{other}");

    // Over a WebSocket too.
    let mut ws = app.ws_connect(json!({ "token": key })).await;
    match ws
        .operation("1", "{ assets(first: 10) { totalCount } }", json!({}))
        .await
    {
        WsEvent::Message(payload) => {
            assert_eq!(payload["data"]["assets"]["totalCount"], 2, "{payload}")
        }
        other => panic!("{other:?}"),
    }

    // Use is recorded; keys are not users.
    let listed = app
        .gql(
            Some(&admin),
            "{ apiKeys { id name lastUsedAt lastUsedIp } users(first: 50) { edges { node { email } } } }",
            json!({}),
        )
        .await;
    let keys = listed["data"]["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["id"], key_id);
    assert!(keys[0]["lastUsedAt"].is_string(), "{listed}");
    assert_eq!(keys[0]["lastUsedIp"], "127.0.0.1");
    let emails = listed["data"]["users"]["edges"].to_string();
    assert!(!emails.contains("api-keys"), "{emails}");

    // Revoked: the key, its socket and the URL it was given stop at once.
    let revoked = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeApiKey(id: $id) { active revokedAt } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeApiKey"]["active"], false,
        "{revoked}"
    );
    let after = titles(&app, &key).await.unwrap_err();
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");
    assert_eq!(app.fetch(&url).await.status(), 403);
    let (code, _) = ws.closed(Duration::from_secs(10)).await;
    assert_eq!(code, Some(4401));
    app.finish().await;
}

#[tokio::test]
async fn rotation_keeps_two_secrets_live_for_the_overlap_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (old, id) = create_key(
        &app,
        &admin,
        json!({ "name": "sync job", "role": "VIEWER", "scopes": ["READ"] }),
    )
    .await;
    let me = "{ me { role } }";
    assert_eq!(
        app.gql(Some(&old), me, json!({})).await["data"]["me"]["role"],
        "VIEWER"
    );
    let rotated = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { rotateApiKey(id: $id, overlapSeconds: 3600) { secret apiKey { previousSecretValidUntil } } }",
            json!({ "id": id }),
        )
        .await;
    let new = rotated["data"]["rotateApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{rotated}"))
        .to_owned();
    assert_ne!(new, old);
    assert!(rotated["data"]["rotateApiKey"]["apiKey"]["previousSecretValidUntil"].is_string());
    for secret in [&old, &new] {
        let body = app.gql(Some(secret), me, json!({})).await;
        assert_eq!(body["data"]["me"]["role"], "VIEWER", "{body}");
    }
    // A socket opened with the old secret lives as long as that secret.
    let mut ws = app.ws_connect(json!({ "token": old })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    app.clock.advance(chrono::Duration::seconds(3601));
    let body = app.gql(Some(&old), me, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    match ws.operation("after", me, json!({})).await {
        WsEvent::Message(payload) => {
            assert_eq!(error_code(&payload), Some("UNAUTHENTICATED"), "{payload}");
            assert!(payload["data"].is_null(), "{payload}");
        }
        WsEvent::Closed(code, _) => assert_eq!(code, Some(4401)),
    }
    let (code, _) = ws.closed(Duration::from_secs(10)).await;
    assert_eq!(code, Some(4401));
    let body = app.gql(Some(&new), me, json!({})).await;
    assert_eq!(body["data"]["me"]["role"], "VIEWER", "{body}");

    // An expired key, a forged one, a non-admin creating one.
    let (short, _) = create_key(
        &app,
        &admin,
        json!({ "name": "short", "role": "EDITOR", "scopes": ["WRITE"],
                "expiresAt": (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339() }),
    )
    .await;
    assert!(app.gql(Some(&short), me, json!({})).await["errors"].is_null());
    app.clock.advance(chrono::Duration::seconds(3601));
    let body = app.gql(Some(&short), me, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let forged = format!("vtk_{}", "A".repeat(43));
    let body = app.gql(Some(&forged), me, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    app.create_member("ed@vitrine.test", vitrine_entity::Role::Editor)
        .await;
    let editor = app.login("ed@vitrine.test", vitrine_tests::PASSWORD).await;
    let body = app
        .gql(
            Some(&editor),
            CREATE,
            json!({ "i": { "name": "mine", "role": "ADMIN", "scopes": ["WRITE"] } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // Bad input is named.
    for input in [
        json!({ "name": "both", "role": "VIEWER", "partnerOrgId": uuid::Uuid::now_v7().to_string(), "scopes": ["READ"] }),
        json!({ "name": "none", "scopes": ["READ"] }),
        json!({ "name": "no scopes", "role": "VIEWER", "scopes": [] }),
    ] {
        let body = app.gql(Some(&admin), CREATE, json!({ "i": input })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    let audit = app
        .count_rows("audit_events WHERE action IN ('API_KEY_CREATED', 'API_KEY_ROTATED')")
        .await;
    assert_eq!(audit, 3);
    app.finish().await;
}

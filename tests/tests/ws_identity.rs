//! A WebSocket speaks for a session, not for the identity it had when it was
//! opened: every operation sent over it re-reads the session, user, role and
//! organisation as an HTTP request would, and a socket whose session ends is
//! closed with 4401.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{
    PASSWORD, TestApp, UploadFile, WsClient, WsEvent, error_code, spawn_app, spawn_with,
};

const SESSION_ENDED: u16 = 4401;

const CREATE_ADMIN: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }";

async fn open(app: &TestApp, token: &str) -> WsClient {
    let mut ws = app.ws_connect(json!({ "token": token })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let body = app.gql(Some(token), "{ me { id } }", Value::Null).await;
    body["data"]["me"]["id"].as_str().unwrap().to_owned()
}

async fn users_named(app: &TestApp, email: &str) -> i64 {
    app.count_rows(&format!("users WHERE email = '{email}'"))
        .await
}

/// Sends a mutation creating an admin over the socket.
async fn try_escalate(ws: &mut WsClient) -> WsEvent {
    ws.operation(
        "escalate",
        CREATE_ADMIN,
        json!({ "i": {
            "email": "mallory@example.com", "displayName": "Mallory",
            "password": PASSWORD, "role": "ADMIN",
        } }),
    )
    .await
}

/// The socket refused the operation: an UNAUTHENTICATED error, or a 4401
/// close that beat it (both end with the socket closed with 4401).
async fn assert_refused_and_closed(ws: &mut WsClient, outcome: WsEvent) {
    match outcome {
        WsEvent::Message(payload) => {
            assert_eq!(error_code(&payload), Some("UNAUTHENTICATED"), "{payload}");
            assert!(
                payload["data"].is_null(),
                "the operation ran anyway: {payload}"
            );
            let (code, reason) = ws.closed(Duration::from_secs(10)).await;
            assert_eq!(code, Some(SESSION_ENDED), "{reason}");
        }
        WsEvent::Closed(code, reason) => assert_eq!(code, Some(SESSION_ENDED), "{reason}"),
    }
}

#[tokio::test]
async fn a_revoked_and_disabled_admin_cannot_mutate_over_an_open_socket() {
    let app = spawn_app().await;
    let first = app.admin_token().await;
    app.create_member("second@example.com", Role::Admin).await;
    let second = app.login("second@example.com", PASSWORD).await;
    let second_id = user_id(&app, &second).await;
    let mut ws = open(&app, &second).await;
    // The socket works while the session does.
    match ws
        .operation("me", "{ me { email role } }", Value::Null)
        .await
    {
        WsEvent::Message(p) => assert_eq!(p["data"]["me"]["role"], "ADMIN", "{p}"),
        other => panic!("{other:?}"),
    }

    let body = app
        .gql(
            Some(&first),
            "mutation($u: ID!) { revokeSessions(userId: $u) }",
            json!({ "u": second_id }),
        )
        .await;
    assert_eq!(body["data"]["revokeSessions"], 1, "{body}");
    let body = app
        .gql(
            Some(&first),
            "mutation($u: ID!) { disableUser(id: $u) { id } }",
            json!({ "u": second_id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let outcome = try_escalate(&mut ws).await;
    assert_refused_and_closed(&mut ws, outcome).await;
    assert_eq!(users_named(&app, "mallory@example.com").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn each_operation_rereads_the_session_even_when_no_event_says_so() {
    // Revoked behind the server's back (another deployment without a shared
    // event bus, an operator's SQL): the next operation still sees it.
    let app = spawn_with(|env| {
        env.insert("VITRINE_WS_SESSION_CHECK_INTERVAL".into(), "1h".into());
    })
    .await;
    let _first = app.admin_token().await;
    app.create_member("second@example.com", Role::Admin).await;
    let second = app.login("second@example.com", PASSWORD).await;
    let mut ws = open(&app, &second).await;
    app.db()
        .execute_unprepared("UPDATE sessions SET revoked_at = created_at")
        .await
        .unwrap();
    let outcome = try_escalate(&mut ws).await;
    assert_refused_and_closed(&mut ws, outcome).await;
    assert_eq!(users_named(&app, "mallory@example.com").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_demoted_editor_cannot_edit_over_an_open_socket() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let asset = app
        .upload_asset(&admin, &UploadFile::fixture("garden.jpg"), json!({}))
        .await;
    let asset_id = asset["id"].as_str().unwrap().to_owned();
    let editor_id = app.create_member("ed@example.com", Role::Editor).await;
    let editor = app.login("ed@example.com", PASSWORD).await;
    let mut ws = open(&app, &editor).await;
    let rename =
        "mutation($id: ID!, $t: String!) { updateAsset(id: $id, input: { title: $t }) { title } }";
    match ws
        .operation("r1", rename, json!({ "id": asset_id, "t": "Before" }))
        .await
    {
        WsEvent::Message(p) => assert_eq!(p["data"]["updateAsset"]["title"], "Before", "{p}"),
        other => panic!("{other:?}"),
    }

    let body = app
        .gql(
            Some(&admin),
            "mutation($u: ID!) { updateUser(id: $u, input: { role: VIEWER }) { role } }",
            json!({ "u": editor_id.to_string() }),
        )
        .await;
    assert_eq!(body["data"]["updateUser"]["role"], "VIEWER", "{body}");

    match ws
        .operation("r2", rename, json!({ "id": asset_id, "t": "After" }))
        .await
    {
        WsEvent::Message(p) => assert_eq!(error_code(&p), Some("FORBIDDEN"), "{p}"),
        other => panic!("{other:?}"),
    }
    // The session itself still holds: the socket stays open, as a viewer.
    match ws.operation("me", "{ me { role } }", Value::Null).await {
        WsEvent::Message(p) => assert_eq!(p["data"]["me"]["role"], "VIEWER", "{p}"),
        other => panic!("{other:?}"),
    }
    let body = app
        .gql(
            Some(&admin),
            "query($id: ID!) { asset(id: $id) { title } }",
            json!({ "id": asset_id }),
        )
        .await;
    assert_eq!(body["data"]["asset"]["title"], "Before");
    app.finish().await;
}

#[tokio::test]
async fn a_partner_removed_from_the_allowlist_is_cut_off_an_open_socket() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let partner = app
        .create_partner(&admin, "Distributor", "buyer@distributor.example")
        .await;
    let mut ws = open(&app, &partner.token).await;
    let list = "{ assets(first: 5) { totalCount } }";
    match ws.operation("l1", list, Value::Null).await {
        WsEvent::Message(p) => assert!(p["errors"].is_null(), "{p}"),
        other => panic!("{other:?}"),
    }
    let body = app
        .gql(
            Some(&admin),
            "mutation($o: ID!) { setPartnerAllowlisted(id: $o, allowlisted: false) { id } }",
            json!({ "o": partner.org_id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // Closed without waiting for the partner to send anything.
    let (code, reason) = ws.closed(Duration::from_secs(10)).await;
    assert_eq!(code, Some(SESSION_ENDED), "{reason}");
    assert!(reason.contains("allowlist"), "{reason}");

    // A new socket with the same token is refused at once.
    let mut again = app.ws_connect(json!({ "token": partner.token })).await;
    match again.next(Duration::from_secs(10)).await {
        WsEvent::Closed(code, _) => assert_eq!(code, Some(4403)),
        WsEvent::Message(m) => panic!("admitted again: {m}"),
    }
    app.finish().await;
}

#[tokio::test]
async fn an_expired_session_closes_its_socket_at_the_next_operation_or_check() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_WS_SESSION_CHECK_INTERVAL".into(), "1s".into());
    })
    .await;
    let admin = app.admin_token().await;
    app.create_member("viewer@example.com", Role::Viewer).await;
    let viewer = app.login("viewer@example.com", PASSWORD).await;
    let mut idle = open(&app, &admin).await;
    let mut busy = open(&app, &viewer).await;
    app.clock.advance(chrono::Duration::hours(13));
    let outcome = busy.operation("me", "{ me { email } }", Value::Null).await;
    assert_refused_and_closed(&mut busy, outcome).await;
    // Nothing sent: the periodic check closes it.
    let (code, reason) = idle.closed(Duration::from_secs(10)).await;
    assert_eq!(code, Some(SESSION_ENDED), "{reason}");
    assert!(reason.contains("expired"), "{reason}");
    app.finish().await;
}

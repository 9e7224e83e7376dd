//! `auditFeed` over graphql-transport-ws.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, WsEvent, spawn_app};

const FEED: &str = "subscription { auditFeed { seq action actorKind targetType } }";

#[tokio::test]
async fn audit_feed_delivers_committed_events_to_admins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut ws = app
        .ws_connect(json!({ "authorization": format!("Bearer {admin}") }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("feed", FEED).await;
    // Give the subscription a moment to be registered before acting.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = app
        .gql(
            Some(&admin),
            "mutation { createPartnerOrg(input: { name: \"Live Org\" }) { id } }",
            Value::Null,
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let next = ws.message().await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["id"], "feed");
    let event = &next["payload"]["data"]["auditFeed"];
    assert_eq!(event["action"], "PARTNER_ORG_CREATED");
    assert_eq!(event["actorKind"], "MEMBER");
    assert_eq!(event["targetType"], "partner_org");

    // A failed login of someone else shows up too.
    app.gql(
        None,
        "mutation { login(email: \"intruder@example.com\", password: \"letmein letmein\") { token } }",
        Value::Null,
    )
    .await;
    let next = ws.message().await;
    assert_eq!(
        next["payload"]["data"]["auditFeed"]["action"],
        "LOGIN_FAILED"
    );
    app.finish().await;
}

#[tokio::test]
async fn connections_without_a_valid_token_are_closed_with_4403() {
    let app = spawn_app().await;
    for payload in [
        json!({}),
        json!({ "authorization": "Bearer vts_forged-token-forged-token-forged-token-00" }),
        json!({ "token": "" }),
    ] {
        let mut ws = app.ws_connect(payload.clone()).await;
        match ws.next(Duration::from_secs(10)).await {
            WsEvent::Closed(code, _) => assert_eq!(code, Some(4403), "{payload}"),
            WsEvent::Message(m) => panic!("expected a close for {payload}, got {m}"),
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn non_admins_cannot_follow_the_audit_feed() {
    let app = spawn_app().await;
    app.create_member("editor@example.com", Role::Editor).await;
    let token = app.login("editor@example.com", PASSWORD).await;
    let mut ws = app.ws_connect(json!({ "token": token })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("feed", FEED).await;
    let next = ws.message().await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    assert_eq!(ws.message().await["type"], "complete");
    app.finish().await;
}

#[tokio::test]
async fn a_revoked_subscriber_stops_receiving_events() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_member("second@example.com", Role::Admin).await;
    let watcher = app.login("second@example.com", PASSWORD).await;
    let mut ws = app.ws_connect(json!({ "token": watcher })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("feed", FEED).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The watcher signs out elsewhere: nothing more is delivered to it, and
    // its socket is closed (4401) without waiting for another event.
    app.gql(Some(&watcher), "mutation { logout }", Value::Null)
        .await;
    app.gql(
        Some(&admin),
        "mutation { createPartnerOrg(input: { name: \"Secret Org\" }) { id } }",
        Value::Null,
    )
    .await;
    loop {
        match ws.next(Duration::from_secs(10)).await {
            WsEvent::Message(m) => {
                let event = &m["payload"]["data"]["auditFeed"];
                assert!(event.is_null(), "delivered after the sign-out: {m}");
                if m["type"] == "next" {
                    assert_eq!(
                        m["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                        "{m}"
                    );
                }
            }
            WsEvent::Closed(code, reason) => {
                assert_eq!(code, Some(4401), "{reason}");
                break;
            }
        }
    }
    app.finish().await;
}

/// Several API processes behind a load balancer: an event committed through
/// one reaches a subscriber connected to another, through Redis pub/sub. The
/// embedded mode is one process by design, so this runs only with Redis.
#[tokio::test]
async fn with_redis_events_reach_subscribers_on_every_api_process() {
    if !vitrine_tests::uses_redis() {
        eprintln!(
            "skipped: needs VITRINE_TEST_REDIS_URL (runs in the PostgreSQL + Redis pass of CI)"
        );
        return;
    }
    let a = spawn_app().await;
    let b = vitrine_tests::spawn_peer(&a).await;
    let admin = a.admin_token().await;
    let mut ws = b
        .ws_connect(json!({ "authorization": format!("Bearer {admin}") }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("feed", FEED).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.gql(
        Some(&admin),
        "mutation { createPartnerOrg(input: { name: \"Via A\" }) { id } }",
        Value::Null,
    )
    .await;
    let next = ws.message().await;
    assert_eq!(
        next["payload"]["data"]["auditFeed"]["action"], "PARTNER_ORG_CREATED",
        "{next}"
    );
    b.finish().await;
    a.finish().await;
}

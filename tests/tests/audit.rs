//! The audit spine: events for every action, a hash chain that concurrent
//! writers never fork, and tamper detection that names the edited event.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use vitrine_tests::vitrine_api::cli::{format_report, verify_audit};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{PASSWORD, error_code, spawn_app};

const EVENTS: &str = "query($f: AuditEventFilter, $after: String, $first: Int) { auditEvents(filter: $f, after: $after, first: $first) { edges { cursor node { seq occurredAt actorKind actorId action targetType targetId ip userAgent details prevHash hash } } pageInfo { hasNextPage endCursor } } }";
const VERIFY: &str = "{ verifyAuditChain { ok checked firstBadSeq } }";

fn nodes(body: &Value) -> Vec<Value> {
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn actions_are_recorded_with_actor_target_and_request_origin() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me = app.gql(Some(&admin), "{ me { id } }", Value::Null).await;
    let admin_id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
    app.gql(None, "mutation { login(email: \"admin@vitrine.test\", password: \"wrong wrong wrong\") { token } }", Value::Null)
        .await;
    let body = app
        .gql(
            Some(&admin),
            "mutation { createPartnerOrg(input: { name: \"Agency\" }) { id } }",
            Value::Null,
        )
        .await;
    let org_id = body["data"]["createPartnerOrg"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = nodes(&app.gql(Some(&admin), EVENTS, json!({})).await);
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        [
            "PARTNER_ORG_CREATED",
            "LOGIN_FAILED",
            "LOGIN_SUCCEEDED",
            "USER_CREATED"
        ]
    );
    let created = &events[0];
    assert_eq!(created["actorKind"], "MEMBER");
    assert_eq!(created["actorId"], admin_id.as_str());
    assert_eq!(created["targetType"], "partner_org");
    assert_eq!(created["targetId"], org_id.as_str());
    assert_eq!(created["ip"], "127.0.0.1");
    assert_eq!(created["details"]["name"], "Agency");
    let failed = &events[1];
    assert_eq!(failed["actorKind"], "VISITOR");
    assert_eq!(failed["actorId"], Value::Null);
    assert_eq!(failed["details"]["reason"], "wrong password");
    assert_eq!(failed["targetId"], admin_id.as_str());
    // The first event was made by the command line, as the system.
    assert_eq!(events[3]["actorKind"], "SYSTEM");
    // Linked: each event's prevHash is the hash of the one before.
    for pair in events.windows(2) {
        assert_eq!(pair[0]["prevHash"], pair[1]["hash"]);
        assert_eq!(
            pair[0]["seq"].as_i64().unwrap(),
            pair[1]["seq"].as_i64().unwrap() + 1
        );
    }
    assert_eq!(events[3]["prevHash"], "0".repeat(64));

    let filtered = nodes(
        &app.gql(
            Some(&admin),
            EVENTS,
            json!({ "f": { "action": "LOGIN_FAILED" } }),
        )
        .await,
    );
    assert_eq!(filtered.len(), 1);
    let by_actor = nodes(
        &app.gql(
            Some(&admin),
            EVENTS,
            json!({ "f": { "actorId": admin_id } }),
        )
        .await,
    );
    assert_eq!(by_actor.len(), 2, "login succeeded and org created");
    let future = (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = nodes(
        &app.gql(Some(&admin), EVENTS, json!({ "f": { "from": future } }))
            .await,
    );
    assert!(none.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn audit_events_page_by_cursor() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.create_member(&format!("u{i}@example.com"), Role::Viewer)
            .await;
    }
    // 1 admin created + 1 login + 5 created = 7 events.
    let first = app.gql(Some(&admin), EVENTS, json!({ "first": 4 })).await;
    let page = nodes(&first);
    assert_eq!(page.len(), 4);
    assert_eq!(page[0]["seq"], 7);
    let cursor = first["data"]["auditEvents"]["pageInfo"]["endCursor"].clone();
    assert_eq!(
        first["data"]["auditEvents"]["pageInfo"]["hasNextPage"],
        true
    );
    let second = app
        .gql(Some(&admin), EVENTS, json!({ "first": 4, "after": cursor }))
        .await;
    let seqs: Vec<i64> = nodes(&second)
        .iter()
        .map(|n| n["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert_eq!(
        second["data"]["auditEvents"]["pageInfo"]["hasNextPage"],
        false
    );
    app.finish().await;
}

#[tokio::test]
async fn concurrent_writers_never_fork_the_chain() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = format!("{}/graphql", app.base);
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            let query = if i % 3 == 0 {
                json!({ "query": format!("mutation {{ login(email: \"nobody{i}@example.com\", password: \"not it at all\") {{ token }} }}") })
            } else {
                json!({ "query": format!("mutation {{ createPartnerOrg(input: {{ name: \"Org {i}\" }}) {{ id }} }}") })
            };
            let body: Value = client
                .post(url)
                .bearer_auth(admin)
                .json(&query)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }));
    }
    for task in tasks {
        let body = task.await.unwrap();
        let code = error_code(&body);
        assert!(
            code.is_none() || code == Some("UNAUTHENTICATED") || code == Some("TOO_MANY_REQUESTS"),
            "{body}"
        );
    }
    let report = app.gql(Some(&admin), VERIFY, Value::Null).await;
    let report = &report["data"]["verifyAuditChain"];
    assert_eq!(report["ok"], true, "{report}");
    // user created + login + 16 orgs + 8 login attempts (failed or throttled).
    assert_eq!(report["checked"], 26);
    assert_eq!(report["firstBadSeq"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn tampering_is_detected_and_named_by_sequence_number() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..3 {
        app.create_member(&format!("u{i}@example.com"), Role::Viewer)
            .await;
    }
    let ok = app.gql(Some(&admin), VERIFY, Value::Null).await;
    assert_eq!(ok["data"]["verifyAuditChain"]["ok"], true);
    assert_eq!(ok["data"]["verifyAuditChain"]["checked"], 5);
    let report = verify_audit(&app.config).await.unwrap();
    assert!(report.ok);
    assert!(format_report(&report).contains("OK"));

    // An insider edits event 3 directly in the database.
    app.db()
        .execute_unprepared(
            "UPDATE audit_events SET details = '{\"email\":\"someone-else@example.com\"}' WHERE seq = 3",
        )
        .await
        .unwrap();
    let broken = app.gql(Some(&admin), VERIFY, Value::Null).await;
    let broken = &broken["data"]["verifyAuditChain"];
    assert_eq!(broken["ok"], false, "{broken}");
    assert_eq!(broken["firstBadSeq"], 3);
    let report = verify_audit(&app.config).await.unwrap();
    assert_eq!(report.first_bad_seq, Some(3));
    assert_eq!(
        format_report(&report),
        "audit chain BROKEN at seq 3 (3 events checked)"
    );
    app.finish().await;
}

#[tokio::test]
async fn deleting_an_event_is_detected() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..3 {
        app.create_member(&format!("u{i}@example.com"), Role::Viewer)
            .await;
    }
    app.db()
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 4")
        .await
        .unwrap();
    let broken = app.gql(Some(&admin), VERIFY, Value::Null).await;
    assert_eq!(broken["data"]["verifyAuditChain"]["firstBadSeq"], 4);
    app.finish().await;
}

#[tokio::test]
async fn only_admins_read_or_verify_the_audit_log() {
    let app = spawn_app().await;
    app.create_member("manager@example.com", Role::Manager)
        .await;
    let token = app.login("manager@example.com", PASSWORD).await;
    let body = app.gql(Some(&token), VERIFY, Value::Null).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = app.gql(None, VERIFY, Value::Null).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    app.finish().await;
}

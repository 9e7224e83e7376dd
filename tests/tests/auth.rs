//! Sign-in, tokens and throttling, from the attacker's side as well.

use chrono::Duration;
use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{PASSWORD, error_code, spawn_app, spawn_with};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token expiresAt user { id email kind role } } }";
const ME: &str = "{ me { id email role kind } }";

#[tokio::test]
async fn login_returns_an_opaque_expiring_token_that_opens_me() {
    let app = spawn_app().await;
    app.create_member("Ada@Example.com", Role::Editor).await;
    // Emails are case-insensitive.
    let body = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "ADA@example.COM", "p": PASSWORD }),
        )
        .await;
    let login = &body["data"]["login"];
    let token = login["token"].as_str().expect("a token");
    assert!(token.starts_with("vts_") && token.len() >= 40, "{token}");
    assert_eq!(login["user"]["email"], "ada@example.com");
    assert_eq!(login["user"]["role"], "EDITOR");
    assert_eq!(login["user"]["kind"], "MEMBER");
    let expires: chrono::DateTime<chrono::Utc> =
        login["expiresAt"].as_str().unwrap().parse().unwrap();
    let ttl = expires - app.clock.now();
    assert_eq!(ttl, Duration::hours(12));

    let me = app.gql(Some(token), ME, Value::Null).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");

    // The token is stored only as a hash.
    use sea_orm::EntityTrait;
    let stored = vitrine_tests::vitrine_entity::entities::session::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, token);
    assert!(!stored[0].token_hash.contains(&token[4..]));
    app.finish().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.create_member("ada@example.com", Role::Viewer).await;
    let wrong = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": "not the password" }),
        )
        .await;
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "nobody@example.com", "p": "not the password" }),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(wrong["data"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn sixth_rapid_failure_is_throttled_until_the_window_ends() {
    let app = spawn_app().await;
    app.create_member("ada@example.com", Role::Viewer).await;
    for attempt in 1..=5 {
        let body = app
            .gql(
                None,
                LOGIN,
                json!({ "e": "ada@example.com", "p": format!("guess number {attempt}") }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "attempt {attempt}"
        );
    }
    let response = app
        .gql_response(
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": "guess number 6" }),
        )
        .await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("TOO_MANY_REQUESTS"));
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Even the right password is refused while throttled: no oracle.
    let body = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&body), Some("TOO_MANY_REQUESTS"));

    app.clock.advance(Duration::minutes(16));
    let body = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": PASSWORD }),
        )
        .await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn failures_across_many_emails_are_throttled_per_ip() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_LOGIN_MAX_FAILURES_PER_IP".into(), "8".into());
    })
    .await;
    for i in 0..8 {
        let body = app
            .gql(
                None,
                LOGIN,
                json!({ "e": format!("user{i}@example.com"), "p": "whatever it is" }),
            )
            .await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    }
    let body = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "fresh@example.com", "p": "whatever it is" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("TOO_MANY_REQUESTS"));
    app.finish().await;
}

#[tokio::test]
async fn logout_revokes_the_token_at_once() {
    let app = spawn_app().await;
    app.create_member("ada@example.com", Role::Viewer).await;
    let token = app.login("ada@example.com", PASSWORD).await;
    let other = app.login("ada@example.com", PASSWORD).await;
    let body = app
        .gql(Some(&token), "mutation { logout }", Value::Null)
        .await;
    assert_eq!(body["data"]["logout"], true);
    let me = app.gql(Some(&token), ME, Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    assert_eq!(me["errors"][0]["message"], "token revoked");
    // Only that session ended.
    let me = app.gql(Some(&other), ME, Value::Null).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    app.finish().await;
}

#[tokio::test]
async fn tokens_expire_with_the_clock() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_SESSION_TTL".into(), "1h".into());
    })
    .await;
    app.create_member("ada@example.com", Role::Viewer).await;
    let token = app.login("ada@example.com", PASSWORD).await;
    app.clock.advance(Duration::minutes(59));
    let me = app.gql(Some(&token), ME, Value::Null).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    app.clock.advance(Duration::minutes(1));
    let me = app.gql(Some(&token), ME, Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    assert_eq!(me["errors"][0]["message"], "token expired");
    app.finish().await;
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    app.create_member("ada@example.com", Role::Admin).await;
    let real = app.login("ada@example.com", PASSWORD).await;
    let mut forged = real.clone();
    forged.pop();
    forged.push(if real.ends_with('A') { 'B' } else { 'A' });
    for token in [
        forged.as_str(),
        "vts_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "' OR 1=1 --",
    ] {
        let me = app.gql(Some(token), ME, Value::Null).await;
        assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{token}");
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("authorization", format!("Basic {real}"))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    app.finish().await;
}

#[tokio::test]
async fn disabling_a_user_stops_its_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_member("ada@example.com", Role::Editor).await;
    let token = app.login("ada@example.com", PASSWORD).await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { disableUser(id: $id) { disabled } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["disableUser"]["disabled"], true, "{body}");
    let me = app.gql(Some(&token), ME, Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    // And it cannot sign in again, with the same error as a wrong password.
    let body = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(body["errors"][0]["message"], "invalid email or password");

    // Re-enabling does not bring the old sessions back.
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { enableUser(id: $id) { disabled } }",
        json!({ "id": id }),
    )
    .await;
    let me = app.gql(Some(&token), ME, Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    app.login("ada@example.com", PASSWORD).await;
    app.finish().await;
}

#[tokio::test]
async fn admins_can_revoke_a_users_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_member("ada@example.com", Role::Editor).await;
    let a = app.login("ada@example.com", PASSWORD).await;
    let b = app.login("ada@example.com", PASSWORD).await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeSessions(userId: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["revokeSessions"], 2);
    for token in [a, b] {
        let me = app.gql(Some(&token), ME, Value::Null).await;
        assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    }
    app.finish().await;
}

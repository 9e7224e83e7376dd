//! Throttling from the attacker's side: parallel guesses never get more
//! than the limit checked, a flood of sign-ins neither exhausts memory nor
//! locks the owner out, and one guesser locks out only itself.

use serde_json::{Value, json};
use vitrine_tests::share::{link_url, published, visitor};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{
    PASSWORD, TestApp, error_code, peak_rss_bytes, reset_peak_rss, rss_bytes, spawn_with,
};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";

/// A sign-in from `ip` (the server trusts `X-Forwarded-For` in these tests).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Value {
    post_login(
        app.client.clone(),
        app.base.clone(),
        ip.to_owned(),
        email.to_owned(),
        password.to_owned(),
    )
    .await
}

async fn post_login(
    client: reqwest::Client,
    base: String,
    ip: String,
    email: String,
    password: String,
) -> Value {
    client
        .post(format!("{base}/graphql"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "query": LOGIN, "variables": { "e": email, "p": password } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sign-ins at once: each `(ip, email, password)` in its own task; the
/// error code each got.
async fn logins_at_once(
    app: &TestApp,
    attempts: Vec<(String, String, String)>,
) -> Vec<Option<String>> {
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(ip, email, password)| {
            let (client, base) = (app.client.clone(), app.base.clone());
            tokio::spawn(async move {
                let body = post_login(client, base, ip, email, password).await;
                error_code(&body).map(str::to_owned)
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes
}

async fn count(app: &TestApp, action: &str) -> i64 {
    app.count_rows(&format!("audit_events WHERE action = '{action}'"))
        .await
}

fn behind_proxy(env: &mut std::collections::HashMap<String, String>) {
    env.insert("VITRINE_TRUST_PROXY_HEADERS".into(), "true".into());
}

#[tokio::test]
async fn sixty_parallel_wrong_passwords_get_at_most_the_limit_checked() {
    let app = spawn_with(behind_proxy).await;
    app.create_member("ada@example.com", Role::Viewer).await;
    let attempts = (0..60)
        .map(|i| {
            (
                "203.0.113.7".to_owned(),
                "ada@example.com".to_owned(),
                format!("guess number {i}"),
            )
        })
        .collect();
    let mut refused = 0;
    let mut throttled = 0;
    for code in logins_at_once(&app, attempts).await {
        match code.as_deref() {
            Some("UNAUTHENTICATED") => refused += 1,
            Some("TOO_MANY_REQUESTS") => throttled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // Five guesses were checked, no more, whatever the interleaving.
    assert_eq!((refused, throttled), (5, 55));
    assert_eq!(count(&app, "LOGIN_FAILED").await, 5);
    app.finish().await;
}

#[tokio::test]
async fn sixty_parallel_link_passwords_get_at_most_the_limit_checked() {
    let app = spawn_with(behind_proxy).await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, _) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "password": "spring collection 27" }),
    )
    .await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                visitor()
                    .post(&url)
                    .header("x-forwarded-for", "203.0.113.8")
                    .form(&[("password", format!("guess number {i}"))])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((wrong, throttled), (5, 55), "{statuses:?}");
    assert_eq!(count(&app, "SHARE_PASSWORD_FAILED").await, 5);
    assert_eq!(count(&app, "SHARE_LOCKED_OUT").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn one_guesser_locks_out_only_itself() {
    let app = spawn_with(behind_proxy).await;
    app.create_member("admin@example.com", Role::Admin).await;
    // The owner signed in from the office before.
    let body = login_from(&app, "198.51.100.20", "admin@example.com", PASSWORD).await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
    for i in 0..10 {
        let body = login_from(
            &app,
            "203.0.113.9",
            "admin@example.com",
            &format!("guess {i}"),
        )
        .await;
        let expected = if i < 5 {
            "UNAUTHENTICATED"
        } else {
            "TOO_MANY_REQUESTS"
        };
        assert_eq!(error_code(&body), Some(expected), "attempt {i}: {body}");
    }
    // The right password from the guesser's IP is refused unchecked...
    let body = login_from(&app, "203.0.113.9", "admin@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), Some("TOO_MANY_REQUESTS"));
    // ...while the owner signs in from the office, and from a new place.
    for ip in ["198.51.100.20", "192.0.2.44"] {
        let body = login_from(&app, ip, "admin@example.com", PASSWORD).await;
        assert!(body["data"]["login"]["token"].is_string(), "{ip}: {body}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_flood_of_sign_ins_stays_in_bounded_memory_and_the_owner_gets_in() {
    let app = spawn_with(|env| {
        behind_proxy(env);
        env.insert("VITRINE_PASSWORD_CONCURRENCY".into(), "2".into());
    })
    .await;
    app.create_member("admin@example.com", Role::Admin).await;
    let body = login_from(&app, "198.51.100.20", "admin@example.com", PASSWORD).await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");

    let before = rss_bytes();
    reset_peak_rss();
    // 200 sign-ins at once from 200 addresses: half at the admin, half at
    // accounts that do not exist.
    let attempts = (0..200)
        .map(|i| {
            let email = if i % 2 == 0 {
                "admin@example.com".to_owned()
            } else {
                format!("nobody{i}@example.com")
            };
            (
                format!("10.0.{}.{}", i / 200, i % 200 + 1),
                email,
                "not the password".to_owned(),
            )
        })
        .collect();
    for code in logins_at_once(&app, attempts).await {
        assert!(
            matches!(
                code.as_deref(),
                Some("UNAUTHENTICATED" | "TOO_MANY_REQUESTS")
            ),
            "{code:?}"
        );
    }
    let grew = peak_rss_bytes().saturating_sub(before);
    eprintln!("200 parallel sign-ins: peak RSS +{} MiB", grew >> 20);
    // Two argon2 checks at a time (19 MiB each), not two hundred.
    assert!(grew < 64 << 20, "the peak grew by {} MiB", grew >> 20);
    // The distributed guesser got at most 50 guesses at the admin checked...
    let failed_admin = app
        .count_rows(
            "audit_events WHERE action = 'LOGIN_FAILED' AND details LIKE '%admin@example.com%'",
        )
        .await;
    assert!(failed_admin <= 50, "{failed_admin}");
    // ...and the owner signs in from where it did before.
    let body = login_from(&app, "198.51.100.20", "admin@example.com", PASSWORD).await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
    app.finish().await;
}

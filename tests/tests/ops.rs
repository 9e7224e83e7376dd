//! Operations: probes, the committed schema, shutdown.

use serde_json::Value;
use vitrine_tests::{spawn_app, vitrine_api};

#[tokio::test]
async fn health_and_readiness_probes() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["queue"], "ok");
    assert_eq!(body["events"], "ok");
    app.finish().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db().clone().close().await.unwrap();
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    app.finish().await;
}

#[test]
fn committed_schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = vitrine_api::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run --bin vitrine -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn stop_shuts_the_server_down() {
    let app = spawn_app().await;
    let base = app.base.clone();
    let client = app.client.clone();
    app.finish().await;
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}

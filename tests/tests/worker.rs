//! The worker side: a real worker takes a job from the real queue (the
//! embedded SQLite queue, or Redis), does its work, and the event it raises
//! reaches a subscriber of the API.

use std::time::Duration;

use chrono::Duration as Span;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::vitrine_entity::entities::session;
use vitrine_tests::{PASSWORD, eventually, spawn_app, uses_redis, vitrine_api};

#[tokio::test]
async fn purge_job_removes_long_expired_sessions_and_its_event_reaches_subscribers() {
    let app = spawn_app().await;
    // A session that ended (12 h after sign-in) more than 7 days ago...
    app.create_member("ada@example.com", Role::Viewer).await;
    app.login("ada@example.com", PASSWORD).await;
    app.clock.advance(Span::days(7) + Span::hours(13));
    // ...and a live one, whose holder follows the audit feed.
    let admin = app.admin_token().await;
    let mut ws = app
        .ws_connect(json!({ "authorization": format!("Bearer {admin}") }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe(
        "feed",
        "subscription { auditFeed { action actorKind details } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(session::Entity::find().count(app.db()).await.unwrap(), 2);

    // With Redis the API process runs no workers: start one as `vitrine worker`
    // would, with its own Redis connections (its own event bus).
    let stop = CancellationToken::new();
    if uses_redis() {
        let mut deps = vitrine_api::app::worker_deps(&app.state);
        deps.bus = vitrine_worker::EventBus::redis(
            app.config.redis_url.as_ref().unwrap().expose(),
            &app.config.redis_prefix,
            stop.clone(),
        )
        .await
        .unwrap();
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move { vitrine_worker::run_workers(deps, until).await });
    }
    app.state
        .queue
        .enqueue_purge_expired_sessions(1)
        .await
        .unwrap();
    let db = app.db().clone();
    let purged = eventually(Duration::from_secs(20), || {
        let db = db.clone();
        async move { session::Entity::find().count(&db).await.unwrap() == 1 }
    })
    .await;
    assert!(purged, "the worker did not purge the expired session");

    let next = ws.message().await;
    let event = &next["payload"]["data"]["auditFeed"];
    assert_eq!(event["action"], "SESSIONS_PURGED", "{next}");
    assert_eq!(event["actorKind"], "SYSTEM");
    assert_eq!(event["details"]["sessions"], 1);

    // The same tick again is deduplicated; and nothing else is due anyway.
    app.state
        .queue
        .enqueue_purge_expired_sessions(1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(session::Entity::find().count(app.db()).await.unwrap(), 1);
    stop.cancel();
    app.finish().await;
}

//! The worker side: a real worker takes a job from the real queue (the
//! embedded SQLite queue, or Redis) and does its work.

use std::time::Duration;

use chrono::Duration as Span;
use sea_orm::{EntityTrait, PaginatorTrait};
use tokio_util::sync::CancellationToken;
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::vitrine_entity::entities::session;
use vitrine_tests::{PASSWORD, eventually, spawn_app, uses_redis, vitrine_api};

#[tokio::test]
async fn purge_job_removes_long_expired_sessions_through_the_queue() {
    let app = spawn_app().await;
    app.create_member("ada@example.com", Role::Viewer).await;
    app.login("ada@example.com", PASSWORD).await;
    app.clock.advance(Span::hours(1));
    app.login("ada@example.com", PASSWORD).await;
    assert_eq!(session::Entity::find().count(app.db()).await.unwrap(), 2);

    // With Redis the API process runs no workers: start one, as `vitrine worker` would.
    let stop = CancellationToken::new();
    if uses_redis() {
        let deps = vitrine_api::app::worker_deps(&app.state);
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move { vitrine_worker::run_workers(deps, until).await });
    }
    // Sessions last 12 h and are purged 7 days after they end: move to a point
    // where the first one ended more than 7 days ago and the second not quite.
    app.clock
        .advance(Span::days(7) + Span::hours(11) + Span::minutes(30));
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

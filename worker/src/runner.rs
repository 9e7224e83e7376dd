//! Runs the workers (and the scheduler that feeds periodic jobs) until shutdown.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BackendExt, Monitor, WorkerBuilder};
use apalis_cron::CronScheduler;
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use vitrine_entity::Clock;

use crate::events::EventBus;
use crate::handlers;
use crate::jobs::PurgeExpiredSessions;
use crate::queue::Queue;

/// Tunables of the worker side.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long ended sessions are kept before they are purged.
    pub session_retention: chrono::Duration,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// How long shutdown waits for running jobs before it gives up on them
    /// (they are then picked up again by another worker).
    pub shutdown_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            session_retention: chrono::Duration::days(7),
            poll_interval: Duration::from_millis(250),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// What handlers need. Cloned into every worker.
#[derive(Clone)]
pub struct WorkerDeps {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub queue: Queue,
    /// Where events raised by jobs go (Redis pub/sub reaches every API process).
    pub bus: EventBus,
    pub settings: WorkerSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid schedule {0:?}: {1}")]
    Schedule(&'static str, String),
    #[error("worker monitor failed: {0}")]
    Monitor(String),
}

/// Hourly, at minute 17 (cron with seconds).
const PURGE_SCHEDULE: &str = "0 17 * * * *";

/// A name unique to this process, so a restarted process never collides with
/// the registration its predecessor left behind.
fn worker_name(queue: &str) -> String {
    format!(
        "{queue}-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
}

/// Runs the workers and the scheduler until `shutdown` resolves, then lets
/// running jobs finish (up to the configured timeout).
pub async fn run_workers(
    deps: WorkerDeps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunnerError> {
    let schedule = cron::Schedule::from_str(PURGE_SCHEDULE)
        .map_err(|e| RunnerError::Schedule(PURGE_SCHEDULE, e.to_string()))?;
    let scheduler = tokio::spawn(run_scheduler(deps.queue.clone(), schedule));

    let queue_name = deps.queue.queue_name::<PurgeExpiredSessions>();
    let poll = deps.settings.poll_interval;
    let monitor = Monitor::new().shutdown_timeout(deps.settings.shutdown_timeout);
    let monitor = match deps.queue.clone() {
        Queue::Embedded { pool, .. } => monitor.register(move |_restarts| {
            WorkerBuilder::new(worker_name(&queue_name))
                .backend(
                    Queue::sqlite_storage::<PurgeExpiredSessions>(&pool, &queue_name)
                        .poll_with_interval(poll),
                )
                .data(deps.clone())
                .build(handlers::purge_expired_sessions)
        }),
        Queue::Redis { conn, .. } => monitor.register(move |_restarts| {
            WorkerBuilder::new(worker_name(&queue_name))
                .backend(
                    Queue::redis_storage::<PurgeExpiredSessions>(&conn, &queue_name)
                        .poll_with_interval(poll),
                )
                .data(deps.clone())
                .build(handlers::purge_expired_sessions)
        }),
    };
    tracing::info!("workers started");
    let result = monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await;
    scheduler.abort();
    tracing::info!("workers stopped");
    result.map_err(|e| RunnerError::Monitor(e.to_string()))
}

/// Enqueues periodic jobs at their ticks. Every worker process runs one; the
/// per-tick idempotency key makes the queue keep exactly one job per tick.
async fn run_scheduler(queue: Queue, schedule: cron::Schedule) {
    loop {
        let mut ticks = Box::pin(CronScheduler::new(schedule.clone()).into_stream());
        while let Some(tick) = ticks.next().await {
            match tick {
                Ok(tick) => {
                    if let Err(e) = queue
                        .enqueue_purge_expired_sessions(tick.get_timestamp())
                        .await
                    {
                        tracing::warn!(error = %e, "could not enqueue the session purge");
                    }
                }
                Err(e) => {
                    // A tick missed while the process was stalled: start afresh.
                    tracing::warn!(error = %e, "scheduler tick error; restarting the schedule");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

//! Runs the workers (and the scheduler that feeds periodic jobs) until shutdown.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BackendExt, Monitor, WorkerBuilder};
use apalis_cron::CronScheduler;
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use vitrine_entity::Clock;

use crate::events::EventBus;
use crate::handlers;
use crate::jobs::{
    CollectGarbageBlobs, LicenseTakedown, ProcessVersion, PurgeExpiredSessions,
    ReconcileProcessing, RetagLibrary, RetagRenditions, UsageRollup,
};
use crate::queue::Queue;
use crate::storage::BlobStore;

/// Tunables of the worker side.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long ended sessions are kept before they are purged.
    pub session_retention: chrono::Duration,
    /// Renditions, limits, retries.
    pub processing: crate::processing::ProcessingSettings,
    /// How many versions are processed at once by one worker process.
    pub processing_concurrency: usize,
    /// How long an unreferenced original is kept before the cleanup deletes
    /// it (an upload stores its original before the commit that references it).
    pub blob_grace: chrono::Duration,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// How long shutdown waits for running jobs before it gives up on them
    /// (they are then picked up again by another worker).
    pub shutdown_timeout: Duration,
    /// The license takedown sweep.
    pub takedown: crate::takedown::TakedownSettings,
    /// The usage statistics rollup.
    pub rollup: crate::usage::RollupSettings,
    /// The anomaly watcher.
    pub anomaly: crate::anomaly::AnomalySettings,
    /// Outgoing webhooks.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// CDN purges for public delivery.
    pub purge: crate::purge::PurgeSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            session_retention: chrono::Duration::days(7),
            processing: crate::processing::ProcessingSettings::default(),
            processing_concurrency: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2),
            blob_grace: chrono::Duration::hours(1),
            poll_interval: Duration::from_millis(250),
            shutdown_timeout: Duration::from_secs(30),
            takedown: crate::takedown::TakedownSettings::default(),
            rollup: crate::usage::RollupSettings::default(),
            anomaly: crate::anomaly::AnomalySettings::default(),
            webhooks: crate::webhooks::WebhookSettings::default(),
            purge: crate::purge::PurgeSettings::default(),
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
    pub store: BlobStore,
    pub settings: WorkerSettings,
    /// The memory image work may hold in this process (shared with the API's
    /// upload checks when both run in one process).
    pub budget: crate::budget::MemoryBudget,
    /// This worker process's id (recorded on the versions it processes).
    pub instance: uuid::Uuid,
    /// A directory of this worker's own (see [`crate::instance`]), where a
    /// restarted worker learns what its dead predecessor held.
    pub home: Option<std::path::PathBuf>,
    /// Decides what webhook subscribers may be told (the API's policy).
    pub audience: Option<crate::webhooks::SharedAudience>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid schedule {0:?}: {1}")]
    Schedule(String, String),
    #[error("worker monitor failed: {0}")]
    Monitor(String),
}

/// A periodic job: its cron schedule (with seconds) and how to enqueue a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Periodic {
    /// Hourly, at minute 17.
    PurgeExpiredSessions,
    /// Hourly, at minute 47.
    CollectGarbageBlobs,
    /// Every 10 seconds.
    ReconcileProcessing,
    /// Every minute by default (configurable; can be turned off).
    LicenseTakedown,
    /// Every 10 seconds by default (configurable; can be turned off).
    UsageRollup,
    /// Every second by default (configurable; can be turned off).
    SendWebhooks,
    /// Every second by default when a CDN is configured.
    SendCdnPurges,
}

impl Periodic {
    const ALL: [Periodic; 7] = [
        Periodic::PurgeExpiredSessions,
        Periodic::CollectGarbageBlobs,
        Periodic::ReconcileProcessing,
        Periodic::LicenseTakedown,
        Periodic::UsageRollup,
        Periodic::SendWebhooks,
        Periodic::SendCdnPurges,
    ];

    /// The cron schedule (with seconds); `None`: not scheduled.
    fn schedule(self, settings: &WorkerSettings) -> Option<String> {
        match self {
            Periodic::PurgeExpiredSessions => Some("0 17 * * * *".to_owned()),
            Periodic::CollectGarbageBlobs => Some("0 47 * * * *".to_owned()),
            Periodic::ReconcileProcessing => Some("*/10 * * * * *".to_owned()),
            Periodic::LicenseTakedown => settings.takedown.schedule.clone(),
            Periodic::UsageRollup => settings.rollup.schedule.clone(),
            Periodic::SendWebhooks => settings.webhooks.schedule.clone(),
            // Without a CDN the watermark only needs to keep up now and then.
            Periodic::SendCdnPurges => match settings.purge.backend {
                crate::purge::PurgeBackend::None => Some("0 * * * * *".to_owned()),
                _ => settings.purge.schedule.clone(),
            },
        }
    }

    async fn enqueue(self, queue: &Queue, tick: u64) -> Result<(), crate::QueueError> {
        match self {
            Periodic::PurgeExpiredSessions => queue.enqueue_purge_expired_sessions(tick).await,
            Periodic::CollectGarbageBlobs => queue.enqueue_collect_garbage_blobs(tick).await,
            Periodic::ReconcileProcessing => queue.enqueue_reconcile(tick).await,
            Periodic::LicenseTakedown => queue.enqueue_license_takedown(tick).await,
            Periodic::UsageRollup => queue.enqueue_usage_rollup(tick).await,
            Periodic::SendWebhooks => queue.enqueue_send_webhooks(tick).await,
            Periodic::SendCdnPurges => queue.enqueue_send_cdn_purges(tick).await,
        }
    }
}

/// Checks a cron schedule (six fields, with seconds).
pub fn check_schedule(spec: &str) -> Result<(), String> {
    cron::Schedule::from_str(spec)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A name unique to this process, so a restarted process never collides with
/// the registration its predecessor left behind.
fn worker_name(queue: &str) -> String {
    format!(
        "{queue}-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
}

/// Registers a worker for one job type on whichever queue backend is configured.
macro_rules! register {
    ($monitor:expr, $deps:expr, $job:ty, $handler:path) => {
        register!($monitor, $deps, $job, $handler, 4)
    };
    ($monitor:expr, $deps:expr, $job:ty, $handler:path, $concurrency:expr) => {{
        let concurrency = $concurrency;
        let deps = $deps.clone();
        let queue_name = deps.queue.queue_name::<$job>();
        let poll = deps.settings.poll_interval;
        match deps.queue.clone() {
            Queue::Embedded { pool, .. } => $monitor.register(move |_restarts| {
                WorkerBuilder::new(worker_name(&queue_name))
                    .backend(
                        Queue::sqlite_storage::<$job>(&pool, &queue_name).poll_with_interval(poll),
                    )
                    .data(deps.clone())
                    .concurrency(concurrency)
                    .build($handler)
            }),
            Queue::Redis { conn, .. } => $monitor.register(move |_restarts| {
                WorkerBuilder::new(worker_name(&queue_name))
                    .backend(
                        Queue::redis_storage::<$job>(&conn, &queue_name).poll_with_interval(poll),
                    )
                    .data(deps.clone())
                    .concurrency(concurrency)
                    .build($handler)
            }),
        }
    }};
}

/// Runs the workers and the scheduler until `shutdown` resolves, then lets
/// running jobs finish (up to the configured timeout).
pub async fn run_workers(
    deps: WorkerDeps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunnerError> {
    let mut schedulers = Vec::new();
    for periodic in Periodic::ALL {
        let Some(spec) = periodic.schedule(&deps.settings) else {
            continue;
        };
        let schedule = cron::Schedule::from_str(&spec)
            .map_err(|e| RunnerError::Schedule(spec.clone(), e.to_string()))?;
        schedulers.push(tokio::spawn(run_scheduler(
            deps.queue.clone(),
            periodic,
            schedule,
        )));
    }

    // A worker that starts after a crash recovers the work the crash lost at
    // once, rather than when its leases run out: what its dead predecessor
    // (in the same worker directory) held, then anything lost otherwise.
    let tenure = deps
        .home
        .as_deref()
        .and_then(|home| crate::instance::take_over(home, deps.instance));
    if let Some(predecessor) = tenure.as_ref().and_then(|t| t.predecessor) {
        match crate::processing::reclaim(&deps, &predecessor.to_string()).await {
            Ok(n) if n > 0 => {
                tracing::info!(n, %predecessor, "reclaimed versions a dead worker held")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not reclaim a dead worker's versions"),
        }
    }
    let startup = deps.clone();
    schedulers.push(tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(e) = crate::processing::reconcile(&startup).await {
            tracing::warn!(error = %e, "start-up reconciliation failed");
        }
    }));

    schedulers.push(tokio::spawn(crate::anomaly::watch(deps.clone())));

    let monitor = Monitor::new().shutdown_timeout(deps.settings.shutdown_timeout);
    let monitor = register!(
        monitor,
        deps,
        PurgeExpiredSessions,
        handlers::purge_expired_sessions
    );
    let monitor = register!(
        monitor,
        deps,
        CollectGarbageBlobs,
        handlers::collect_garbage_blobs
    );
    let monitor = register!(
        monitor,
        deps,
        ProcessVersion,
        handlers::process_version,
        deps.settings.processing_concurrency.max(1)
    );
    let monitor = register!(
        monitor,
        deps,
        RetagRenditions,
        handlers::retag_renditions,
        1
    );
    let monitor = register!(monitor, deps, RetagLibrary, handlers::retag_library, 1);
    let monitor = register!(
        monitor,
        deps,
        ReconcileProcessing,
        handlers::reconcile_processing,
        1
    );
    let monitor = register!(
        monitor,
        deps,
        LicenseTakedown,
        handlers::license_takedown,
        1
    );
    let monitor = register!(monitor, deps, UsageRollup, handlers::usage_rollup, 1);
    let monitor = register!(
        monitor,
        deps,
        crate::jobs::SendWebhooks,
        handlers::send_webhooks,
        1
    );
    let monitor = register!(
        monitor,
        deps,
        crate::jobs::SendCdnPurges,
        handlers::send_cdn_purges,
        1
    );
    tracing::info!("workers started");
    let result = monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await;
    for scheduler in schedulers {
        scheduler.abort();
    }
    drop(tenure);
    tracing::info!("workers stopped");
    result.map_err(|e| RunnerError::Monitor(e.to_string()))
}

/// Enqueues a periodic job at its ticks. Every worker process runs one; the
/// per-tick idempotency key makes the queue keep exactly one job per tick.
async fn run_scheduler(queue: Queue, periodic: Periodic, schedule: cron::Schedule) {
    loop {
        let mut ticks = Box::pin(CronScheduler::new(schedule.clone()).into_stream());
        while let Some(tick) = ticks.next().await {
            match tick {
                Ok(tick) => {
                    if let Err(e) = periodic.enqueue(&queue, tick.get_timestamp()).await {
                        tracing::warn!(job = ?periodic, error = %e, "could not enqueue a periodic job");
                    }
                }
                Err(e) => {
                    // A tick missed while the process was stalled: start afresh.
                    tracing::warn!(job = ?periodic, error = %e, "scheduler tick error; restarting the schedule");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

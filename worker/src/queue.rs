//! The job queue: the embedded apalis SQLite storage (its own database file,
//! so the queue's relaxed durability settings never touch our data) or Redis.

use std::path::Path;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};

use crate::jobs::{
    CollectGarbageBlobs, Job, LicenseTakedown, ProcessVersion, PurgeExpiredSessions,
    ReconcileProcessing, RetagLibrary, RetagRenditions, UsageRollup,
};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot open the embedded job queue: {0}")]
    Embedded(String),
    #[error("cannot reach Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot enqueue a {queue} job: {message}")]
    Push {
        queue: &'static str,
        message: String,
    },
}

/// A connected job queue. Cloning is cheap (pools and managers are shared).
#[derive(Clone)]
pub enum Queue {
    Embedded {
        pool: SqlitePool,
        prefix: String,
    },
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Embedded { prefix, .. } => write!(f, "Queue::Embedded({prefix})"),
            Queue::Redis { prefix, .. } => write!(f, "Queue::Redis({prefix})"),
        }
    }
}

impl Queue {
    /// Opens (creating if needed) the embedded queue database at `path`.
    pub async fn open_embedded(path: &Path, prefix: &str) -> Result<Self, QueueError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| QueueError::Embedded(e.to_string()))?;
        SqliteStorage::<()>::setup(&pool)
            .await
            .map_err(|e| QueueError::Embedded(e.to_string()))?;
        Ok(Queue::Embedded {
            pool,
            prefix: prefix.to_owned(),
        })
    }

    /// The embedded queue for a process that runs no jobs and enqueues none
    /// (command-line administration next to a running server): no schema
    /// setup and no connection until one is used, so it never waits for the
    /// server's workers' write lock on the queue file.
    pub fn attach_embedded(path: &Path, prefix: &str) -> Self {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .optimize_on_close(false, None);
        Queue::Embedded {
            pool: SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with(options),
            prefix: prefix.to_owned(),
        }
    }

    /// Connects to Redis. Every key the queue uses starts with `prefix`.
    pub async fn open_redis(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let conn = apalis_redis::connect(url).await?;
        Ok(Queue::Redis {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// Whether the queue answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            Queue::Embedded { pool, .. } => sea_orm::sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|e| QueueError::Embedded(e.to_string())),
            Queue::Redis { conn, .. } => {
                let mut conn = conn.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(QueueError::Redis)
            }
        }
    }

    /// The full queue name of a job type in this installation.
    pub fn queue_name<J: Job>(&self) -> String {
        let prefix = match self {
            Queue::Embedded { prefix, .. } | Queue::Redis { prefix, .. } => prefix,
        };
        format!("{prefix}:{}", J::QUEUE)
    }

    /// Jobs are fetched two at a time, and a worker that stops sending
    /// heartbeats is declared dead after 6 s, when its jobs go back to the
    /// queue: a crashed process holds back little, and not for long (what it
    /// was running is reclaimed at once by its successor, see `instance`).
    pub(crate) fn sqlite_storage<J: Job>(pool: &SqlitePool, queue: &str) -> SqliteStorage<J> {
        SqliteStorage::new(pool).with_config(
            apalis_sqlite::Config::default()
                .queue(queue)
                .batch_size(2)
                .heartbeat_interval(Duration::from_secs(2))
                .missed_heartbeats(3),
        )
    }

    pub(crate) fn redis_storage<J: Job>(conn: &ConnectionManager, queue: &str) -> RedisStorage<J> {
        RedisStorage::new(conn.clone()).with_config(
            apalis_redis::Config::default()
                .queue(queue)
                .batch_size(2)
                .heartbeat_interval(Duration::from_secs(2))
                .missed_heartbeats(3)
                .idempotency_ttl(Some(Duration::from_secs(24 * 3600))),
        )
    }

    /// Pushes a job. With an idempotency key, a second push of the same key is
    /// a no-op, which is how several worker processes share one schedule.
    async fn push<J: Job>(
        &self,
        job: J,
        idempotency_key: Option<String>,
    ) -> Result<(), QueueError> {
        self.push_after(job, idempotency_key, None).await
    }

    async fn push_after<J: Job>(
        &self,
        job: J,
        idempotency_key: Option<String>,
        delay: Option<Duration>,
    ) -> Result<(), QueueError> {
        let queue = self.queue_name::<J>();
        let mut task = TaskBuilder::new(job).max_attempts(J::MAX_ATTEMPTS);
        if let Some(key) = idempotency_key {
            task = task.idempotency_key(key);
        }
        if let Some(delay) = delay {
            task = task.run_after(delay);
        }
        let task = task.build();
        let result = match self {
            Queue::Embedded { pool, .. } => Self::sqlite_storage::<J>(pool, &queue)
                .push_task(task)
                .await
                .map_err(|e| e.to_string()),
            Queue::Redis { conn, .. } => Self::redis_storage::<J>(conn, &queue)
                .push_task(task)
                .await
                .map_err(|e| e.to_string()),
        };
        result.map_err(|message| QueueError::Push {
            queue: J::QUEUE,
            message,
        })
    }

    /// Enqueues the processing of a version (after `delay`, for a retry).
    pub async fn enqueue_process_version(
        &self,
        version_id: uuid::Uuid,
        delay: Option<Duration>,
    ) -> Result<(), QueueError> {
        self.push_after(ProcessVersion { version_id }, None, delay)
            .await
    }

    /// Enqueues re-tagging of stored renditions (one asset's, or all).
    pub async fn enqueue_retag(&self, asset_id: Option<uuid::Uuid>) -> Result<(), QueueError> {
        self.push(RetagRenditions { asset_id }, None).await
    }

    /// Enqueues the next batch of a retag run.
    pub async fn enqueue_retag_library(&self, run_id: uuid::Uuid) -> Result<(), QueueError> {
        self.push(RetagLibrary { run_id }, None).await
    }

    /// Enqueues a reconciliation pass for a scheduler tick (once per tick).
    pub async fn enqueue_reconcile(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            ReconcileProcessing { tick },
            Some(format!("reconcile-processing:{tick}")),
        )
        .await
    }

    /// Enqueues a blob cleanup for a scheduler tick (once per tick).
    pub async fn enqueue_collect_garbage_blobs(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            CollectGarbageBlobs { tick },
            Some(format!("collect-garbage-blobs:{tick}")),
        )
        .await
    }

    /// Enqueues a license takedown sweep for a scheduler tick (once per tick).
    pub async fn enqueue_license_takedown(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            LicenseTakedown { tick },
            Some(format!("license-takedown:{tick}")),
        )
        .await
    }

    /// Enqueues a usage rollup for a scheduler tick (once per tick).
    pub async fn enqueue_send_webhooks(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            crate::jobs::SendWebhooks { tick },
            Some(format!("send-webhooks:{tick}")),
        )
        .await
    }

    pub async fn enqueue_send_cdn_purges(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            crate::jobs::SendCdnPurges { tick },
            Some(format!("send-cdn-purges:{tick}")),
        )
        .await
    }

    pub async fn enqueue_usage_rollup(&self, tick: u64) -> Result<(), QueueError> {
        self.push(UsageRollup { tick }, Some(format!("usage-rollup:{tick}")))
            .await
    }

    /// Enqueues a session purge for a scheduler tick (once per tick, whatever
    /// the number of schedulers).
    pub async fn enqueue_purge_expired_sessions(&self, tick: u64) -> Result<(), QueueError> {
        self.push(
            PurgeExpiredSessions { tick },
            Some(format!("purge-expired-sessions:{tick}")),
        )
        .await
    }
}

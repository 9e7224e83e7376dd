//! Start-up: build the state from the configuration, then serve until told
//! to stop. Tests call [`start`] with a listener on port 0 and their own clock.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use poem::Server;
use poem::listener::{Acceptor, TcpAcceptor};
use tokio_util::sync::CancellationToken;
use vitrine_entity::Clock;
use vitrine_worker::storage::sigv4::Credentials;
use vitrine_worker::storage::{BlobStore, S3Config};
use vitrine_worker::{EventBus, Queue, WorkerDeps, WorkerSettings, run_workers};

use crate::config::{Config, StorageConfig};
use crate::graphql::build_schema;
use crate::http::{App, routes};
use crate::state::AppState;
use crate::throttle::Throttle;

/// Connects to everything the configuration names and applies migrations.
/// `shutdown` ends the background tasks started here (the event relay).
pub async fn build_state(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<AppState> {
    build_state_with(config, clock, shutdown, true).await
}

/// [`build_state`]; `jobs: false` for command-line administration that runs
/// and enqueues no job (the embedded queue file is then not set up nor
/// locked, so it works next to a running server).
pub async fn build_state_with(
    mut config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    jobs: bool,
) -> anyhow::Result<AppState> {
    crate::secret::ensure_data_dir(&config.data_dir)?;
    if config.secret.is_none() {
        crate::secret::ensure_secret(&mut config)?;
    }
    config.webhooks.key = vitrine_worker::webhooks::derive_key(
        config
            .secret
            .as_ref()
            .map(|s| s.expose().as_bytes())
            .unwrap_or_default(),
    );
    let tmp = config.upload_tmp_dir();
    let uploads = crate::http::upload::UploadDir::claim(&tmp)
        .with_context(|| format!("cannot create an upload directory in {}", tmp.display()))?;
    let (db, statements) = crate::db::connect_counted(&config)
        .await
        .with_context(|| format!("cannot connect to the {} database", config.database_kind()))?;
    crate::db::migrate(&db)
        .await
        .context("cannot apply database migrations")?;
    // A library that predates search gets its documents in the background
    // (idempotent: several processes may do it at once).
    {
        let db = db.clone();
        tokio::spawn(async move {
            let mut built = 0;
            let mut failures = 0;
            loop {
                // One write transaction per batch (one commit, not one per
                // row; taken as a writer from the start, so that SQLite
                // never has to upgrade a stale read snapshot).
                let batch = async {
                    let tx = vitrine_entity::store::begin_write(&db).await?;
                    let n =
                        vitrine_worker::search_index::index_missing(&tx, 200, chrono::Utc::now())
                            .await?;
                    tx.commit().await?;
                    Ok::<u64, sea_orm::DbErr>(n)
                };
                match batch.await {
                    Ok(0) => {
                        // Statistics for the planner once a large library is
                        // indexed (it would otherwise guess one row per word
                        // until the next automatic analysis).
                        if built >= 1000
                            && let Err(e) = vitrine_worker::search_index::analyze(&db).await
                        {
                            tracing::warn!(error = %e, "analysing the search documents failed");
                        }
                        break;
                    }
                    Ok(n) => {
                        built += n;
                        tracing::info!(indexed = n, "search documents built");
                    }
                    Err(e) if failures < 5 => {
                        failures += 1;
                        tracing::warn!(error = %e, "building search documents failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "building search documents failed; next start retries");
                        break;
                    }
                }
            }
        });
    }
    let (queue, bus, throttle) = match &config.redis_url {
        None if !jobs => (
            Queue::attach_embedded(&config.queue_db_path(), &config.redis_prefix),
            EventBus::in_process(),
            Throttle::memory(),
        ),
        None => (
            Queue::open_embedded(&config.queue_db_path(), &config.redis_prefix).await?,
            EventBus::in_process(),
            Throttle::memory(),
        ),
        Some(url) => {
            let queue = Queue::open_redis(url.expose(), &config.redis_prefix)
                .await
                .context("cannot connect to Redis (job queue)")?;
            let bus = EventBus::redis(url.expose(), &config.redis_prefix, shutdown)
                .await
                .context("cannot connect to Redis (event bus)")?;
            let conn = redis::aio::ConnectionManager::new(
                redis::Client::open(url.expose()).context("invalid Redis URL")?,
            )
            .await
            .context("cannot connect to Redis (throttling)")?;
            (queue, bus, Throttle::redis(conn, &config.redis_prefix))
        }
    };
    let store = blob_store(&config.storage)?;
    store
        .check()
        .await
        .with_context(|| format!("the blob store ({}) is not usable", store.describe()))?;
    let keys = crate::delivery::signing::Keyring::new(
        config
            .secret
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or_default(),
        config.previous_secrets.iter().map(|s| s.expose()),
    )
    .context("cannot derive the delivery key")?;
    let delivery = crate::delivery::Delivery::new(
        keys,
        crate::delivery::batcher::Batcher::start(db.clone(), clock.clone()),
        usize::try_from(config.delivery.cache_bytes).unwrap_or(usize::MAX),
    );
    let config_budget = config.limits.decode_budget;
    let password_gate = crate::security::PasswordGate::new(
        config.login.password_concurrency,
        config.login.password_queue_wait,
    );
    Ok(AppState {
        delivery: Arc::new(delivery),
        statements,
        store,
        config: Arc::new(config),
        db,
        clock,
        bus,
        throttle: Arc::new(throttle),
        passwords: Arc::new(password_gate),
        budget: vitrine_worker::budget::MemoryBudget::new(config_budget),
        uploads: Arc::new(uploads),
        queue,
        usage_tail: Arc::default(),
        public: Arc::default(),
    })
}

/// The blob store the configuration names.
pub fn blob_store(storage: &StorageConfig) -> anyhow::Result<BlobStore> {
    Ok(match storage {
        StorageConfig::Local(path) => BlobStore::local(path),
        StorageConfig::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            path_style,
            access_key_id,
            secret_access_key,
        } => BlobStore::s3(S3Config {
            endpoint: endpoint.clone(),
            region: region.clone(),
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            path_style: *path_style,
            credentials: Credentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.expose().to_owned(),
                session_token: None,
            },
        })?,
    })
}

/// Worker tunables from the configuration.
pub fn worker_settings(config: &Config) -> WorkerSettings {
    let defaults = WorkerSettings::default();
    let mut processing = defaults.processing.clone();
    for spec in &mut processing.specs {
        if spec.kind == vitrine_entity::RenditionKind::Lowres {
            spec.long_edge = config.renditions.lowres_edge;
            spec.quality = config.renditions.lowres_quality;
        }
    }
    processing.limits.max_pixels = config.limits.max_image_pixels;
    processing.limits.max_decode_bytes = config.limits.max_decode_bytes;
    processing.lease =
        chrono::Duration::from_std(config.renditions.processing_lease).unwrap_or(processing.lease);
    WorkerSettings {
        shutdown_timeout: config.shutdown_timeout,
        processing,
        takedown: vitrine_worker::takedown::TakedownSettings {
            notice: chrono::Duration::from_std(config.license_notice)
                .unwrap_or(defaults.takedown.notice),
            unlicensed_deliverable: config.license_unlicensed_deliverable,
            schedule: config.license_takedown_schedule.clone(),
        },
        rollup: vitrine_worker::usage::RollupSettings {
            schedule: config.usage_rollup_schedule.clone(),
            batch: if config.database_kind() == "sqlite" {
                vitrine_worker::usage::SQLITE_BATCH
            } else {
                defaults.rollup.batch
            },
        },
        anomaly: vitrine_worker::anomaly::AnomalySettings {
            interval: config.anomaly_interval,
            thresholds: config.anomaly.thresholds(),
        },
        webhooks: config.webhooks.clone(),
        purge: config.purge.clone(),
        processing_concurrency: config
            .renditions
            .processing_concurrency
            .unwrap_or(defaults.processing_concurrency),
        ..defaults
    }
}

/// The worker dependencies derived from the application state.
pub fn worker_deps(state: &AppState) -> WorkerDeps {
    WorkerDeps {
        db: state.db.clone(),
        clock: state.clock.clone(),
        queue: state.queue.clone(),
        bus: state.bus.clone(),
        store: state.store.clone(),
        settings: worker_settings(&state.config),
        budget: state.budget.clone(),
        instance: uuid::Uuid::now_v7(),
        home: Some(state.config.data_dir.clone()),
        audience: Some(std::sync::Arc::new(
            crate::services::webhooks::PolicyAudience {
                state: state.clone(),
            },
        )),
    }
}

/// A server started by [`start`].
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Asks the server to stop and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await.context("server task failed")?
    }

    /// Waits until the server stops (after `shutdown` resolved).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task failed")?
    }
}

/// Builds the state, binds `listener`, and serves in a background task until
/// `shutdown` resolves or [`Running::stop`] is called. In the embedded mode
/// (no Redis) the workers run in this process too.
pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let stop = CancellationToken::new();
    let state = build_state(config, clock, stop.clone()).await?;
    let addr = listener.local_addr()?;
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);

    let flusher = tokio::spawn(crate::delivery::public::flush_counts(
        state.public.clone(),
        state.db.clone(),
        state.config.public.usage_flush,
        stop.clone(),
    ));
    let workers = state.config.embedded_workers().then(|| {
        let deps = worker_deps(&state);
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = run_workers(deps, stop.cancelled_owned()).await {
                tracing::error!(error = %e, "in-process workers stopped with an error");
            }
        })
    });

    let schema = build_schema(
        state.clone(),
        &state.config.limits,
        state.config.introspection,
    );
    // Compute the dummy password hash now, so the first sign-in with an
    // unknown email does not take longer than the others.
    state
        .passwords
        .run(|| crate::security::dummy_hash().len())
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let app = App {
        state: state.clone(),
        schema,
        shutdown: stop.clone(),
    };
    let timeout = state.config.shutdown_timeout;
    let server_stop = stop.clone();
    let task = tokio::spawn(async move {
        let signal = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = server_stop.cancelled() => {}
            }
            tracing::info!("shutting down");
            server_stop.cancel();
        };
        let served = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(routes(app), signal, Some(timeout))
            .await;
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        // The last public delivery counts, after the last request.
        let _ = flusher.await;
        served.context("HTTP server failed")
    });
    tracing::info!(addr = %bound, "listening");
    Ok(Running {
        addr: bound,
        state,
        stop,
        task,
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

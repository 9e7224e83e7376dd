//! Job handlers. Each re-reads the state it needs, is safe to run twice, and
//! never lets a panic escape: a panic becomes a permanent (aborted) failure.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use apalis::prelude::{AbortError, BoxDynError, Data};
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use serde_json::json;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::{NewEvent, SYSTEM};
use vitrine_entity::audit_chain::format_instant;
use vitrine_entity::entities::session;

use crate::jobs::{
    CollectGarbageBlobs, LicenseTakedown, ProcessVersion, PurgeExpiredSessions,
    ReconcileProcessing, RetagLibrary, RetagRenditions, UsageRollup,
};
use crate::runner::WorkerDeps;
use crate::tx::Tx;

/// Runs a handler body, turning a panic into an aborted (not retried) failure
/// so the worker keeps running and the job is not left marked as running.
async fn guarded<T>(
    job: &'static str,
    body: impl Future<Output = Result<T, BoxDynError>>,
) -> Result<T, BoxDynError> {
    match AssertUnwindSafe(body).catch_unwind().await {
        Ok(result) => {
            if let Err(e) = &result {
                tracing::warn!(job, error = %e, "job failed");
            }
            result
        }
        Err(_) => {
            tracing::error!(job, "job handler panicked; the job is aborted");
            Err(AbortError::new(format!("{job} handler panicked")).into())
        }
    }
}

/// Processes a version (see [`crate::processing::run`]). Database errors
/// fail the job (apalis retries it); everything else is decided and recorded
/// by the processing itself.
pub(crate) async fn process_version(
    job: ProcessVersion,
    deps: Data<WorkerDeps>,
) -> Result<String, BoxDynError> {
    guarded("process-version", async move {
        let outcome = crate::processing::run(&deps, job.version_id).await?;
        Ok(format!("{outcome:?}"))
    })
    .await
}

/// Re-tags stored renditions with the ownership statement in force.
pub(crate) async fn retag_renditions(
    job: RetagRenditions,
    deps: Data<WorkerDeps>,
) -> Result<u64, BoxDynError> {
    guarded("retag-renditions", async move {
        match crate::processing::retag(&deps, job.asset_id).await {
            Ok(n) => Ok(n),
            Err(crate::processing::ProcessError::Permanent(e)) => Err(AbortError::new(e).into()),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// Runs one batch of a retag run and enqueues the next.
pub(crate) async fn retag_library(
    job: RetagLibrary,
    deps: Data<WorkerDeps>,
) -> Result<u64, BoxDynError> {
    guarded("retag-library", async move {
        let step = crate::autotag::run_batch(&deps, job.run_id, RETAG_BATCH).await?;
        if step.more {
            deps.queue.enqueue_retag_library(job.run_id).await?;
        }
        Ok(step.processed)
    })
    .await
}

/// Assets per batch of a retag run (one transaction each).
const RETAG_BATCH: u64 = 200;

/// Re-enqueues lost processing.
pub(crate) async fn reconcile_processing(
    _job: ReconcileProcessing,
    deps: Data<WorkerDeps>,
) -> Result<u64, BoxDynError> {
    guarded("reconcile-processing", async move {
        Ok(crate::processing::reconcile(&deps).await?)
    })
    .await
}

/// Deletes originals nothing references any more, after a grace period that
/// spares uploads still in flight.
pub(crate) async fn collect_garbage_blobs(
    job: CollectGarbageBlobs,
    deps: Data<WorkerDeps>,
) -> Result<u64, BoxDynError> {
    guarded("collect-garbage-blobs", async move {
        let cutoff = deps.clock.now() - deps.settings.blob_grace;
        let deleted = crate::blobs::collect_garbage(&deps.db, &deps.store, cutoff).await?;
        let derived = crate::derived::collect(&deps.db, &deps.store, cutoff).await?;
        let derivatives = crate::derivatives::collect(&deps.db, &deps.store, cutoff).await?;
        if deleted > 0 || derived > 0 || derivatives > 0 {
            let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
            tx.audit(
                NewEvent::new(AuditAction::BlobsCollected, SYSTEM).details(json!({
                    "blobs": deleted,
                    "derived": derived,
                    "derivatives": derivatives,
                    "untouchedSince": format_instant(cutoff),
                    "tick": job.tick,
                })),
            )
            .await?;
            tx.commit().await?;
        }
        tracing::info!(
            tick = job.tick,
            deleted,
            derived,
            "collected unreferenced blobs"
        );
        Ok(deleted)
    })
    .await
}

/// Sweeps license ends: takedowns, revoked links, reinstatements, notices.
pub(crate) async fn license_takedown(
    job: LicenseTakedown,
    deps: Data<WorkerDeps>,
) -> Result<String, BoxDynError> {
    guarded("license-takedown", async move {
        let report = crate::takedown::sweep(&deps).await?;
        tracing::debug!(tick = job.tick, ?report, "license takedown");
        Ok(serde_json::to_string(&report)?)
    })
    .await
}

/// Adds new usage events into the statistics.
pub(crate) async fn usage_rollup(
    job: UsageRollup,
    deps: Data<WorkerDeps>,
) -> Result<String, BoxDynError> {
    guarded("usage-rollup", async move {
        let report = crate::usage::rollup(&deps.db, &deps.settings.rollup, None).await?;
        tracing::debug!(tick = job.tick, ?report, "usage rollup");
        Ok(serde_json::to_string(&report)?)
    })
    .await
}

/// Fans out webhook events and sends the due deliveries.
pub(crate) async fn send_webhooks(
    job: crate::jobs::SendWebhooks,
    deps: Data<WorkerDeps>,
) -> Result<String, BoxDynError> {
    guarded("send-webhooks", async move {
        let report = crate::webhooks::run(&deps).await?;
        if report != crate::webhooks::PassReport::default() {
            tracing::debug!(tick = job.tick, ?report, "webhooks");
        }
        Ok(serde_json::to_string(&report)?)
    })
    .await
}

/// Deletes sessions that ended (expired or revoked) before the retention cut-off.
pub(crate) async fn purge_expired_sessions(
    job: PurgeExpiredSessions,
    deps: Data<WorkerDeps>,
) -> Result<u64, BoxDynError> {
    guarded("purge-expired-sessions", async move {
        let cutoff = deps.clock.now() - deps.settings.session_retention;
        let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
        let result = session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(session::Column::ExpiresAt.lt(cutoff))
                    .add(session::Column::RevokedAt.lt(cutoff)),
            )
            .exec(tx.conn())
            .await?;
        let deleted = result.rows_affected;
        if deleted > 0 {
            tx.audit(
                NewEvent::new(AuditAction::SessionsPurged, SYSTEM).details(json!({
                    "sessions": deleted,
                    "endedBefore": format_instant(cutoff),
                    "tick": job.tick,
                })),
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(tick = job.tick, deleted, "purged ended sessions");
        Ok(deleted)
    })
    .await
}

pub(crate) async fn send_cdn_purges(
    job: crate::jobs::SendCdnPurges,
    deps: Data<WorkerDeps>,
) -> Result<String, BoxDynError> {
    guarded("send-cdn-purges", async move {
        let report = crate::purge::run(&deps).await?;
        if report != crate::purge::PurgeReport::default() {
            tracing::debug!(tick = job.tick, ?report, "CDN purges");
        }
        Ok(format!("{report:?}"))
    })
    .await
}

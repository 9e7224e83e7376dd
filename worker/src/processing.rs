//! Processing a version: claim it (a lease), decode once, make the
//! renditions, tag them with the ownership statement, store them, record the
//! metadata — idempotently. Transient failures are retried with exponential
//! backoff; permanent ones are recorded on the version.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter};
use serde_json::json;
use tokio::io::AsyncReadExt;
use uuid::Uuid;
use vitrine_entity::audit::{NewEvent, SYSTEM};
use vitrine_entity::entities::{asset, asset_version, rendition};
use vitrine_entity::{AuditAction, ProcessingState, RenditionKind};

use crate::render::{RenderError, RenderLimits, RenditionSpec};
use crate::runner::WorkerDeps;
use crate::storage::{StorageError, original_key};
use crate::tagging::{Camera, Stamp, TagError, tag_jpeg};
use crate::tx::Tx;

/// Tunables of processing.
#[derive(Debug, Clone)]
pub struct ProcessingSettings {
    pub specs: Vec<RenditionSpec>,
    pub limits: RenderLimits,
    /// Attempts before a version is marked FAILED.
    pub max_attempts: i32,
    /// First retry delay; doubled at each attempt.
    pub backoff: Duration,
    /// How long a worker's hold on a version lasts without a heartbeat (it
    /// renews it every third of that while it works); past it, the
    /// reconciler assumes the worker died and retries.
    pub lease: chrono::Duration,
    /// How long a PENDING version may wait before the reconciler enqueues it
    /// again (its enqueue may have been lost to a crash).
    pub pending_grace: chrono::Duration,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self {
            specs: vec![
                RenditionSpec {
                    kind: RenditionKind::Thumbnail,
                    long_edge: 256,
                    quality: 80,
                },
                RenditionSpec {
                    kind: RenditionKind::Preview,
                    long_edge: 1024,
                    quality: 85,
                },
                RenditionSpec {
                    kind: RenditionKind::Lowres,
                    long_edge: 640,
                    quality: 70,
                },
            ],
            limits: RenderLimits {
                max_pixels: 100_000_000,
                max_decode_bytes: 1 << 30,
                jpeg_scan_limit: 500,
            },
            max_attempts: 5,
            backoff: Duration::from_secs(2),
            lease: chrono::Duration::seconds(30),
            pending_grace: chrono::Duration::minutes(2),
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Worth retrying (database, storage, timeouts).
    #[error("{0}")]
    Transient(String),
    /// The same input will fail the same way.
    #[error("{0}")]
    Permanent(String),
}

impl From<DbErr> for ProcessError {
    fn from(e: DbErr) -> Self {
        ProcessError::Transient(format!("database: {e}"))
    }
}

impl From<StorageError> for ProcessError {
    fn from(e: StorageError) -> Self {
        ProcessError::Transient(format!("storage: {e}"))
    }
}

impl From<RenderError> for ProcessError {
    fn from(e: RenderError) -> Self {
        ProcessError::Permanent(e.to_string())
    }
}

impl From<TagError> for ProcessError {
    fn from(e: TagError) -> Self {
        ProcessError::Permanent(e.to_string())
    }
}

/// What a job run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    /// Nothing to do: already processed, or another worker holds the lease.
    Skipped,
    /// The version no longer exists (its asset was purged).
    Gone,
    /// Failed for good; recorded on the version.
    Failed(String),
    /// Failed for now; another attempt is enqueued.
    Retrying {
        attempt: i32,
        after: Duration,
    },
}

/// Whether a PROCESSING version's holder has gone silent past the lease.
fn lease_expired(now: DateTime<Utc>, lease: chrono::Duration) -> Condition {
    let expired = now - lease;
    Condition::all()
        .add(asset_version::Column::ProcessingState.eq(ProcessingState::Processing))
        .add(
            Condition::any()
                .add(asset_version::Column::ProcessingHeartbeatAt.lt(expired))
                .add(
                    Condition::all()
                        .add(asset_version::Column::ProcessingHeartbeatAt.is_null())
                        .add(asset_version::Column::ProcessingStartedAt.lt(expired)),
                ),
        )
}

/// Takes the version for this attempt if it is pending, or if its previous
/// attempt's worker went silent past the lease. Returns the attempt number.
async fn claim(
    deps: &WorkerDeps,
    version_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<i32>, DbErr> {
    let result = asset_version::Entity::update_many()
        .col_expr(
            asset_version::Column::ProcessingState,
            Expr::value(ProcessingState::Processing),
        )
        .col_expr(
            asset_version::Column::ProcessingAttempts,
            Expr::col(asset_version::Column::ProcessingAttempts).add(1),
        )
        .col_expr(
            asset_version::Column::ProcessingStartedAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            asset_version::Column::ProcessingHeartbeatAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            asset_version::Column::ProcessingOwner,
            Expr::value(Some(deps.instance.to_string())),
        )
        .filter(asset_version::Column::Id.eq(version_id))
        .filter(
            Condition::any()
                .add(asset_version::Column::ProcessingState.eq(ProcessingState::Pending))
                .add(lease_expired(now, deps.settings.processing.lease)),
        )
        .exec(&deps.db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    Ok(asset_version::Entity::find_by_id(version_id)
        .one(&deps.db)
        .await?
        .map(|v| v.processing_attempts))
}

/// Renews this worker's hold on a version every third of the lease until
/// dropped (the attempt ended).
fn heartbeat(deps: &WorkerDeps, version_id: Uuid) -> tokio::task::JoinHandle<()> {
    let deps = deps.clone();
    let every = (deps.settings.processing.lease / 3)
        .to_std()
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_millis(100));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let renewed = asset_version::Entity::update_many()
                .col_expr(
                    asset_version::Column::ProcessingHeartbeatAt,
                    Expr::value(Some(deps.clock.now())),
                )
                .filter(asset_version::Column::Id.eq(version_id))
                .filter(asset_version::Column::ProcessingState.eq(ProcessingState::Processing))
                .filter(asset_version::Column::ProcessingOwner.eq(deps.instance.to_string()))
                .exec(&deps.db)
                .await;
            if let Err(e) = renewed {
                tracing::warn!(%version_id, error = %e, "could not renew a processing lease");
            }
        }
    })
}

/// Gives back, at once, the versions a dead worker process held (known
/// dead: its successor holds its directory's lock): PENDING again, and
/// enqueued. Returns how many.
pub async fn reclaim(deps: &WorkerDeps, owner: &str) -> Result<u64, DbErr> {
    let held: Vec<Uuid> = asset_version::Entity::find()
        .filter(asset_version::Column::ProcessingState.eq(ProcessingState::Processing))
        .filter(asset_version::Column::ProcessingOwner.eq(owner))
        .all(&deps.db)
        .await?
        .into_iter()
        .map(|v| v.id)
        .collect();
    let mut reclaimed = 0;
    for id in held {
        let released = asset_version::Entity::update_many()
            .col_expr(
                asset_version::Column::ProcessingState,
                Expr::value(ProcessingState::Pending),
            )
            .col_expr(
                asset_version::Column::ProcessingOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                asset_version::Column::ProcessingStartedAt,
                Expr::value(Some(deps.clock.now())),
            )
            .filter(asset_version::Column::Id.eq(id))
            .filter(asset_version::Column::ProcessingState.eq(ProcessingState::Processing))
            .filter(asset_version::Column::ProcessingOwner.eq(owner))
            .exec(&deps.db)
            .await?;
        if released.rows_affected == 1 {
            reclaimed += 1;
            if let Err(e) = deps.queue.enqueue_process_version(id, None).await {
                tracing::warn!(error = %e, "could not enqueue a reclaimed version; the reconciler will");
            }
        }
    }
    Ok(reclaimed)
}

/// Reads an original into memory and reserves, from the process's image
/// memory budget, the file and what decoding it will hold (estimated from
/// its header). The file is reserved first; when the decode does not fit at
/// once, everything is given back and the whole is waited for in one
/// reservation (so no two attempts can wait on each other's half).
///
/// Eager derivatives may ask for a larger decode than the renditions; when
/// that decode would exceed the per-image limit, the derivatives are left
/// for their first request (`false`) and the renditions are made anyway.
async fn read_within_budget(
    deps: &WorkerDeps,
    sha256: &str,
    specs: &[crate::render::RenditionSpec],
    derivatives: &[crate::render::derive::DerivativeSpec],
    limits: crate::render::RenderLimits,
) -> Result<(Vec<u8>, Vec<crate::budget::Reservation>, bool), ProcessError> {
    let key = original_key(sha256);
    let missing = || {
        ProcessError::Permanent(format!(
            "the original {sha256} is missing from the blob store"
        ))
    };
    let too_large = |e: crate::budget::BudgetError| ProcessError::Permanent(e.to_string());
    let read = |reader: crate::storage::ObjectReader, size: u64| async move {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut reader = reader;
        reader
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| ProcessError::Transient(format!("reading the original: {e}")))?;
        Ok::<_, ProcessError>(bytes)
    };
    let (reader, size) = deps.store.open(&key).await?.ok_or_else(missing)?;
    let file = deps.budget.reserve(size).await.map_err(too_large)?;
    let bytes = read(reader, size).await?;
    let with_derivatives = crate::render::decode_edge(&bytes, specs, derivatives, limits)
        .and_then(|edge| crate::render::decode_estimate_at(&bytes, edge, limits));
    let (decode, eager) = match with_derivatives {
        Ok(d) => (d, true),
        Err(_) if !derivatives.is_empty() => (
            crate::render::decode_estimate(&bytes, specs, limits)?,
            false,
        ),
        Err(e) => return Err(e.into()),
    };
    if let Some(more) = deps.budget.try_reserve(decode) {
        return Ok((bytes, vec![file, more], eager));
    }
    drop(bytes);
    drop(file);
    let all = deps
        .budget
        .reserve(size.saturating_add(decode))
        .await
        .map_err(too_large)?;
    let (reader, size) = deps.store.open(&key).await?.ok_or_else(missing)?;
    Ok((read(reader, size).await?, vec![all], eager))
}

/// One attempt at processing a version.
async fn attempt(
    deps: &WorkerDeps,
    version: &asset_version::Model,
) -> Result<serde_json::Value, ProcessError> {
    let started = std::time::Instant::now();
    let Some(asset) = asset::Entity::find_by_id(version.asset_id)
        .one(&deps.db)
        .await?
    else {
        return Err(ProcessError::Permanent("the asset no longer exists".into()));
    };
    let specs = deps.settings.processing.specs.clone();
    let limits = deps.settings.processing.limits;
    let ownership = crate::ownership::effective(&deps.db, asset.id).await?;
    // Eager derivatives come from the same decode (of the current version
    // only: an older one being reprocessed is served by no derivative URL).
    let eager = if asset.current_version_id == Some(version.id) {
        crate::derivatives::eager_variants(&deps.db, &asset, version.id, &ownership).await?
    } else {
        Vec::new()
    };
    let wanted: Vec<_> = eager.iter().map(|v| v.spec).collect();
    let (bytes, _memory, fits) =
        read_within_budget(deps, &version.blob_sha256, &specs, &wanted, limits).await?;
    let (eager, wanted) = if fits {
        (eager, wanted)
    } else {
        tracing::warn!(version = %version.id, "eager derivatives left for their first request: too large to decode at once");
        (Vec::new(), Vec::new())
    };

    let (processed, camera) = tokio::task::spawn_blocking(move || {
        let camera = Camera::from_file(&bytes);
        crate::render::process_with(&bytes, &specs, &wanted, limits).map(|p| (p, camera))
    })
    .await
    .map_err(|e| ProcessError::Permanent(format!("processing crashed: {e}")))??;

    let fingerprint = ownership.fingerprint();
    let stamp = Stamp {
        ownership: &ownership,
        asset_id: asset.id,
        version_number: version.number,
        orientation: 1,
        camera: &camera,
    };
    let verdict =
        crate::moderation::evaluate(&deps.db, version, &processed, ownership.copyright.clone())
            .await?;
    let now = deps.clock.now();
    let mut rows = Vec::new();
    for r in &processed.renditions {
        let tagged = tag_jpeg(&r.jpeg, &stamp, processed.icc.as_deref())?;
        let key = rendition::storage_key(version.id, r.kind);
        let bytes = i64::try_from(tagged.len()).unwrap_or(i64::MAX);
        deps.store.put_bytes(&key, tagged).await?;
        rows.push(rendition::ActiveModel {
            id: Set(Uuid::now_v7()),
            version_id: Set(version.id),
            kind: Set(r.kind),
            state: Set("READY".into()),
            width: Set(i32::try_from(r.width).unwrap_or(i32::MAX)),
            height: Set(i32::try_from(r.height).unwrap_or(i32::MAX)),
            bytes: Set(bytes),
            storage_key: Set(key),
            tagged_with: Set(fingerprint.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }

    let mut derived = 0;
    for (variant, made) in eager.iter().zip(&processed.derivatives) {
        // One that cannot be made or stored is left for its first request
        // (which reports it again); the version's processing stands.
        let stored = match made {
            Ok(d) => crate::derivatives::store_made(deps, variant, d, &stamp, now).await,
            Err(e) => Err(ProcessError::Permanent(e.to_string())),
        };
        match stored {
            Ok(()) => derived += 1,
            Err(e) => tracing::warn!(error = %e, "an eager derivative could not be made"),
        }
    }

    let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    rendition::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([rendition::Column::VersionId, rendition::Column::Kind])
                .update_columns([
                    rendition::Column::State,
                    rendition::Column::Width,
                    rendition::Column::Height,
                    rendition::Column::Bytes,
                    rendition::Column::StorageKey,
                    rendition::Column::TaggedWith,
                    rendition::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    let metadata = serde_json::to_string(&processed.metadata).unwrap_or_default();
    let (lat, lon) = processed.metadata.gps.unzip();
    let bands = vitrine_entity::moderation_rules::bands(processed.perceptual_hash);
    asset_version::Entity::update_many()
        .col_expr(
            asset_version::Column::ProcessingState,
            Expr::value(ProcessingState::Ready),
        )
        .col_expr(
            asset_version::Column::ProcessingError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            asset_version::Column::ProcessedAt,
            Expr::value(Some(tx.now())),
        )
        .col_expr(asset_version::Column::Metadata, Expr::value(Some(metadata)))
        .col_expr(
            asset_version::Column::PerceptualHash,
            Expr::value(Some(format!("{:016x}", processed.perceptual_hash))),
        )
        .col_expr(asset_version::Column::PhashB0, Expr::value(Some(bands[0])))
        .col_expr(asset_version::Column::PhashB1, Expr::value(Some(bands[1])))
        .col_expr(asset_version::Column::PhashB2, Expr::value(Some(bands[2])))
        .col_expr(asset_version::Column::PhashB3, Expr::value(Some(bands[3])))
        .col_expr(asset_version::Column::GpsLatitude, Expr::value(lat))
        .col_expr(asset_version::Column::GpsLongitude, Expr::value(lon))
        .filter(asset_version::Column::Id.eq(version.id))
        .exec(tx.conn())
        .await?;
    if let Some(verdict) = &verdict {
        crate::moderation::record(&mut tx, version, verdict).await?;
    }
    crate::moderation::block_if_rejected(tx.conn(), version.id, tx.now()).await?;
    // The current version's metadata drives the asset's automatic tags and
    // its search document (an older version being reprocessed does not).
    if let Some(current) = asset::Entity::find_by_id(asset.id).one(tx.conn()).await?
        && current.current_version_id == Some(version.id)
    {
        crate::autotag::retag(tx.conn(), &current, crate::autotag::Rules::Kept, tx.now()).await?;
    }
    let details = json!({
        "versionId": version.id,
        "number": version.number,
        "decoder": processed.decoder,
        "quality": processed.quality,
        "failedRules": verdict.as_ref().map(|v| vitrine_entity::moderation_rules::failed_list(&v.results)),
        "renditions": processed.renditions.iter().map(|r| json!({
            "kind": r.kind, "width": r.width, "height": r.height
        })).collect::<Vec<_>>(),
        "derivatives": derived,
        "ms": started.elapsed().as_millis() as u64,
    });
    tx.audit(
        NewEvent::new(AuditAction::VersionProcessed, SYSTEM)
            .target("asset", asset.id)
            .details(details.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok(details)
}

/// Records a permanent failure on the version.
async fn fail(
    deps: &WorkerDeps,
    version: &asset_version::Model,
    reason: &str,
) -> Result<(), DbErr> {
    let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    asset_version::Entity::update_many()
        .col_expr(
            asset_version::Column::ProcessingState,
            Expr::value(ProcessingState::Failed),
        )
        .col_expr(
            asset_version::Column::ProcessingError,
            Expr::value(Some(reason.to_owned())),
        )
        .filter(asset_version::Column::Id.eq(version.id))
        .exec(tx.conn())
        .await?;
    tx.audit(
        NewEvent::new(AuditAction::VersionProcessingFailed, SYSTEM)
            .target("asset", version.asset_id)
            .details(
                json!({ "versionId": version.id, "number": version.number, "reason": reason }),
            ),
    )
    .await?;
    tx.commit().await
}

/// Runs a processing job for `version_id`.
pub async fn run(deps: &WorkerDeps, version_id: Uuid) -> Result<Outcome, DbErr> {
    let now = deps.clock.now();
    let Some(version) = asset_version::Entity::find_by_id(version_id)
        .one(&deps.db)
        .await?
    else {
        return Ok(Outcome::Gone);
    };
    let Some(attempt_number) = claim(deps, version_id, now).await? else {
        return Ok(Outcome::Skipped);
    };
    let settings = &deps.settings.processing;
    let beating = heartbeat(deps, version_id);
    let outcome = attempt(deps, &version).await;
    beating.abort();
    match outcome {
        Ok(details) => {
            tracing::info!(%version_id, attempt = attempt_number, %details, "version processed");
            Ok(Outcome::Processed)
        }
        Err(ProcessError::Permanent(reason)) => {
            tracing::warn!(%version_id, %reason, "version cannot be processed");
            fail(deps, &version, &reason).await?;
            Ok(Outcome::Failed(reason))
        }
        Err(ProcessError::Transient(reason)) if attempt_number >= settings.max_attempts => {
            let reason = format!("gave up after {attempt_number} attempts: {reason}");
            tracing::warn!(%version_id, %reason, "version processing gave up");
            fail(deps, &version, &reason).await?;
            Ok(Outcome::Failed(reason))
        }
        Err(ProcessError::Transient(reason)) => {
            let exponent = Ord::min(
                u32::try_from(attempt_number.saturating_sub(1)).unwrap_or(0),
                10,
            );
            let after = settings.backoff * 2u32.pow(exponent);
            tracing::warn!(%version_id, %reason, attempt = attempt_number, ?after, "version processing will be retried");
            asset_version::Entity::update_many()
                .col_expr(
                    asset_version::Column::ProcessingState,
                    Expr::value(ProcessingState::Pending),
                )
                .col_expr(
                    asset_version::Column::ProcessingError,
                    Expr::value(Some(reason)),
                )
                .col_expr(
                    asset_version::Column::ProcessingStartedAt,
                    Expr::value(Some(deps.clock.now())),
                )
                .col_expr(
                    asset_version::Column::ProcessingOwner,
                    Expr::value(Option::<String>::None),
                )
                .filter(asset_version::Column::Id.eq(version_id))
                .exec(&deps.db)
                .await?;
            if let Err(e) = deps
                .queue
                .enqueue_process_version(version_id, Some(after))
                .await
            {
                tracing::warn!(error = %e, "could not enqueue the retry; the reconciler will");
            }
            Ok(Outcome::Retrying {
                attempt: attempt_number,
                after,
            })
        }
    }
}

/// Finds versions whose processing was lost (an enqueue lost to a crash, a
/// worker that died mid-attempt) and enqueues them again, or marks them
/// FAILED once they used up their attempts. Returns how many it acted on.
pub async fn reconcile(deps: &WorkerDeps) -> Result<u64, DbErr> {
    let now = deps.clock.now();
    let settings = &deps.settings.processing;
    let stale_pending = now - settings.pending_grace;
    let lost = asset_version::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(asset_version::Column::ProcessingState.eq(ProcessingState::Pending))
                        .add(
                            Condition::any()
                                .add(asset_version::Column::ProcessingStartedAt.lt(stale_pending))
                                .add(
                                    Condition::all()
                                        .add(asset_version::Column::ProcessingStartedAt.is_null())
                                        .add(asset_version::Column::CreatedAt.lt(stale_pending)),
                                ),
                        ),
                )
                .add(lease_expired(now, settings.lease)),
        )
        .all(&deps.db)
        .await?;
    let mut acted = 0;
    for version in lost {
        if version.processing_attempts >= settings.max_attempts {
            fail(
                deps,
                &version,
                &format!("gave up after {} attempts", version.processing_attempts),
            )
            .await?;
        } else {
            if version.processing_state == ProcessingState::Pending {
                // Reset the clock so the next pass does not enqueue it again at once.
                asset_version::Entity::update_many()
                    .col_expr(
                        asset_version::Column::ProcessingStartedAt,
                        Expr::value(Some(now)),
                    )
                    .filter(asset_version::Column::Id.eq(version.id))
                    .filter(asset_version::Column::ProcessingState.eq(ProcessingState::Pending))
                    .exec(&deps.db)
                    .await?;
            }
            if let Err(e) = deps.queue.enqueue_process_version(version.id, None).await {
                tracing::warn!(error = %e, "reconciler could not enqueue a version");
                continue;
            }
        }
        acted += 1;
    }
    if acted > 0 {
        tracing::info!(acted, "reconciled lost processing");
    }
    Ok(acted)
}

/// Re-tags stored renditions whose ownership statement is no longer the one
/// in force (for one asset, or all). The compressed image data is untouched.
/// Returns how many renditions were rewritten.
pub async fn retag(deps: &WorkerDeps, asset_id: Option<Uuid>) -> Result<u64, ProcessError> {
    let mut versions = asset_version::Entity::find()
        .filter(asset_version::Column::ProcessingState.eq(ProcessingState::Ready));
    if let Some(id) = asset_id {
        versions = versions.filter(asset_version::Column::AssetId.eq(id));
    }
    let versions = versions.all(&deps.db).await?;
    let organisation = crate::ownership::organisation(&deps.db).await?;
    let mut rewritten = 0u64;
    let mut current_asset: Option<(Uuid, crate::tagging::Ownership, String)> = None;
    for version in versions {
        let (ownership, fingerprint) = match &current_asset {
            Some((id, o, f)) if *id == version.asset_id => (o.clone(), f.clone()),
            _ => {
                let over = crate::ownership::asset_override(&deps.db, version.asset_id).await?;
                let o = crate::ownership::merge(organisation.clone(), over);
                let f = o.fingerprint();
                current_asset = Some((version.asset_id, o.clone(), f.clone()));
                (o, f)
            }
        };
        let stale = rendition::Entity::find()
            .filter(rendition::Column::VersionId.eq(version.id))
            .filter(rendition::Column::TaggedWith.ne(fingerprint.clone()))
            .all(&deps.db)
            .await?;
        for r in stale {
            let Some((mut reader, _)) = deps.store.open(&r.storage_key).await? else {
                continue;
            };
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| ProcessError::Transient(format!("reading a rendition: {e}")))?;
            let camera = Camera::from_file(&bytes);
            let stamp = Stamp {
                ownership: &ownership,
                asset_id: version.asset_id,
                version_number: version.number,
                orientation: 1,
                camera: &camera,
            };
            let tagged = tag_jpeg(&bytes, &stamp, None)?;
            let size = i64::try_from(tagged.len()).unwrap_or(i64::MAX);
            deps.store.put_bytes(&r.storage_key, tagged).await?;
            rendition::Entity::update_many()
                .col_expr(
                    rendition::Column::TaggedWith,
                    Expr::value(fingerprint.clone()),
                )
                .col_expr(rendition::Column::Bytes, Expr::value(size))
                .col_expr(rendition::Column::UpdatedAt, Expr::value(deps.clock.now()))
                .filter(rendition::Column::Id.eq(r.id))
                .exec(&deps.db)
                .await?;
            rewritten += 1;
        }
    }
    if rewritten > 0 {
        let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
        let mut event = NewEvent::new(AuditAction::RenditionsRetagged, SYSTEM)
            .details(json!({ "renditions": rewritten, "assetId": asset_id }));
        if let Some(id) = asset_id {
            event = event.target("asset", id);
        }
        tx.audit(event).await?;
        tx.commit().await?;
    }
    Ok(rewritten)
}

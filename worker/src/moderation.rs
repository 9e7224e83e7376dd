//! Automatic moderation, run by the processing worker from the decode that
//! made the renditions: measure, compare with the live library and the
//! blocklist, evaluate the version's rules (fixed at upload) and, under an
//! automatic mode, decide — in the transaction that records the renditions,
//! so a version is never READY with its verdict missing.
//!
//! Also the blocklist itself: every rejected version (by a person or the
//! rules) and every taken-down asset's current version joins it; approving a
//! rejected version again takes it off.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::audit::{NewEvent, SYSTEM};
use vitrine_entity::entities::{asset, asset_version, moderation_blocklist};
use vitrine_entity::moderation_rules::{
    self, Measures, ModerationMode, Neighbour, RuleResult, RuleSet,
};
use vitrine_entity::{AuditAction, ModerationState};

use crate::render::Processed;
use crate::tx::Tx;

/// How many neighbours a duplicate rule reports.
const NEIGHBOURS: usize = 5;

/// Why a version joined the blocklist.
pub const REJECTED: &str = "REJECTED";
pub const TAKEN_DOWN: &str = "TAKEN_DOWN";

/// The rules' verdict on a version, to record.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub results: Vec<RuleResult>,
    pub mode: ModerationMode,
    /// APPROVED or REJECTED under an automatic mode; `None` leaves the
    /// version PENDING for a person.
    pub decision: Option<ModerationState>,
}

/// Whether a version waits on the rules: PENDING and not yet decided.
pub fn awaits_rules(version: &asset_version::Model) -> bool {
    version.moderation_state == ModerationState::Pending && version.moderated_at.is_none()
}

/// The nearest hashes to `hash` among `candidates`, nearest first.
fn nearest(hash: &str, candidates: Vec<(Uuid, Uuid, String)>) -> Vec<Neighbour> {
    let mut found: Vec<Neighbour> = candidates
        .into_iter()
        .filter_map(|(asset_id, version_id, other)| {
            moderation_rules::distance(hash, &other).map(|distance| Neighbour {
                asset_id,
                version_id,
                distance,
            })
        })
        .collect();
    found.sort_by_key(|n| n.distance);
    found.truncate(NEIGHBOURS);
    found
}

/// The perceptual hashes of the live library's current versions (other
/// than `asset_id`'s) that may lie within `distance` of `hash`: up to
/// [`moderation_rules::BAND_EXACT_UP_TO`], those sharing a band with it
/// (four indexed lookups) and any processed before bands were recorded;
/// beyond it, the whole library (one scan of a 16-character column).
async fn library<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
    hash: u64,
    distance: u32,
) -> Result<Vec<(Uuid, Uuid, String)>, DbErr> {
    // Correlated, so that the few band candidates are checked against the
    // asset's primary key instead of hashing the whole assets table.
    let current = Query::select()
        .expr(Expr::val(1))
        .from(asset::Entity)
        .and_where(
            Expr::col((asset::Entity, asset::Column::Id))
                .equals((asset_version::Entity, asset_version::Column::AssetId)),
        )
        .and_where(
            Expr::col((asset::Entity, asset::Column::CurrentVersionId))
                .equals((asset_version::Entity, asset_version::Column::Id)),
        )
        .and_where(Expr::col((asset::Entity, asset::Column::DeletedAt)).is_null())
        .to_owned();
    let mut query = asset_version::Entity::find()
        .select_only()
        .columns([
            asset_version::Column::AssetId,
            asset_version::Column::Id,
            asset_version::Column::PerceptualHash,
        ])
        .filter(asset_version::Column::AssetId.ne(asset_id))
        .filter(Expr::exists(current))
        .filter(asset_version::Column::PerceptualHash.is_not_null())
        .filter(asset_version::Column::ModerationState.ne(ModerationState::Rejected));
    if distance <= moderation_rules::BAND_EXACT_UP_TO {
        let [b0, b1, b2, b3] = moderation_rules::bands(hash);
        query = query.filter(
            Condition::any()
                .add(asset_version::Column::PhashB0.eq(b0))
                .add(asset_version::Column::PhashB1.eq(b1))
                .add(asset_version::Column::PhashB2.eq(b2))
                .add(asset_version::Column::PhashB3.eq(b3))
                .add(asset_version::Column::PhashB0.is_null()),
        );
    }
    query
        .into_tuple::<(Uuid, Uuid, Option<String>)>()
        .all(conn)
        .await
        .map(|rows| {
            rows.into_iter()
                .filter_map(|(a, v, h)| h.map(|h| (a, v, h)))
                .collect()
        })
}

async fn blocklist<C: ConnectionTrait>(
    conn: &C,
    version_id: Uuid,
) -> Result<Vec<(Uuid, Uuid, String)>, DbErr> {
    moderation_blocklist::Entity::find()
        .select_only()
        .columns([
            moderation_blocklist::Column::AssetId,
            moderation_blocklist::Column::VersionId,
            moderation_blocklist::Column::PerceptualHash,
        ])
        .filter(moderation_blocklist::Column::VersionId.ne(version_id))
        .into_tuple()
        .all(conn)
        .await
}

/// Evaluates the version's rules on what processing measured. `None` when
/// the version does not wait on them.
pub async fn evaluate<C: ConnectionTrait>(
    conn: &C,
    version: &asset_version::Model,
    processed: &Processed,
    our_copyright: Option<String>,
) -> Result<Option<Verdict>, DbErr> {
    if !awaits_rules(version) {
        return Ok(None);
    }
    let rules: RuleSet = version
        .moderation_rules
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let mode = version
        .moderation_mode
        .as_deref()
        .and_then(ModerationMode::parse)
        .unwrap_or_default();
    let hash = format!("{:016x}", processed.perceptual_hash);
    let (nearest_live, blocked) = if let Some(distance) = rules.duplicate_distance {
        (
            nearest(
                &hash,
                library(conn, version.asset_id, processed.perceptual_hash, distance).await?,
            ),
            nearest(&hash, blocklist(conn, version.id).await?),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let measures = Measures {
        width: u32::try_from(version.width).unwrap_or(0),
        height: u32::try_from(version.height).unwrap_or(0),
        media_type: version.media_type.clone(),
        sharpness: processed.quality.sharpness,
        shadows: processed.quality.shadows,
        highlights: processed.quality.highlights,
        nearest: nearest_live,
        blocked,
        copyright: processed.metadata.copyright.clone(),
        creator: processed.metadata.artist.clone(),
        our_copyright,
    };
    let results = moderation_rules::evaluate(&rules, &measures);
    let decision = moderation_rules::outcome(mode, &results);
    Ok(Some(Verdict {
        results,
        mode,
        decision,
    }))
}

/// Records a verdict inside the processing transaction: the results on the
/// version and, for an automatic decision, the decision itself (audited and
/// published like a person's, as AUTOMATIC), the asset's gate, and the
/// blocklist for a rejection.
pub async fn record(
    tx: &mut Tx<'_>,
    version: &asset_version::Model,
    verdict: &Verdict,
) -> Result<(), DbErr> {
    let now = tx.now();
    let results = serde_json::to_string(&verdict.results).unwrap_or_else(|_| "[]".into());
    let failed = moderation_rules::failed_list(&verdict.results);
    let mut update = asset_version::Entity::update_many()
        .col_expr(
            asset_version::Column::RuleResults,
            Expr::value(Some(results)),
        )
        .col_expr(
            asset_version::Column::FailedRules,
            Expr::value(Some(failed).filter(|f| !f.is_empty())),
        )
        .filter(asset_version::Column::Id.eq(version.id))
        .filter(asset_version::Column::ModeratedAt.is_null());
    let Some(decision) = verdict.decision else {
        update.exec(tx.conn()).await?;
        return Ok(());
    };
    let reason = failure_summary(&verdict.results);
    update = update
        .col_expr(
            asset_version::Column::ModerationState,
            Expr::value(decision),
        )
        .col_expr(
            asset_version::Column::ModerationKind,
            Expr::value(Some("AUTOMATIC".to_owned())),
        )
        .col_expr(asset_version::Column::ModeratedAt, Expr::value(Some(now)))
        .col_expr(
            asset_version::Column::ModerationReason,
            Expr::value(reason.clone()),
        );
    if update.exec(tx.conn()).await?.rows_affected == 0 {
        // A person decided while the worker measured: theirs stands.
        return Ok(());
    }
    // A rejection joins the blocklist through `block_if_rejected`, which
    // the processing transaction runs once the hash is recorded (`version`
    // was read before it was).
    set_gate(tx.conn(), version, decision, now).await?;
    let action = if decision == ModerationState::Approved {
        AuditAction::ModerationApproved
    } else {
        AuditAction::ModerationRejected
    };
    tx.audit(
        NewEvent::new(action, SYSTEM)
            .target("asset", version.asset_id)
            .details(json!({
                "versionId": version.id,
                "number": version.number,
                "previous": ModerationState::Pending.as_str(),
                "kind": "AUTOMATIC",
                "mode": verdict.mode.as_str(),
                "reason": reason,
                "rules": verdict.results,
            })),
    )
    .await?;
    Ok(())
}

/// The failed rules' messages, as a decision's reason.
fn failure_summary(results: &[RuleResult]) -> Option<String> {
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict == moderation_rules::Verdict::Failed)
        .map(|r| r.message.as_str())
        .collect();
    if failed.is_empty() {
        None
    } else {
        Some(failed.join("; ").chars().take(2000).collect())
    }
}

/// Opens or closes the asset's moderation gate when `version` is its
/// current version.
pub async fn set_gate<C: ConnectionTrait>(
    conn: &C,
    version: &asset_version::Model,
    state: ModerationState,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    asset::Entity::update_many()
        .col_expr(
            asset::Column::AwaitingModeration,
            Expr::value(state.holds_back()),
        )
        .col_expr(asset::Column::UpdatedAt, Expr::value(now))
        .filter(asset::Column::Id.eq(version.asset_id))
        .filter(asset::Column::CurrentVersionId.eq(version.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Puts a version's perceptual hash on the blocklist (once).
pub async fn block<C: ConnectionTrait>(
    conn: &C,
    version: &asset_version::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(hash) = version.perceptual_hash.clone() else {
        // Not processed yet: nothing to compare with. A rejection of an
        // unprocessed version is blocked when processing records its hash.
        return Ok(());
    };
    moderation_blocklist::Entity::insert(moderation_blocklist::ActiveModel {
        id: Set(Uuid::now_v7()),
        perceptual_hash: Set(hash),
        asset_id: Set(version.asset_id),
        version_id: Set(version.id),
        reason: Set(reason.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(moderation_blocklist::Column::VersionId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Takes a version off the blocklist for `reason` (approved again, or
/// licensed again).
pub async fn unblock<C: ConnectionTrait>(
    conn: &C,
    version_id: Uuid,
    reason: &str,
) -> Result<(), DbErr> {
    moderation_blocklist::Entity::delete_many()
        .filter(moderation_blocklist::Column::VersionId.eq(version_id))
        .filter(moderation_blocklist::Column::Reason.eq(reason))
        .exec(conn)
        .await?;
    Ok(())
}

/// Blocks a version that is REJECTED once processing has recorded its hash
/// (rejected by the rules in this transaction, or by a person before the
/// worker got to it).
pub async fn block_if_rejected<C: ConnectionTrait>(
    conn: &C,
    version_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if let Some(version) = asset_version::Entity::find_by_id(version_id)
        .one(conn)
        .await?
        && version.moderation_state == ModerationState::Rejected
    {
        block(conn, &version, REJECTED, now).await?;
    }
    Ok(())
}

/// Blocks the current versions of `assets` (taken down: a re-upload of a
/// pulled image must not slip back in under another name).
pub async fn block_assets<C: ConnectionTrait>(
    conn: &C,
    assets: &[Uuid],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if assets.is_empty() {
        return Ok(());
    }
    let current = asset::Entity::find()
        .select_only()
        .column(asset::Column::CurrentVersionId)
        .filter(asset::Column::Id.is_in(assets.to_vec()))
        .into_query();
    let versions = asset_version::Entity::find()
        .filter(asset_version::Column::Id.in_subquery(current))
        .filter(asset_version::Column::PerceptualHash.is_not_null())
        .all(conn)
        .await?;
    for version in versions {
        block(conn, &version, reason, now).await?;
    }
    Ok(())
}

/// Takes `assets`' entries for `reason` off the blocklist.
pub async fn unblock_assets<C: ConnectionTrait>(
    conn: &C,
    assets: &[Uuid],
    reason: &str,
) -> Result<(), DbErr> {
    if assets.is_empty() {
        return Ok(());
    }
    moderation_blocklist::Entity::delete_many()
        .filter(moderation_blocklist::Column::AssetId.is_in(assets.to_vec()))
        .filter(moderation_blocklist::Column::Reason.eq(reason))
        .exec(conn)
        .await?;
    Ok(())
}

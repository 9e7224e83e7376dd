//! Retag runs: recompute every asset's automatic tags after the rules
//! changed (an upload preset's tags or filename pattern), in batches, with
//! visible progress. Removed automatic tags stay removed; manual tags are
//! never touched.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{asset, retag_run};
use vitrine_entity::policy::{Action, Actor};

use crate::error::{ApiError, ApiResult};
use crate::services::{authorize_instance, begin, event};
use crate::state::{AppState, RequestMeta};

/// A RUNNING run with no progress for this long is taken to have lost its
/// job (its retries exhausted): starting a run then resumes it.
const STALE_AFTER: i64 = 10;

/// Starts a run, or resumes a stalled one from where it stopped
/// (administrators). A run still making progress is a CONFLICT.
pub async fn start(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
) -> ApiResult<retag_run::Model> {
    authorize_instance(state, actor, Action::Admin)?;
    let now = state.clock.now();
    let running = retag_run::Entity::find()
        .filter(retag_run::Column::State.eq(retag_run::RUNNING))
        .order_by_desc(retag_run::Column::StartedAt)
        .one(&state.db)
        .await?;
    let mut tx = begin(state).await?;
    let run = match running {
        Some(r) if r.updated_at > now - Duration::minutes(STALE_AFTER) => {
            return Err(ApiError::Conflict(format!(
                "retag run {} is in progress ({} of {} assets)",
                r.id, r.processed, r.total
            )));
        }
        Some(r) => {
            let mut active: retag_run::ActiveModel = r.into();
            active.updated_at = Set(now);
            active.update(tx.conn()).await?
        }
        None => {
            let total = asset::Entity::find()
                .filter(asset::Column::DeletedAt.is_null())
                .count(tx.conn())
                .await?;
            retag_run::ActiveModel {
                id: Set(Uuid::now_v7()),
                requested_by: Set(actor.user_id()),
                state: Set(retag_run::RUNNING.into()),
                cursor: Set(None),
                processed: Set(0),
                changed: Set(0),
                total: Set(i64::try_from(total).unwrap_or(i64::MAX)),
                error: Set(None),
                started_at: Set(now),
                updated_at: Set(now),
                finished_at: Set(None),
            }
            .insert(tx.conn())
            .await?
        }
    };
    tx.audit(
        event(AuditAction::RetagRunStarted, actor, meta)
            .target("retag_run", run.id)
            .details(json!({ "total": run.total, "resumedAt": run.processed })),
    )
    .await?;
    tx.commit().await?;
    state
        .queue
        .enqueue_retag_library(run.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(run)
}

/// One run (administrators).
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<retag_run::Model> {
    authorize_instance(state, actor, Action::Admin)?;
    retag_run::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such retag run".into()))
}

/// The latest runs, newest first (administrators).
pub async fn list(state: &AppState, actor: &Actor, limit: u64) -> ApiResult<Vec<retag_run::Model>> {
    authorize_instance(state, actor, Action::Admin)?;
    Ok(retag_run::Entity::find()
        .order_by_desc(retag_run::Column::StartedAt)
        .limit(limit)
        .all(&state.db)
        .await?)
}

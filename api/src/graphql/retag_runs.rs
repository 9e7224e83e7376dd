//! Retag runs: the library's automatic tags recomputed, with progress.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::retag_run;

use super::{auth, meta, parse_id, state};
use crate::services::retag_runs as service;

/// A run recomputing every asset's automatic tags (administrators).
#[derive(SimpleObject)]
pub struct RetagRun {
    pub id: ID,
    /// RUNNING, DONE or FAILED.
    pub state: String,
    /// Assets done so far, and how many of those had their tags changed.
    pub processed: i64,
    pub changed: i64,
    /// Assets in the library when the run started.
    pub total: i64,
    pub started_at: DateTime<Utc>,
    /// Last progress.
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<retag_run::Model> for RetagRun {
    fn from(m: retag_run::Model) -> Self {
        RetagRun {
            id: ID(m.id.to_string()),
            state: m.state,
            processed: m.processed,
            changed: m.changed,
            total: m.total,
            started_at: m.started_at,
            updated_at: m.updated_at,
            finished_at: m.finished_at,
        }
    }
}

#[derive(Default)]
pub struct RetagRunQuery;

#[Object]
impl RetagRunQuery {
    /// The latest retag runs, newest first.
    async fn retag_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> async_graphql::Result<Vec<RetagRun>> {
        let limit = super::page_size(Some(first)).map_err(|_| {
            crate::error::ApiError::BadUserInput("first must be between 1 and 200".into())
        })?;
        Ok(service::list(state(ctx)?, &auth(ctx)?.actor, limit)
            .await?
            .into_iter()
            .map(RetagRun::from)
            .collect())
    }

    async fn retag_run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<RetagRun> {
        let id = parse_id(&id, "id")?;
        Ok(service::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct RetagRunMutation;

#[Object]
impl RetagRunMutation {
    /// Recomputes every asset's automatic tags from what processing
    /// recorded and the upload presets' rules as they are now, in batches
    /// (removed automatic tags stay removed; manual tags are untouched).
    /// Resumes a run that stalled; CONFLICT while one is progressing.
    async fn start_retag_run(&self, ctx: &Context<'_>) -> async_graphql::Result<RetagRun> {
        Ok(service::start(state(ctx)?, &auth(ctx)?.actor, &meta(ctx))
            .await?
            .into())
    }
}

//! Services: the only layer that talks to the database. Each public function
//! takes the acting identity, asks the policy, does its work in one
//! transaction together with its audit events, and publishes those events
//! after the commit.

pub mod access;
pub mod api_keys;
pub mod asset_events;
pub mod asset_filter;
pub mod asset_listing;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod derivatives;
pub mod explain;
pub mod folders;
pub mod licenses;
pub mod link_content;
pub mod moderation;
pub mod ownership;
pub mod partners;
pub mod presets;
pub mod public_delivery;
pub mod retag_runs;
pub mod search;
pub mod share_links;
pub mod smart_folders;
pub mod usage;
pub mod users;
pub mod webhooks;

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QuerySelect, Select};
use vitrine_entity::audit::{ActorRef, NewEvent};
use vitrine_entity::policy::{Action, Actor, Resource, authorize};
pub use vitrine_worker::tx::Tx;

use crate::error::ApiResult;
use crate::state::{AppState, RequestMeta};

/// Begins a write transaction whose audit events are published after commit.
pub async fn begin(state: &AppState) -> Result<Tx<'_>, DbErr> {
    Tx::begin(&state.db, &state.bus, state.clock.as_ref()).await
}

/// An audit event originating from a request.
pub fn event(
    action: vitrine_entity::AuditAction,
    actor: impl Into<ActorRef>,
    meta: &RequestMeta,
) -> NewEvent {
    NewEvent::new(action, actor).origin(meta.ip.clone(), meta.user_agent.clone())
}

/// Asks the policy about an installation-wide action (no resource facts).
pub(crate) fn authorize_instance(state: &AppState, actor: &Actor, action: Action) -> ApiResult<()> {
    authorize(actor, action, &Resource::Instance, state.clock.now())?;
    Ok(())
}

/// Runs `query` for one page of `limit` rows; also says whether more follow.
pub(crate) async fn fetch_page<E: EntityTrait>(
    query: Select<E>,
    limit: u64,
    db: &DatabaseConnection,
) -> Result<(Vec<E::Model>, bool), DbErr> {
    let mut rows = query.limit(limit.saturating_add(1)).all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// Maps an insert/update error to CONFLICT when it is a uniqueness violation.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

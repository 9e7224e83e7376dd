//! Services: the only layer that talks to the database. Each public function
//! takes the acting identity, asks the policy, does its work in one
//! transaction together with its audit events, and publishes those events
//! after the commit.

pub mod audit;
pub mod auth;
pub mod partners;
pub mod users;

use sea_orm::DbErr;
use vitrine_entity::audit::{ActorRef, NewEvent};
pub use vitrine_worker::tx::Tx;

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

/// Maps an insert/update error to CONFLICT when it is a uniqueness violation.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

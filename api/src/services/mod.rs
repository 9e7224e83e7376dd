//! Services: the only layer that talks to the database. Each public function
//! takes the acting identity, asks the policy, does its work in one
//! transaction together with its audit events, and publishes those events
//! after the commit.

pub mod audit;
pub mod auth;
pub mod partners;
pub mod users;

use sea_orm::{DatabaseTransaction, DbErr};
use vitrine_entity::entities::audit_event;

use crate::db::begin_write;
use crate::events::BusEvent;
use crate::state::AppState;

/// A write transaction that collects the audit events it records and
/// publishes them only once the transaction has committed.
pub struct Tx<'s> {
    state: &'s AppState,
    txn: DatabaseTransaction,
    recorded: Vec<audit_event::Model>,
}

impl<'s> Tx<'s> {
    pub async fn begin(state: &'s AppState) -> Result<Self, DbErr> {
        Ok(Self {
            state,
            txn: begin_write(&state.db).await?,
            recorded: Vec::new(),
        })
    }

    /// The transaction, for queries.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Appends an audit event inside this transaction.
    pub async fn audit(&mut self, event: audit::NewEvent) -> Result<audit_event::Model, DbErr> {
        let now = self.state.clock.now();
        let model = audit::append(&self.txn, now, event).await?;
        self.recorded.push(model.clone());
        Ok(model)
    }

    /// Commits, then publishes the recorded events.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        for event in self.recorded {
            self.state.bus.publish(BusEvent::Audit(event)).await;
        }
        Ok(())
    }
}

/// Maps an insert/update error to CONFLICT when it is a uniqueness violation.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("recorded", &self.recorded.len())
            .finish()
    }
}

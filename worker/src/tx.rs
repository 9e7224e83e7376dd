//! The unit of work shared by the API and the workers: a write transaction
//! that collects the audit events it records and publishes them on the event
//! bus only once the transaction has committed.

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use vitrine_entity::Clock;
use vitrine_entity::audit::{NewEvent, append, append_many};
use vitrine_entity::entities::audit_event;
use vitrine_entity::store::{begin_write, bump_epoch};

use crate::events::{BusEvent, EventBus};

pub struct Tx<'a> {
    txn: DatabaseTransaction,
    bus: &'a EventBus,
    clock: &'a dyn Clock,
    recorded: Vec<audit_event::Model>,
}

impl<'a> Tx<'a> {
    pub async fn begin(
        db: &DatabaseConnection,
        bus: &'a EventBus,
        clock: &'a dyn Clock,
    ) -> Result<Self, DbErr> {
        Ok(Self {
            txn: begin_write(db).await?,
            bus,
            clock,
            recorded: Vec::new(),
        })
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The transaction, for queries.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Appends an audit event inside this transaction.
    pub async fn audit(&mut self, event: NewEvent) -> Result<audit_event::Model, DbErr> {
        let model = append(&self.txn, self.clock.now(), event).await?;
        self.recorded.push(model.clone());
        Ok(model)
    }

    /// Appends events in order inside this transaction, in bounded
    /// multi-row inserts (bulk work: a sweep's thousands of events).
    pub async fn audit_many(&mut self, events: Vec<NewEvent>) -> Result<(), DbErr> {
        let models = append_many(&self.txn, self.clock.now(), events).await?;
        self.recorded.extend(models);
        Ok(())
    }

    /// Commits (moving the access epoch on, so that delivery caches re-read
    /// what this transaction changed), then publishes the recorded events.
    /// Dropping a `Tx` without committing rolls it back and publishes nothing.
    pub async fn commit(self) -> Result<(), DbErr> {
        bump_epoch(&self.txn).await?;
        self.txn.commit().await?;
        self.bus
            .publish_many(self.recorded.into_iter().map(BusEvent::Audit).collect())
            .await;
        Ok(())
    }
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("recorded", &self.recorded.len())
            .finish()
    }
}

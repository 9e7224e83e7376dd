//! Group commit of delivery audit events.
//!
//! Every delivery is recorded before its bytes leave, and durably so (the
//! commit returns only once the database has synced). One transaction per
//! request would cap deliveries at the disk's sync rate, so requests hand
//! their event to one task that commits whatever has queued up meanwhile in
//! a single transaction, then answers each request.
//!
//! The same transaction reads the access epoch: a decision made from cached
//! facts stamped with an older epoch is answered [`Verdict::Stale`] and its
//! event is not recorded; the request re-reads the facts and tries again.
//! So a cached decision is never used after a write that could change it has
//! committed, whichever process made that write.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};
use vitrine_entity::Clock;
use vitrine_entity::audit::{NewEvent, append_many};
use vitrine_entity::store::{begin_write, epoch};

/// How many requests one transaction serves at most.
const MAX_BATCH: usize = 2048;

/// Whether a request's decision still held when its event was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Recorded (or, for an item without an event, confirmed current).
    Committed,
    /// The facts behind the decision changed since they were read.
    Stale,
}

/// The epoch an item's decision was made at; `None` records the event
/// whatever the epoch (refusals).
struct Item {
    epoch: Option<i64>,
    event: Option<NewEvent>,
    reply: oneshot::Sender<Result<Verdict, Arc<DbErr>>>,
}

/// The handle requests use. Cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    sender: mpsc::Sender<Item>,
    /// The newest epoch a batch has seen (a hint: stale entries are reloaded
    /// before they are even submitted).
    known: Arc<AtomicI64>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("known_epoch", &self.known.load(Ordering::Relaxed))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the delivery log is not running")]
    Closed,
    #[error(transparent)]
    Db(Arc<DbErr>),
}

impl Batcher {
    /// Starts the committing task.
    pub fn start(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        let known = Arc::new(AtomicI64::new(i64::MIN));
        tokio::spawn(run(db, clock, receiver, known.clone()));
        Self { sender, known }
    }

    /// The newest epoch seen.
    pub fn known_epoch(&self) -> i64 {
        self.known.load(Ordering::Relaxed)
    }

    /// Records `event` (if any) provided the database is still at `epoch`.
    pub async fn submit(
        &self,
        epoch: Option<i64>,
        event: Option<NewEvent>,
    ) -> Result<Verdict, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Item {
                epoch,
                event,
                reply,
            })
            .await
            .map_err(|_| SubmitError::Closed)?;
        match answer.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(SubmitError::Db(e)),
            Err(_) => Err(SubmitError::Closed),
        }
    }
}

async fn run(
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    mut receiver: mpsc::Receiver<Item>,
    known: Arc<AtomicI64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = commit(&db, clock.as_ref(), &mut batch).await;
        match outcome {
            Ok(current) => {
                known.fetch_max(current, Ordering::Relaxed);
                for item in batch.drain(..) {
                    let verdict = match item.epoch {
                        Some(e) if e != current => Verdict::Stale,
                        _ => Verdict::Committed,
                    };
                    let _ = item.reply.send(Ok(verdict));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not record deliveries; refusing them");
                let e = Arc::new(e);
                for item in batch.drain(..) {
                    let _ = item.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One transaction: read the epoch, record the events of the items decided
/// at it (and the unconditional ones), commit. Returns the epoch.
async fn commit(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    batch: &mut [Item],
) -> Result<i64, DbErr> {
    let has_events = batch.iter().any(|i| i.event.is_some());
    if !has_events {
        // Only checks: a read is enough.
        return epoch(db).await;
    }
    let txn = begin_write(db).await?;
    let current = epoch(&txn).await?;
    let events: Vec<NewEvent> = batch
        .iter_mut()
        .filter(|i| i.epoch.is_none_or(|e| e == current))
        .filter_map(|i| i.event.take())
        .collect();
    append_many(&txn, clock.now(), events).await?;
    txn.commit().await?;
    Ok(current)
}

//! Background work: job payloads (defined once, here), the queue they travel
//! through (embedded SQLite file or Redis), the scheduler that enqueues
//! periodic jobs, and the workers that run them.
//!
//! The API enqueues through the typed functions of [`queue::Queue`] after its
//! database transaction commits; handlers re-read state and are idempotent.

pub mod anomaly;
pub mod autotag;
pub mod blobs;
pub mod budget;
pub mod derivatives;
pub mod derived;
pub mod events;
pub mod instance;
pub mod isobmff;
pub mod jobs;
pub mod lease;
pub mod media;
pub mod moderation;
pub mod ownership;
pub mod processing;
pub mod purge;
pub mod queue;
pub mod render;
pub mod runner;
pub mod search_index;
pub mod storage;
pub mod tagging;
pub mod takedown;
pub mod tx;
pub mod usage;
pub mod webhooks;

mod handlers;

pub use events::{BusEvent, EventBus};
pub use jobs::Job;
pub use queue::{Queue, QueueError};
pub use runner::{WorkerDeps, WorkerSettings, run_workers};

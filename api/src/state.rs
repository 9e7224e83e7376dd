//! Shared application state and per-request context.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use uuid::Uuid;
use vitrine_entity::Clock;
use vitrine_entity::policy::Actor;
use vitrine_worker::Queue;
use vitrine_worker::storage::BlobStore;

use crate::config::Config;
use crate::throttle::Throttle;
use vitrine_worker::EventBus;

/// Everything a service needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub bus: EventBus,
    pub throttle: Arc<Throttle>,
    /// Bounds the argon2 work running at once.
    pub passwords: Arc<crate::security::PasswordGate>,
    pub queue: Queue,
    pub store: BlobStore,
    /// Delivery URL keys, decision cache and the delivery log.
    pub delivery: Arc<crate::delivery::Delivery>,
    /// How many SQL statements this process ran (tests assert on it).
    pub statements: crate::db::StatementCounter,
    /// The usage events past the rollup's watermark, tallied (live figures).
    pub usage_tail: Arc<crate::services::usage::TailCache>,
    /// Public delivery's decisions and counts (flushed to usage statistics).
    pub public: Arc<crate::delivery::public::Public>,
    /// The memory image work may hold in this process (upload checks,
    /// in-process workers, stamping originals for download).
    pub budget: vitrine_worker::budget::MemoryBudget,
    /// Where this process stages uploads (removed at the next start if the
    /// process dies).
    pub uploads: Arc<crate::http::upload::UploadDir>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("database", &self.config.database_kind())
            .field("bus", &self.bus)
            .field("queue", &self.queue)
            .finish()
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who is making a request, decided once when it arrives.
#[derive(Debug, Clone)]
pub struct Auth {
    pub actor: Actor,
    /// The session the bearer token opened, if any.
    pub session_id: Option<Uuid>,
    /// Why a presented token was not accepted (expired, revoked, ...).
    pub rejected: Option<&'static str>,
}

impl Auth {
    pub fn anonymous() -> Self {
        Self {
            actor: Actor::Anonymous,
            session_id: None,
            rejected: None,
        }
    }

    pub fn rejected(reason: &'static str) -> Self {
        Self {
            actor: Actor::Anonymous,
            session_id: None,
            rejected: Some(reason),
        }
    }
}

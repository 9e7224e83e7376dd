//! Database connection and the write-transaction discipline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use vitrine_migration::Migrator;

use crate::config::Config;

/// Counts the SQL statements a connection executes (for tests and metrics).
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Connects like [`connect`] and counts every statement executed.
pub async fn connect_counted(
    config: &Config,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let mut db = connect(config).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |_| {
        inner.fetch_add(1, Ordering::Relaxed);
    });
    Ok((db, counter))
}

/// Connects to the configured database. SQLite runs in WAL mode with full
/// durability (a committed audit event survives a power cut), foreign keys on,
/// and a busy timeout so writers queue instead of failing.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.expose());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    if config.database_kind() == "sqlite" {
        options.max_connections(4);
    } else {
        options.max_connections(config.database_max_connections);
    }
    Database::connect(options).await
}

/// Applies pending migrations (quietly when there are none: the migrator
/// logs every check at INFO otherwise).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if Migrator::get_pending_migrations_read_only(db)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    Migrator::up(db, None).await
}

/// Whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

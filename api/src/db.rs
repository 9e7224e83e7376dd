//! Database connection and the write-transaction discipline.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use vitrine_migration::Migrator;

use crate::config::Config;

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

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Begins a transaction that will write.
///
/// On SQLite it takes the write lock at once (as `BEGIN IMMEDIATE` would): a
/// deferred transaction that read first could otherwise fail to upgrade when
/// another connection wrote in between. On PostgreSQL writers serialise on the
/// rows they lock (the audit chain head, see `services::audit`).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE audit_chain_head SET id = id WHERE 1 = 0")
            .await?;
    }
    Ok(txn)
}

/// Whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

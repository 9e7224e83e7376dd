//! The write-transaction discipline, shared by the API and the workers.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait,
};

/// Begins a transaction that will write.
///
/// On SQLite it takes the write lock at once (as `BEGIN IMMEDIATE` would): a
/// deferred transaction that read first could otherwise fail to upgrade when
/// another connection wrote in between. On PostgreSQL writers serialise on the
/// rows they lock (the audit chain head, see [`crate::audit::append`]).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // Any UPDATE takes the write lock when it starts, whether or not it
        // matches a row.
        txn.execute_unprepared("UPDATE audit_chain_head SET id = id WHERE 1 = 0")
            .await?;
    }
    Ok(txn)
}

/// Moves the access epoch on. Every write transaction does this before it
/// commits (see `vitrine_worker::tx::Tx::commit`), so a cache of anything
/// read from the database (delivery decisions) is known to be current exactly
/// while the epoch it was read at is still the database's.
pub async fn bump_epoch<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    conn.execute_unprepared("UPDATE access_epoch SET value = value + 1 WHERE id = 1")
        .await?;
    Ok(())
}

/// The current access epoch.
pub async fn epoch<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT value FROM access_epoch WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("access epoch".into()))?;
    row.try_get_by_index::<i64>(0)
}

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

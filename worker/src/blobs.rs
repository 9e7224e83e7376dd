//! The life of a stored original, shared by uploads, purges and the cleanup
//! job. One rule keeps every version pointing at bytes that exist:
//!
//! - an object is deleted only inside a transaction that holds its `blobs`
//!   row locked (or, for an object without a row, a placeholder row it
//!   inserted) and has checked that no version references it and no upload
//!   claimed it recently;
//! - an upload claims the row (upsert, which takes the same lock) and checks
//!   that the object exists, writing it again if not, before it inserts the
//!   versions that reference it — in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use vitrine_entity::entities::{asset_version, blob};
use vitrine_entity::store::begin_write;

use crate::storage::{BlobStore, StorageError, original_key, sha_of_original_key};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What is known of an original when an upload claims it.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    pub sha256: String,
    pub bytes: i64,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
}

/// Inserts or refreshes the `blobs` row inside `txn` (locking it until the
/// transaction ends), then makes sure the object exists, writing it from
/// `source` if a cleanup removed it since the upload stored it.
pub async fn claim<C: ConnectionTrait>(
    txn: &C,
    store: &BlobStore,
    info: &BlobInfo,
    source: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<(), BlobError> {
    blob::Entity::insert(blob::ActiveModel {
        sha256: Set(info.sha256.clone()),
        bytes: Set(info.bytes),
        media_type: Set(info.media_type.clone()),
        width: Set(info.width),
        height: Set(info.height),
        created_at: Set(now),
        last_used_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(blob::Column::Sha256)
            .update_column(blob::Column::LastUsedAt)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let key = original_key(&info.sha256);
    if !store.exists(&key).await? {
        let size = u64::try_from(info.bytes).unwrap_or(0);
        store.put_file(&key, source, &info.sha256, size).await?;
    }
    Ok(())
}

/// Deletes the original `sha256` if nothing references it and no upload
/// claimed it at or after `claimed_before`. Returns whether it was deleted.
pub async fn collect(
    db: &DatabaseConnection,
    store: &BlobStore,
    sha256: &str,
    claimed_before: DateTime<Utc>,
) -> Result<bool, BlobError> {
    let txn = begin_write(db).await?;
    let mut query = blob::Entity::find_by_id(sha256.to_owned());
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let Some(row) = query.one(&txn).await? else {
        return Ok(false);
    };
    let referenced = asset_version::Entity::find()
        .filter(asset_version::Column::BlobSha256.eq(sha256))
        .count(&txn)
        .await?
        > 0;
    if referenced || row.last_used_at >= claimed_before {
        return Ok(false);
    }
    store.delete(&original_key(sha256)).await?;
    blob::Entity::delete_by_id(sha256.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// Deletes an object that has no `blobs` row (left by an upload that
/// crashed before its commit), holding a placeholder row while it does.
async fn collect_orphan(
    db: &DatabaseConnection,
    store: &BlobStore,
    sha256: &str,
) -> Result<bool, BlobError> {
    let txn = begin_write(db).await?;
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let inserted = blob::Entity::insert(blob::ActiveModel {
        sha256: Set(sha256.to_owned()),
        bytes: Set(0),
        media_type: Set(String::new()),
        width: Set(0),
        height: Set(0),
        created_at: Set(epoch),
        last_used_at: Set(epoch),
    })
    .on_conflict(
        OnConflict::column(blob::Column::Sha256)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        // It has a row after all: an upload claimed it meanwhile.
        return Ok(false);
    }
    store.delete(&original_key(sha256)).await?;
    blob::Entity::delete_by_id(sha256.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// One cleanup pass: objects without a row and rows nothing references, both
/// untouched since `cutoff`. Returns how many originals were deleted.
pub async fn collect_garbage(
    db: &DatabaseConnection,
    store: &BlobStore,
    cutoff: DateTime<Utc>,
) -> Result<u64, BlobError> {
    let mut deleted = 0;
    for object in store.list("originals/").await? {
        let Some(sha) = sha_of_original_key(&object.key) else {
            continue;
        };
        if object.modified >= cutoff {
            continue;
        }
        let has_row = blob::Entity::find_by_id(sha.to_owned()).count(db).await? > 0;
        if !has_row && collect_orphan(db, store, sha).await? {
            deleted += 1;
        }
    }
    let unreferenced: Vec<String> = blob::Entity::find()
        .filter(blob::Column::LastUsedAt.lt(cutoff))
        .filter(
            blob::Column::Sha256.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(asset_version::Column::BlobSha256)
                    .from(asset_version::Entity)
                    .to_owned(),
            ),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|b| b.sha256)
        .collect();
    for sha in unreferenced {
        if collect(db, store, &sha, cutoff).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

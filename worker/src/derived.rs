//! Objects derived from originals: renditions (`renditions/<version>/…`) and
//! stamped originals (`stamped/<asset>/<etag>.<ext>`, made by the first
//! download of a version under an ownership statement). They are removed
//! with their asset when it is purged, and the hourly cleanup removes those
//! nothing can serve any more (a version gone, a statement replaced).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;
use vitrine_entity::entities::{asset, asset_version};

use crate::blobs::BlobError;
use crate::storage::BlobStore;

/// A strong validator over `parts` (quoted, 96 bits of SHA-256).
pub fn etag_of(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!(
        "\"{}\"",
        vitrine_entity::audit_chain::hex(&h.finalize()[..12])
    )
}

/// The validator of a version's stamped original: what the stamp depends on.
pub fn original_etag(
    sha256: &str,
    fingerprint: &str,
    version_number: i32,
    asset_id: Uuid,
) -> String {
    etag_of(&[
        sha256,
        fingerprint,
        &version_number.to_string(),
        &asset_id.to_string(),
    ])
}

/// Where a stamped original is kept.
pub fn stamped_key(asset_id: Uuid, etag: &str, extension: &str) -> String {
    format!(
        "stamped/{}/{}.{extension}",
        asset_id.simple(),
        etag.trim_matches('"')
    )
}

/// The asset and validator of a stamped original's key.
fn parse_stamped_key(key: &str) -> Option<(Uuid, &str)> {
    let rest = key.strip_prefix("stamped/")?;
    let (asset, file) = rest.split_once('/')?;
    let etag = file.split('.').next()?;
    Some((Uuid::parse_str(asset).ok()?, etag))
}

/// The version of a rendition's key.
fn version_of_rendition_key(key: &str) -> Option<Uuid> {
    let rest = key.strip_prefix("renditions/")?;
    Uuid::parse_str(rest.split('/').next()?).ok()
}

/// Deletes what was derived from a purged asset's versions.
pub async fn remove_for_asset(
    store: &BlobStore,
    asset_id: Uuid,
    version_ids: &[Uuid],
) -> Result<u64, BlobError> {
    let mut removed = 0;
    for version in version_ids {
        for object in store.list(&format!("renditions/{version}/")).await? {
            store.delete(&object.key).await?;
            removed += 1;
        }
    }
    for object in store
        .list(&format!("stamped/{}/", asset_id.simple()))
        .await?
    {
        store.delete(&object.key).await?;
        removed += 1;
    }
    Ok(removed)
}

/// One cleanup pass over derived objects untouched since `cutoff`:
/// renditions of versions that no longer exist, and stamped originals that
/// are not the current version's under the current statement. Returns how
/// many objects were deleted.
pub async fn collect(
    db: &DatabaseConnection,
    store: &BlobStore,
    cutoff: DateTime<Utc>,
) -> Result<u64, BlobError> {
    let mut deleted = 0;
    let renditions: Vec<(String, Uuid)> = store
        .list("renditions/")
        .await?
        .into_iter()
        .filter(|o| o.modified < cutoff)
        .filter_map(|o| version_of_rendition_key(&o.key).map(|v| (o.key, v)))
        .collect();
    for chunk in renditions.chunks(500) {
        let ids: Vec<Uuid> = chunk.iter().map(|(_, v)| *v).collect();
        let live: HashSet<Uuid> = asset_version::Entity::find()
            .select_only()
            .column(asset_version::Column::Id)
            .filter(asset_version::Column::Id.is_in(ids))
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for (key, version) in chunk {
            if !live.contains(version) {
                store.delete(key).await?;
                deleted += 1;
            }
        }
    }
    let stamped: Vec<String> = store
        .list("stamped/")
        .await?
        .into_iter()
        .filter(|o| o.modified < cutoff)
        .map(|o| o.key)
        .collect();
    for key in stamped {
        let Some((asset_id, etag)) = parse_stamped_key(&key) else {
            continue;
        };
        if current_etag(db, asset_id).await?.as_deref() != Some(etag) {
            store.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The validator (unquoted) of an asset's current stamped original, if it
/// has a current version.
async fn current_etag(
    db: &DatabaseConnection,
    asset_id: Uuid,
) -> Result<Option<String>, BlobError> {
    let Some(asset) = asset::Entity::find_by_id(asset_id).one(db).await? else {
        return Ok(None);
    };
    let Some(version_id) = asset.current_version_id else {
        return Ok(None);
    };
    let Some(version) = asset_version::Entity::find_by_id(version_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ownership = crate::ownership::effective(db, asset_id).await?;
    let etag = original_etag(
        &version.blob_sha256,
        &ownership.fingerprint(),
        version.number,
        asset_id,
    );
    Ok(Some(etag.trim_matches('"').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_parse_back() {
        let asset = Uuid::now_v7();
        let etag = original_etag("ab", "fp", 3, asset);
        let key = stamped_key(asset, &etag, "jpg");
        assert_eq!(
            parse_stamped_key(&key),
            Some((asset, etag.trim_matches('"')))
        );
        let version = Uuid::now_v7();
        let rendition = format!("renditions/{version}/thumbnail.jpg");
        assert_eq!(version_of_rendition_key(&rendition), Some(version));
        assert_eq!(version_of_rendition_key("originals/ab/cd/x"), None);
    }
}

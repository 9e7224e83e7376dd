//! Data loaders, built per request: every list resolves its related objects
//! with one query per kind of object, whatever the page size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;
use vitrine_entity::entities::{
    asset_focal_point, asset_tag, asset_version, folder, partner_org, rendition, user,
};

/// Loads rows of every kind by id. Keys are typed so one loader serves all.
pub struct Loaders {
    db: DatabaseConnection,
}

impl Loaders {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartnerOrgId(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FolderId(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionId(pub Uuid);
/// The tags of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TagsOf(pub Uuid);
/// The renditions of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenditionsOf(pub Uuid);

/// The licenses attached to an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetLicenses(pub Uuid);

/// When an asset was taken down (absent: it is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TakenDown(pub Uuid);

/// An asset's focal point (absent: none set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FocalPointOf(pub Uuid);

/// The versions of an asset, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionsOf(pub Uuid);

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<DbErr>>;

impl Loader<PartnerOrgId> for Loaders {
    type Value = partner_org::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[PartnerOrgId]) -> LoadResult<PartnerOrgId, Self::Value> {
        let rows = partner_org::Entity::find()
            .filter(partner_org::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (PartnerOrgId(r.id), r)).collect())
    }
}

impl Loader<FolderId> for Loaders {
    type Value = folder::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[FolderId]) -> LoadResult<FolderId, Self::Value> {
        let rows = folder::Entity::find()
            .filter(folder::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (FolderId(r.id), r)).collect())
    }
}

impl Loader<UserId> for Loaders {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[UserId]) -> LoadResult<UserId, Self::Value> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (UserId(r.id), r)).collect())
    }
}

impl Loader<VersionId> for Loaders {
    type Value = asset_version::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[VersionId]) -> LoadResult<VersionId, Self::Value> {
        let rows = asset_version::Entity::find()
            .filter(asset_version::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (VersionId(r.id), r)).collect())
    }
}

impl Loader<TagsOf> for Loaders {
    type Value = Vec<(String, vitrine_entity::TagSource)>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[TagsOf]) -> LoadResult<TagsOf, Self::Value> {
        let rows = asset_tag::Entity::find()
            .filter(asset_tag::Column::AssetId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(asset_tag::Column::Tag)
            .all(&self.db)
            .await?;
        let mut out: HashMap<TagsOf, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(TagsOf(row.asset_id))
                .or_default()
                .push((row.tag, row.source));
        }
        Ok(out)
    }
}

impl Loader<RenditionsOf> for Loaders {
    type Value = Vec<rendition::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[RenditionsOf]) -> LoadResult<RenditionsOf, Self::Value> {
        let rows = rendition::Entity::find()
            .filter(rendition::Column::VersionId.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        let mut out: HashMap<RenditionsOf, Vec<rendition::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(RenditionsOf(row.version_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}

impl Loader<AssetLicenses> for Loaders {
    type Value = Vec<vitrine_entity::entities::license::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[AssetLicenses]) -> LoadResult<AssetLicenses, Self::Value> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut found = crate::services::licenses::of_assets(&self.db, &ids).await?;
        Ok(keys
            .iter()
            .map(|k| (*k, found.remove(&k.0).unwrap_or_default()))
            .collect())
    }
}

impl Loader<TakenDown> for Loaders {
    type Value = chrono::DateTime<chrono::Utc>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[TakenDown]) -> LoadResult<TakenDown, Self::Value> {
        use vitrine_entity::entities::asset_takedown;
        let rows = asset_takedown::Entity::find()
            .filter(asset_takedown::Column::AssetId.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (TakenDown(r.asset_id), r.taken_down_at))
            .collect())
    }
}

impl Loader<VersionsOf> for Loaders {
    type Value = Vec<asset_version::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[VersionsOf]) -> LoadResult<VersionsOf, Self::Value> {
        let rows = asset_version::Entity::find()
            .filter(asset_version::Column::AssetId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(asset_version::Column::Number)
            .all(&self.db)
            .await?;
        let mut out: HashMap<VersionsOf, Vec<asset_version::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(VersionsOf(row.asset_id)).or_default().push(row);
        }
        Ok(out)
    }
}

/// The loader cache: a map for a query or mutation; none for a WebSocket
/// connection, whose subscription events must each see current data.
#[derive(Debug, Clone, Copy)]
pub struct RequestCache {
    pub enabled: bool,
}

impl async_graphql::dataloader::CacheFactory for RequestCache {
    fn create<K, V>(&self) -> Box<dyn async_graphql::dataloader::CacheStorage<Key = K, Value = V>>
    where
        K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
        V: Send + Sync + Clone + 'static,
    {
        use async_graphql::dataloader::{HashMapCache, NoCache};
        if self.enabled {
            HashMapCache::default().create()
        } else {
            NoCache.create()
        }
    }
}

impl Loader<FocalPointOf> for Loaders {
    type Value = asset_focal_point::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[FocalPointOf]) -> LoadResult<FocalPointOf, Self::Value> {
        let rows = asset_focal_point::Entity::find()
            .filter(asset_focal_point::Column::AssetId.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (FocalPointOf(r.asset_id), r))
            .collect())
    }
}

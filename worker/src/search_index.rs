//! The search document of each asset (table `asset_search`): its title,
//! tags and the rest of its text analysed into terms (see
//! `vitrine_entity::search`), and the values of its current version that
//! filters and facets read. Refreshed in the same transaction as whatever
//! changed it (an edit, a processed version, a retag, a folder renamed or
//! moved), so search never lags behind the library; the database's own
//! engine indexes the terms (a generated `tsvector` on PostgreSQL, FTS5
//! through triggers on SQLite).

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;
use vitrine_entity::entities::{asset, asset_search, asset_tag, asset_version, folder};
use vitrine_entity::search::index_text;

use crate::render::ImageMetadata;

/// The capture time EXIF records (local time without an offset is read as UTC).
fn captured_at(m: &ImageMetadata) -> Option<DateTime<Utc>> {
    let at = m.captured_at.as_deref()?;
    DateTime::parse_from_rfc3339(at)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(at.get(0..19)?, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// The names of the folders from the root down to `folder_id`.
async fn folder_path<C: ConnectionTrait>(
    conn: &C,
    folder_id: Option<Uuid>,
) -> Result<Vec<String>, DbErr> {
    let Some(id) = folder_id else {
        return Ok(Vec::new());
    };
    let Some(f) = folder::Entity::find_by_id(id).one(conn).await? else {
        return Ok(Vec::new());
    };
    let lineage = f.lineage();
    let mut names: Vec<(usize, String)> = folder::Entity::find()
        .filter(folder::Column::Id.is_in(lineage.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|g| (lineage.iter().position(|l| *l == g.id).unwrap_or(0), g.name))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|(_, n)| n).collect())
}

/// What an asset's search document and automatic tags are made from: its
/// current version and that version's recorded metadata (read once, shared
/// by both).
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub version: Option<asset_version::Model>,
    pub metadata: Option<ImageMetadata>,
}

impl Current {
    pub async fn of<C: ConnectionTrait>(conn: &C, a: &asset::Model) -> Result<Self, DbErr> {
        let version = match a.current_version_id {
            Some(v) => asset_version::Entity::find_by_id(v).one(conn).await?,
            None => None,
        };
        Ok(Self::from_version(version))
    }

    /// From a version the caller already read.
    pub fn from_version(version: Option<asset_version::Model>) -> Self {
        let metadata = version
            .as_ref()
            .and_then(|v| v.metadata.as_deref())
            .and_then(|m| serde_json::from_str(m).ok());
        Current { version, metadata }
    }
}

/// Rebuilds the search document of one asset (removes it when the asset
/// is gone).
pub async fn refresh<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(a) = asset::Entity::find_by_id(asset_id).one(conn).await? else {
        asset_search::Entity::delete_many()
            .filter(asset_search::Column::AssetId.eq(asset_id))
            .exec(conn)
            .await?;
        return Ok(());
    };
    let current = Current::of(conn, &a).await?;
    write(conn, &a, &current, None, None, now).await
}

/// Writes the search document of `a` from its current version; `tags` and
/// `path` (its folder path) when the caller already has them.
pub async fn write<C: ConnectionTrait>(
    conn: &C,
    a: &asset::Model,
    current: &Current,
    tags: Option<&[String]>,
    path: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let read_tags;
    let tags = match tags {
        Some(t) => t,
        None => {
            read_tags = asset_tag::Entity::find()
                .filter(asset_tag::Column::AssetId.eq(a.id))
                .order_by_asc(asset_tag::Column::Tag)
                .all(conn)
                .await?
                .into_iter()
                .map(|t| t.tag)
                .collect::<Vec<String>>();
            &read_tags
        }
    };
    let loaded;
    let path = match path {
        Some(p) => p,
        None => {
            loaded = folder_path(conn, a.folder_id).await?;
            &loaded
        }
    };
    let version = current.version.as_ref();
    let metadata = current.metadata.as_ref();

    // What anyone who sees the asset may read.
    let mut body: Vec<&str> = vec![a.description.as_str()];
    // What members alone see (the API shows partners neither the file name
    // nor folders above their grant; delivered files carry no caption).
    let mut internal: Vec<&str> = Vec::new();
    internal.extend(version.and_then(|v| v.filename.as_deref()));
    if let Some(m) = metadata {
        body.extend(m.descriptive.keywords.iter().map(String::as_str));
        body.extend(m.camera_make.as_deref());
        body.extend(m.camera_model.as_deref());
        body.extend(m.lens.as_deref());
        internal.extend(m.descriptive.headline.as_deref());
        internal.extend(m.descriptive.caption.as_deref());
    }
    internal.extend(path.iter().map(String::as_str));

    let (width, height) = version
        .filter(|v| v.width > 0 && v.height > 0)
        .map(|v| {
            if metadata.is_some_and(|m| matches!(m.orientation, 5..=8)) {
                (v.height, v.width)
            } else {
                (v.width, v.height)
            }
        })
        .unzip();
    let orientation = width
        .zip(height)
        .and_then(|(w, h)| crate::autotag::orientation(w, h, 1));
    let megapixels = width
        .zip(height)
        .map(|(w, h)| (f64::from(w) * f64::from(h) / 1e4).round() / 100.0);
    let truncate = |s: &Option<String>| s.as_ref().map(|v| v.chars().take(128).collect::<String>());
    let row = asset_search::ActiveModel {
        doc_id: NotSet,
        asset_id: Set(a.id),
        title_terms: Set(index_text([a.title.as_str()])),
        tag_terms: Set(index_text(tags.iter().map(String::as_str))),
        tag_list: Set(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())),
        body_terms: Set(index_text(body)),
        internal_terms: Set(index_text(internal)),
        orientation: Set(orientation.map(str::to_uppercase)),
        width: Set(width),
        height: Set(height),
        megapixels: Set(megapixels),
        camera_make: Set(metadata.and_then(|m| truncate(&m.camera_make))),
        camera_model: Set(metadata.and_then(|m| truncate(&m.camera_model))),
        lens: Set(metadata.and_then(|m| truncate(&m.lens))),
        has_gps: Set(version.is_some_and(|v| v.gps_latitude.is_some())
            || metadata.is_some_and(|m| m.has_gps)),
        captured_at: Set(metadata.and_then(captured_at)),
        updated_at: Set(now),
        // Kept by the database (migration 20).
        live: NotSet,
        folder_id: NotSet,
        created_at: NotSet,
        stage: NotSet,
        moderation_state: NotSet,
        licensed: NotSet,
    };
    asset_search::Entity::insert(row)
        .on_conflict(
            OnConflict::column(asset_search::Column::AssetId)
                .update_columns([
                    asset_search::Column::TitleTerms,
                    asset_search::Column::TagTerms,
                    asset_search::Column::TagList,
                    asset_search::Column::BodyTerms,
                    asset_search::Column::InternalTerms,
                    asset_search::Column::Orientation,
                    asset_search::Column::Width,
                    asset_search::Column::Height,
                    asset_search::Column::Megapixels,
                    asset_search::Column::CameraMake,
                    asset_search::Column::CameraModel,
                    asset_search::Column::Lens,
                    asset_search::Column::HasGps,
                    asset_search::Column::CapturedAt,
                    asset_search::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Refreshes the documents of every asset filed under the folder with
/// `ancestry` (its path changed), in batches.
pub async fn refresh_under<C: ConnectionTrait>(
    conn: &C,
    ancestry: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let folders: Vec<Uuid> = folder::Entity::find()
        .filter(folder::Column::Ancestry.starts_with(ancestry))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    let mut done = 0;
    for folder_id in folders {
        // The path is the same for every asset of the folder: read it once.
        let path = folder_path(conn, Some(folder_id)).await?;
        let assets = asset::Entity::find()
            .filter(asset::Column::FolderId.eq(folder_id))
            .all(conn)
            .await?;
        for a in assets {
            let current = Current::of(conn, &a).await?;
            write(conn, &a, &current, None, Some(&path), now).await?;
            done += 1;
        }
    }
    Ok(done)
}

/// Refreshes the planner's statistics on the search documents (after a
/// large backfill).
pub async fn analyze<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    conn.execute_unprepared("ANALYZE asset_search").await?;
    Ok(())
}

/// Indexes assets that have no search document yet (a library upgraded
/// from before search), `batch` at a time; returns how many it indexed.
pub async fn index_missing<C: ConnectionTrait>(
    conn: &C,
    batch: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::Query;
    let ids: Vec<Uuid> = asset::Entity::find()
        .filter(
            asset::Column::Id.not_in_subquery(
                Query::select()
                    .column(asset_search::Column::AssetId)
                    .from(asset_search::Entity)
                    .to_owned(),
            ),
        )
        .select_only()
        .column(asset::Column::Id)
        .limit(batch)
        .into_tuple()
        .all(conn)
        .await?;
    for id in &ids {
        refresh(conn, *id, now).await?;
    }
    Ok(ids.len() as u64)
}

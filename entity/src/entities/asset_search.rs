//! The search document of an asset: its analysed text in four weighted
//! fields (see [`crate::search`]) and the values of its current version that
//! search filters and facets read. The full-text index over the text lives
//! beside it (a generated `tsv` column on PostgreSQL, the `asset_fts` FTS5
//! table on SQLite) and is not mapped here.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_search")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub doc_id: i64,
    #[sea_orm(unique)]
    pub asset_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub title_terms: String,
    #[sea_orm(column_type = "Text")]
    pub tag_terms: String,
    /// The asset's tags as a JSON array of strings (the tag facet reads
    /// them here rather than joining `asset_tags`).
    #[sea_orm(column_type = "Text")]
    pub tag_list: String,
    #[sea_orm(column_type = "Text")]
    pub body_terms: String,
    /// Members-only text (file name, caption, headline, folder path).
    #[sea_orm(column_type = "Text")]
    pub internal_terms: String,
    pub orientation: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    #[sea_orm(column_type = "Double", nullable)]
    pub megapixels: Option<f64>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    pub has_gps: bool,
    pub captured_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Copies kept by database triggers (migration 20), never written by
    /// the application: the asset is not in the trash, its folder and
    /// creation time, its current version's stage and moderation state.
    /// Search filters, sorts and counts by them without reading `assets`
    /// or `asset_versions`; visibility is still decided on `assets`.
    pub live: bool,
    pub folder_id: Option<Uuid>,
    pub created_at: Option<DateTimeUtc>,
    pub stage: Option<String>,
    pub moderation_state: Option<String>,
    /// Any license attached (the UNLICENSED filter and facet read it).
    pub licensed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

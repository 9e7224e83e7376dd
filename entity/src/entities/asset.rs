use sea_orm::entity::prelude::*;

use crate::domain::AccessMode;

/// An asset: a product image with its version history. Soft-deleted assets
/// (`deleted_at` set) are in the trash and invisible everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub folder_id: Option<Uuid>,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The latest version (versions are never rewritten; a restore adds one).
    pub current_version_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by: Option<Uuid>,
    /// PUBLIC assets may leave the organisation inside their window.
    pub access_mode: AccessMode,
    /// Embargo: before this instant only members see the asset.
    pub access_starts_at: Option<DateTimeUtc>,
    /// After this instant the asset is RESTRICTED again.
    pub access_ends_at: Option<DateTimeUtc>,
    /// Its current version is PENDING or REJECTED moderation: nothing of it
    /// leaves the organisation (kept in step with the current version).
    pub awaiting_moderation: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

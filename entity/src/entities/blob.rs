use sea_orm::entity::prelude::*;

/// A stored original, addressed by the SHA-256 of its bytes: identical
/// content is stored once whatever the number of versions using it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    pub bytes: i64,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
    pub created_at: DateTimeUtc,
    /// Last time an upload claimed it; the cleanup job spares recent blobs.
    pub last_used_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

use crate::domain::RenditionKind;

/// A derived image of a version, stored tagged with the ownership profile.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "renditions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub version_id: Uuid,
    pub kind: RenditionKind,
    /// `READY` once stored.
    pub state: String,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    pub storage_key: String,
    /// Fingerprint of the ownership fields the stored file carries.
    pub tagged_with: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The storage key of a rendition.
pub fn storage_key(version_id: Uuid, kind: RenditionKind) -> String {
    format!("renditions/{version_id}/{}.jpg", kind.slug())
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A derivative made of a version under one revision of a profile, in one
/// format at one pixel density, stored tagged with the ownership statement.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "derivatives")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub version_id: Uuid,
    pub profile_id: Uuid,
    pub revision: i32,
    /// JPEG, WEBP, AVIF or PNG (never AUTO: that is decided per request).
    pub format: String,
    pub dpr: i16,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    pub media_type: String,
    pub storage_key: String,
    /// Fingerprint of the ownership fields the stored file carries.
    pub tagged_with: String,
    pub created_at: DateTimeUtc,
}

/// Where a derivative's file is kept. The ownership fingerprint is part of
/// the key, so a changed statement makes a new file beside the old one
/// rather than changing bytes a client may hold under the old ETag.
pub fn storage_key(
    version_id: Uuid,
    profile_id: Uuid,
    revision: i32,
    dpr: u8,
    tagged_with: &str,
    extension: &str,
) -> String {
    let tag = &tagged_with[..tagged_with.len().min(12)];
    format!("derivatives/{version_id}/{profile_id}-r{revision}-{dpr}x-{tag}.{extension}")
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

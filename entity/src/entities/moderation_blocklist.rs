use sea_orm::entity::prelude::*;

/// A perceptual hash no upload may come close to: every rejected and every
/// taken-down version joins the list (and leaves it when approved again), so
/// a re-upload of a pulled image is caught even resized and recompressed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "moderation_blocklist")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub perceptual_hash: String,
    pub asset_id: Uuid,
    #[sea_orm(unique)]
    pub version_id: Uuid,
    /// REJECTED or TAKEN_DOWN.
    pub reason: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Where the subject of an asset is, as fractions (0–1) of the upright
/// image's width and height from its top-left corner: COVER crops of
/// profiles anchored at the focal point keep it inside the crop.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_focal_points")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: Uuid,
    pub x: f64,
    pub y: f64,
    pub set_by: Option<Uuid>,
    pub set_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// An asset opted into public delivery by itself, with its stable slug
/// (`/p/{profile}/{slug}.{ext}`). Being opted in is not being public: the
/// asset must also be PUBLIC, inside its window, approved and licensed for
/// the web at each request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "public_assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: Uuid,
    /// Lower-case letters, digits and hyphens; unique; kept when the title
    /// changes (a published URL does not move).
    #[sea_orm(unique)]
    pub slug: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

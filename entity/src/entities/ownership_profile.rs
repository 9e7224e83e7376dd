use sea_orm::entity::prelude::*;

/// The brand's ownership statement written into every delivered file: the
/// organisation's profile (`asset_id` null, id [`ORGANISATION`]) and per-asset
/// overrides (a field left null falls back to the organisation's).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ownership_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub asset_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub copyright: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub creator: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub credit: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub source: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub usage_terms: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub web_statement: Option<String>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

/// The id of the organisation's profile row.
pub const ORGANISATION: Uuid = Uuid::nil();

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

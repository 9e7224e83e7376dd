use sea_orm::entity::prelude::*;

/// An asset the takedown sweep found left with no license in force: a row
/// while it is down, removed when a license covers it again. Read-time
/// enforcement never waits for it; it records that the takedown happened.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_takedowns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: Uuid,
    pub taken_down_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

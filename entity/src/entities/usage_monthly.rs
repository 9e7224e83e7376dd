use sea_orm::entity::prelude::*;

/// Totals of one asset in one UTC month (all accessors), kept beside the
/// daily rows so that "top assets of a month" reads one row per asset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_monthly")]
pub struct Model {
    /// The first day of the month.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: Uuid,
    pub views: i64,
    pub downloads: i64,
    pub shares: i64,
    pub share_opens: i64,
    /// The latest event counted in the month.
    pub last_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

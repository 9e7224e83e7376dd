use sea_orm::entity::prelude::*;

/// Usage of one asset on one UTC day, by one accessor type, action, partner
/// organisation and share link (the nil UUID: none), as added up by the
/// rollup job from the audit log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// MEMBER, PARTNER or VISITOR.
    #[sea_orm(primary_key, auto_increment = false)]
    pub accessor: String,
    /// VIEW, DOWNLOAD, SHARE_CREATED or SHARE_OPENED.
    #[sea_orm(primary_key, auto_increment = false)]
    pub action: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub partner_org_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub share_link_id: Uuid,
    pub count: i64,
    /// The latest event counted in this row.
    pub last_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

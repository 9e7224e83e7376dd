use sea_orm::entity::prelude::*;

/// A folder whose assets (and those of the folders below it) are opted
/// into public delivery.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "public_folders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub folder_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

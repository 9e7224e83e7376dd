use sea_orm::entity::prelude::*;

use crate::domain::Stage;

/// One version of an asset. Numbered from 1 per asset; never modified except
/// to record its approval.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub asset_id: Uuid,
    pub number: i32,
    pub stage: Stage,
    pub blob_sha256: String,
    pub bytes: i64,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
    /// The uploaded file's name, as the uploader's machine called it.
    pub filename: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    /// For a restore: the number of the version it brought back.
    pub restored_from: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

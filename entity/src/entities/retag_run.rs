//! A run recomputing the whole library's automatic tags (after the rules
//! changed), with its progress. The cursor is the last asset id done.

use sea_orm::entity::prelude::*;

pub const RUNNING: &str = "RUNNING";
pub const DONE: &str = "DONE";
pub const FAILED: &str = "FAILED";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retag_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub requested_by: Option<Uuid>,
    /// RUNNING, DONE or FAILED.
    pub state: String,
    pub cursor: Option<Uuid>,
    pub processed: i64,
    /// Assets whose automatic tags changed.
    pub changed: i64,
    /// Assets in the library when the run started.
    pub total: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

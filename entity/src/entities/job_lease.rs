use sea_orm::entity::prelude::*;

/// Who runs a periodic job now: a holder keeps the row until `expires_at`
/// (wall-clock time, renewed while it works), so that one runner at a time
/// does the job whichever process picked up the tick.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub holder: String,
    pub expires_at: DateTimeUtc,
    /// The instant (the injected clock's) up to which the job's work is
    /// done, set by the holder after a complete run.
    pub done_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

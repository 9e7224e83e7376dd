use sea_orm::entity::prelude::*;

/// One event for one endpoint. `event_id` is the same on every attempt (and
/// for every endpoint told about the same audit event), so receivers can
/// de-duplicate by it. Deliveries about one asset to one endpoint go out in
/// order: a later one waits while an earlier one is still pending.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    /// The audit event it stands for (none for test pings).
    pub audit_seq: Option<i64>,
    pub asset_id: Option<Uuid>,
    /// The payload's event-specific part, fixed when fanned out; what the
    /// subscriber may see is decided again when it is sent.
    pub payload: String,
    /// PENDING, SUCCEEDED, FAILED (retries exhausted), SKIPPED (the
    /// subscriber may not see it).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A sender holds it until then (several worker processes).
    pub claimed_until: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_response_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

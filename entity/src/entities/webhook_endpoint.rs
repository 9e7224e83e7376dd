use sea_orm::entity::prelude::*;

/// Where webhook events are sent. `partner_org_id` set: a partner
/// organisation's endpoint, told only about what that organisation may see.
/// The signing secret is stored sealed with a key derived from the server
/// secret (`secret_sealed`), never in clear.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub partner_org_id: Option<Uuid>,
    /// Subscribed event types, comma-separated (`asset.published,…`).
    pub events: String,
    pub secret_sealed: String,
    pub active: bool,
    /// Why it was disabled (after sustained failure, or by hand).
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row (reset by a success).
    pub failure_streak: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// The event types it subscribes to.
    pub fn event_types(&self) -> Vec<&str> {
        self.events
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

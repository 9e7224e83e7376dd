use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit_chain::{ChainedFields, StoredLink};
use crate::domain::ActorKind;

/// One audit event: append-only, linked into a SHA-256 hash chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub occurred_at: DateTimeUtc,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub partner_org_id: Option<Uuid>,
    /// The action's stored name (see `AuditAction`).
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub share_link_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Canonical JSON text.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Model {
    /// The fields the chain hash covers.
    pub fn chained_fields(&self) -> ChainedFields<'_> {
        ChainedFields {
            seq: self.seq,
            occurred_at: self.occurred_at,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id,
            partner_org_id: self.partner_org_id,
            action: &self.action,
            target_type: self.target_type.as_deref(),
            target_id: self.target_id.as_deref(),
            share_link_id: self.share_link_id,
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            details: &self.details,
        }
    }

    /// This event as a link of the chain.
    pub fn as_link(&self) -> StoredLink<'_> {
        StoredLink {
            fields: self.chained_fields(),
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

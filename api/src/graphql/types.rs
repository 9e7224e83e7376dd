//! GraphQL output and input types. Written out explicitly: a table row is
//! never exposed as such, so a new column (a hash, a secret) cannot leak.

use async_graphql::{ComplexObject, Context, ID, InputObject, Json, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::{audit_event, partner_org, user};
use vitrine_entity::{ActorKind, AuditAction, Role, UserKind};

use super::loaders::{Loaders, PartnerOrgId};
use crate::error::ApiError;

/// Loads one object through the request's data loader.
pub(crate) async fn load<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<Loaders as async_graphql::dataloader::Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    Loaders: async_graphql::dataloader::Loader<K, Error = std::sync::Arc<sea_orm::DbErr>>,
{
    let loader = ctx.data::<super::asset_types::RequestLoader>()?;
    loader
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string().into()).into())
}

/// A user account.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub display_name: String,
    pub kind: UserKind,
    /// The member's role; null for partners.
    pub role: Option<Role>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub partner_org_id: Option<uuid::Uuid>,
}

#[ComplexObject]
impl User {
    /// The partner organisation of a partner user.
    async fn partner_org(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PartnerOrg>> {
        let Some(id) = self.partner_org_id else {
            return Ok(None);
        };
        Ok(load(ctx, PartnerOrgId(id)).await?.map(PartnerOrg::from))
    }
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            email: m.email,
            display_name: m.display_name,
            kind: m.kind,
            role: m.role,
            disabled: m.disabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
            partner_org_id: m.partner_org_id,
        }
    }
}

/// An organisation outside the brand (distributor, agency, marketplace).
#[derive(SimpleObject, Clone, Debug)]
pub struct PartnerOrg {
    pub id: ID,
    pub name: String,
    /// Only allowlisted organisations' users can sign in and see anything.
    pub allowlisted: bool,
    pub email_domains: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<partner_org::Model> for PartnerOrg {
    fn from(m: partner_org::Model) -> Self {
        Self {
            email_domains: m.domains(),
            id: ID(m.id.to_string()),
            name: m.name,
            allowlisted: m.allowlisted,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One entry of the append-only, hash-chained audit log.
#[derive(SimpleObject, Clone, Debug)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<ID>,
    pub partner_org_id: Option<ID>,
    pub action: AuditAction,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub share_link_id: Option<ID>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Json<serde_json::Value>,
    pub prev_hash: String,
    /// SHA-256 over `prevHash` and this event's canonical encoding.
    pub hash: String,
}

impl TryFrom<audit_event::Model> for AuditEvent {
    type Error = ApiError;

    fn try_from(m: audit_event::Model) -> Result<Self, Self::Error> {
        let action = AuditAction::from_stored(&m.action).ok_or_else(|| {
            ApiError::Internal(format!("unknown audit action {:?}", m.action).into())
        })?;
        let details = serde_json::from_str(&m.details).unwrap_or(serde_json::Value::Null);
        Ok(Self {
            seq: m.seq,
            occurred_at: m.occurred_at,
            actor_kind: m.actor_kind,
            actor_id: m.actor_id.map(|id| ID(id.to_string())),
            partner_org_id: m.partner_org_id.map(|id| ID(id.to_string())),
            action,
            target_type: m.target_type,
            target_id: m.target_id,
            share_link_id: m.share_link_id.map(|id| ID(id.to_string())),
            ip: m.ip,
            user_agent: m.user_agent,
            details: Json(details),
            prev_hash: m.prev_hash,
            hash: m.hash,
        })
    }
}

/// A successful sign-in.
#[derive(SimpleObject, Debug)]
pub struct LoginPayload {
    /// The bearer token: send it as `Authorization: Bearer <token>`. It is
    /// shown only here; Vitrine stores only its hash.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// The result of walking the audit hash chain.
#[derive(SimpleObject, Debug)]
pub struct AuditChainReport {
    pub ok: bool,
    /// How many events were checked.
    pub checked: u64,
    /// The first event whose link does not hold (edited, deleted or inserted).
    pub first_bad_seq: Option<i64>,
}

#[derive(InputObject, Debug)]
pub struct CreateUserInput {
    pub email: String,
    pub display_name: String,
    /// At least 12 characters.
    pub password: String,
    #[graphql(default_with = "UserKind::Member")]
    pub kind: UserKind,
    /// Required for members, absent for partners.
    pub role: Option<Role>,
    /// Required for partners.
    pub partner_org_id: Option<ID>,
}

#[derive(InputObject, Debug, Default)]
pub struct UpdateUserInput {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// Setting a password ends the user's sessions.
    pub password: Option<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UserFilter {
    pub kind: Option<UserKind>,
    pub role: Option<Role>,
    pub partner_org_id: Option<ID>,
    pub disabled: Option<bool>,
    /// Part of the email or display name.
    pub search: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct CreatePartnerOrgInput {
    pub name: String,
    #[graphql(default)]
    pub email_domains: Vec<String>,
    #[graphql(default = false)]
    pub allowlisted: bool,
}

#[derive(InputObject, Debug, Default)]
pub struct UpdatePartnerOrgInput {
    pub name: Option<String>,
    pub email_domains: Option<Vec<String>>,
}

#[derive(InputObject, Debug, Default)]
pub struct AuditEventFilter {
    pub action: Option<AuditAction>,
    pub actor_id: Option<ID>,
    pub actor_kind: Option<ActorKind>,
    pub target_id: Option<String>,
    pub share_link_id: Option<ID>,
    /// Inclusive lower bound on `occurredAt`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `occurredAt`.
    pub to: Option<DateTime<Utc>>,
}

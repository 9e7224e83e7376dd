//! API keys in the GraphQL API (administrators).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::Role;

use super::{auth, meta, parse_id, state};
use crate::services::api_keys::{self, ApiKeyScope, NewApiKey};

/// A credential for a machine. Its secret (`vtk_…`) was shown once, when it
/// was created or rotated; send it as `Authorization: Bearer <secret>`.
#[derive(SimpleObject, Clone, Debug)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    /// A member key's role (its principal), or null for a partner key.
    pub role: Option<Role>,
    /// A partner key's organisation: it sees exactly what that organisation sees.
    pub partner_org_id: Option<ID>,
    pub scopes: Vec<ApiKeyScope>,
    pub created_at: DateTime<Utc>,
    /// Null: the key does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    /// After a rotation: until when the previous secret still works.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    /// Whether the key admits requests now.
    pub active: bool,
}

impl ApiKey {
    fn new(k: api_keys::ApiKey, now: DateTime<Utc>) -> Self {
        let key = k.key;
        let never = key.expires_at.timestamp() >= 253_402_300_799;
        Self {
            id: ID(key.id.to_string()),
            name: key.api_key_name.clone().unwrap_or_default(),
            role: k.principal.role,
            partner_org_id: k.principal.partner_org_id.map(|id| ID(id.to_string())),
            scopes: api_keys::scopes_of(&key),
            created_at: key.created_at,
            expires_at: (!never).then_some(key.expires_at),
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            last_used_ip: key.last_used_ip.clone(),
            previous_secret_valid_until: key
                .previous_expires_at
                .filter(|t| *t > now && key.revoked_at.is_none()),
            active: key.is_live(now),
        }
    }
}

/// A key and its secret, shown this once.
#[derive(SimpleObject, Debug)]
pub struct ApiKeySecret {
    /// The secret: store it now; Vitrine keeps only its hash.
    pub secret: String,
    pub api_key: ApiKey,
}

#[derive(InputObject, Debug)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// A member key acts with this role (give this or `partnerOrgId`).
    pub role: Option<Role>,
    /// A partner key acts as this organisation (give this or `role`).
    pub partner_org_id: Option<ID>,
    /// What the key may be used for, within its principal's rights.
    pub scopes: Vec<ApiKeyScope>,
    /// Null: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// Every API key, newest first (administrators).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let state = state(ctx)?;
        let now = state.clock.now();
        Ok(api_keys::list(state, &auth(ctx)?.actor)
            .await?
            .into_iter()
            .map(|k| ApiKey::new(k, now))
            .collect())
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key (administrators); the secret is in this answer only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<ApiKeySecret> {
        let state = state(ctx)?;
        let new = NewApiKey {
            name: input.name,
            role: input.role,
            partner_org_id: input
                .partner_org_id
                .as_ref()
                .map(|id| parse_id(id, "partnerOrgId"))
                .transpose()?,
            scopes: input.scopes,
            expires_at: input.expires_at,
        };
        let issued = api_keys::create(state, &auth(ctx)?.actor, new, &meta(ctx)).await?;
        Ok(ApiKeySecret {
            secret: issued.secret,
            api_key: ApiKey::new(issued.key, state.clock.now()),
        })
    }

    /// Gives a key a new secret (shown once); the current secret keeps
    /// working for `overlapSeconds` (default 86400, at most 30 days), so the
    /// new one can be deployed without downtime.
    async fn rotate_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        overlap_seconds: Option<i64>,
    ) -> async_graphql::Result<ApiKeySecret> {
        let state = state(ctx)?;
        let id = parse_id(&id, "id")?;
        let issued = api_keys::rotate(
            state,
            &auth(ctx)?.actor,
            id,
            overlap_seconds.map(chrono::Duration::seconds),
            &meta(ctx),
        )
        .await?;
        Ok(ApiKeySecret {
            secret: issued.secret,
            api_key: ApiKey::new(issued.key, state.clock.now()),
        })
    }

    /// Revokes a key: its secrets stop working at the next request.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let state = state(ctx)?;
        let id = parse_id(&id, "id")?;
        let key = api_keys::revoke(state, &auth(ctx)?.actor, id, &meta(ctx)).await?;
        Ok(ApiKey::new(key, state.clock.now()))
    }
}

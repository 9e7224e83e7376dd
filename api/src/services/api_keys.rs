//! API keys: credentials for machines (a portal's backend, a sync job).
//!
//! A key is a long-lived session of its own *service user* — a user row that
//! never signs in and is not listed among users — whose role (for a member
//! key) or partner organisation (for a partner key) is the key's principal.
//! So a key is an actor of the one policy like anyone else: a partner-org key
//! sees exactly what that organisation sees, and its scopes
//! ([`KeyScope`]) can only narrow that. Being a session, it gets everything
//! sessions get: delivery URLs bound to it and re-decided per request,
//! WebSocket operations re-authenticated, revocation effective at the next
//! request. The secret (`vtk_…`) is shown once and stored as a SHA-256.
//! Rotation issues a second secret; the first keeps working until the
//! overlap ends, so a deployment switches without downtime.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{partner_org, session, user};
use vitrine_entity::policy::{Action, Actor, KeyScope};
use vitrine_entity::{AuditAction, Role, UserKind};

use crate::error::{ApiError, ApiResult};
use crate::security::{generate_token, hash_token};
use crate::services::{authorize_instance, begin, event};
use crate::state::{AppState, RequestMeta};

/// The prefix that identifies an API key secret.
pub const API_KEY_PREFIX: &str = "vtk_";

/// The longest rotation overlap (both secrets live).
pub const MAX_OVERLAP: Duration = Duration::days(30);

/// Keys without an expiry are stored as expiring at this instant.
fn never() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One scope of a key, as clients name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum ApiKeyScope {
    /// Read everything the principal may read (metadata, renditions,
    /// downloads, audit log and statistics where allowed). No changes.
    Read,
    /// Only list and read assets and get delivery URLs for them.
    Deliver,
    /// Everything the principal may do, changes included.
    Write,
}

impl ApiKeyScope {
    fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Read => "READ",
            ApiKeyScope::Deliver => "DELIVER",
            ApiKeyScope::Write => "WRITE",
        }
    }
}

/// Parses stored scopes (`READ,DELIVER`); unknown names grant nothing.
pub fn parse_scopes(stored: &str) -> KeyScope {
    let has = |name: &str| stored.split(',').any(|s| s.trim() == name);
    KeyScope {
        read: has("READ"),
        deliver: has("DELIVER"),
        write: has("WRITE"),
    }
}

/// The scopes of a stored key, as clients name them.
pub fn scopes_of(key: &session::Model) -> Vec<ApiKeyScope> {
    let scope = parse_scopes(key.scopes.as_deref().unwrap_or_default());
    [
        (scope.read, ApiKeyScope::Read),
        (scope.deliver, ApiKeyScope::Deliver),
        (scope.write, ApiKeyScope::Write),
    ]
    .into_iter()
    .filter_map(|(on, s)| on.then_some(s))
    .collect()
}

/// Narrows an actor to a key's scopes (sessions without scopes: unchanged).
pub fn narrow(actor: Actor, scopes: Option<&str>) -> Actor {
    match scopes {
        Some(stored) => actor.with_scope(parse_scopes(stored)),
        None => actor,
    }
}

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    /// A member key's role (exactly one of this and `partner_org_id`).
    pub role: Option<Role>,
    /// A partner key's organisation.
    pub partner_org_id: Option<Uuid>,
    pub scopes: Vec<ApiKeyScope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key and its principal.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub key: session::Model,
    pub principal: user::Model,
}

/// A key with a secret shown once (created or rotated).
#[derive(Debug)]
pub struct IssuedKey {
    pub secret: String,
    pub key: ApiKey,
}

fn validate(input: &NewApiKey, now: DateTime<Utc>) -> ApiResult<String> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadUserInput(
            "name must be 1 to 200 characters".into(),
        ));
    }
    if input.role.is_some() == input.partner_org_id.is_some() {
        return Err(ApiError::BadUserInput(
            "give exactly one of role (a member key) and partnerOrgId (a partner key)".into(),
        ));
    }
    if input.scopes.is_empty() {
        return Err(ApiError::BadUserInput(
            "give at least one scope (READ, DELIVER or WRITE)".into(),
        ));
    }
    if input.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::BadUserInput(
            "expiresAt must be in the future".into(),
        ));
    }
    Ok(name)
}

/// Creates a key (administrators). The secret is in the result only.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: NewApiKey,
    meta: &RequestMeta,
) -> ApiResult<IssuedKey> {
    authorize_instance(state, actor, Action::Admin)?;
    let now = state.clock.now();
    let name = validate(&input, now)?;
    if let Some(org_id) = input.partner_org_id
        && partner_org::Entity::find_by_id(org_id)
            .one(&state.db)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("no such partner organisation".into()));
    }
    let mut scopes: Vec<&str> = input.scopes.iter().map(|s| s.as_str()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let secret = generate_token(API_KEY_PREFIX)?;
    let key_id = Uuid::now_v7();
    let user_id = Uuid::now_v7();
    let mut tx = begin(state).await?;
    let principal = user::ActiveModel {
        id: Set(user_id),
        email: Set(format!("{key_id}@api-keys.vitrine.invalid")),
        display_name: Set(name.clone()),
        // Not a PHC string: no password ever verifies against it.
        password_hash: Set(user::PasswordHash("!".into())),
        kind: Set(if input.role.is_some() {
            UserKind::Member
        } else {
            UserKind::Partner
        }),
        role: Set(input.role),
        partner_org_id: Set(input.partner_org_id),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        service: Set(true),
    }
    .insert(tx.conn())
    .await?;
    let key = session::ActiveModel {
        id: Set(key_id),
        user_id: Set(user_id),
        token_hash: Set(hash_token(&secret)),
        created_at: Set(now),
        expires_at: Set(input.expires_at.unwrap_or_else(never)),
        revoked_at: Set(None),
        ip: Set(None),
        user_agent: Set(None),
        api_key_name: Set(Some(name.clone())),
        scopes: Set(Some(scopes.join(","))),
        last_used_at: Set(None),
        last_used_ip: Set(None),
        previous_token_hash: Set(None),
        previous_expires_at: Set(None),
        created_by: Set(actor.user_id()),
    }
    .insert(tx.conn())
    .await?;
    tx.audit(
        event(AuditAction::ApiKeyCreated, actor, meta)
            .target("api_key", key_id)
            .details(json!({
                "name": name,
                "role": input.role.map(|r| r.as_str()),
                "partnerOrgId": input.partner_org_id,
                "scopes": scopes,
                "expiresAt": input.expires_at.map(vitrine_entity::audit_chain::format_instant),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedKey {
        secret,
        key: ApiKey { key, principal },
    })
}

async fn find(state: &AppState, id: Uuid) -> ApiResult<ApiKey> {
    let found = session::Entity::find_by_id(id)
        .filter(session::Column::ApiKeyName.is_not_null())
        .find_also_related(user::Entity)
        .one(&state.db)
        .await?;
    match found {
        Some((key, Some(principal))) => Ok(ApiKey { key, principal }),
        _ => Err(ApiError::NotFound("no such API key".into())),
    }
}

/// Every key, newest first (administrators). Secrets are never shown again.
pub async fn list(state: &AppState, actor: &Actor) -> ApiResult<Vec<ApiKey>> {
    authorize_instance(state, actor, Action::Admin)?;
    let rows = session::Entity::find()
        .filter(session::Column::ApiKeyName.is_not_null())
        .find_also_related(user::Entity)
        .order_by_desc(session::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, principal)| principal.map(|principal| ApiKey { key, principal }))
        .collect())
}

/// Revokes a key: both its secrets stop working at the next request, and
/// open WebSockets using it are closed.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<ApiKey> {
    authorize_instance(state, actor, Action::Admin)?;
    let found = find(state, id).await?;
    if found.key.revoked_at.is_some() {
        return Ok(found);
    }
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let mut active: session::ActiveModel = found.key.clone().into();
    active.revoked_at = Set(Some(now));
    let key = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::ApiKeyRevoked, actor, meta)
            .target("api_key", id)
            .details(json!({ "name": key.api_key_name })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiKey {
        key,
        principal: found.principal,
    })
}

/// Gives a key a new secret. The current one keeps working for `overlap`
/// (default one day, at most 30): deploy the new secret, then revoke
/// nothing — the old one simply stops. A second rotation within the overlap
/// ends the older secret at once (at most two are ever live).
pub async fn rotate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    overlap: Option<Duration>,
    meta: &RequestMeta,
) -> ApiResult<IssuedKey> {
    authorize_instance(state, actor, Action::Admin)?;
    let overlap = overlap.unwrap_or(Duration::days(1));
    if overlap < Duration::zero() || overlap > MAX_OVERLAP {
        return Err(ApiError::BadUserInput(
            "overlapSeconds must be between 0 and 30 days".into(),
        ));
    }
    let found = find(state, id).await?;
    let now = state.clock.now();
    if !found.key.is_live(now) {
        return Err(ApiError::Conflict(
            "the key is revoked or expired: create a new one".into(),
        ));
    }
    let secret = generate_token(API_KEY_PREFIX)?;
    let mut tx = begin(state).await?;
    let mut active: session::ActiveModel = found.key.clone().into();
    active.previous_token_hash = Set(Some(found.key.token_hash.clone()));
    active.previous_expires_at = Set(Some(now + overlap));
    active.token_hash = Set(hash_token(&secret));
    let key = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::ApiKeyRotated, actor, meta)
            .target("api_key", id)
            .details(json!({
                "name": key.api_key_name,
                "previousValidUntil": vitrine_entity::audit_chain::format_instant(now + overlap),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedKey {
        secret,
        key: ApiKey {
            key,
            principal: found.principal,
        },
    })
}

/// The key a secret opens now (its current secret, or the previous one
/// within its overlap), with its principal.
pub async fn lookup(
    state: &AppState,
    secret: &str,
) -> ApiResult<Option<(session::Model, Option<user::Model>)>> {
    let hash = hash_token(secret);
    let now = state.clock.now();
    Ok(session::Entity::find()
        .filter(
            Condition::any()
                .add(session::Column::TokenHash.eq(hash.as_str()))
                .add(
                    Condition::all()
                        .add(session::Column::PreviousTokenHash.eq(hash.as_str()))
                        .add(session::Column::PreviousExpiresAt.gt(now)),
                ),
        )
        .filter(session::Column::ApiKeyName.is_not_null())
        .find_also_related(user::Entity)
        .one(&state.db)
        .await?)
}

/// Records that a key was used (at most once a minute per key and address,
/// so a busy key does not write on every request).
pub async fn touch(state: &AppState, key: &session::Model, ip: Option<&str>) -> ApiResult<()> {
    let now = state.clock.now();
    let recent = key
        .last_used_at
        .is_some_and(|t| now - t < Duration::minutes(1));
    if recent && key.last_used_ip.as_deref() == ip {
        return Ok(());
    }
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Some(now).into())
        .col_expr(
            session::Column::LastUsedIp,
            ip.map(|ip| ip.chars().take(64).collect::<String>()).into(),
        )
        .filter(session::Column::Id.eq(key.id))
        .exec(&state.db)
        .await?;
    Ok(())
}

//! User administration.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{partner_org, session, user};
use vitrine_entity::identity::{
    check_password_policy, email_domain, normalize_email, normalize_name,
};
use vitrine_entity::policy::{Action, Actor};
use vitrine_entity::{AuditAction, Role, UserKind};

use crate::error::{ApiError, ApiResult};
use crate::services::auth::revoke_where;
use crate::services::is_unique_violation;
use crate::services::{Tx, authorize_instance, begin, event, fetch_page};
use crate::state::{AppState, RequestMeta};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub kind: UserKind,
    pub role: Option<Role>,
    pub partner_org_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub kind: Option<UserKind>,
    pub role: Option<Role>,
    pub partner_org_id: Option<Uuid>,
    pub disabled: Option<bool>,
    /// Substring of the email or display name.
    pub search: Option<String>,
}

fn require_admin(state: &AppState, actor: &Actor) -> ApiResult<()> {
    authorize_instance(state, actor, Action::Admin)
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such user".into())
}

async fn email_taken<C: ConnectionTrait>(
    conn: &C,
    email: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.count(conn).await? > 0)
}

/// A partner's email must belong to one of its organisation's domains (when
/// the organisation lists any).
fn check_partner_domain(email: &str, org: &partner_org::Model) -> ApiResult<()> {
    let domains = org.domains();
    if domains.is_empty() || domains.iter().any(|d| d == email_domain(email)) {
        Ok(())
    } else {
        Err(ApiError::BadUserInput(format!(
            "email domain {:?} is not one of the organisation's domains ({})",
            email_domain(email),
            domains.join(", ")
        )))
    }
}

/// Refuses a change that would leave no enabled administrator.
async fn ensure_another_admin<C: ConnectionTrait>(conn: &C, leaving: Uuid) -> ApiResult<()> {
    let others = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::Disabled.eq(false))
        .filter(user::Column::Id.ne(leaving))
        .count(conn)
        .await?;
    if others == 0 {
        Err(ApiError::Conflict(
            "this is the last enabled administrator; make another one first".into(),
        ))
    } else {
        Ok(())
    }
}

/// Creates a user (admin only; the command line acts as `Actor::System`).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: NewUser,
    meta: &RequestMeta,
) -> ApiResult<user::Model> {
    require_admin(state, actor)?;
    let email = normalize_email(&input.email)?;
    let name = normalize_name(&input.display_name)?;
    check_password_policy(&input.password)?;
    let org = match (input.kind, input.role, input.partner_org_id) {
        (UserKind::Member, Some(_), None) => None,
        (UserKind::Member, None, _) => {
            return Err(ApiError::BadUserInput("a member needs a role".into()));
        }
        (UserKind::Member, Some(_), Some(_)) => {
            return Err(ApiError::BadUserInput(
                "a member cannot belong to a partner organisation".into(),
            ));
        }
        (UserKind::Partner, Some(_), _) => {
            return Err(ApiError::BadUserInput(
                "partners have no role: their access comes from grants".into(),
            ));
        }
        (UserKind::Partner, None, None) => {
            return Err(ApiError::BadUserInput(
                "a partner needs a partner organisation".into(),
            ));
        }
        (UserKind::Partner, None, Some(org_id)) => {
            let org = partner_org::Entity::find_by_id(org_id)
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such partner organisation".into()))?;
            check_partner_domain(&email, &org)?;
            Some(org)
        }
    };
    let password = input.password;
    let hash = state.passwords.hash(&password).await?;

    let now = state.clock.now();
    let mut tx = begin(state).await?;
    if email_taken(tx.conn(), &email, None).await? {
        return Err(ApiError::Conflict(
            "a user with this email already exists".into(),
        ));
    }
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        display_name: Set(name),
        password_hash: Set(user::PasswordHash(hash)),
        kind: Set(input.kind),
        role: Set(input.role),
        partner_org_id: Set(org.as_ref().map(|o| o.id)),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        service: Set(false),
    }
    .insert(tx.conn())
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::Conflict("a user with this email already exists".into())
        } else {
            e.into()
        }
    })?;
    tx.audit(
        event(AuditAction::UserCreated, actor, meta)
            .target("user", model.id)
            .details(json!({
                "email": model.email,
                "kind": model.kind,
                "role": model.role,
                "partnerOrgId": model.partner_org_id,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// Changes a user's email, name, role or password. A password change ends
/// the user's sessions.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    patch: UserPatch,
    meta: &RequestMeta,
) -> ApiResult<user::Model> {
    require_admin(state, actor)?;
    let email = patch.email.as_deref().map(normalize_email).transpose()?;
    let name = patch
        .display_name
        .as_deref()
        .map(normalize_name)
        .transpose()?;
    let hash = match patch.password {
        Some(password) => {
            check_password_policy(&password)?;
            Some(state.passwords.hash(&password).await?)
        }
        None => None,
    };

    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let current = user::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let mut changed = Vec::new();
    let mut details = serde_json::Map::new();
    let mut active: user::ActiveModel = current.clone().into();
    if let Some(email) = email.filter(|e| *e != current.email) {
        if email_taken(tx.conn(), &email, Some(id)).await? {
            return Err(ApiError::Conflict(
                "a user with this email already exists".into(),
            ));
        }
        if let Some(org_id) = current.partner_org_id
            && let Some(org) = partner_org::Entity::find_by_id(org_id)
                .one(tx.conn())
                .await?
        {
            check_partner_domain(&email, &org)?;
        }
        details.insert(
            "email".into(),
            json!({ "from": current.email, "to": email }),
        );
        changed.push("email");
        active.email = Set(email);
    }
    if let Some(name) = name.filter(|n| *n != current.display_name) {
        changed.push("displayName");
        active.display_name = Set(name);
    }
    if let Some(role) = patch.role.filter(|r| Some(*r) != current.role) {
        if current.kind != UserKind::Member {
            return Err(ApiError::BadUserInput("partners have no role".into()));
        }
        if current.role == Some(Role::Admin) && !current.disabled {
            ensure_another_admin(tx.conn(), id).await?;
        }
        details.insert("role".into(), json!({ "from": current.role, "to": role }));
        changed.push("role");
        active.role = Set(Some(role));
    }
    if let Some(hash) = hash {
        changed.push("password");
        active.password_hash = Set(user::PasswordHash(hash));
    }
    if changed.is_empty() {
        return Ok(current);
    }
    active.updated_at = Set(now);
    let updated = active.update(tx.conn()).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::Conflict("a user with this email already exists".into())
        } else {
            e.into()
        }
    })?;
    details.insert("changed".into(), json!(changed));
    tx.audit(
        event(AuditAction::UserUpdated, actor, meta)
            .target("user", id)
            .details(serde_json::Value::Object(details)),
    )
    .await?;
    if changed.contains(&"password") {
        end_sessions(&mut tx, actor, meta, id, "password changed", false).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Disables (or re-enables) a user. Disabling revokes every session, and
/// authentication checks the flag on every request besides.
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    disabled: bool,
    meta: &RequestMeta,
) -> ApiResult<user::Model> {
    require_admin(state, actor)?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let current = user::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    if current.disabled == disabled {
        return Ok(current);
    }
    if disabled && current.role == Some(Role::Admin) {
        ensure_another_admin(tx.conn(), id).await?;
    }
    let mut active: user::ActiveModel = current.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(now);
    let updated = active.update(tx.conn()).await?;
    let action = if disabled {
        AuditAction::UserDisabled
    } else {
        AuditAction::UserEnabled
    };
    tx.audit(event(action, actor, meta).target("user", id))
        .await?;
    if disabled {
        end_sessions(&mut tx, actor, meta, id, "user disabled", false).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Ends every live session of a user.
pub async fn revoke_sessions(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<u64> {
    require_admin(state, actor)?;
    let mut tx = begin(state).await?;
    user::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let revoked = end_sessions(&mut tx, actor, meta, id, "revoked by administrator", true).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes every live session of a user inside `tx` and records it (always
/// when `always_audit`; otherwise only when a session was live).
async fn end_sessions(
    tx: &mut Tx<'_>,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    reason: &str,
    always_audit: bool,
) -> ApiResult<u64> {
    let revoked = revoke_where(tx.conn(), session::Column::UserId.eq(id), tx.now()).await?;
    if revoked > 0 || always_audit {
        tx.audit(
            event(AuditAction::TokenRevoked, actor, meta)
                .target("user", id)
                .details(json!({ "sessions": revoked, "reason": reason })),
        )
        .await?;
    }
    Ok(revoked)
}

/// The signed-in user.
pub async fn me(state: &AppState, actor: &Actor) -> ApiResult<user::Model> {
    let id = actor
        .user_id()
        .ok_or_else(|| ApiError::Unauthenticated("authentication required".into()))?;
    user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("authentication required".into()))
}

/// One user (admin only).
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<user::Model> {
    require_admin(state, actor)?;
    user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)
}

/// A page of users ordered by id (creation order: ids are UUIDv7).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ApiResult<(Vec<user::Model>, bool)> {
    require_admin(state, actor)?;
    let mut cond = Condition::all();
    if let Some(kind) = filter.kind {
        cond = cond.add(user::Column::Kind.eq(kind));
    }
    if let Some(role) = filter.role {
        cond = cond.add(user::Column::Role.eq(role));
    }
    if let Some(org) = filter.partner_org_id {
        cond = cond.add(user::Column::PartnerOrgId.eq(org));
    }
    if let Some(disabled) = filter.disabled {
        cond = cond.add(user::Column::Disabled.eq(disabled));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
        cond = cond.add(
            Condition::any()
                .add(user::Column::Email.like(pattern.clone()))
                .add(user::Column::DisplayName.like(pattern)),
        );
    }
    if let Some(after) = after {
        cond = cond.add(user::Column::Id.gt(after));
    }
    // API keys' principals are listed as keys (`apiKeys`), not as users.
    let query = user::Entity::find()
        .filter(cond)
        .filter(user::Column::Service.eq(false))
        .order_by_asc(user::Column::Id);
    Ok(fetch_page(query, limit, &state.db).await?)
}

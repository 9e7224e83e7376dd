//! Sign-in, sign-out and bearer-token authentication.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{partner_org, session, user};
use vitrine_entity::identity::normalize_email;
use vitrine_entity::policy::{Actor, KeyScope};
use vitrine_entity::{ActorKind, AuditAction, UserKind};

use crate::error::{ApiError, ApiResult};
use crate::security::{SESSION_TOKEN_PREFIX, dummy_hash, generate_token, hash_token};
use crate::services::{begin, event};
use crate::state::{AppState, Auth, RequestMeta};
use vitrine_entity::audit::ActorRef;

/// A successful sign-in. The token is shown here once and never again.
#[derive(Debug)]
pub struct LoginOutcome {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: user::Model,
}

const INVALID_CREDENTIALS: &str = "invalid email or password";
const ORG_NOT_ALLOWLISTED: &str = "partner organisation not allowlisted";

fn visitor() -> ActorRef {
    ActorRef {
        kind: ActorKind::Visitor,
        id: None,
        partner_org_id: None,
    }
}

/// Why a sign-in is refused; all reasons look the same to the client.
fn refusal(
    user: Option<&user::Model>,
    password_ok: bool,
    org: Option<&partner_org::Model>,
) -> Option<&'static str> {
    let user = user?;
    if user.service {
        // An API key's principal: never a person signing in.
        Some("api key principal")
    } else if !password_ok {
        Some("wrong password")
    } else if user.disabled {
        Some("account disabled")
    } else if user.kind == UserKind::Partner && !org.is_some_and(|o| o.allowlisted) {
        Some(ORG_NOT_ALLOWLISTED)
    } else if user.kind == UserKind::Member && user.role.is_none() {
        Some("member without a role")
    } else {
        None
    }
}

/// Whether `user` ever signed in from `ip` (a session of it from there is
/// still kept: live, or ended within the retention of ended sessions).
async fn known_ip(state: &AppState, user: &user::Model, ip: Option<&str>) -> ApiResult<bool> {
    let Some(ip) = ip else {
        return Ok(false);
    };
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user.id))
        .filter(session::Column::Ip.eq(ip))
        .count(&state.db)
        .await?
        > 0)
}

/// Signs in. Unknown emails and wrong passwords get the same error after the
/// same amount of work.
///
/// Lockout policy (after OWASP's advice against letting attackers lock
/// owners out): every attempt is reserved before its password is checked,
/// against three counters of the window — the client IP (all accounts), the
/// account from that IP, and the account from IPs it never signed in from.
/// One attacker's IP is stopped by the first two long before the third
/// locks anyone out; a distributed guesser locks the account only for
/// unknown IPs, and its owner still signs in from the IPs it used before.
/// However many attempts race, at most the limits are ever checked; a
/// success gives its reservations back and clears its account-and-IP count.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    meta: &RequestMeta,
) -> ApiResult<LoginOutcome> {
    let now = state.clock.now();
    let limits = &state.config.login;
    let normalized = normalize_email(email).ok();
    let claimed = normalized
        .clone()
        .unwrap_or_else(|| email.trim().to_lowercase());
    let found = match &normalized {
        Some(e) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(e.as_str()))
                .one(&state.db)
                .await?
        }
        None => None,
    };
    let known = match &found {
        Some(u) => known_ip(state, u, meta.ip.as_deref()).await?,
        None => false,
    };
    let ip = meta.ip.as_deref().unwrap_or("unknown");
    let account_ip_key = format!("login:account-ip:{claimed}:{ip}");
    let mut keys = vec![
        (format!("login:ip:{ip}"), limits.max_failures_per_ip, "ip"),
        (
            account_ip_key.clone(),
            limits.max_failures_per_email,
            "account and ip",
        ),
    ];
    if !known {
        keys.push((
            format!("login:account:{claimed}"),
            limits.max_failures_per_account,
            "account from unknown ips",
        ));
    }
    let reserved = match state.throttle.reserve_all(&keys, limits.window, now).await {
        Ok(reserved) => reserved,
        Err((e, by)) => {
            let mut tx = begin(state).await?;
            tx.audit(
                event(AuditAction::LoginThrottled, visitor(), meta)
                    .details(json!({ "email": claimed, "by": by })),
            )
            .await?;
            tx.commit().await?;
            return Err(e);
        }
    };

    let stored = found
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.0.clone());
    let password_ok = match state.passwords.verify(password, stored).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked (the checks are saturated): not a failure.
            state.throttle.release_all(&reserved).await?;
            return Err(e);
        }
    };
    let org = match found.as_ref().and_then(|u| u.partner_org_id) {
        Some(org_id) => {
            partner_org::Entity::find_by_id(org_id)
                .one(&state.db)
                .await?
        }
        None => None,
    };

    let reason = match &found {
        None => Some("unknown email"),
        Some(u) => refusal(Some(u), password_ok, org.as_ref()),
    };
    if reason == Some(ORG_NOT_ALLOWLISTED) {
        // The password proved who they are: say why, and only that (no
        // failure counted against them).
        state.throttle.release_all(&reserved).await?;
        let mut tx = begin(state).await?;
        let mut refused = event(AuditAction::LoginFailed, visitor(), meta)
            .details(json!({ "email": claimed, "reason": ORG_NOT_ALLOWLISTED }));
        if let Some(u) = &found {
            refused = refused.target("user", u.id);
        }
        tx.audit(refused).await?;
        tx.commit().await?;
        return Err(ApiError::Forbidden(
            "your partner organisation is not active".into(),
        ));
    }
    if let Some(reason) = reason {
        // The reservations stay: they are the failure counts.
        let mut failed = event(AuditAction::LoginFailed, visitor(), meta)
            .details(json!({ "email": claimed, "reason": reason }));
        if let Some(u) = &found {
            failed = failed.target("user", u.id);
        }
        let mut tx = begin(state).await?;
        tx.audit(failed).await?;
        tx.commit().await?;
        return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS.into()));
    }
    state.throttle.release_all(&reserved).await?;
    state.throttle.reset(&account_ip_key).await?;
    let user = found.ok_or_else(|| ApiError::Unauthenticated(INVALID_CREDENTIALS.into()))?;

    let token = generate_token(SESSION_TOKEN_PREFIX)?;
    let ttl = chrono::Duration::from_std(state.config.session_ttl)
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    let expires_at = now + ttl;
    let session_id = Uuid::now_v7();
    let mut tx = begin(state).await?;
    session::ActiveModel {
        id: Set(session_id),
        user_id: Set(user.id),
        token_hash: Set(hash_token(&token)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta
            .user_agent
            .clone()
            .map(|ua| ua.chars().take(512).collect())),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    let mut active: user::ActiveModel = user.clone().into();
    active.last_login_at = Set(Some(now));
    let user = active.update(tx.conn()).await?;
    tx.audit(
        event(
            AuditAction::LoginSucceeded,
            ActorRef {
                kind: user.kind.into(),
                id: Some(user.id),
                partner_org_id: user.partner_org_id,
            },
            meta,
        )
        .target("session", session_id)
        .details(json!({ "expiresAt": vitrine_entity::audit_chain::format_instant(expires_at) })),
    )
    .await?;
    tx.commit().await?;
    Ok(LoginOutcome {
        token,
        expires_at,
        user,
    })
}

/// Resolves a bearer token — a sign-in token (`vts_…`) or an API key
/// (`vtk_…`, whose use from `ip` is recorded) — to an identity, at `now`.
/// Every request does this, so revocation, expiry, disabling and allowlist
/// removal act at once.
pub async fn authenticate(state: &AppState, token: &str, ip: Option<&str>) -> ApiResult<Auth> {
    if token.starts_with(crate::services::api_keys::API_KEY_PREFIX) {
        let found = crate::services::api_keys::lookup(state, token).await?;
        let auth = resolve(state, found.clone()).await?;
        if auth.session_id.is_some()
            && let Some((key, _)) = &found
        {
            crate::services::api_keys::touch(state, key, ip).await?;
        }
        return Ok(auth);
    }
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash_token(token)))
        .filter(session::Column::ApiKeyName.is_null())
        .find_also_related(user::Entity)
        .one(&state.db)
        .await?;
    resolve(state, found).await
}

/// Re-checks a session already admitted (long-lived subscriptions do this
/// before each delivery). `None` when it no longer admits anyone.
pub async fn authenticate_session(
    state: &AppState,
    session_id: Option<Uuid>,
) -> ApiResult<Option<Actor>> {
    let Some(id) = session_id else {
        return Ok(None);
    };
    let auth = reauthenticate(state, id).await?;
    Ok(auth.session_id.map(|_| auth.actor))
}

/// The identity a session admits now, exactly as a request bearing its token
/// would get it (a WebSocket re-reads it before every operation): rejected,
/// with the reason, once it is revoked, expired, its user disabled or its
/// organisation off the allowlist; with the user's current role otherwise.
pub async fn reauthenticate(state: &AppState, session_id: Uuid) -> ApiResult<Auth> {
    let found = session::Entity::find_by_id(session_id)
        .find_also_related(user::Entity)
        .one(&state.db)
        .await?;
    resolve(state, found).await
}

/// [`reauthenticate`] for a connection opened with the secret whose hash is
/// `secret_hash`: an API key's previous secret stops admitting it when its
/// rotation overlap ends, exactly as it stops working over HTTP.
pub async fn reauthenticate_secret(
    state: &AppState,
    session_id: Uuid,
    secret_hash: &str,
) -> ApiResult<Auth> {
    let found = session::Entity::find_by_id(session_id)
        .find_also_related(user::Entity)
        .one(&state.db)
        .await?;
    if let Some((key, _)) = &found {
        let current = key.token_hash == secret_hash;
        let previous = key.previous_token_hash.as_deref() == Some(secret_hash)
            && key
                .previous_expires_at
                .is_some_and(|t| state.clock.now() < t);
        if !current && !previous {
            return Ok(Auth::rejected("the key's secret was rotated out"));
        }
    }
    resolve(state, found).await
}

async fn resolve(
    state: &AppState,
    found: Option<(session::Model, Option<user::Model>)>,
) -> ApiResult<Auth> {
    let now = state.clock.now();
    let Some((session, Some(user))) = found else {
        return Ok(Auth::rejected("invalid token"));
    };
    if session.revoked_at.is_some() {
        return Ok(Auth::rejected("token revoked"));
    }
    if now >= session.expires_at {
        return Ok(Auth::rejected("token expired"));
    }
    if user.disabled {
        return Ok(Auth::rejected("account disabled"));
    }
    let actor = match actor_of_user(&state.db, &user).await? {
        Ok(actor) => crate::services::api_keys::narrow(actor, session.scopes.as_deref()),
        Err(reason) => return Ok(Auth::rejected(reason)),
    };
    Ok(Auth {
        actor,
        session_id: Some(session.id),
        rejected: None,
    })
}

/// The actor a user is now, or why it is none: disabled, not usable, or of
/// an organisation off the allowlist.
pub async fn actor_of_user<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user: &user::Model,
) -> ApiResult<Result<Actor, &'static str>> {
    if user.disabled {
        return Ok(Err("account disabled"));
    }
    Ok(match (user.kind, user.role, user.partner_org_id) {
        (UserKind::Member, Some(role), _) => Ok(Actor::Member {
            user_id: user.id,
            role,
            scope: KeyScope::FULL,
        }),
        (UserKind::Partner, _, Some(org_id)) => {
            let org = partner_org::Entity::find_by_id(org_id).one(conn).await?;
            match org {
                Some(org) if org.allowlisted => Ok(Actor::Partner {
                    user_id: user.id,
                    org_id,
                    org_allowlisted: true,
                    scope: KeyScope::FULL,
                }),
                _ => Err("partner organisation not allowlisted"),
            }
        }
        _ => Err("account is not usable"),
    })
}

/// Signs out: revokes the session the request came with.
pub async fn logout(state: &AppState, auth: &Auth, meta: &RequestMeta) -> ApiResult<bool> {
    let Some(session_id) = auth.session_id else {
        return Err(ApiError::Unauthenticated(
            auth.rejected.unwrap_or("authentication required").into(),
        ));
    };
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let revoked = revoke_where(tx.conn(), session::Column::Id.eq(session_id), now).await?;
    tx.audit(event(AuditAction::Logout, &auth.actor, meta).target("session", session_id))
        .await?;
    tx.commit().await?;
    Ok(revoked > 0)
}

/// Revokes the live sessions matching `condition`; returns how many.
pub(crate) async fn revoke_where<C: ConnectionTrait>(
    conn: &C,
    condition: impl sea_orm::sea_query::IntoCondition,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Some(now).into())
        .filter(condition)
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

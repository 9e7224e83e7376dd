//! Share links: created by those who may SHARE, opened by visitors. A
//! visitor is an actor of the same policy: every image it loads goes through
//! `/r/` and is decided with the link's facts as they stand at that request,
//! including what the link's creator may still do.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::audit::NewEvent;
use vitrine_entity::entities::{
    asset, derivative_profile, partner_org, share_link, share_link_asset, share_visit, smart_folder,
};
use vitrine_entity::license::{Channel, normalize_territory};
use vitrine_entity::policy::{
    Action, Actor, LinkState, Resource, SmartFolderAction, authorize, authorize_profile,
    authorize_smart_folder,
};
use vitrine_entity::{AuditAction, ShareScope};

use crate::error::{ApiError, ApiResult};
use crate::security;
use crate::services::{access, assets, begin, event, folders, link_content};
use crate::state::{AppState, RequestMeta};

/// Prefix of share-link tokens (secret scanners can recognise a leaked one).
pub const LINK_TOKEN_PREFIX: &str = "vsl_";
/// Prefix of a visitor's cookie secret.
const VISIT_SECRET_PREFIX: &str = "vsv_";
/// Most assets one link may list.
pub const MAX_LINK_ASSETS: usize = 500;
/// Most assets a visitor page shows.
pub const MAX_PAGE_ASSETS: u64 = 500;
/// Shortest password a link may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// What `createShareLink` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewShareLink {
    pub asset_ids: Vec<Uuid>,
    pub folder_id: Option<Uuid>,
    /// A smart folder: visitors see what its search finds at each request,
    /// run as the link's creator.
    pub smart_folder_id: Option<Uuid>,
    pub scope: Option<ShareScope>,
    pub password: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_views: Option<i32>,
    pub max_downloads: Option<i32>,
    pub label: Option<String>,
    pub recipient_email: Option<String>,
    pub partner_org_id: Option<Uuid>,
    /// The use the link is for: visitors then get only assets with a
    /// license in force covering this channel and territory.
    pub channel: Option<Channel>,
    pub territory: Option<String>,
    /// The derivative profile (by name) the page shows images in: one whose
    /// audience is VISITORS, which the creator may receive.
    pub profile: Option<String>,
}

/// What `updateShareLink` changes (absent: unchanged). `password:
/// Some(None)` removes the password.
#[derive(Debug, Clone, Default)]
pub struct ShareLinkPatch {
    pub label: Option<Option<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_views: Option<Option<i32>>,
    pub max_downloads: Option<Option<i32>>,
    pub password: Option<Option<String>>,
}

/// A new link and its URL (the only time the token is shown).
#[derive(Debug, Clone)]
pub struct CreatedLink {
    pub url: String,
    pub link: share_link::Model,
}

/// Which links `shareLinks` lists.
#[derive(Debug, Clone, Default)]
pub struct LinkFilter {
    pub asset_id: Option<Uuid>,
    pub active_only: bool,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such share link".into())
}

fn link_event(action: AuditAction, actor: &Actor, meta: &RequestMeta, id: Uuid) -> NewEvent {
    let mut e = event(action, actor, meta).target("share_link", id);
    e.share_link_id = Some(id);
    e
}

/// The URL of a link's visitor page.
pub fn page_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/s/{token}",
        state
            .config
            .delivery
            .public_url
            .as_deref()
            .unwrap_or_default()
    )
}

/// The highest view or download cap (download units must fit in 64 bits).
const MAX_CAP: i32 = 1_000_000;

fn check_caps(max_views: Option<i32>, max_downloads: Option<i32>) -> ApiResult<()> {
    for (name, v) in [("maxViews", max_views), ("maxDownloads", max_downloads)] {
        if v.is_some_and(|v| !(1..=MAX_CAP).contains(&v)) {
            return Err(ApiError::BadUserInput(format!(
                "{name} must be between 1 and {MAX_CAP}"
            )));
        }
    }
    Ok(())
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::BadUserInput(format!(
            "a link password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(ApiError::BadUserInput("the password is too long".into()));
    }
    Ok(())
}

fn check_expiry(state: &AppState, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<()> {
    let max = Duration::from_std(state.config.share.max_ttl).unwrap_or(Duration::days(90));
    if expires_at <= now {
        return Err(ApiError::BadUserInput(
            "expiresAt must be in the future".into(),
        ));
    }
    if expires_at > now + max {
        return Err(ApiError::BadUserInput(format!(
            "expiresAt may be at most {} days ahead",
            max.num_days()
        )));
    }
    Ok(())
}

fn clean_text(value: Option<String>, name: &str, max: usize) -> ApiResult<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::BadUserInput(format!(
            "{name} must be at most {max} printable characters"
        )));
    }
    Ok(Some(v))
}

/// Creates a link. The creator needs SHARE on every asset listed, or on the
/// folder; the link never gives more than its creator may at each request.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    input: NewShareLink,
) -> ApiResult<CreatedLink> {
    let Some(creator_id) = actor.user_id() else {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    };
    let now = state.clock.now();
    let mut ids = input.asset_ids.clone();
    ids.sort();
    ids.dedup();
    let targets = usize::from(!ids.is_empty())
        + usize::from(input.folder_id.is_some())
        + usize::from(input.smart_folder_id.is_some());
    if targets != 1 {
        return Err(ApiError::BadUserInput(
            "give one of assetIds, folderId or smartFolderId".into(),
        ));
    }
    if ids.len() > MAX_LINK_ASSETS {
        return Err(ApiError::BadUserInput(format!(
            "a link lists at most {MAX_LINK_ASSETS} assets"
        )));
    }
    let default_ttl =
        Duration::from_std(state.config.share.default_ttl).unwrap_or(Duration::days(7));
    let expires_at = input.expires_at.unwrap_or(now + default_ttl);
    check_expiry(state, expires_at, now)?;
    if input.starts_at.is_some_and(|s| s >= expires_at) {
        return Err(ApiError::BadUserInput(
            "startsAt must come before expiresAt".into(),
        ));
    }
    check_caps(input.max_views, input.max_downloads)?;
    if let Some(p) = &input.password {
        check_password(p)?;
    }
    let territory = match input.territory.as_deref() {
        None => None,
        Some(t) => Some(normalize_territory(t).ok_or_else(|| {
            ApiError::BadUserInput(format!(
                "territory {t:?} is not an ISO 3166-1 alpha-2 code or WORLD"
            ))
        })?),
    };
    let label = clean_text(input.label, "label", 200)?;
    let recipient = clean_text(input.recipient_email, "recipientEmail", 320)?;
    if recipient
        .as_deref()
        .is_some_and(|r| !r.contains('@') || r.contains(char::is_whitespace))
    {
        return Err(ApiError::BadUserInput(
            "recipientEmail is not an email address".into(),
        ));
    }
    let password_hash = match input.password {
        Some(p) => Some(state.passwords.hash(&p).await?),
        None => None,
    };
    let token = security::generate_token(LINK_TOKEN_PREFIX)?;

    let mut tx = begin(state).await?;
    let profile_id = match input.profile.as_deref() {
        None => None,
        Some(name) => {
            let no_profile = || ApiError::NotFound("no such derivative profile".into());
            let profile = derivative_profile::Entity::find()
                .filter(derivative_profile::Column::Name.eq(name))
                .one(tx.conn())
                .await?
                .ok_or_else(no_profile)?;
            // The creator may not pass on what it may not receive.
            authorize_profile(actor, &profile.facts())
                .map_err(|d| access::denied(d, no_profile))?;
            let visitor = Actor::Visitor {
                share_link_id: Uuid::nil(),
            };
            if authorize_profile(&visitor, &profile.facts()).is_err() {
                return Err(ApiError::BadUserInput(format!(
                    "the profile {name:?} is not offered to visitors (its audience is not VISITORS)"
                )));
            }
            Some(profile.id)
        }
    };
    if let Some(org) = input.partner_org_id
        && partner_org::Entity::find_by_id(org)
            .one(tx.conn())
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("no such partner organisation".into()));
    }
    if let Some(folder_id) = input.folder_id {
        folders::authorize_folder(state, tx.conn(), actor, Action::Share, Some(folder_id)).await?;
    } else if let Some(smart_id) = input.smart_folder_id {
        // Whoever may open the smart folder may link it; each asset it
        // finds is shown only while the creator may SHARE it.
        let not_found = || ApiError::NotFound("no such smart folder".into());
        let smart = smart_folder::Entity::find_by_id(smart_id)
            .one(tx.conn())
            .await?
            .ok_or_else(not_found)?;
        authorize_smart_folder(actor, SmartFolderAction::View, &smart.facts())
            .and_then(|()| authorize_smart_folder(actor, SmartFolderAction::Share, &smart.facts()))
            .map_err(|d| access::denied(d, not_found))?;
    } else {
        let found = asset::Entity::find()
            .filter(asset::Column::Id.is_in(ids.clone()))
            .all(tx.conn())
            .await?;
        if found.len() != ids.len() {
            return Err(ApiError::NotFound("no such asset".into()));
        }
        for a in &found {
            assets::authorize_asset(state, tx.conn(), actor, Action::Share, a).await?;
        }
    }
    let id = Uuid::now_v7();
    let link = share_link::ActiveModel {
        id: Set(id),
        token_hash: Set(security::hash_token(&token)),
        created_by: Set(creator_id),
        folder_id: Set(input.folder_id),
        smart_folder_id: Set(input.smart_folder_id),
        scope: Set(input.scope.unwrap_or(ShareScope::Preview)),
        password_hash: Set(password_hash),
        starts_at: Set(input.starts_at),
        expires_at: Set(expires_at),
        max_views: Set(input.max_views),
        max_downloads: Set(input.max_downloads),
        label: Set(label),
        recipient_email: Set(recipient),
        partner_org_id: Set(input.partner_org_id),
        channel: Set(input.channel.map(|c| c.as_str().to_owned())),
        territory: Set(territory),
        profile_id: Set(profile_id),
        opens: Set(0),
        views: Set(0),
        downloads: Set(0),
        download_units: Set(0),
        failed_passwords: Set(0),
        last_access_at: Set(None),
        revoked_at: Set(None),
        revoked_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(tx.conn())
    .await?;
    if !ids.is_empty() {
        share_link_asset::Entity::insert_many(ids.iter().map(|a| share_link_asset::ActiveModel {
            link_id: Set(id),
            asset_id: Set(*a),
        }))
        .exec_without_returning(tx.conn())
        .await?;
    }
    tx.audit(
        link_event(AuditAction::ShareLinkCreated, actor, meta, id).details(json!({
            "scope": link.scope,
            "assets": ids,
            "folderId": link.folder_id,
            "smartFolderId": link.smart_folder_id,
            "startsAt": link.starts_at,
            "expiresAt": link.expires_at,
            "password": link.password_hash.is_some(),
            "maxViews": link.max_views,
            "maxDownloads": link.max_downloads,
            "partnerOrgId": link.partner_org_id,
            "channel": link.channel,
            "territory": link.territory,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedLink {
        url: page_url(state, &token),
        link,
    })
}

/// Whether `actor` manages `link`: its creator, or an administrator.
fn manages(actor: &Actor, link: &share_link::Model, now: DateTime<Utc>) -> bool {
    actor.user_id() == Some(link.created_by)
        || authorize(actor, Action::Admin, &Resource::Instance, now).is_ok()
}

/// The link `id` if `actor` manages it (NOT_FOUND otherwise).
async fn managed_link<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<share_link::Model> {
    let link = share_link::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    if !manages(actor, &link, now) {
        return Err(not_found());
    }
    Ok(link)
}

/// One link, for its creator or an administrator (NOT_FOUND for others).
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<share_link::Model> {
    if actor.user_id().is_none() {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    managed_link(&state.db, actor, id, state.clock.now()).await
}

/// The links an administrator sees (all) or a creator sees (its own), newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: LinkFilter,
) -> ApiResult<Vec<share_link::Model>> {
    let Some(user_id) = actor.user_id() else {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    };
    let now = state.clock.now();
    let mut query = share_link::Entity::find();
    if authorize(actor, Action::Admin, &Resource::Instance, now).is_err() {
        query = query.filter(share_link::Column::CreatedBy.eq(user_id));
    }
    if let Some(asset_id) = filter.asset_id {
        query = query.filter(
            share_link::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(share_link_asset::Column::LinkId)
                    .from(share_link_asset::Entity)
                    .and_where(share_link_asset::Column::AssetId.eq(asset_id))
                    .to_owned(),
            ),
        );
    }
    if filter.active_only {
        query = query
            .filter(share_link::Column::RevokedAt.is_null())
            .filter(share_link::Column::ExpiresAt.gt(now));
    }
    Ok(query
        .order_by_desc(share_link::Column::CreatedAt)
        .order_by_desc(share_link::Column::Id)
        .limit(1000)
        .all(&state.db)
        .await?)
}

/// The assets a link lists (empty for a folder link).
pub async fn listed_asset_ids<C: ConnectionTrait>(conn: &C, link_id: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(share_link_asset::Entity::find()
        .select_only()
        .column(share_link_asset::Column::AssetId)
        .filter(share_link_asset::Column::LinkId.eq(link_id))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Changes a link's label, expiry, caps or password (creator or admin).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    patch: ShareLinkPatch,
) -> ApiResult<share_link::Model> {
    let now = state.clock.now();
    if let Some(e) = patch.expires_at {
        check_expiry(state, e, now)?;
    }
    check_caps(patch.max_views.flatten(), patch.max_downloads.flatten())?;
    let label = match patch.label {
        Some(l) => Some(clean_text(l, "label", 200)?),
        None => None,
    };
    let password_hash = match patch.password {
        Some(Some(p)) => {
            check_password(&p)?;
            Some(Some(state.passwords.hash(&p).await?))
        }
        Some(None) => Some(None),
        None => None,
    };
    let mut tx = begin(state).await?;
    let link = managed_link(tx.conn(), actor, id, now).await?;
    if link.revoked_at.is_some() {
        return Err(ApiError::Conflict("the link is revoked".into()));
    }
    if let Some(e) = patch.expires_at
        && link.starts_at.is_some_and(|s| s >= e)
    {
        return Err(ApiError::BadUserInput(
            "expiresAt must come after startsAt".into(),
        ));
    }
    let mut changed = Vec::new();
    let mut active: share_link::ActiveModel = link.into();
    if let Some(l) = label {
        active.label = Set(l);
        changed.push("label");
    }
    if let Some(e) = patch.expires_at {
        active.expires_at = Set(e);
        changed.push("expiresAt");
    }
    if let Some(v) = patch.max_views {
        active.max_views = Set(v);
        changed.push("maxViews");
    }
    if let Some(v) = patch.max_downloads {
        active.max_downloads = Set(v);
        changed.push("maxDownloads");
    }
    if let Some(p) = password_hash {
        active.password_hash = Set(p);
        changed.push("password");
    }
    active.updated_at = Set(now);
    let link = active.update(tx.conn()).await?;
    if changed.contains(&"password") {
        // A new password ends every visit admitted with the old one.
        share_visit::Entity::delete_many()
            .filter(share_visit::Column::LinkId.eq(id))
            .exec(tx.conn())
            .await?;
    }
    tx.audit(
        link_event(AuditAction::ShareLinkUpdated, actor, meta, id)
            .details(json!({ "changed": changed, "expiresAt": link.expires_at })),
    )
    .await?;
    tx.commit().await?;
    Ok(link)
}

/// Revokes a link: its page and every image URL issued under it stop at
/// their next request.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> ApiResult<share_link::Model> {
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let link = managed_link(tx.conn(), actor, id, now).await?;
    if link.revoked_at.is_some() {
        return Ok(link);
    }
    let mut active: share_link::ActiveModel = link.into();
    active.revoked_at = Set(Some(now));
    active.revoked_by = Set(actor.user_id());
    active.updated_at = Set(now);
    let link = active.update(tx.conn()).await?;
    tx.audit(link_event(AuditAction::ShareLinkRevoked, actor, meta, id))
        .await?;
    tx.commit().await?;
    Ok(link)
}

/// Revokes every live link that could show `asset_id`: those listing it,
/// folder links whose folder holds it, and smart-folder links whose search
/// finds it now. Needs SHARE on the asset (or ADMIN). Returns how many were
/// revoked.
pub async fn revoke_for_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
) -> ApiResult<u64> {
    let now = state.clock.now();
    // The live links over a saved search that finds the asset now: their
    // searches run before the write transaction, which they would
    // otherwise hold open (on SQLite, every other writer waits).
    let found = asset::Entity::find_by_id(asset_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    assets::authorize_asset(state, &state.db, actor, Action::Share, &found).await?;
    let searches: Vec<share_link::Model> = share_link::Entity::find()
        .filter(share_link::Column::SmartFolderId.is_not_null())
        .filter(share_link::Column::RevokedAt.is_null())
        .filter(share_link::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?;
    let mut ids: HashSet<Uuid> = HashSet::new();
    for link in searches {
        let id = link.id;
        if link_content::selects(state, &state.db, link, &found).await? {
            ids.insert(id);
        }
    }
    let mut tx = begin(state).await?;
    let asset = asset::Entity::find_by_id(asset_id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    assets::authorize_asset(state, tx.conn(), actor, Action::Share, &asset).await?;
    let ancestry = access::folder_ancestry(tx.conn(), asset.folder_id).await?;
    ids.extend(listed_links(tx.conn(), asset_id).await?);
    if let Some(ancestry) = ancestry.as_deref() {
        // The folders above the asset, and its own: a link on any holds it.
        let above: Vec<Uuid> = ancestry
            .split('/')
            .filter_map(|p| Uuid::parse_str(p).ok())
            .collect();
        let folder_links: Vec<Uuid> = share_link::Entity::find()
            .select_only()
            .column(share_link::Column::Id)
            .filter(share_link::Column::FolderId.is_in(above))
            .into_tuple()
            .all(tx.conn())
            .await?;
        ids.extend(folder_links);
    }
    let live: Vec<Uuid> = share_link::Entity::find()
        .select_only()
        .column(share_link::Column::Id)
        .filter(share_link::Column::Id.is_in(ids))
        .filter(share_link::Column::RevokedAt.is_null())
        .into_tuple()
        .all(tx.conn())
        .await?;
    if live.is_empty() {
        return Ok(0);
    }
    share_link::Entity::update_many()
        .col_expr(share_link::Column::RevokedAt, Expr::value(now))
        .col_expr(share_link::Column::RevokedBy, Expr::value(actor.user_id()))
        .col_expr(share_link::Column::UpdatedAt, Expr::value(now))
        .filter(share_link::Column::Id.is_in(live.clone()))
        .exec(tx.conn())
        .await?;
    for id in &live {
        tx.audit(
            link_event(AuditAction::ShareLinkRevoked, actor, meta, *id)
                .details(json!({ "forAsset": asset_id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(live.len() as u64)
}

async fn listed_links<C: ConnectionTrait>(conn: &C, asset_id: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(share_link_asset::Entity::find()
        .select_only()
        .column(share_link_asset::Column::LinkId)
        .filter(share_link_asset::Column::AssetId.eq(asset_id))
        .into_tuple()
        .all(conn)
        .await?)
}

// ---------------------------------------------------------------- visitors

/// The link a token opens, if any (whatever its state).
pub async fn find_by_token(state: &AppState, token: &str) -> ApiResult<Option<share_link::Model>> {
    if !token.starts_with(LINK_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    Ok(share_link::Entity::find()
        .filter(share_link::Column::TokenHash.eq(security::hash_token(token)))
        .one(&state.db)
        .await?)
}

fn visitor_event(action: AuditAction, link_id: Uuid, meta: &RequestMeta) -> NewEvent {
    link_event(
        action,
        &Actor::Visitor {
            share_link_id: link_id,
        },
        meta,
        link_id,
    )
}

/// Checks a password typed on a link's page. Attempts are reserved before
/// the password is checked (see `throttle`), against the link from this
/// client IP, the client IP on all links, and the link from all IPs, so no
/// more guesses than the limits are ever checked, one guesser locks out only
/// itself, and a distributed one locks the link for everyone only at the
/// higher per-link limit. Failures and lockouts are audited.
pub async fn try_password(
    state: &AppState,
    link: &share_link::Model,
    password: &str,
    meta: &RequestMeta,
) -> ApiResult<bool> {
    let Some(stored) = link.password_hash.clone() else {
        return Ok(true);
    };
    let now = state.clock.now();
    let cfg = &state.config.share;
    let ip = meta.ip.as_deref().unwrap_or("unknown");
    let link_ip_key = format!("share-link-ip:{}:{ip}", link.id);
    let keys = [
        (
            link_ip_key.clone(),
            cfg.max_password_failures,
            "link and ip",
        ),
        (
            format!("share-ip:{ip}"),
            cfg.max_password_failures_per_ip,
            "ip",
        ),
        (
            format!("share-link:{}", link.id),
            cfg.max_password_failures_per_link,
            "link",
        ),
    ];
    // Locked out: refused unchecked (the lockout itself was audited when
    // the failure that caused it was).
    let reserved = state
        .throttle
        .reserve_all(&keys, cfg.password_window, now)
        .await
        .map_err(|(e, _)| e)?;
    let ok = match state.passwords.verify(password, stored).await {
        Ok(ok) => ok,
        Err(e) => {
            state.throttle.release_all(&reserved).await?;
            return Err(e);
        }
    };
    if ok {
        state.throttle.release_all(&reserved).await?;
        state.throttle.reset(&link_ip_key).await?;
        return Ok(true);
    }
    let mut tx = begin(state).await?;
    share_link::Entity::update_many()
        .col_expr(
            share_link::Column::FailedPasswords,
            Expr::col(share_link::Column::FailedPasswords).add(1),
        )
        .filter(share_link::Column::Id.eq(link.id))
        .exec(tx.conn())
        .await?;
    tx.audit(visitor_event(
        AuditAction::SharePasswordFailed,
        link.id,
        meta,
    ))
    .await?;
    let locked: Vec<&str> = reserved
        .iter()
        .zip(&keys)
        .filter(|(r, _)| r.fills)
        .map(|(_, (_, _, name))| *name)
        .collect();
    if !locked.is_empty() {
        tx.audit(
            visitor_event(AuditAction::ShareLockedOut, link.id, meta)
                .details(json!({ "by": locked, "for": cfg.password_window.as_secs() })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(false)
}

/// Starts a visit (after the password, if any): counts an open against
/// `maxViews` atomically. `None` when the link is used up or unusable.
/// Returns the visit and the cookie value (`<visit id>.<secret>`).
pub async fn start_visit(
    state: &AppState,
    link: &share_link::Model,
    meta: &RequestMeta,
) -> ApiResult<Option<(share_visit::Model, String)>> {
    let now = state.clock.now();
    if link.state(now) != LinkState::Active {
        return Ok(None);
    }
    let mut tx = begin(state).await?;
    let counted = share_link::Entity::update_many()
        .col_expr(
            share_link::Column::Opens,
            Expr::col(share_link::Column::Opens).add(1),
        )
        .col_expr(share_link::Column::LastAccessAt, Expr::value(Some(now)))
        .filter(share_link::Column::Id.eq(link.id))
        .filter(share_link::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(share_link::Column::MaxViews.is_null())
                .add(
                    Expr::col(share_link::Column::Opens)
                        .lt(Expr::col(share_link::Column::MaxViews)),
                ),
        )
        .exec(tx.conn())
        .await?;
    if counted.rows_affected != 1 {
        return Ok(None);
    }
    let secret = security::generate_token(VISIT_SECRET_PREFIX)?;
    let ttl = Duration::from_std(state.config.share.visit_ttl).unwrap_or(Duration::hours(12));
    let visit = share_visit::ActiveModel {
        id: Set(Uuid::now_v7()),
        link_id: Set(link.id),
        secret_hash: Set(security::hash_token(&secret)),
        created_at: Set(now),
        expires_at: Set(std::cmp::Ord::min(now + ttl, link.expires_at)),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta.user_agent.clone()),
    }
    .insert(tx.conn())
    .await?;
    tx.audit(
        visitor_event(AuditAction::ShareLinkOpened, link.id, meta)
            .details(json!({ "visitId": visit.id })),
    )
    .await?;
    tx.commit().await?;
    let cookie = format!("{}.{secret}", visit.id.simple());
    Ok(Some((visit, cookie)))
}

/// The live visit a cookie value admits on `link_id`, if any.
pub async fn visit_of_cookie(
    state: &AppState,
    link_id: Uuid,
    cookie: &str,
) -> ApiResult<Option<share_visit::Model>> {
    // Looked up by the hash of its secret, as sessions are by their token's.
    let Some((id, secret)) = cookie.split_once('.') else {
        return Ok(None);
    };
    let Some(visit) = share_visit::Entity::find()
        .filter(share_visit::Column::SecretHash.eq(security::hash_token(secret)))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let same_visit = Uuid::parse_str(id).is_ok_and(|id| id == visit.id);
    if !same_visit || visit.link_id != link_id || state.clock.now() >= visit.expires_at {
        return Ok(None);
    }
    Ok(Some(visit))
}

/// Whether a visit is still live for its link (delivery asks this at every
/// request of a visitor's URL).
pub async fn visit_is_live<C: ConnectionTrait>(
    conn: &C,
    link_id: Uuid,
    visit_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    Ok(share_visit::Entity::find_by_id(visit_id)
        .one(conn)
        .await?
        .is_some_and(|v| v.link_id == link_id && now < v.expires_at))
}

/// Counts `units` of download (see [`share_link::download_units`]) against
/// `maxDownloads`, atomically: `false` when they do not fit in what the cap
/// leaves (nothing is then counted, and nothing must be served).
pub async fn count_download<C: ConnectionTrait>(
    conn: &C,
    link_id: Uuid,
    units: i64,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let per = share_link::UNITS_PER_DOWNLOAD;
    let after = Expr::col(share_link::Column::DownloadUnits).add(units);
    let counted = share_link::Entity::update_many()
        .col_expr(share_link::Column::DownloadUnits, after.clone())
        // Whole downloads, rounded up: every column on the right reads the
        // row as it was before this update, on both databases.
        .col_expr(
            share_link::Column::Downloads,
            after.clone().add(per - 1).div(per),
        )
        .col_expr(share_link::Column::LastAccessAt, Expr::value(Some(now)))
        .filter(share_link::Column::Id.eq(link_id))
        .filter(
            Condition::any()
                .add(share_link::Column::MaxDownloads.is_null())
                .add(after.lte(Expr::col(share_link::Column::MaxDownloads).mul(per))),
        )
        .exec(conn)
        .await?;
    Ok(counted.rows_affected == 1)
}

/// Counts a preview delivered through a link.
pub async fn count_view<C: ConnectionTrait>(
    conn: &C,
    link_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    share_link::Entity::update_many()
        .col_expr(
            share_link::Column::Views,
            Expr::col(share_link::Column::Views).add(1),
        )
        .col_expr(share_link::Column::LastAccessAt, Expr::value(Some(now)))
        .filter(share_link::Column::Id.eq(link_id))
        .exec(conn)
        .await?;
    Ok(())
}

//! Partner organisations and their allowlist.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::partner_org;
use vitrine_entity::identity::{normalize_domain, normalize_name};
use vitrine_entity::policy::{Action, Actor};

use crate::error::{ApiError, ApiResult};
use crate::services::{authorize_instance, begin, event, is_unique_violation};
use crate::state::{AppState, RequestMeta};

#[derive(Debug, Clone)]
pub struct NewPartnerOrg {
    pub name: String,
    pub email_domains: Vec<String>,
    pub allowlisted: bool,
}

fn require_admin(state: &AppState, actor: &Actor) -> ApiResult<()> {
    authorize_instance(state, actor, Action::Admin)
}

fn normalize_domains(raw: &[String]) -> ApiResult<String> {
    let mut domains = raw
        .iter()
        .map(|d| normalize_domain(d))
        .collect::<Result<Vec<_>, _>>()?;
    domains.sort();
    domains.dedup();
    Ok(serde_json::Value::from(domains).to_string())
}

fn conflict_or(e: DbErr) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::Conflict("a partner organisation with this name already exists".into())
    } else {
        e.into()
    }
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: NewPartnerOrg,
    meta: &RequestMeta,
) -> ApiResult<partner_org::Model> {
    require_admin(state, actor)?;
    let name = normalize_name(&input.name)?;
    let domains = normalize_domains(&input.email_domains)?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let org = partner_org::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        allowlisted: Set(input.allowlisted),
        email_domains: Set(domains),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(tx.conn())
    .await
    .map_err(conflict_or)?;
    tx.audit(
        event(AuditAction::PartnerOrgCreated, actor, meta)
            .target("partner_org", org.id)
            .details(json!({ "name": org.name, "emailDomains": org.domains(), "allowlisted": org.allowlisted })),
    )
    .await?;
    if org.allowlisted {
        tx.audit(
            event(AuditAction::PartnerOrgAllowlisted, actor, meta).target("partner_org", org.id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(org)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    name: Option<String>,
    email_domains: Option<Vec<String>>,
    meta: &RequestMeta,
) -> ApiResult<partner_org::Model> {
    require_admin(state, actor)?;
    let name = name.as_deref().map(normalize_name).transpose()?;
    let domains = email_domains
        .as_deref()
        .map(normalize_domains)
        .transpose()?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let current = partner_org::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such partner organisation".into()))?;
    let mut active: partner_org::ActiveModel = current.clone().into();
    let mut changed = Vec::new();
    if let Some(name) = name.filter(|n| *n != current.name) {
        active.name = Set(name);
        changed.push("name");
    }
    if let Some(domains) = domains.filter(|d| *d != current.email_domains) {
        active.email_domains = Set(domains);
        changed.push("emailDomains");
    }
    if changed.is_empty() {
        return Ok(current);
    }
    active.updated_at = Set(now);
    let org = active.update(tx.conn()).await.map_err(conflict_or)?;
    tx.audit(
        event(AuditAction::PartnerOrgUpdated, actor, meta)
            .target("partner_org", id)
            .details(
                json!({ "changed": changed, "name": org.name, "emailDomains": org.domains() }),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// Puts an organisation on the allowlist or takes it off. Taking it off cuts
/// every user of the organisation off at their next request.
pub async fn set_allowlisted(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    allowlisted: bool,
    meta: &RequestMeta,
) -> ApiResult<partner_org::Model> {
    require_admin(state, actor)?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let current = partner_org::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such partner organisation".into()))?;
    if current.allowlisted == allowlisted {
        return Ok(current);
    }
    let mut active: partner_org::ActiveModel = current.into();
    active.allowlisted = Set(allowlisted);
    active.updated_at = Set(now);
    let org = active.update(tx.conn()).await?;
    let action = if allowlisted {
        AuditAction::PartnerOrgAllowlisted
    } else {
        AuditAction::PartnerOrgRemovedFromAllowlist
    };
    tx.audit(event(action, actor, meta).target("partner_org", id))
        .await?;
    tx.commit().await?;
    Ok(org)
}

/// One organisation: administrators, and a partner its own.
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<partner_org::Model> {
    let not_found = || ApiError::NotFound("no such partner organisation".into());
    if actor.partner_org_id() != Some(id) {
        require_admin(state, actor).map_err(|e| match e {
            ApiError::Forbidden(_) => not_found(),
            other => other,
        })?;
    }
    partner_org::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)
}

pub async fn list(state: &AppState, actor: &Actor) -> ApiResult<Vec<partner_org::Model>> {
    require_admin(state, actor)?;
    Ok(partner_org::Entity::find()
        .order_by_asc(partner_org::Column::Name)
        .all(&state.db)
        .await?)
}

/// Loads organisations by id in one query (for the GraphQL data loader; the
/// caller has already been authorized for the objects that refer to them).
pub async fn load_many(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, partner_org::Model>, DbErr> {
    Ok(partner_org::Entity::find()
        .filter(partner_org::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}

//! Webhook endpoints: registration, the delivery log, redelivery, test
//! pings; and the [`Audience`] the worker asks, when it sends, what each
//! subscriber may be told (the `assetEvents` decision, from the one policy).

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{
    asset, audit_event, partner_org, webhook_attempt, webhook_delivery, webhook_endpoint,
};
use vitrine_entity::policy::{Actor, KeyScope, manage_webhooks};
use vitrine_entity::webhook::validate_events;
use vitrine_worker::webhooks::{
    AssetView, Audience, PENDING, check_url, display_secret, queue_ping, seal,
};

use crate::error::{ApiError, ApiResult};
use crate::services::asset_events::{Delivery, for_subscriber};
use crate::services::{begin, event};
use crate::state::{AppState, RequestMeta};

/// Most endpoints one partner organisation may register (each event is
/// decided and sent once per endpoint: the bound on what one partner can make
/// the workers do).
pub const MAX_PARTNER_ENDPOINTS: u64 = 10;
/// Most endpoints of the brand's own.
pub const MAX_BRAND_ENDPOINTS: u64 = 100;

/// What a new endpoint is.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub name: String,
    pub url: String,
    /// A partner organisation's endpoint (told only what it may see).
    pub partner_org_id: Option<Uuid>,
    pub events: Vec<String>,
}

/// A change to an endpoint (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `true` re-enables a disabled endpoint (and forgets its failures).
    pub active: Option<bool>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadUserInput(
            "name must be 1 to 200 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn checked_url(state: &AppState, raw: &str) -> ApiResult<String> {
    let url = check_url(raw.trim()).map_err(ApiError::BadUserInput)?;
    if raw.len() > 2048 {
        return Err(ApiError::BadUserInput("the URL is too long".into()));
    }
    if url.scheme() == "http" && !state.config.webhooks.allow_private {
        return Err(ApiError::BadUserInput(
            "the URL must be https:// (plain http:// only with VITRINE_WEBHOOK_ALLOW_PRIVATE)"
                .into(),
        ));
    }
    Ok(url.to_string())
}

/// Registers an endpoint; its signing secret (`whsec_…`) is returned this once.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: NewEndpoint,
    meta: &RequestMeta,
) -> ApiResult<(webhook_endpoint::Model, String)> {
    let now = state.clock.now();
    manage_webhooks(actor, input.partner_org_id, now)?;
    let name = check_name(&input.name)?;
    let url = checked_url(state, &input.url)?;
    let events = validate_events(&input.events, input.partner_org_id.is_some())
        .map_err(ApiError::BadUserInput)?;
    if let Some(org) = input.partner_org_id
        && partner_org::Entity::find_by_id(org)
            .one(&state.db)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("no such partner organisation".into()));
    }
    let secret = crate::secret::random_bytes::<32>().map_err(ApiError::internal)?;
    let id = Uuid::now_v7();
    let mut tx = begin(state).await?;
    // The audit event first: appending it takes the audit chain's write lock
    // (every backend), so creations queue here and the count below cannot be
    // passed by several at once. A refusal rolls the event back.
    tx.audit(
        event(AuditAction::WebhookEndpointCreated, actor, meta)
            .target("webhook_endpoint", id)
            .details(json!({
                "name": name, "url": url, "events": events,
                "partnerOrgId": input.partner_org_id,
            })),
    )
    .await?;
    let owned = match input.partner_org_id {
        Some(org) => webhook_endpoint::Column::PartnerOrgId.eq(org),
        None => webhook_endpoint::Column::PartnerOrgId.is_null(),
    };
    let limit = if input.partner_org_id.is_some() {
        MAX_PARTNER_ENDPOINTS
    } else {
        MAX_BRAND_ENDPOINTS
    };
    if webhook_endpoint::Entity::find()
        .filter(owned)
        .count(tx.conn())
        .await?
        >= limit
    {
        return Err(ApiError::Conflict(format!(
            "at most {limit} webhook endpoints per owner: delete one first"
        )));
    }
    let endpoint = webhook_endpoint::ActiveModel {
        id: Set(id),
        name: Set(name),
        url: Set(url),
        partner_org_id: Set(input.partner_org_id),
        events: Set(events.join(",")),
        secret_sealed: Set(seal(&state.config.webhooks.key, id, &secret)),
        active: Set(true),
        disabled_reason: Set(None),
        failure_streak: Set(0),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(tx.conn())
    .await?;
    tx.commit().await?;
    Ok((endpoint, display_secret(&secret)))
}

/// An endpoint the actor may manage.
pub async fn find(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<webhook_endpoint::Model> {
    let not_found = || ApiError::NotFound("no such webhook endpoint".into());
    let endpoint = webhook_endpoint::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    manage_webhooks(actor, endpoint.partner_org_id, state.clock.now())
        .map_err(|d| crate::services::access::denied(d, not_found))
        .map_err(|e| match e {
            // Another organisation's endpoint does not exist for a partner.
            ApiError::Forbidden(_) if actor.partner_org_id().is_some() => not_found(),
            other => other,
        })?;
    Ok(endpoint)
}

/// The endpoints the actor may manage: all for administrators, its own
/// organisation's for a partner.
pub async fn list(state: &AppState, actor: &Actor) -> ApiResult<Vec<webhook_endpoint::Model>> {
    let now = state.clock.now();
    let mut query = webhook_endpoint::Entity::find().order_by_asc(webhook_endpoint::Column::Id);
    match actor.partner_org_id() {
        Some(org) => {
            manage_webhooks(actor, Some(org), now)?;
            query = query.filter(webhook_endpoint::Column::PartnerOrgId.eq(org));
        }
        None => manage_webhooks(actor, None, now)?,
    }
    Ok(query.all(&state.db).await?)
}

/// Changes an endpoint.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    patch: EndpointPatch,
    meta: &RequestMeta,
) -> ApiResult<webhook_endpoint::Model> {
    let endpoint = find(state, actor, id).await?;
    let mut active: webhook_endpoint::ActiveModel = endpoint.clone().into();
    if let Some(name) = &patch.name {
        active.name = Set(check_name(name)?);
    }
    if let Some(url) = &patch.url {
        active.url = Set(checked_url(state, url)?);
    }
    if let Some(events) = &patch.events {
        let events = validate_events(events, endpoint.partner_org_id.is_some())
            .map_err(ApiError::BadUserInput)?;
        active.events = Set(events.join(","));
    }
    if let Some(on) = patch.active {
        active.active = Set(on);
        if on {
            active.disabled_reason = Set(None);
            active.failure_streak = Set(0);
        } else if !endpoint.active {
            // Already off: keep the reason.
        } else {
            active.disabled_reason = Set(Some("disabled by hand".into()));
        }
    }
    active.updated_at = Set(state.clock.now());
    let mut tx = begin(state).await?;
    let updated = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::WebhookEndpointUpdated, actor, meta)
            .target("webhook_endpoint", id)
            .details(json!({
                "url": updated.url, "events": updated.events, "active": updated.active,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// Removes an endpoint and its delivery log.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<bool> {
    let endpoint = find(state, actor, id).await?;
    let mut tx = begin(state).await?;
    webhook_attempt::Entity::delete_many()
        .filter(
            webhook_attempt::Column::DeliveryId.in_subquery(
                webhook_delivery::Entity::find()
                    .select_only()
                    .column(webhook_delivery::Column::Id)
                    .filter(webhook_delivery::Column::EndpointId.eq(id))
                    .into_query(),
            ),
        )
        .exec(tx.conn())
        .await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .exec(tx.conn())
        .await?;
    webhook_endpoint::Entity::delete_by_id(id)
        .exec(tx.conn())
        .await?;
    tx.audit(
        event(AuditAction::WebhookEndpointDeleted, actor, meta)
            .target("webhook_endpoint", id)
            .details(json!({ "url": endpoint.url })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The newest deliveries of an endpoint (its delivery log).
pub async fn deliveries(
    state: &AppState,
    endpoint: Uuid,
    limit: u64,
) -> ApiResult<Vec<webhook_delivery::Model>> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?)
}

/// The attempts of a delivery, oldest first.
pub async fn attempts(state: &AppState, delivery: Uuid) -> ApiResult<Vec<webhook_attempt::Model>> {
    Ok(webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.eq(delivery))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(&state.db)
        .await?)
}

/// Sends a delivery again (whatever became of it), with a fresh set of attempts.
pub async fn redeliver(
    state: &AppState,
    actor: &Actor,
    delivery: Uuid,
) -> ApiResult<webhook_delivery::Model> {
    let not_found = || ApiError::NotFound("no such webhook delivery".into());
    let found = webhook_delivery::Entity::find_by_id(delivery)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    find(state, actor, found.endpoint_id).await?;
    let mut active: webhook_delivery::ActiveModel = found.into();
    active.status = Set(PENDING.into());
    active.attempts = Set(0);
    active.next_attempt_at = Set(state.clock.now());
    active.claimed_until = Set(None);
    Ok(active.update(&state.db).await?)
}

/// Queues a test ping to an endpoint.
pub async fn ping(
    state: &AppState,
    actor: &Actor,
    endpoint: Uuid,
) -> ApiResult<webhook_delivery::Model> {
    find(state, actor, endpoint).await?;
    Ok(queue_ping(&state.db, endpoint, state.clock.now()).await?)
}

/// The policy's answer to "what may this subscriber be told", for the worker.
pub struct PolicyAudience {
    pub state: AppState,
}

impl PolicyAudience {
    async fn view(
        &self,
        org: Option<Uuid>,
        event: &audit_event::Model,
        asset_id: Uuid,
    ) -> ApiResult<AssetView> {
        let actor = match org {
            None => Actor::System,
            Some(org_id) => {
                let allowlisted = partner_org::Entity::find_by_id(org_id)
                    .one(&self.state.db)
                    .await?
                    .is_some_and(|o| o.allowlisted);
                if !allowlisted {
                    return Ok(AssetView::Nothing);
                }
                // The organisation itself: its grants, nobody's personal ones.
                Actor::Partner {
                    user_id: Uuid::nil(),
                    org_id,
                    org_allowlisted: true,
                    scope: KeyScope::FULL,
                }
            }
        };
        if matches!(actor, Actor::System) {
            return Ok(
                match asset::Entity::find_by_id(asset_id)
                    .one(&self.state.db)
                    .await?
                {
                    Some(a) => AssetView::With(summary(&a, true)),
                    None => AssetView::Without,
                },
            );
        }
        Ok(
            match for_subscriber(&self.state, &actor, event, asset_id).await? {
                Delivery::With(a) => AssetView::With(summary(&a, false)),
                Delivery::Without => AssetView::Without,
                Delivery::Nothing => AssetView::Nothing,
            },
        )
    }
}

impl Audience for PolicyAudience {
    fn asset_view<'a>(
        &'a self,
        org: Option<Uuid>,
        event: &'a audit_event::Model,
        asset_id: Uuid,
    ) -> BoxFuture<'a, Result<AssetView, String>> {
        Box::pin(async move {
            self.view(org, event, asset_id)
                .await
                .map_err(|e| e.message())
        })
    }
}

fn instant(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(vitrine_entity::audit_chain::format_instant(t))
    })
}

/// What a webhook says about an asset (partners: nothing internal).
fn summary(a: &asset::Model, internal: bool) -> Value {
    let mut out = json!({
        "id": a.id,
        "title": a.title,
        "folderId": a.folder_id,
        "accessMode": a.access_mode,
        "accessStartsAt": instant(a.access_starts_at),
        "accessEndsAt": instant(a.access_ends_at),
        "currentVersionId": a.current_version_id,
        "updatedAt": instant(Some(a.updated_at)),
    });
    if internal {
        out["deleted"] = json!(a.deleted_at.is_some());
    }
    out
}

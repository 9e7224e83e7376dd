//! Webhook endpoints in the GraphQL API (administrators; partners for their
//! own organisation).

use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::{webhook_attempt, webhook_delivery, webhook_endpoint};

use super::{auth, meta, parse_id, state};
use crate::services::webhooks::{self, EndpointPatch, NewEndpoint};

/// Where events are POSTed, signed (Standard Webhooks: `webhook-id`,
/// `webhook-timestamp`, `webhook-signature`).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub name: String,
    pub url: String,
    /// A partner organisation's endpoint: told only what it may see.
    pub partner_org_id: Option<ID>,
    /// Event types (see `webhookEventTypes`).
    pub events: Vec<String>,
    /// False: disabled (by hand, or after sustained failure); events are
    /// not recorded for it until it is enabled again.
    pub active: bool,
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row.
    pub failure_streak: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhook_endpoint::Model> for WebhookEndpoint {
    fn from(m: webhook_endpoint::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            url: m.url.clone(),
            partner_org_id: m.partner_org_id.map(|id| ID(id.to_string())),
            events: m.event_types().into_iter().map(str::to_owned).collect(),
            active: m.active,
            disabled_reason: m.disabled_reason,
            failure_streak: m.failure_streak,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[ComplexObject]
impl WebhookEndpoint {
    /// The delivery log, newest first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<WebhookDelivery>> {
        let id = parse_id(&self.id, "id")?;
        let limit = u64::try_from(first.clamp(1, 200)).unwrap_or(20);
        Ok(webhooks::deliveries(state(ctx)?, id, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// One event for one endpoint, and how its delivery went.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct WebhookDelivery {
    pub id: ID,
    /// The `webhook-id` header: the same on every attempt.
    pub event_id: String,
    #[graphql(name = "type")]
    pub event_type: String,
    /// PENDING, SUCCEEDED, FAILED (attempts exhausted), SKIPPED (the
    /// subscriber may not see it).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_response_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(m: webhook_delivery::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            event_id: m.event_id,
            event_type: m.event_type,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_status_code: m.last_status_code,
            last_response_ms: m.last_response_ms,
            last_error: m.last_error,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
        }
    }
}

#[ComplexObject]
impl WebhookDelivery {
    /// Every attempt, oldest first.
    async fn attempt_log(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WebhookAttempt>> {
        let id = parse_id(&self.id, "id")?;
        Ok(webhooks::attempts(state(ctx)?, id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// One attempt: what the receiver answered, and how fast.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookAttempt {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub response_ms: i32,
    pub error: Option<String>,
}

impl From<webhook_attempt::Model> for WebhookAttempt {
    fn from(m: webhook_attempt::Model) -> Self {
        Self {
            attempted_at: m.attempted_at,
            status_code: m.status_code,
            response_ms: m.response_ms,
            error: m.error,
        }
    }
}

#[derive(InputObject, Debug)]
pub struct CreateWebhookEndpointInput {
    pub name: String,
    /// https:// (http:// and private addresses only with VITRINE_WEBHOOK_ALLOW_PRIVATE).
    pub url: String,
    /// A partner organisation's endpoint (partners: their own organisation).
    pub partner_org_id: Option<ID>,
    pub events: Vec<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UpdateWebhookEndpointInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// true re-enables a disabled endpoint; false disables it.
    pub active: Option<bool>,
}

/// A new endpoint and its signing secret, shown this once.
#[derive(SimpleObject, Debug)]
pub struct WebhookEndpointSecret {
    /// `whsec_<base64>`: the HMAC-SHA256 key of `webhook-signature`.
    pub secret: String,
    pub endpoint: WebhookEndpoint,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The endpoints the caller manages (administrators: all; a partner:
    /// its organisation's).
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<WebhookEndpoint>> {
        Ok(webhooks::list(state(ctx)?, &auth(ctx)?.actor)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let id = parse_id(&id, "id")?;
        Ok(webhooks::find(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }

    /// Every event type an endpoint may subscribe to (partners: `asset.*`).
    async fn webhook_event_types(&self) -> Vec<&'static str> {
        vitrine_entity::webhook::EVENT_TYPES.to_vec()
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint; the signing secret is in this answer only.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointSecret> {
        let new = NewEndpoint {
            name: input.name,
            url: input.url,
            partner_org_id: input
                .partner_org_id
                .as_ref()
                .map(|id| parse_id(id, "partnerOrgId"))
                .transpose()?,
            events: input.events,
        };
        let (endpoint, secret) =
            webhooks::create(state(ctx)?, &auth(ctx)?.actor, new, &meta(ctx)).await?;
        Ok(WebhookEndpointSecret {
            secret,
            endpoint: endpoint.into(),
        })
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let id = parse_id(&id, "id")?;
        let patch = EndpointPatch {
            name: input.name,
            url: input.url,
            events: input.events,
            active: input.active,
        };
        Ok(
            webhooks::update(state(ctx)?, &auth(ctx)?.actor, id, patch, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Removes an endpoint and its delivery log.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<bool> {
        let id = parse_id(&id, "id")?;
        Ok(webhooks::delete(state(ctx)?, &auth(ctx)?.actor, id, &meta(ctx)).await?)
    }

    /// Sends a delivery again, with a fresh set of attempts.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let id = parse_id(&delivery_id, "deliveryId")?;
        Ok(webhooks::redeliver(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }

    /// Queues a `ping` event to an endpoint (sent within a second or so).
    async fn test_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let id = parse_id(&id, "id")?;
        Ok(webhooks::ping(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }
}

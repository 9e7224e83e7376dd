//! Outgoing webhooks: fan-out from the audit log, and delivery.
//!
//! A periodic job (every second by default) does two things:
//! 1. **Fan-out.** It reads the audit log after its watermark, and for each
//!    event that stands for a webhook event ([`vitrine_entity::webhook::event_of`])
//!    records one delivery per active endpoint subscribed to its type,
//!    moving the watermark in the same transaction: every event is fanned out
//!    exactly once, in log order, even with several worker processes.
//! 2. **Delivery.** It sends the deliveries that are due, at most one per
//!    endpoint and asset at a time and never before an earlier one about the
//!    same asset is done (in order per asset), each claimed first so two
//!    workers never send the same attempt. What the subscriber is told is
//!    decided *now*, by the [`Audience`] (the API's policy, exactly as for
//!    the `assetEvents` subscription): an asset the subscriber no longer sees
//!    is not sent (SKIPPED), or sent without the asset when the subscriber saw
//!    it before this event. A failed attempt is retried with exponential
//!    backoff ([`vitrine_entity::webhook::backoff`]) until `max_attempts`; an
//!    endpoint failing `disable_after` attempts in a row is disabled.
//!
//! Requests follow Standard Webhooks: `webhook-id` (the event id, the same
//! on every attempt: receivers de-duplicate by it), `webhook-timestamp` (Unix
//! seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{id}.{timestamp}.{body}` with the endpoint's secret (`whsec_<base64>`).
//! Loopback, private and link-local addresses are refused unless allowed
//! (the address is resolved, checked and pinned for the request: no
//! rebinding), and redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::{NewEvent, SYSTEM, last_seq};
use vitrine_entity::entities::{audit_event, webhook_attempt, webhook_delivery, webhook_endpoint};
use vitrine_entity::webhook::{backoff, candidate_actions, event_of};

use crate::runner::WorkerDeps;
use crate::tx::Tx;
use crate::usage::{advance, events_after, watermark_of};

/// The fan-out's watermark.
pub const FAN_OUT: &str = "webhooks";
const PAGE: u64 = 1000;
const SEND_BATCH: u64 = 200;
const SEND_CONCURRENCY: usize = 8;

pub const PENDING: &str = "PENDING";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";
pub const SKIPPED: &str = "SKIPPED";

/// Webhook tunables.
#[derive(Clone)]
pub struct WebhookSettings {
    /// When the webhook job runs (cron with seconds); `None`: never.
    pub schedule: Option<String>,
    /// How long a receiver may take to answer.
    pub timeout: StdDuration,
    /// Attempts per delivery before it is given up (FAILED).
    pub max_attempts: i32,
    /// Failed attempts in a row after which an endpoint is disabled.
    pub disable_after: i32,
    /// Whether endpoints on loopback, private or link-local addresses are allowed.
    pub allow_private: bool,
    /// Seals and unseals endpoint secrets (derived from the server secret).
    pub key: [u8; 32],
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("schedule", &self.schedule)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("disable_after", &self.disable_after)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            schedule: Some("* * * * * *".into()),
            timeout: StdDuration::from_secs(10),
            max_attempts: 12,
            disable_after: 50,
            allow_private: false,
            key: [0; 32],
        }
    }
}

/// What a subscriber is told about an asset event.
#[derive(Debug, Clone, PartialEq)]
pub enum AssetView {
    /// The event, with the asset as the subscriber may see it now.
    With(Value),
    /// The event without the asset (the subscriber saw it before this event).
    Without,
    /// Nothing (the subscriber does not see the asset, nor did before).
    Nothing,
}

/// Decides what an endpoint's subscriber may be told (implemented by the
/// API with the one policy).
pub trait Audience: Send + Sync {
    /// `org`: the partner organisation of the endpoint; `None` for an
    /// administrator's endpoint.
    fn asset_view<'a>(
        &'a self,
        org: Option<Uuid>,
        event: &'a audit_event::Model,
        asset_id: Uuid,
    ) -> BoxFuture<'a, Result<AssetView, String>>;
}

/// HMAC-SHA256 of `parts` under `key` (HMAC takes keys of any length; the
/// error case of `new_from_slice` cannot happen and yields zeros).
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Derives the key that seals endpoint secrets from the server secret.
pub fn derive_key(server_secret: &[u8]) -> [u8; 32] {
    hmac(server_secret, &[b"vitrine/webhook-secrets/v1"])
}

fn pad(key: &[u8; 32], endpoint: Uuid) -> [u8; 32] {
    hmac(key, &[endpoint.as_bytes()])
}

/// Seals a 32-byte secret for storage: XOR with a pad unique to the endpoint
/// (a PRF of its id under the server-derived key).
pub fn seal(key: &[u8; 32], endpoint: Uuid, secret: &[u8; 32]) -> String {
    let pad = pad(key, endpoint);
    let sealed: Vec<u8> = secret.iter().zip(pad).map(|(s, p)| s ^ p).collect();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(sealed)
}

/// Unseals a stored secret.
pub fn unseal(key: &[u8; 32], endpoint: Uuid, sealed: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(sealed)
        .ok()?;
    let pad = pad(key, endpoint);
    let out: Vec<u8> = bytes.iter().zip(pad).map(|(s, p)| s ^ p).collect();
    out.try_into().ok()
}

/// The secret as shown to the endpoint's owner.
pub fn display_secret(secret: &[u8; 32]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let mac = hmac(
        secret,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// Whether an address may receive webhooks when private ones are not allowed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Checks an endpoint URL's form (http or https, a host, no credentials).
pub fn check_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the URL must be http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry credentials".into());
    }
    Ok(url)
}

/// Resolves the endpoint's host and checks every address.
async fn resolve(url: &reqwest::Url, allow_private: bool) -> Result<SocketAddr, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(format!(
            "refused: {host} resolves to a loopback, private or link-local address"
        ));
    }
    Ok(first)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub fanned_out: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// How long finished deliveries (and their attempts) stay in the log.
pub const LOG_RETENTION: Duration = Duration::days(30);

/// One pass: fan out new events, then send what is due; about once an hour,
/// forget finished deliveries older than [`LOG_RETENTION`].
pub async fn run(deps: &WorkerDeps) -> Result<PassReport, DbErr> {
    let mut report = PassReport {
        fanned_out: fan_out(deps).await?,
        ..PassReport::default()
    };
    send_due(deps, &mut report).await?;
    static LAST_PURGE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = deps.clock.now();
    let last = LAST_PURGE.load(std::sync::atomic::Ordering::Relaxed);
    if now.timestamp() - last >= 3600 {
        LAST_PURGE.store(now.timestamp(), std::sync::atomic::Ordering::Relaxed);
        purge_log(&deps.db, now - LOG_RETENTION).await?;
    }
    Ok(report)
}

/// Deletes finished deliveries created before `cutoff`, with their attempts.
pub async fn purge_log(
    db: &sea_orm::DatabaseConnection,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::QueryTrait;
    let old = || {
        webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::CreatedAt.lt(cutoff))
            .filter(webhook_delivery::Column::Status.ne(PENDING))
    };
    let txn = db.begin().await?;
    webhook_attempt::Entity::delete_many()
        .filter(webhook_attempt::Column::DeliveryId.in_subquery(old().into_query()))
        .exec(&txn)
        .await?;
    let deleted = webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::CreatedAt.lt(cutoff))
        .filter(webhook_delivery::Column::Status.ne(PENDING))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(deleted.rows_affected)
}

/// Records deliveries for the audit events after the watermark.
pub async fn fan_out(deps: &WorkerDeps) -> Result<u64, DbErr> {
    let db = &deps.db;
    // Read the head before the endpoints: an endpoint created after this
    // read only ever sees events with higher numbers.
    let head = last_seq(db).await?;
    let from = watermark_of(db, FAN_OUT).await?;
    if from >= head {
        return Ok(0);
    }
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(db)
        .await?;
    if endpoints.is_empty() {
        let txn = vitrine_entity::store::begin_write(db).await?;
        advance(&txn, FAN_OUT, from, head).await?;
        txn.commit().await?;
        return Ok(0);
    }
    let (events, upto) = events_after(db, from, head, candidate_actions(), PAGE).await?;
    let now = deps.clock.now();
    let mut rows = Vec::new();
    for event in &events {
        let Some((event_type, asset_id)) = event_of(event, event.occurred_at) else {
            continue;
        };
        for endpoint in &endpoints {
            if event.occurred_at < endpoint.created_at
                || !endpoint.event_types().contains(&event_type)
            {
                continue;
            }
            rows.push(new_delivery(
                Uuid::now_v7(),
                endpoint.id,
                format!("evt_{}", event.seq),
                event_type,
                Some((event.seq, asset_id)),
                base_payload(event),
                now,
            ));
        }
    }
    let n = rows.len() as u64;
    let txn = vitrine_entity::store::begin_write(db).await?;
    for chunk in rows.chunks(500) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    advance(&txn, FAN_OUT, from, upto).await?;
    txn.commit().await?;
    Ok(n)
}

/// The part of an event's data fixed at fan-out (never the subscriber-
/// dependent asset view, decided when sent).
fn base_payload(event: &audit_event::Model) -> Value {
    let details: Value = serde_json::from_str(&event.details).unwrap_or(Value::Null);
    match AuditAction::from_str_opt(&event.action) {
        Some(AuditAction::LicenseExpiring) => json!({
            "licenseId": event.target_id,
            "details": details,
        }),
        Some(AuditAction::ShareLinkOpened) => json!({
            "shareLinkId": event.share_link_id,
        }),
        Some(AuditAction::AnomalyDetected) => json!({ "anomaly": details }),
        _ => json!({}),
    }
}

/// Sends the due deliveries (first in line per endpoint and asset).
async fn send_due(deps: &WorkerDeps, report: &mut PassReport) -> Result<(), DbErr> {
    let db = &deps.db;
    let now = deps.clock.now();
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::ClaimedUntil.is_null())
                .add(webhook_delivery::Column::ClaimedUntil.lt(now)),
        )
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(SEND_BATCH)
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let endpoints: std::collections::HashMap<Uuid, webhook_endpoint::Model> =
        webhook_endpoint::Entity::find()
            .filter(
                webhook_endpoint::Column::Id
                    .is_in(due.iter().map(|d| d.endpoint_id).collect::<Vec<_>>()),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
    // In order per endpoint and asset: a due delivery waits while an older
    // one about the same asset is still pending (retrying). One query for
    // the whole batch: the oldest pending delivery of each of its lines.
    let assets: Vec<Uuid> = due.iter().filter_map(|d| d.asset_id).collect();
    let newest = due.iter().map(|d| d.id).max().unwrap_or_default();
    let mut first_in_line: std::collections::HashMap<(Uuid, Uuid), Uuid> =
        std::collections::HashMap::new();
    if !assets.is_empty() {
        let pending: Vec<(Uuid, Option<Uuid>, Uuid)> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::EndpointId)
            .column(webhook_delivery::Column::AssetId)
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .filter(webhook_delivery::Column::AssetId.is_in(assets))
            .filter(webhook_delivery::Column::Id.lte(newest))
            .into_tuple()
            .all(db)
            .await?;
        for (endpoint, asset, id) in pending {
            if let Some(asset) = asset {
                let oldest = first_in_line.entry((endpoint, asset)).or_insert(id);
                *oldest = (*oldest).min(id);
            }
        }
    }
    let mut chosen = Vec::new();
    for delivery in due {
        let Some(endpoint) = endpoints.get(&delivery.endpoint_id) else {
            continue;
        };
        if !endpoint.active {
            continue;
        }
        if let Some(asset) = delivery.asset_id
            && first_in_line
                .get(&(delivery.endpoint_id, asset))
                .is_some_and(|oldest| *oldest != delivery.id)
        {
            continue;
        }
        chosen.push((delivery, endpoint.clone()));
    }
    let outcomes: Vec<Result<Outcome, DbErr>> = futures_util::stream::iter(chosen)
        .map(|(delivery, endpoint)| deliver(deps, delivery, endpoint))
        .buffer_unordered(SEND_CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            Outcome::Sent => report.sent += 1,
            Outcome::Failed => report.failed += 1,
            Outcome::Skipped => report.skipped += 1,
            Outcome::Lost => {}
        }
    }
    Ok(())
}

enum Outcome {
    Sent,
    Failed,
    Skipped,
    /// Another worker claimed it first.
    Lost,
}

/// Claims, decides, sends and records one delivery.
async fn deliver(
    deps: &WorkerDeps,
    delivery: webhook_delivery::Model,
    endpoint: webhook_endpoint::Model,
) -> Result<Outcome, DbErr> {
    let db = &deps.db;
    let settings = &deps.settings.webhooks;
    let now = deps.clock.now();
    let hold = Duration::from_std(settings.timeout * 3).unwrap_or(Duration::seconds(30));
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::ClaimedUntil,
            Some(now + hold).into(),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::ClaimedUntil.is_null())
                .add(webhook_delivery::Column::ClaimedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(Outcome::Lost);
    }
    let data = match data_for(deps, &delivery, &endpoint).await {
        Ok(Some(data)) => data,
        Ok(None) => {
            let mut active: webhook_delivery::ActiveModel = delivery.into();
            active.status = Set(SKIPPED.into());
            active.claimed_until = Set(None);
            active.update(db).await?;
            return Ok(Outcome::Skipped);
        }
        Err(e) => {
            // Not the receiver's fault: try again later, without an attempt.
            tracing::warn!(delivery = %delivery.id, error = %e, "webhook: cannot decide what to send");
            let mut active: webhook_delivery::ActiveModel = delivery.into();
            active.claimed_until = Set(Some(now + Duration::seconds(10)));
            active.update(db).await?;
            return Ok(Outcome::Lost);
        }
    };
    let body = json!({
        "id": delivery.event_id,
        "type": delivery.event_type,
        "timestamp": vitrine_entity::audit_chain::format_instant(delivery.created_at),
        "data": data,
    })
    .to_string();
    let started = Instant::now();
    let result = post(deps, &endpoint, &delivery.event_id, body).await;
    let elapsed = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let after = deps.clock.now();
    let (status_code, error) = match &result {
        Ok(code) if (200..300).contains(code) => (Some(i32::from(*code)), None),
        Ok(code) => (
            Some(i32::from(*code)),
            Some(format!("the receiver answered {code}")),
        ),
        Err(e) => (None, Some(e.clone())),
    };
    let success = error.is_none();
    let attempts = delivery.attempts + 1;
    let txn = db.begin().await?;
    webhook_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(delivery.id),
        attempted_at: Set(after),
        status_code: Set(status_code),
        response_ms: Set(elapsed),
        error: Set(error.clone()),
    }
    .insert(&txn)
    .await?;
    let mut active: webhook_delivery::ActiveModel = delivery.clone().into();
    active.attempts = Set(attempts);
    active.claimed_until = Set(None);
    active.last_status_code = Set(status_code);
    active.last_response_ms = Set(Some(elapsed));
    active.last_error = Set(error.as_ref().map(|e| e.chars().take(500).collect()));
    if success {
        active.status = Set(SUCCEEDED.into());
        active.delivered_at = Set(Some(after));
    } else if attempts >= settings.max_attempts {
        active.status = Set(FAILED.into());
    } else {
        active.next_attempt_at = Set(after + backoff(attempts));
    }
    active.update(&txn).await?;
    txn.commit().await?;
    record_streak(deps, &endpoint, success, error.as_deref()).await?;
    Ok(if success {
        Outcome::Sent
    } else {
        Outcome::Failed
    })
}

/// Resets or extends an endpoint's run of failures; disables it (audited)
/// once the run reaches `disable_after`.
async fn record_streak(
    deps: &WorkerDeps,
    endpoint: &webhook_endpoint::Model,
    success: bool,
    error: Option<&str>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let db = &deps.db;
    if success {
        if endpoint.failure_streak != 0 {
            webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::FailureStreak, Expr::value(0))
                .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                .exec(db)
                .await?;
        }
        return Ok(());
    }
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailureStreak,
            Expr::col(webhook_endpoint::Column::FailureStreak).add(1),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .exec(db)
        .await?;
    let Some(current) = webhook_endpoint::Entity::find_by_id(endpoint.id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    if current.active && current.failure_streak >= deps.settings.webhooks.disable_after {
        let reason = format!(
            "disabled after {} failed attempts in a row (last: {})",
            current.failure_streak,
            error.unwrap_or("unknown error")
        );
        let mut tx = Tx::begin(db, &deps.bus, deps.clock.as_ref()).await?;
        let mut active: webhook_endpoint::ActiveModel = current.clone().into();
        active.active = Set(false);
        active.disabled_reason = Set(Some(reason.chars().take(500).collect()));
        active.updated_at = Set(deps.clock.now());
        active.update(tx.conn()).await?;
        tx.audit(
            NewEvent::new(AuditAction::WebhookEndpointDisabled, SYSTEM)
                .target("webhook_endpoint", current.id)
                .details(json!({ "reason": reason, "url": current.url })),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(endpoint = %current.id, "webhook endpoint disabled after sustained failure");
    }
    Ok(())
}

/// The event data for this subscriber now; `None`: not to be sent.
async fn data_for(
    deps: &WorkerDeps,
    delivery: &webhook_delivery::Model,
    endpoint: &webhook_endpoint::Model,
) -> Result<Option<Value>, String> {
    let mut data: Value = serde_json::from_str(&delivery.payload).unwrap_or_else(|_| json!({}));
    let Some(asset_id) = delivery.asset_id else {
        return Ok(Some(data));
    };
    let Some(audience) = deps.audience.as_ref() else {
        return Err("no audience configured".into());
    };
    let Some(seq) = delivery.audit_seq else {
        return Ok(Some(data));
    };
    let event = audit_event::Entity::find_by_id(seq)
        .one(&deps.db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the audit event is gone")?;
    let view = audience
        .asset_view(endpoint.partner_org_id, &event, asset_id)
        .await?;
    match view {
        AssetView::Nothing => Ok(None),
        AssetView::Without => {
            data["assetId"] = json!(asset_id);
            data["asset"] = Value::Null;
            Ok(Some(data))
        }
        AssetView::With(asset) => {
            data["assetId"] = json!(asset_id);
            data["asset"] = asset;
            Ok(Some(data))
        }
    }
}

/// POSTs a signed body; the receiver's status, or why there was none.
async fn post(
    deps: &WorkerDeps,
    endpoint: &webhook_endpoint::Model,
    event_id: &str,
    body: String,
) -> Result<u16, String> {
    let settings = &deps.settings.webhooks;
    let url = check_url(&endpoint.url)?;
    let addr = resolve(&url, settings.allow_private).await?;
    let secret = unseal(&settings.key, endpoint.id, &endpoint.secret_sealed)
        .ok_or("the endpoint's secret cannot be read (was the server secret changed?)")?;
    let timestamp = deps.clock.now().timestamp();
    let signature = signature(&secret, event_id, timestamp, body.as_bytes());
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .resolve(&host, addr)
        .user_agent(concat!("Vitrine-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the receiver did not answer in time".to_owned()
            } else {
                format!("cannot reach the receiver: {e}")
            }
        })?;
    Ok(response.status().as_u16())
}

/// Queues a test ping for an endpoint (sent at the next pass).
pub async fn queue_ping<C: sea_orm::ConnectionTrait>(
    conn: &C,
    endpoint: Uuid,
    now: DateTime<Utc>,
) -> Result<webhook_delivery::Model, DbErr> {
    let id = Uuid::now_v7();
    new_delivery(
        id,
        endpoint,
        format!("evt_ping_{}", id.simple()),
        vitrine_entity::webhook::PING,
        None,
        json!({ "ping": true }),
        now,
    )
    .insert(conn)
    .await
}

/// A pending delivery, due at `now`; `origin`: the audit event (and asset)
/// it stands for.
fn new_delivery(
    id: Uuid,
    endpoint: Uuid,
    event_id: String,
    event_type: &str,
    origin: Option<(i64, Option<Uuid>)>,
    payload: Value,
    now: DateTime<Utc>,
) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: Set(id),
        endpoint_id: Set(endpoint),
        event_id: Set(event_id),
        event_type: Set(event_type.to_owned()),
        audit_seq: Set(origin.map(|(seq, _)| seq)),
        asset_id: Set(origin.and_then(|(_, asset)| asset)),
        payload: Set(payload.to_string()),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_status_code: Set(None),
        last_response_ms: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        delivered_at: Set(None),
    }
}

/// Shared handle type for the audience.
pub type SharedAudience = Arc<dyn Audience>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_seal_per_endpoint_and_unseal() {
        let key = derive_key(b"a server secret of at least 32 chars!!");
        let secret = [7u8; 32];
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = seal(&key, a, &secret);
        assert_ne!(sealed, seal(&key, b, &secret));
        assert_eq!(unseal(&key, a, &sealed), Some(secret));
        assert_ne!(unseal(&key, b, &sealed), Some(secret));
        let other = derive_key(b"another server secret, also long enough");
        assert_ne!(unseal(&other, a, &sealed), Some(secret));
    }

    #[test]
    fn the_signature_is_standard_webhooks_v1() {
        // The example of the Standard Webhooks specification.
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn private_addresses_are_told_apart() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("https://example.com/hook").is_ok());
    }
}

//! CDN purges for public delivery (`/p/`): fan-out from the audit log, and
//! sending.
//!
//! Public answers carry surrogate keys (`asset-{id}`, `profile-{name}`,
//! [`ALL_PUBLIC`]). A periodic job (every second by default), like the
//! webhooks':
//! 1. **Fan-out.** Reads the audit log after its watermark and, for each
//!    event that may change or end what a public URL shows (an access or
//!    window change, a takedown, a license that ended, changed or was
//!    detached, a moderation rejection, a new or restored version, a move, a
//!    deletion, a changed ownership statement or focal point, an opt-out, a
//!    changed profile), records purges of the keys concerned, moving the
//!    watermark in the same transaction: every event is handled once, with
//!    several worker processes too. Only assets opted into public delivery
//!    (or just opted out) are purged: a CDN's purge API is rate-limited.
//! 2. **Sending.** Each due purge is claimed, sent to the configured backend
//!    and recorded; a failure is retried with exponential backoff
//!    ([`vitrine_entity::webhook::backoff`]) up to `max_attempts`. Every
//!    attempt is audited (CDN_PURGE_SENT or CDN_PURGE_FAILED).
//!
//! The origin never depends on a purge for correctness: every request that
//! reaches it asks the policy again. A purge only shortens how long a CDN
//! keeps serving what the origin would now refuse.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::{NewEvent, SYSTEM, last_seq};
use vitrine_entity::entities::{
    asset, asset_license, audit_event, cdn_purge, folder, public_asset, public_folder,
};
use vitrine_entity::webhook::backoff;

use crate::runner::WorkerDeps;
use crate::tx::Tx;
use crate::usage::{advance, events_after, watermark_of};

/// The fan-out's watermark.
pub const FAN_OUT: &str = "cdn-purge";
/// The key every public answer carries (purged when what every public image
/// carries changes: the ownership statement).
pub const ALL_PUBLIC: &str = "vitrine-public";
const PAGE: u64 = 1000;
const SEND_BATCH: u64 = 50;

pub const PENDING: &str = "PENDING";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";

/// The surrogate key of an asset's public answers.
pub fn asset_key(asset: Uuid) -> String {
    format!("asset-{asset}")
}

/// The surrogate key of a profile's public answers.
pub fn profile_key(name: &str) -> String {
    format!("profile-{name}")
}

/// Where purges go.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum PurgeBackend {
    /// No CDN: nothing is recorded or sent.
    #[default]
    None,
    /// `POST {url}` with `{"id", "tags"}`, signed like webhooks:
    /// `vitrine-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    Http { url: String, secret: String },
    /// Fastly: `POST {api}/service/{service_id}/purge` with the keys in
    /// `Surrogate-Key` and the token in `Fastly-Key`.
    Fastly {
        api: String,
        service_id: String,
        token: String,
    },
    /// Cloudflare: `POST {api}/zones/{zone_id}/purge_cache` with
    /// `{"tags": [...]}` and a bearer token.
    Cloudflare {
        api: String,
        zone_id: String,
        token: String,
    },
}

impl PurgeBackend {
    pub fn name(&self) -> &'static str {
        match self {
            PurgeBackend::None => "none",
            PurgeBackend::Http { .. } => "http",
            PurgeBackend::Fastly { .. } => "fastly",
            PurgeBackend::Cloudflare { .. } => "cloudflare",
        }
    }

    /// The most keys one request carries.
    fn batch(&self) -> usize {
        match self {
            PurgeBackend::Cloudflare { .. } => 30,
            PurgeBackend::Fastly { .. } => 256,
            _ => 100,
        }
    }
}

impl std::fmt::Debug for PurgeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets and tokens are never shown.
        match self {
            PurgeBackend::None => f.write_str("None"),
            PurgeBackend::Http { url, .. } => f.debug_struct("Http").field("url", url).finish(),
            PurgeBackend::Fastly {
                api, service_id, ..
            } => f
                .debug_struct("Fastly")
                .field("api", api)
                .field("service_id", service_id)
                .finish(),
            PurgeBackend::Cloudflare { api, zone_id, .. } => f
                .debug_struct("Cloudflare")
                .field("api", api)
                .field("zone_id", zone_id)
                .finish(),
        }
    }
}

/// Purge tunables.
#[derive(Debug, Clone)]
pub struct PurgeSettings {
    /// When the purge job runs (cron with seconds); `None`: never.
    pub schedule: Option<String>,
    pub backend: PurgeBackend,
    /// How long the CDN's API may take to answer.
    pub timeout: StdDuration,
    /// Attempts per purge before it is given up (FAILED).
    pub max_attempts: i32,
}

impl Default for PurgeSettings {
    fn default() -> Self {
        Self {
            schedule: Some("* * * * * *".into()),
            backend: PurgeBackend::None,
            timeout: StdDuration::from_secs(10),
            max_attempts: 12,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub recorded: u64,
    pub sent: u64,
    pub failed: u64,
}

/// One pass: record purges for new events, then send what is due.
pub async fn run(deps: &WorkerDeps) -> Result<PurgeReport, DbErr> {
    let mut report = PurgeReport {
        recorded: fan_out(deps).await?,
        ..PurgeReport::default()
    };
    if deps.settings.purge.backend != PurgeBackend::None {
        send_due(deps, &mut report).await?;
    }
    Ok(report)
}

/// The audited actions that may change or end what a public URL shows.
fn causes() -> Vec<&'static str> {
    use AuditAction as A;
    [
        A::AssetAccessChanged,
        A::AssetDeleted,
        A::AssetPurged,
        A::AssetMoved,
        A::AssetTakenDown,
        A::VersionUploaded,
        A::VersionRestored,
        A::ModerationRejected,
        A::ModerationRequired,
        A::AssetOwnershipUpdated,
        A::FocalPointChanged,
        A::PublicDeliveryChanged,
        A::FolderRestricted,
        A::FolderMoved,
        A::FolderDeleted,
        A::LicenseExpired,
        A::LicenseUpdated,
        A::LicenseDetached,
        A::DerivativeProfileChanged,
        A::OwnershipProfileUpdated,
    ]
    .into_iter()
    .map(AuditAction::as_str)
    .collect()
}

/// Records purges for the audit events after the watermark.
pub async fn fan_out(deps: &WorkerDeps) -> Result<u64, DbErr> {
    let db = &deps.db;
    let head = last_seq(db).await?;
    let from = watermark_of(db, FAN_OUT).await?;
    if from >= head {
        return Ok(0);
    }
    let backend = &deps.settings.purge.backend;
    if *backend == PurgeBackend::None {
        let txn = vitrine_entity::store::begin_write(db).await?;
        advance(&txn, FAN_OUT, from, head).await?;
        txn.commit().await?;
        return Ok(0);
    }
    let (events, upto) = events_after(db, from, head, causes(), PAGE).await?;
    let public_folders = PublicFolders::load(db).await?;
    let now = deps.clock.now();
    // One purge per key per pass, however many events touched it (an
    // upload, its access change and its opt-in come in one second).
    let mut keys = BTreeSet::new();
    let mut causes = BTreeSet::new();
    let mut first_seq = None;
    for event in &events {
        let found = keys_for(db, &public_folders, event).await?;
        if !found.is_empty() {
            causes.insert(event.action.clone());
            first_seq.get_or_insert(event.seq);
            keys.extend(found);
        }
    }
    let cause = match causes.len() {
        1 => causes.pop_first().unwrap_or_default(),
        _ => "SEVERAL".to_owned(),
    };
    let mut rows = Vec::new();
    for chunk in keys.into_iter().collect::<Vec<_>>().chunks(backend.batch()) {
        rows.push(cdn_purge::ActiveModel {
            id: Set(Uuid::now_v7()),
            tags: Set(chunk.join(" ")),
            cause: Set(cause.clone()),
            source_seq: Set(first_seq),
            status: Set(PENDING.into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    let n = rows.len() as u64;
    let txn = vitrine_entity::store::begin_write(db).await?;
    for chunk in rows.chunks(500) {
        cdn_purge::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    advance(&txn, FAN_OUT, from, upto).await?;
    txn.commit().await?;
    Ok(n)
}

fn target_uuid(event: &audit_event::Model) -> Option<Uuid> {
    event
        .target_id
        .as_deref()
        .and_then(|t| Uuid::parse_str(t).ok())
}

/// The surrogate keys an event makes stale (empty: nothing public changed).
async fn keys_for<C: ConnectionTrait>(
    conn: &C,
    public_folders: &PublicFolders,
    event: &audit_event::Model,
) -> Result<BTreeSet<String>, DbErr> {
    use AuditAction as A;
    let details: Value = serde_json::from_str(&event.details).unwrap_or(Value::Null);
    let mut keys = BTreeSet::new();
    let Some(action) = AuditAction::from_str_opt(&event.action) else {
        return Ok(keys);
    };
    let target = target_uuid(event);
    let target_type = event.target_type.as_deref();
    match action {
        A::OwnershipProfileUpdated => {
            keys.insert(ALL_PUBLIC.to_owned());
        }
        A::DerivativeProfileChanged => {
            for field in ["updated", "previousName", "name"] {
                if let Some(name) = details.get(field).and_then(Value::as_str) {
                    keys.insert(profile_key(name));
                }
            }
        }
        A::LicenseExpired | A::LicenseUpdated | A::LicenseDetached => {
            let mut assets: Vec<Uuid> = match target {
                Some(license) => {
                    asset_license::Entity::find()
                        .select_only()
                        .column(asset_license::Column::AssetId)
                        .filter(asset_license::Column::LicenseId.eq(license))
                        .into_tuple()
                        .all(conn)
                        .await?
                }
                None => Vec::new(),
            };
            if let Some(ids) = details.get("assetIds").and_then(Value::as_array) {
                assets.extend(
                    ids.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|s| Uuid::parse_str(s).ok()),
                );
            }
            for a in public_folders.opted_in(conn, &assets).await? {
                keys.insert(asset_key(a));
            }
        }
        A::PublicDeliveryChanged if target_type == Some("asset") => {
            if let Some(a) = target {
                keys.insert(asset_key(a));
            }
        }
        A::PublicDeliveryChanged | A::FolderRestricted | A::FolderMoved | A::FolderDeleted => {
            // Every asset below the folder: an opt-out or a restriction ends
            // their public life, a move may take them out of a public folder.
            // (A deleted folder's assets were moved or deleted, each audited.)
            if let Some(f) = target
                && let Some(found) = folder::Entity::find_by_id(f).one(conn).await?
            {
                let folders: Vec<Uuid> = folder::Entity::find()
                    .select_only()
                    .column(folder::Column::Id)
                    .filter(folder::Column::Ancestry.starts_with(&found.ancestry))
                    .into_tuple()
                    .all(conn)
                    .await?;
                let mut below: Vec<Uuid> = Vec::new();
                for chunk in folders.chunks(1000) {
                    below.extend(
                        asset::Entity::find()
                            .select_only()
                            .column(asset::Column::Id)
                            .filter(asset::Column::FolderId.is_in(chunk.to_vec()))
                            .into_tuple::<Uuid>()
                            .all(conn)
                            .await?,
                    );
                }
                let direct = matches!(action, A::PublicDeliveryChanged | A::FolderMoved);
                let keep = if direct {
                    below
                } else {
                    public_folders.opted_in(conn, &below).await?
                };
                keys.extend(keep.into_iter().map(asset_key));
            }
        }
        A::AssetPurged => {
            if let Some(a) = target {
                keys.insert(asset_key(a));
            }
        }
        _ => {
            if let Some(a) = target.filter(|_| target_type == Some("asset")) {
                // A move out of a public folder is an opt-out too.
                let was_public = match details.get("fromFolderId").and_then(Value::as_str) {
                    Some(f) => public_folders.holds(conn, Uuid::parse_str(f).ok()).await?,
                    None => false,
                };
                if was_public || !public_folders.opted_in(conn, &[a]).await?.is_empty() {
                    keys.insert(asset_key(a));
                }
            }
        }
    }
    Ok(keys)
}

/// The folders opted into public delivery, read once per pass.
struct PublicFolders(BTreeSet<Uuid>);

impl PublicFolders {
    async fn load<C: ConnectionTrait>(conn: &C) -> Result<Self, DbErr> {
        Ok(Self(
            public_folder::Entity::find()
                .select_only()
                .column(public_folder::Column::FolderId)
                .into_tuple::<Uuid>()
                .all(conn)
                .await?
                .into_iter()
                .collect(),
        ))
    }

    fn covers(&self, ancestry: &str) -> bool {
        folder::lineage_of(ancestry)
            .iter()
            .any(|f| self.0.contains(f))
    }

    /// Whether `folder` or one above it is opted in.
    async fn holds<C: ConnectionTrait>(
        &self,
        conn: &C,
        folder: Option<Uuid>,
    ) -> Result<bool, DbErr> {
        let Some(id) = folder.filter(|_| !self.0.is_empty()) else {
            return Ok(false);
        };
        Ok(folder::Entity::find_by_id(id)
            .one(conn)
            .await?
            .is_some_and(|f| self.covers(&f.ancestry)))
    }

    /// Those of `assets` opted into public delivery, by themselves or by a
    /// folder above them.
    async fn opted_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        assets: &[Uuid],
    ) -> Result<Vec<Uuid>, DbErr> {
        let mut out = Vec::new();
        for chunk in assets.chunks(1000) {
            let direct: BTreeSet<Uuid> = public_asset::Entity::find()
                .select_only()
                .column(public_asset::Column::AssetId)
                .filter(public_asset::Column::AssetId.is_in(chunk.to_vec()))
                .into_tuple::<Uuid>()
                .all(conn)
                .await?
                .into_iter()
                .collect();
            let by_folder: BTreeSet<Uuid> = if self.0.is_empty() {
                BTreeSet::new()
            } else {
                let homes: Vec<(Uuid, Option<Uuid>)> = asset::Entity::find()
                    .select_only()
                    .column(asset::Column::Id)
                    .column(asset::Column::FolderId)
                    .filter(asset::Column::Id.is_in(chunk.to_vec()))
                    .into_tuple()
                    .all(conn)
                    .await?;
                let folder_ids: BTreeSet<Uuid> = homes.iter().filter_map(|(_, f)| *f).collect();
                let public_homes: BTreeSet<Uuid> = folder::Entity::find()
                    .select_only()
                    .column(folder::Column::Id)
                    .column(folder::Column::Ancestry)
                    .filter(folder::Column::Id.is_in(folder_ids))
                    .into_tuple::<(Uuid, String)>()
                    .all(conn)
                    .await?
                    .into_iter()
                    .filter(|(_, ancestry)| self.covers(ancestry))
                    .map(|(f, _)| f)
                    .collect();
                homes
                    .into_iter()
                    .filter(|(_, f)| f.is_some_and(|f| public_homes.contains(&f)))
                    .map(|(a, _)| a)
                    .collect()
            };
            out.extend(
                chunk
                    .iter()
                    .filter(|a| direct.contains(a) || by_folder.contains(a)),
            );
        }
        Ok(out)
    }
}

/// Sends the due purges.
async fn send_due(deps: &WorkerDeps, report: &mut PurgeReport) -> Result<(), DbErr> {
    let now = deps.clock.now();
    let due = cdn_purge::Entity::find()
        .filter(cdn_purge::Column::Status.eq(PENDING))
        .filter(cdn_purge::Column::NextAttemptAt.lte(now))
        .order_by_asc(cdn_purge::Column::Id)
        .limit(SEND_BATCH)
        .all(&deps.db)
        .await?;
    for purge in due {
        match send_one(deps, purge, now).await? {
            Some(true) => report.sent += 1,
            Some(false) => report.failed += 1,
            None => {}
        }
    }
    Ok(())
}

/// Claims, sends and records one purge (`None`: another worker has it).
async fn send_one(
    deps: &WorkerDeps,
    purge: cdn_purge::Model,
    now: DateTime<Utc>,
) -> Result<Option<bool>, DbErr> {
    let settings = &deps.settings.purge;
    let hold = Duration::from_std(settings.timeout * 3).unwrap_or(Duration::seconds(30));
    // The claim: move the due time past the attempt, only if unchanged.
    let claimed = cdn_purge::Entity::update_many()
        .col_expr(
            cdn_purge::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(now + hold),
        )
        .filter(cdn_purge::Column::Id.eq(purge.id))
        .filter(cdn_purge::Column::Status.eq(PENDING))
        .filter(cdn_purge::Column::NextAttemptAt.eq(purge.next_attempt_at))
        .exec(&deps.db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    let tags = purge
        .tag_list()
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let result = send(deps, &purge.id.to_string(), &tags).await;
    let attempts = purge.attempts + 1;
    let after = deps.clock.now();
    let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    let mut active: cdn_purge::ActiveModel = purge.clone().into();
    active.attempts = Set(attempts);
    active.updated_at = Set(after);
    let ok = result.is_ok();
    match &result {
        Ok(()) => {
            active.status = Set(SUCCEEDED.into());
            active.last_error = Set(None);
        }
        Err(e) => {
            active.last_error = Set(Some(e.chars().take(500).collect()));
            if attempts >= settings.max_attempts {
                active.status = Set(FAILED.into());
            } else {
                active.next_attempt_at = Set(after + backoff(attempts));
            }
        }
    }
    active.update(tx.conn()).await?;
    tx.audit(
        NewEvent::new(
            if ok {
                AuditAction::CdnPurgeSent
            } else {
                AuditAction::CdnPurgeFailed
            },
            SYSTEM,
        )
        .target("cdn_purge", purge.id)
        .details(json!({
            "backend": settings.backend.name(),
            "tags": tags,
            "cause": purge.cause,
            "attempt": attempts,
            "error": result.as_ref().err(),
            "givenUp": !ok && attempts >= settings.max_attempts,
        })),
    )
    .await?;
    tx.commit().await?;
    if let Err(e) = &result {
        tracing::warn!(purge = %purge.id, attempts, error = %e, "CDN purge failed");
    }
    Ok(Some(ok))
}

/// Sends one purge request; `Err`: why it did not succeed.
async fn send(deps: &WorkerDeps, id: &str, tags: &[String]) -> Result<(), String> {
    let settings = &deps.settings.purge;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .user_agent(concat!("Vitrine-Purge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let request = match &settings.backend {
        PurgeBackend::None => return Ok(()),
        PurgeBackend::Http { url, secret } => {
            let body = json!({ "id": id, "tags": tags }).to_string();
            let timestamp = deps.clock.now().timestamp();
            client
                .post(url)
                .header("content-type", "application/json")
                .header("vitrine-purge-id", id)
                .header("vitrine-timestamp", timestamp.to_string())
                .header(
                    "vitrine-signature",
                    // Standard Webhooks' scheme, as webhooks are signed.
                    crate::webhooks::signature(secret.as_bytes(), id, timestamp, body.as_bytes()),
                )
                .body(body)
        }
        PurgeBackend::Fastly {
            api,
            service_id,
            token,
        } => client
            .post(format!(
                "{}/service/{}/purge",
                api.trim_end_matches('/'),
                service_id
            ))
            .header("fastly-key", token)
            .header("surrogate-key", tags.join(" "))
            .header("accept", "application/json"),
        PurgeBackend::Cloudflare {
            api,
            zone_id,
            token,
        } => client
            .post(format!(
                "{}/zones/{}/purge_cache",
                api.trim_end_matches('/'),
                zone_id
            ))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({ "tags": tags }).to_string()),
    };
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            "the CDN did not answer in time".to_owned()
        } else {
            format!("cannot reach the CDN: {e}")
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the CDN answered {}", status.as_u16()))
    }
}

//! The license takedown sweep. Read-time enforcement already refuses an
//! asset the instant its last license ends; the sweep makes the takedown a
//! recorded fact, without anyone watching a calendar:
//!
//! - every license whose end has passed and that the sweep has not handled
//!   (`expiry_processed_at` null: a new end, or one moved by an edit) is
//!   handled once: its assets left without any license in force are marked
//!   TAKEN_DOWN, share links left with nothing deliverable are revoked, and
//!   LICENSE_EXPIRED, ASSET_TAKEN_DOWN and SHARE_LINK_REVOKED are audited as
//!   SYSTEM (the asset events reach `assetEvents` subscribers);
//! - taken-down assets licensed again (an extension, a new license) are
//!   reinstated;
//! - a license entering its notice period raises LICENSE_EXPIRING once per
//!   end date.
//!
//! Each batch of licenses is handled in one transaction with its marks, so a
//! sweep killed midway resumes where it stopped, and a sweep that did not run
//! for an hour handles the hour's ends at its next run. One sweep runs at a
//! time (a lease), whichever worker process picked up the tick.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::{NewEvent, SYSTEM};
use vitrine_entity::entities::{
    asset, asset_license, asset_takedown, folder, license, share_link, share_link_asset,
};
use vitrine_entity::license::Usage;

use crate::lease::Lease;
use crate::runner::WorkerDeps;
use crate::tx::Tx;

/// The lease's name.
const LEASE: &str = "license-takedown";
/// How long a sweep holds the lease between renewals.
const LEASE_TTL: i64 = 300;
/// Licenses per transaction.
const LICENSE_BATCH: u64 = 1000;
/// Ids per `IN (...)` list (SQLite allows 32,766 parameters).
const CHUNK: usize = 1000;

/// The settings the sweep needs.
#[derive(Debug, Clone)]
pub struct TakedownSettings {
    /// The "expiring soon" period.
    pub notice: Duration,
    /// Whether assets without any license may go to partners and visitors
    /// (a share link with only such assets keeps something deliverable).
    pub unlicensed_deliverable: bool,
    /// The sweep's cron schedule (with seconds); `None`: not scheduled.
    pub schedule: Option<String>,
}

impl Default for TakedownSettings {
    fn default() -> Self {
        Self {
            notice: Duration::days(14),
            unlicensed_deliverable: false,
            schedule: Some("0 * * * * *".to_owned()),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// `false`: another runner held the lease; nothing was done.
    pub ran: bool,
    pub licenses_expired: u64,
    pub assets_taken_down: u64,
    pub assets_reinstated: u64,
    pub links_revoked: u64,
    pub expiring_notices: u64,
}

/// Runs one sweep at the injected clock's current instant, unless another
/// runner is sweeping.
pub async fn sweep(deps: &WorkerDeps) -> Result<SweepReport, DbErr> {
    let Some(lease) = Lease::acquire(&deps.db, LEASE, Duration::seconds(LEASE_TTL)).await? else {
        tracing::info!("license takedown: another runner is sweeping");
        return Ok(SweepReport::default());
    };
    let result = run(deps, &lease).await;
    if let Err(e) = lease.release(&deps.db).await {
        tracing::warn!(error = %e, "license takedown: could not release the lease");
    }
    result
}

async fn run(deps: &WorkerDeps, lease: &Lease) -> Result<SweepReport, DbErr> {
    let now = deps.clock.now();
    // Where the last complete sweep left off: later steps look only at what
    // changed since (`None`: everything).
    let since = lease.done_until(&deps.db).await?;
    let mut report = SweepReport {
        ran: true,
        ..SweepReport::default()
    };
    // On PostgreSQL a batch's marking overlaps the previous batch's audit
    // append and commit (two connections, two server processes): the chain
    // head is taken only by the batch about to commit, so the audit order is
    // the batch order, and a batch that finds an asset the previous one
    // marked waits for that commit and then leaves the asset alone.
    let pipelined = deps.db.get_database_backend() == DbBackend::Postgres;
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    let mut pending: Option<Marked<'_>> = None;
    loop {
        let mut next = license::Entity::find()
            .filter(license::Column::ExpiryProcessedAt.is_null())
            .filter(license::Column::EndsAt.lte(now));
        if let Some((ends_at, id)) = after {
            // The batch before may not have committed yet.
            next = next.filter(
                Condition::any()
                    .add(license::Column::EndsAt.gt(ends_at))
                    .add(
                        Condition::all()
                            .add(license::Column::EndsAt.eq(ends_at))
                            .add(license::Column::Id.gt(id)),
                    ),
            );
        }
        let batch = next
            .order_by_asc(license::Column::EndsAt)
            .order_by_asc(license::Column::Id)
            .limit(LICENSE_BATCH)
            .all(&deps.db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = Some((last.ends_at, last.id));
        if !pipelined {
            // SQLite: one writer at a time; the batch commits before the
            // lease is renewed.
            mark(deps, &batch, now).await?.record(&mut report).await?;
        } else if let Some(previous) = pending.take() {
            let (marked, recorded) =
                tokio::join!(mark(deps, &batch, now), previous.record(&mut report));
            recorded?;
            pending = Some(marked?);
        } else {
            pending = Some(mark(deps, &batch, now).await?);
        }
        if !lease.renew(&deps.db).await? {
            return Err(DbErr::Custom(
                "license takedown: the lease was lost; stopping".into(),
            ));
        }
    }
    if let Some(last) = pending {
        last.record(&mut report).await?;
    }
    let step = std::time::Instant::now();
    revoke_emptied_links(deps, now, since, &mut report).await?;
    let revoked = step.elapsed();
    reinstate(deps, now, since, &mut report).await?;
    let reinstated = step.elapsed();
    notify_expiring(deps, now, &mut report).await?;
    tracing::debug!(?revoked, ?reinstated, notified = ?step.elapsed(), "license takedown steps");
    lease.set_done_until(&deps.db, now).await?;
    if report
        != (SweepReport {
            ran: true,
            ..SweepReport::default()
        })
    {
        tracing::info!(?report, "license takedown sweep");
    }
    Ok(report)
}

/// A batch of ended licenses handled up to its audit record: its assets
/// marked and the licenses flagged, in a transaction not yet committed.
struct Marked<'a> {
    tx: Tx<'a>,
    events: Vec<NewEvent>,
    licenses: u64,
    assets: u64,
    started: std::time::Instant,
    marked: std::time::Duration,
}

impl Marked<'_> {
    /// Appends the batch's audit events, commits, and counts the batch.
    async fn record(mut self, report: &mut SweepReport) -> Result<(), DbErr> {
        let appending = self.started.elapsed();
        self.tx.audit_many(self.events).await?;
        let audited = self.started.elapsed();
        self.tx.commit().await?;
        tracing::debug!(
            licenses = self.licenses,
            assets = self.assets,
            marked = ?self.marked,
            ?appending,
            ?audited,
            committed = ?self.started.elapsed(),
            "license takedown batch"
        );
        report.licenses_expired += self.licenses;
        report.assets_taken_down += self.assets;
        Ok(())
    }
}

/// Handles the end of a batch of licenses, in one transaction, up to its
/// audit record.
async fn mark<'a>(
    deps: &'a WorkerDeps,
    batch: &[license::Model],
    now: DateTime<Utc>,
) -> Result<Marked<'a>, DbErr> {
    let started = std::time::Instant::now();
    let tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    let license_ids: Vec<Uuid> = batch.iter().map(|l| l.id).collect();
    let pairs: Vec<(Uuid, Uuid)> = asset_license::Entity::find()
        .select_only()
        .column(asset_license::Column::AssetId)
        .column(asset_license::Column::LicenseId)
        .filter(asset_license::Column::LicenseId.is_in(license_ids.clone()))
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut licenses_of: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for (asset_id, license_id) in &pairs {
        licenses_of.entry(*asset_id).or_default().push(*license_id);
    }

    // Left with no license in force (and not already down): one UPDATE,
    // driven by the batch's attachments and an index lookup per asset.
    let still_in_force = Query::select()
        .expr(Expr::val(1))
        .from_as(asset_license::Entity, Alias::new("al"))
        .inner_join(
            license::Entity,
            Expr::col((license::Entity, license::Column::Id))
                .equals((Alias::new("al"), asset_license::Column::LicenseId)),
        )
        .and_where(
            Expr::col((Alias::new("al"), asset_license::Column::AssetId))
                .equals((asset::Entity, asset::Column::Id)),
        )
        .and_where(Expr::col((license::Entity, license::Column::StartsAt)).lte(now))
        .and_where(Expr::col((license::Entity, license::Column::EndsAt)).gt(now))
        .to_owned();
    let newly_down = Query::select()
        .column((asset::Entity, asset::Column::Id))
        .expr(Expr::val(now))
        .from(asset::Entity)
        .and_where(
            Expr::col((asset::Entity, asset::Column::Id)).in_subquery(
                Query::select()
                    .column(asset_license::Column::AssetId)
                    .from(asset_license::Entity)
                    .and_where(
                        Expr::col(asset_license::Column::LicenseId)
                            .is_in(license_ids.iter().copied()),
                    )
                    .to_owned(),
            ),
        )
        .and_where(Expr::exists(still_in_force).not())
        .to_owned();
    let update = Query::insert()
        .into_table(asset_takedown::Entity)
        .columns([
            asset_takedown::Column::AssetId,
            asset_takedown::Column::TakenDownAt,
        ])
        .select_from(newly_down)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(asset_takedown::Column::AssetId)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(asset_takedown::Column::AssetId)
        .to_owned();
    let down: Vec<Uuid> = tx
        .conn()
        .query_all(&update)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<Uuid>(0))
        .collect::<Result<_, _>>()?;
    crate::moderation::block_assets(tx.conn(), &down, crate::moderation::TAKEN_DOWN, now).await?;
    let mut events = Vec::with_capacity(batch.len() + down.len());
    let mut down_per_license: HashMap<Uuid, u64> = HashMap::new();
    for asset_id in &down {
        let ids = licenses_of.get(asset_id).cloned().unwrap_or_default();
        for id in &ids {
            *down_per_license.entry(*id).or_default() += 1;
        }
        events.push(
            NewEvent::new(AuditAction::AssetTakenDown, SYSTEM)
                .target("asset", asset_id)
                .details(json!({ "expiredLicenseIds": ids, "at": now })),
        );
    }
    let mut attached: HashMap<Uuid, u64> = HashMap::new();
    for (_, license_id) in &pairs {
        *attached.entry(*license_id).or_default() += 1;
    }
    for l in batch {
        events.push(
            NewEvent::new(AuditAction::LicenseExpired, SYSTEM)
                .target("license", l.id)
                .details(json!({
                    "name": l.name,
                    "licensor": l.licensor,
                    "endsAt": l.ends_at,
                    "assets": attached.get(&l.id).copied().unwrap_or(0),
                    "takenDown": down_per_license.get(&l.id).copied().unwrap_or(0),
                })),
        );
    }

    license::Entity::update_many()
        .col_expr(license::Column::ExpiryProcessedAt, Expr::value(now))
        .filter(license::Column::Id.is_in(license_ids))
        .exec(tx.conn())
        .await?;
    Ok(Marked {
        tx,
        events,
        licenses: batch.len() as u64,
        assets: down.len() as u64,
        started,
        marked: started.elapsed(),
    })
}

/// A share link's declared use, as stored: (channel, territory).
type LinkUse = (Option<String>, Option<String>);

/// Revokes the live share links left with nothing deliverable by a
/// takedown: links that could show a taken-down asset (listing it, or
/// sharing a folder above it) and have no asset outside the trash with a
/// license in force covering the link's use. Set-based: two queries per
/// distinct use among live links, whatever the number of links. Runs at
/// every sweep, so a sweep stopped between its batches and this step still
/// revokes at the next run (`since`, where the last complete sweep left
/// off, only advances after this step).
async fn revoke_emptied_links(
    deps: &WorkerDeps,
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    report: &mut SweepReport,
) -> Result<(), DbErr> {
    let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    let live = || {
        Condition::all()
            .add(Expr::col((share_link::Entity, share_link::Column::RevokedAt)).is_null())
            .add(Expr::col((share_link::Entity, share_link::Column::ExpiresAt)).gt(now))
    };
    let usage_of = |channel: &Option<String>, territory: &Option<String>| Usage {
        channel: channel
            .as_deref()
            .and_then(vitrine_entity::license::Channel::parse),
        territory: territory.clone(),
    };
    let deliverable = |usage: &Usage| {
        Condition::all()
            .add(Expr::col((asset::Entity, asset::Column::DeletedAt)).is_null())
            .add(license::licensed_at(
                now,
                usage,
                deps.settings.takedown.unlicensed_deliverable,
            ))
    };
    let taken_down = {
        let mut down = Query::select()
            .column(asset_takedown::Column::AssetId)
            .from(asset_takedown::Entity)
            .to_owned();
        if let Some(since) = since {
            down.and_where(Expr::col(asset_takedown::Column::TakenDownAt).gte(since));
        }
        Condition::all().add(Expr::col((asset::Entity, asset::Column::Id)).in_subquery(down))
    };
    let mut revoked: Vec<Uuid> = Vec::new();

    // Links of listed assets: one query per distinct use among them.
    let uses: Vec<(Option<String>, Option<String>)> = share_link::Entity::find()
        .select_only()
        .column(share_link::Column::Channel)
        .column(share_link::Column::Territory)
        .distinct()
        .filter(live())
        .filter(share_link::Column::FolderId.is_null())
        .into_tuple()
        .all(tx.conn())
        .await?;
    for (channel, territory) in uses {
        let same_use = {
            let col = |c: share_link::Column| Expr::col((share_link::Entity, c));
            Condition::all()
                .add(match &channel {
                    Some(c) => col(share_link::Column::Channel).eq(c.as_str()),
                    None => col(share_link::Column::Channel).is_null(),
                })
                .add(match &territory {
                    Some(t) => col(share_link::Column::Territory).eq(t.as_str()),
                    None => col(share_link::Column::Territory).is_null(),
                })
        };
        let listed = |extra: Condition| {
            Query::select()
                .expr(Expr::val(1))
                .from(share_link_asset::Entity)
                .inner_join(
                    asset::Entity,
                    Expr::col((asset::Entity, asset::Column::Id))
                        .equals((share_link_asset::Entity, share_link_asset::Column::AssetId)),
                )
                .and_where(
                    Expr::col((share_link_asset::Entity, share_link_asset::Column::LinkId))
                        .equals((share_link::Entity, share_link::Column::Id)),
                )
                .cond_where(extra)
                .to_owned()
        };
        let query = Query::select()
            .column((share_link::Entity, share_link::Column::Id))
            .from(share_link::Entity)
            .cond_where(live())
            .cond_where(same_use)
            .and_where(Expr::col((share_link::Entity, share_link::Column::FolderId)).is_null())
            .and_where(Expr::exists(listed(taken_down.clone())))
            .and_where(Expr::exists(listed(deliverable(&usage_of(&channel, &territory)))).not())
            .to_owned();
        for row in tx.conn().query_all(&query).await? {
            revoked.push(row.try_get_by_index(0)?);
        }
    }

    // Folder links show their folder's subtree (an ancestry prefix): find the
    // folders holding an asset taken down, then, per use, the folders
    // holding something deliverable — a few DISTINCT queries over folders.
    let folder_links = {
        let query = Query::select()
            .column((share_link::Entity, share_link::Column::Id))
            .column((share_link::Entity, share_link::Column::Channel))
            .column((share_link::Entity, share_link::Column::Territory))
            .column((folder::Entity, folder::Column::Ancestry))
            .from(share_link::Entity)
            .inner_join(
                folder::Entity,
                Expr::col((folder::Entity, folder::Column::Id))
                    .equals((share_link::Entity, share_link::Column::FolderId)),
            )
            .cond_where(live())
            .to_owned();
        let mut links: BTreeMap<LinkUse, Vec<(Uuid, String)>> = BTreeMap::new();
        for row in tx.conn().query_all(&query).await? {
            links
                .entry((row.try_get_by_index(1)?, row.try_get_by_index(2)?))
                .or_default()
                .push((row.try_get_by_index(0)?, row.try_get_by_index(3)?));
        }
        links
    };
    if !folder_links.is_empty() {
        let ancestries = |cond: Condition| {
            Query::select()
                .distinct()
                .column((folder::Entity, folder::Column::Ancestry))
                .from(asset::Entity)
                .inner_join(
                    folder::Entity,
                    Expr::col((folder::Entity, folder::Column::Id))
                        .equals((asset::Entity, asset::Column::FolderId)),
                )
                .cond_where(cond)
                .to_owned()
        };
        let strings = |rows: Vec<sea_orm::QueryResult>| {
            rows.iter()
                .map(|r| r.try_get_by_index::<String>(0))
                .collect::<Result<Vec<_>, _>>()
        };
        let hit = strings(tx.conn().query_all(&ancestries(taken_down.clone())).await?)?;
        for ((channel, territory), links) in folder_links {
            let candidates: Vec<(Uuid, String)> = links
                .into_iter()
                .filter(|(_, prefix)| hit.iter().any(|h| h.starts_with(prefix.as_str())))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let usage = usage_of(&channel, &territory);
            let alive = strings(
                tx.conn()
                    .query_all(&ancestries(deliverable(&usage)))
                    .await?,
            )?;
            revoked.extend(
                candidates
                    .into_iter()
                    .filter(|(_, prefix)| !alive.iter().any(|a| a.starts_with(prefix.as_str())))
                    .map(|(id, _)| id),
            );
        }
    }
    if revoked.is_empty() {
        return Ok(());
    }
    for chunk in revoked.chunks(CHUNK) {
        share_link::Entity::update_many()
            .col_expr(share_link::Column::RevokedAt, Expr::value(now))
            .col_expr(share_link::Column::UpdatedAt, Expr::value(now))
            .filter(share_link::Column::Id.is_in(chunk.to_vec()))
            .exec(tx.conn())
            .await?;
    }
    let events = revoked
        .iter()
        .map(|id| {
            let mut event = NewEvent::new(AuditAction::ShareLinkRevoked, SYSTEM)
                .target("share_link", id)
                .details(json!({ "reason": "LICENSE_EXPIRED" }));
            event.share_link_id = Some(*id);
            event
        })
        .collect();
    tx.audit_many(events).await?;
    tx.commit().await?;
    report.links_revoked += revoked.len() as u64;
    Ok(())
}

/// Gives back the taken-down assets that a license in force covers again.
/// Only a license attached, edited or started since the last complete sweep
/// can do that, so only those are looked at (all, the first time).
async fn reinstate(
    deps: &WorkerDeps,
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    report: &mut SweepReport,
) -> Result<(), DbErr> {
    loop {
        let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
        let mut in_force = license::in_force_at(now, &Usage::default());
        if let Some(since) = since {
            in_force.cond_where(
                Condition::any()
                    .add(Expr::col((license::Entity, license::Column::UpdatedAt)).gte(since))
                    .add(Expr::col((license::Entity, license::Column::StartsAt)).gte(since))
                    .add(
                        Expr::col((asset_license::Entity, asset_license::Column::AttachedAt))
                            .gte(since),
                    ),
            );
        }
        let ids: Vec<Uuid> = asset_takedown::Entity::find()
            .select_only()
            .column(asset_takedown::Column::AssetId)
            .filter(asset_takedown::Column::AssetId.in_subquery(in_force))
            .limit(CHUNK as u64)
            .into_tuple()
            .all(tx.conn())
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        asset_takedown::Entity::delete_many()
            .filter(asset_takedown::Column::AssetId.is_in(ids.clone()))
            .exec(tx.conn())
            .await?;
        crate::moderation::unblock_assets(tx.conn(), &ids, crate::moderation::TAKEN_DOWN).await?;
        let n = ids.len() as u64;
        tx.audit_many(
            ids.into_iter()
                .map(|id| {
                    NewEvent::new(AuditAction::AssetReinstated, SYSTEM)
                        .target("asset", id)
                        .details(json!({ "at": now }))
                })
                .collect(),
        )
        .await?;
        tx.commit().await?;
        report.assets_reinstated += n;
    }
}

/// Raises LICENSE_EXPIRING for the licenses in force whose end falls within
/// the notice period, once per end date.
async fn notify_expiring(
    deps: &WorkerDeps,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), DbErr> {
    let horizon = now + deps.settings.takedown.notice;
    loop {
        let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
        let batch = license::Entity::find()
            .filter(license::Column::StartsAt.lte(now))
            .filter(license::Column::EndsAt.gt(now))
            .filter(license::Column::EndsAt.lte(horizon))
            .filter(
                sea_orm::Condition::any()
                    .add(license::Column::ExpiringNoticeFor.is_null())
                    .add(
                        Expr::col(license::Column::ExpiringNoticeFor)
                            .ne(Expr::col(license::Column::EndsAt)),
                    ),
            )
            .order_by_asc(license::Column::EndsAt)
            .limit(LICENSE_BATCH)
            .all(tx.conn())
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = batch.iter().map(|l| l.id).collect();
        let counts: Vec<(Uuid, i64)> = asset_license::Entity::find()
            .select_only()
            .column(asset_license::Column::LicenseId)
            .column_as(asset_license::Column::AssetId.count(), "n")
            .filter(asset_license::Column::LicenseId.is_in(ids))
            .group_by(asset_license::Column::LicenseId)
            .into_tuple()
            .all(tx.conn())
            .await?;
        let counts: HashMap<Uuid, i64> = counts.into_iter().collect();
        let mut events = Vec::with_capacity(batch.len());
        for l in &batch {
            license::Entity::update_many()
                .col_expr(license::Column::ExpiringNoticeFor, Expr::value(l.ends_at))
                .filter(license::Column::Id.eq(l.id))
                .exec(tx.conn())
                .await?;
            events.push(
                NewEvent::new(AuditAction::LicenseExpiring, SYSTEM)
                    .target("license", l.id)
                    .details(json!({
                        "name": l.name,
                        "licensor": l.licensor,
                        "endsAt": l.ends_at,
                        "assets": counts.get(&l.id).copied().unwrap_or(0),
                    })),
            );
        }
        tx.audit_many(events).await?;
        tx.commit().await?;
        report.expiring_notices += batch.len() as u64;
    }
}

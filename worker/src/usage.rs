//! The usage rollup: adds the audit log's deliveries and share-link events
//! into daily statistics (`usage_daily`) and monthly totals per asset
//! (`usage_monthly`), incrementally from a watermark (the last sequence
//! number rolled up).
//!
//! Each batch of sequence numbers is added up and the watermark moved in one
//! transaction, conditionally on the watermark being where the batch started:
//! a rollup killed midway loses its uncommitted batch and nothing else, and
//! two runners can never add the same events twice. One rollup runs at a
//! time (a lease) on top of that. A rollup that did not run for hours just
//! has more batches to do.
//!
//! On PostgreSQL deliveries (the bulk of the log) are added up by one
//! `INSERT … SELECT … GROUP BY … ON CONFLICT` per batch; events about share
//! links (counted once per asset of the link) and everything on SQLite go
//! through [`Tally`], the same rules the live figures use.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, audit_event, folder, share_link, share_link_asset, usage_daily, usage_monthly, watermark,
};
use vitrine_entity::store::begin_write;
use vitrine_entity::usage::{LinkAssets, Tally, UsageAction, link_needed};

use crate::lease::Lease;

/// The watermark's (and the lease's) name.
pub const ROLLUP: &str = "usage-rollup";
/// How long a rollup holds the lease between renewals.
const LEASE_TTL: i64 = 120;
/// Ids per `IN (...)` list.
const CHUNK: usize = 1000;

/// The rollup's settings.
#[derive(Debug, Clone)]
pub struct RollupSettings {
    /// The cron schedule (with seconds); `None`: not scheduled.
    pub schedule: Option<String>,
    /// Audit sequence numbers per transaction.
    pub batch: i64,
}

/// Sequence numbers per transaction on SQLite, where a batch holds the one
/// write lock while it runs: small enough that deliveries (which append to
/// the audit log) wait a few milliseconds, not a second, during a catch-up.
pub const SQLITE_BATCH: i64 = 5_000;

impl Default for RollupSettings {
    fn default() -> Self {
        Self {
            schedule: Some("*/10 * * * * *".to_owned()),
            batch: 50_000,
        }
    }
}

/// What one rollup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupReport {
    /// `false`: another runner held the lease; nothing was done.
    pub ran: bool,
    /// Transactions committed.
    pub batches: u64,
    /// The watermark before and after.
    pub from_seq: i64,
    pub to_seq: i64,
}

/// Rolls the audit log up to its current end (or `max_batches` batches),
/// unless another runner is at it.
pub async fn rollup(
    db: &DatabaseConnection,
    settings: &RollupSettings,
    max_batches: Option<u64>,
) -> Result<RollupReport, DbErr> {
    let Some(lease) = Lease::acquire(db, ROLLUP, Duration::seconds(LEASE_TTL)).await? else {
        tracing::info!("usage rollup: another runner is at it");
        return Ok(RollupReport::default());
    };
    let result = run(db, settings, &lease, max_batches).await;
    if let Err(e) = lease.release(db).await {
        tracing::warn!(error = %e, "usage rollup: could not release the lease");
    }
    result
}

async fn run(
    db: &DatabaseConnection,
    settings: &RollupSettings,
    lease: &Lease,
    max_batches: Option<u64>,
) -> Result<RollupReport, DbErr> {
    let head = vitrine_entity::audit::last_seq(db).await?;
    let start = watermark_of(db, ROLLUP).await?;
    let mut report = RollupReport {
        ran: true,
        batches: 0,
        from_seq: start,
        to_seq: start,
    };
    let span = std::cmp::max(settings.batch, 1);
    while report.to_seq < head && max_batches.is_none_or(|m| report.batches < m) {
        let from = report.to_seq;
        let to = std::cmp::min(head, from.saturating_add(span));
        let started = std::time::Instant::now();
        let txn = begin_write(db).await?;
        add_batch(&txn, from, to).await?;
        advance(&txn, ROLLUP, from, to).await?;
        txn.commit().await?;
        tracing::debug!(
            from,
            to,
            ms = started.elapsed().as_millis() as u64,
            "usage rollup batch"
        );
        report.batches += 1;
        report.to_seq = to;
        if !lease.renew(db).await? {
            return Err(DbErr::Custom(
                "usage rollup: the lease was lost; stopping".into(),
            ));
        }
    }
    Ok(report)
}

/// The watermark `name` (0 when the job never ran).
pub async fn watermark_of<C: ConnectionTrait>(conn: &C, name: &str) -> Result<i64, DbErr> {
    Ok(watermark::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?
        .map_or(0, |w| w.last_seq))
}

/// The audit events with `actions` in `(from, head]`, at most `page` of
/// them in log order, and how far they reach: `head`, or the last one's
/// sequence number when the page is full (the rest comes next time).
pub async fn events_after<C: ConnectionTrait>(
    conn: &C,
    from: i64,
    head: i64,
    actions: Vec<&str>,
    page: u64,
) -> Result<(Vec<audit_event::Model>, i64), DbErr> {
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(from))
        .filter(audit_event::Column::Seq.lte(head))
        .filter(audit_event::Column::Action.is_in(actions))
        .order_by_asc(audit_event::Column::Seq)
        .limit(page)
        .all(conn)
        .await?;
    let upto = if events.len() as u64 == page {
        events.last().map_or(head, |e| e.seq)
    } else {
        head
    };
    Ok((events, upto))
}

/// Moves watermark `name` from `from` to `to`, failing if it is not at `from`
/// (someone else moved it: this transaction's work must not commit).
pub async fn advance<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    from: i64,
    to: i64,
) -> Result<(), DbErr> {
    let now = Utc::now();
    if from == 0 {
        let inserted = watermark::Entity::insert(watermark::ActiveModel {
            name: Set(name.to_owned()),
            last_seq: Set(to),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(watermark::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if inserted == 1 {
            return Ok(());
        }
    }
    let moved = watermark::Entity::update_many()
        .col_expr(watermark::Column::LastSeq, Expr::value(to))
        .col_expr(watermark::Column::UpdatedAt, Expr::value(now))
        .filter(watermark::Column::Name.eq(name))
        .filter(watermark::Column::LastSeq.eq(from))
        .exec(conn)
        .await?;
    if moved.rows_affected == 1 {
        Ok(())
    } else {
        Err(DbErr::Custom(format!(
            "watermark {name} moved concurrently; batch abandoned"
        )))
    }
}

/// Adds the usage events with sequence numbers in `(from, to]`.
async fn add_batch<C: ConnectionTrait>(conn: &C, from: i64, to: i64) -> Result<(), DbErr> {
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    let actions: Vec<&str> = if postgres {
        // Deliveries are added up in SQL below.
        UsageAction::audit_actions()
            .into_iter()
            .filter(|a| UsageAction::of_audit(a).is_some_and(UsageAction::is_link_wide))
            .collect()
    } else {
        UsageAction::audit_actions().to_vec()
    };
    let mut tally = Tally::default();
    let mut after = from;
    loop {
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after))
            .filter(audit_event::Column::Seq.lte(to))
            .filter(audit_event::Column::Action.is_in(actions.iter().copied()))
            .order_by_asc(audit_event::Column::Seq)
            .limit(10_000)
            .all(conn)
            .await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        tally_into(conn, &events, &mut tally).await?;
    }
    store_tally(conn, &tally).await?;
    if postgres {
        add_deliveries_postgres(conn, from, to).await?;
    }
    Ok(())
}

/// Adds `events` into `tally`, loading what their share links contribute.
pub async fn tally_into<C: ConnectionTrait>(
    conn: &C,
    events: &[audit_event::Model],
    tally: &mut Tally,
) -> Result<(), DbErr> {
    let mut wanted: HashMap<Uuid, bool> = HashMap::new();
    for e in events {
        if let Some((link, assets)) = link_needed(e) {
            *wanted.entry(link).or_default() |= assets;
        }
    }
    let links = load_links(conn, &wanted).await?;
    for e in events {
        tally.add_event(e, &|id| links.get(&id));
    }
    Ok(())
}

/// The links asked for, with their assets where `wanted` says so: a listing
/// link's listed assets, a folder link's live assets in its folder's subtree
/// at the time of counting.
async fn load_links<C: ConnectionTrait>(
    conn: &C,
    wanted: &HashMap<Uuid, bool>,
) -> Result<HashMap<Uuid, LinkAssets>, DbErr> {
    let mut out = HashMap::new();
    let ids: Vec<Uuid> = wanted.keys().copied().collect();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(Uuid, Option<Uuid>, Option<Uuid>)> = share_link::Entity::find()
            .select_only()
            .column(share_link::Column::Id)
            .column(share_link::Column::PartnerOrgId)
            .column(share_link::Column::FolderId)
            .filter(share_link::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, partner_org_id, folder_id) in rows {
            let mut link = LinkAssets {
                assets: Vec::new(),
                partner_org_id,
            };
            if wanted.get(&id).copied().unwrap_or(false) {
                link.assets = match folder_id {
                    Some(folder_id) => folder_assets(conn, folder_id).await?,
                    None => {
                        share_link_asset::Entity::find()
                            .select_only()
                            .column(share_link_asset::Column::AssetId)
                            .filter(share_link_asset::Column::LinkId.eq(id))
                            .into_tuple()
                            .all(conn)
                            .await?
                    }
                };
            }
            out.insert(id, link);
        }
    }
    Ok(out)
}

async fn folder_assets<C: ConnectionTrait>(conn: &C, folder_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    let Some(top) = folder::Entity::find_by_id(folder_id).one(conn).await? else {
        return Ok(Vec::new());
    };
    asset::Entity::find()
        .select_only()
        .column(asset::Column::Id)
        .filter(asset::Column::DeletedAt.is_null())
        .filter(
            asset::Column::FolderId.in_subquery(
                Query::select()
                    .column(folder::Column::Id)
                    .from(folder::Entity)
                    .and_where(
                        Expr::col(folder::Column::Ancestry).like(format!("{}%", top.ancestry)),
                    )
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(conn)
        .await
}

/// The later of the stored and the incoming value of `col` (portable
/// `GREATEST`).
fn later<E, C>(excluded: &Alias, table: E, col: C) -> sea_orm::sea_query::SimpleExpr
where
    E: sea_orm::sea_query::IntoIden + Copy + 'static,
    C: sea_orm::sea_query::IntoIden + Copy + 'static,
{
    Expr::case(
        Expr::col((excluded.clone(), col)).gt(Expr::col((table, col))),
        Expr::col((excluded.clone(), col)),
    )
    .finally(Expr::col((table, col)))
    .into()
}

/// Adds a tally into the tables (portable upserts).
pub async fn store_tally<C: ConnectionTrait>(conn: &C, tally: &Tally) -> Result<(), DbErr> {
    if tally.is_empty() {
        return Ok(());
    }
    let excluded = Alias::new("excluded");
    let daily: Vec<usage_daily::ActiveModel> = tally
        .counts
        .iter()
        .map(|(k, c)| usage_daily::ActiveModel {
            day: Set(k.day),
            asset_id: Set(k.asset_id),
            accessor: Set(k.accessor.as_str().to_owned()),
            action: Set(k.action.as_str().to_owned()),
            partner_org_id: Set(k.partner_org_id),
            share_link_id: Set(k.share_link_id),
            count: Set(c.count),
            last_at: Set(c.last_at),
        })
        .collect();
    for chunk in daily.chunks(CHUNK) {
        usage_daily::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    usage_daily::Column::AssetId,
                    usage_daily::Column::Day,
                    usage_daily::Column::Accessor,
                    usage_daily::Column::Action,
                    usage_daily::Column::PartnerOrgId,
                    usage_daily::Column::ShareLinkId,
                ])
                .value(
                    usage_daily::Column::Count,
                    Expr::col((usage_daily::Entity, usage_daily::Column::Count))
                        .add(Expr::col((excluded.clone(), usage_daily::Column::Count))),
                )
                .value(
                    usage_daily::Column::LastAt,
                    later(&excluded, usage_daily::Entity, usage_daily::Column::LastAt),
                )
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    let monthly: Vec<usage_monthly::ActiveModel> = tally
        .monthly()
        .into_iter()
        .map(
            |((month, asset_id), ([views, downloads, shares, share_opens], last_at))| {
                usage_monthly::ActiveModel {
                    month: Set(month),
                    asset_id: Set(asset_id),
                    views: Set(views),
                    downloads: Set(downloads),
                    shares: Set(shares),
                    share_opens: Set(share_opens),
                    last_at: Set(last_at),
                }
            },
        )
        .collect();
    for chunk in monthly.chunks(CHUNK) {
        let mut on_conflict =
            OnConflict::columns([usage_monthly::Column::Month, usage_monthly::Column::AssetId]);
        for col in [
            usage_monthly::Column::Views,
            usage_monthly::Column::Downloads,
            usage_monthly::Column::Shares,
            usage_monthly::Column::ShareOpens,
        ] {
            on_conflict.value(
                col,
                Expr::col((usage_monthly::Entity, col)).add(Expr::col((excluded.clone(), col))),
            );
        }
        on_conflict.value(
            usage_monthly::Column::LastAt,
            later(
                &excluded,
                usage_monthly::Entity,
                usage_monthly::Column::LastAt,
            ),
        );
        usage_monthly::Entity::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.to_owned())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// PostgreSQL: adds the deliveries with sequence numbers in `(from, to]` in
/// set-based statements (a visitor's delivery counts towards the partner
/// organisation its link was made for, as in [`Tally`]).
async fn add_deliveries_postgres<C: ConnectionTrait>(
    conn: &C,
    from: i64,
    to: i64,
) -> Result<(), DbErr> {
    const SQL: &str = r#"
WITH batch AS (
    SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
           e.target_id::uuid AS asset_id,
           e.actor_kind AS accessor,
           CASE WHEN e.action = 'RENDITION_VIEWED' THEN 'VIEW' ELSE 'DOWNLOAD' END AS action,
           COALESCE(e.partner_org_id,
                    CASE WHEN e.actor_kind = 'VISITOR' THEN l.partner_org_id END,
                    '00000000-0000-0000-0000-000000000000'::uuid) AS partner_org_id,
           COALESCE(e.share_link_id, '00000000-0000-0000-0000-000000000000'::uuid) AS share_link_id,
           count(*) AS count,
           max(e.occurred_at) AS last_at
    FROM audit_events e
    LEFT JOIN share_links l ON l.id = e.share_link_id
    WHERE e.seq > $1 AND e.seq <= $2
      AND e.action IN ('RENDITION_VIEWED', 'LOWRES_DOWNLOADED', 'ORIGINAL_DOWNLOADED')
      AND e.actor_kind IN ('MEMBER', 'PARTNER', 'VISITOR')
      AND e.target_type = 'asset'
      -- A UUID's shape without a regular expression (2 µs an event).
      AND e.target_id LIKE '________-____-____-____-____________'
      AND translate(e.target_id, '0123456789abcdefABCDEF-', '') = ''
    GROUP BY 1, 2, 3, 4, 5, 6
), daily AS (
    INSERT INTO usage_daily AS u
        (day, asset_id, accessor, action, partner_org_id, share_link_id, count, last_at)
    SELECT day, asset_id, accessor, action, partner_org_id, share_link_id, count, last_at FROM batch
    ON CONFLICT (asset_id, day, accessor, action, partner_org_id, share_link_id)
    DO UPDATE SET count = u.count + EXCLUDED.count,
                  last_at = GREATEST(u.last_at, EXCLUDED.last_at)
)
INSERT INTO usage_monthly AS m (month, asset_id, views, downloads, shares, share_opens, last_at)
SELECT date_trunc('month', day)::date, asset_id,
       sum(CASE WHEN action = 'VIEW' THEN count ELSE 0 END),
       sum(CASE WHEN action = 'DOWNLOAD' THEN count ELSE 0 END),
       0, 0, max(last_at)
FROM batch
GROUP BY 1, 2
ON CONFLICT (month, asset_id)
DO UPDATE SET views = m.views + EXCLUDED.views, downloads = m.downloads + EXCLUDED.downloads,
              last_at = GREATEST(m.last_at, EXCLUDED.last_at)
"#;
    // The batch's sort and hash fit in memory.
    conn.execute_unprepared("SET LOCAL work_mem = '64MB'")
        .await?;
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [from.into(), to.into()],
    ))
    .await?;
    Ok(())
}

/// The usage events with sequence numbers in `(after, upto]`, at most
/// `limit`, the oldest first: what live figures add to the rolled-up ones.
pub async fn events_between<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(after))
        .filter(audit_event::Column::Seq.lte(upto))
        .filter(audit_event::Column::Action.is_in(UsageAction::audit_actions()))
        .order_by_asc(audit_event::Column::Seq)
        .limit(limit)
        .all(conn)
        .await
}

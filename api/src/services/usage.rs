//! Usage statistics for analysts: the rolled-up daily counts plus the audit
//! events not rolled up yet (so today's figures are live), read in one
//! snapshot, narrowed to what the asking actor may see (the policy's
//! [`stats_scope`] and the assets it sees), grouped as asked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SelectStatement, UnionType};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;
use vitrine_entity::entities::{asset, folder, usage_daily, usage_monthly};
use vitrine_entity::policy::{Actor, StatsScope, stats_scope};
use vitrine_entity::usage::{
    AccessorType, Period, Tally, UsageAction, UsageKey, metric_index, month_start, next_month,
};

use crate::error::{ApiError, ApiResult};
use crate::services::access::{Shelf, asset_scope};
use crate::state::AppState;

/// How many unrolled audit events a query adds at most (the rollup runs
/// every few seconds; a backlog beyond this means it is down, and the
/// figures are then short by the rest until it catches up).
const TAIL_LIMIT: u64 = 200_000;
/// The longest range a query may cover.
const MAX_DAYS: i64 = 3700;
/// Ids per `IN (...)` list (SQLite allows 32,766 parameters).
const CHUNK: usize = 5000;

/// What `usageStats` counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub asset_ids: Option<Vec<Uuid>>,
    /// Assets filed in this folder or below.
    pub folder_id: Option<Uuid>,
    pub partner_org_id: Option<Uuid>,
    pub share_link_id: Option<Uuid>,
    pub accessor_types: Option<Vec<AccessorType>>,
    pub actions: Option<Vec<UsageAction>>,
}

/// A dimension statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, async_graphql::Enum)]
#[graphql(name = "UsageGrouping")]
pub enum Grouping {
    /// By UTC day.
    Day,
    /// By ISO week (starting on Monday).
    Week,
    /// By calendar month.
    Month,
    Asset,
    AccessorType,
    PartnerOrg,
    ShareLink,
}

/// The four counts, in [`metric_index`] order.
pub type Counts = [i64; 4];

/// One row: its dimensions (those grouped by) and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The first day of the row's day, week (Monday) or month.
    pub period: Option<NaiveDate>,
    pub asset_id: Option<Uuid>,
    pub accessor: Option<AccessorType>,
    pub partner_org_id: Option<Uuid>,
    pub share_link_id: Option<Uuid>,
    pub counts: Counts,
    pub last_at: Option<DateTime<Utc>>,
}

impl UsageRow {
    pub fn views(&self) -> i64 {
        self.counts[metric_index(UsageAction::View)]
    }
    pub fn downloads(&self) -> i64 {
        self.counts[metric_index(UsageAction::Download)]
    }
    pub fn shares(&self) -> i64 {
        self.counts[metric_index(UsageAction::ShareCreated)]
    }
    pub fn share_opens(&self) -> i64 {
        self.counts[metric_index(UsageAction::ShareOpened)]
    }
}

/// A validated query.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    pub filter: UsageFilter,
    /// Inclusive UTC days.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Vec<Grouping>,
}

impl UsageQuery {
    pub fn new(
        filter: UsageFilter,
        from: NaiveDate,
        to: NaiveDate,
        group_by: Vec<Grouping>,
    ) -> ApiResult<Self> {
        if to < from {
            return Err(ApiError::BadUserInput("to is before from".into()));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(ApiError::BadUserInput(format!(
                "a query covers at most {MAX_DAYS} days"
            )));
        }
        let periods = group_by
            .iter()
            .filter(|g| matches!(g, Grouping::Day | Grouping::Week | Grouping::Month))
            .count();
        if periods > 1 {
            return Err(ApiError::BadUserInput(
                "group by at most one of DAY, WEEK, MONTH".into(),
            ));
        }
        if filter
            .asset_ids
            .as_ref()
            .is_some_and(|ids| ids.len() > CHUNK)
        {
            return Err(ApiError::BadUserInput(format!("at most {CHUNK} assetIds")));
        }
        let mut group_by = group_by;
        group_by.sort();
        group_by.dedup();
        Ok(Self {
            filter,
            from,
            to,
            group_by,
        })
    }

    fn period(&self) -> Option<Period> {
        self.group_by.iter().find_map(|g| match g {
            Grouping::Day => Some(Period::Day),
            Grouping::Week => Some(Period::Week),
            Grouping::Month => Some(Period::Month),
            _ => None,
        })
    }

    fn groups(&self, g: Grouping) -> bool {
        self.group_by.contains(&g)
    }

    /// The key of the row a count goes to: the dimensions grouped by, the
    /// day folded into its period; the others dropped.
    fn row_key(
        &self,
        day: Option<NaiveDate>,
        asset_id: Option<Uuid>,
        accessor: Option<AccessorType>,
        partner_org_id: Option<Uuid>,
        share_link_id: Option<Uuid>,
    ) -> RowKey {
        (
            day.zip(self.period()).map(|(d, p)| p.start(d)),
            asset_id.filter(|_| self.groups(Grouping::Asset)),
            accessor.filter(|_| self.groups(Grouping::AccessorType)),
            partner_org_id.filter(|_| self.groups(Grouping::PartnerOrg)),
            share_link_id.filter(|_| self.groups(Grouping::ShareLink)),
        )
    }
}

/// The grouping key of a row.
type RowKey = (
    Option<NaiveDate>,
    Option<Uuid>,
    Option<AccessorType>,
    Option<Uuid>,
    Option<Uuid>,
);

/// Rows being added up.
#[derive(Default)]
struct Rows(BTreeMap<RowKey, (Counts, Option<DateTime<Utc>>)>);

impl Rows {
    fn add(
        &mut self,
        key: RowKey,
        action: UsageAction,
        count: i64,
        last_at: Option<DateTime<Utc>>,
    ) {
        let slot = self.0.entry(key).or_default();
        slot.0[metric_index(action)] += count;
        slot.1 = std::cmp::max(slot.1, last_at);
    }

    fn into_rows(self) -> Vec<UsageRow> {
        self.0
            .into_iter()
            .map(
                |(
                    (period, asset_id, accessor, partner_org_id, share_link_id),
                    (counts, last_at),
                )| {
                    UsageRow {
                        period,
                        asset_id,
                        accessor,
                        partner_org_id,
                        share_link_id,
                        counts,
                        last_at,
                    }
                },
            )
            .collect()
    }
}

fn none_if_nil(id: Uuid) -> Option<Uuid> {
    (!id.is_nil()).then_some(id)
}

/// Who may read what: the organisation to narrow to, and the assets (as a
/// condition on `assets`), or `None` when the actor sees no asset.
struct Scope {
    organisation: Option<Uuid>,
    assets: Condition,
}

async fn scope_of<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    filter: &UsageFilter,
) -> ApiResult<Option<Scope>> {
    let now = state.clock.now();
    let organisation = match stats_scope(actor, now)? {
        StatsScope::Everyone => None,
        StatsScope::Organisation(org) => Some(org),
    };
    let Some(mut assets) = asset_scope(
        conn,
        actor,
        now,
        Shelf::Live,
        state.config.license_unlicensed_deliverable,
    )
    .await?
    else {
        return Ok(None);
    };
    if let Some(ids) = &filter.asset_ids {
        assets = assets.add(asset::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some(folder_id) = filter.folder_id {
        let Some(top) = folder::Entity::find_by_id(folder_id).one(conn).await? else {
            return Err(ApiError::NotFound("folder not found".into()));
        };
        assets = assets.add(
            asset::Column::FolderId.in_subquery(
                Query::select()
                    .column(folder::Column::Id)
                    .from(folder::Entity)
                    .and_where(
                        Expr::col(folder::Column::Ancestry).like(format!("{}%", top.ancestry)),
                    )
                    .to_owned(),
            ),
        );
    }
    Ok(Some(Scope {
        organisation,
        assets,
    }))
}

fn visible_ids(scope: &Scope) -> SelectStatement {
    Query::select()
        .column((asset::Entity, asset::Column::Id))
        .from(asset::Entity)
        .cond_where(scope.assets.clone())
        .to_owned()
}

/// The daily-table condition of a query (days, filter, scope).
fn daily_condition(
    scope: &Scope,
    filter: &UsageFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Condition {
    let mut cond = Condition::all()
        .add(usage_daily::Column::Day.gte(from))
        .add(usage_daily::Column::Day.lte(to))
        .add(usage_daily::Column::AssetId.in_subquery(visible_ids(scope)));
    if let Some(org) = scope.organisation {
        cond = cond.add(usage_daily::Column::PartnerOrgId.eq(org));
    }
    if let Some(ids) = &filter.asset_ids {
        // Also on the daily rows themselves: their key starts with the asset.
        cond = cond.add(usage_daily::Column::AssetId.is_in(ids.iter().copied()));
    }
    if let Some(org) = filter.partner_org_id {
        cond = cond.add(usage_daily::Column::PartnerOrgId.eq(org));
    }
    if let Some(link) = filter.share_link_id {
        cond = cond.add(usage_daily::Column::ShareLinkId.eq(link));
    }
    if let Some(kinds) = &filter.accessor_types {
        cond = cond.add(usage_daily::Column::Accessor.is_in(kinds.iter().map(|k| k.as_str())));
    }
    if let Some(actions) = &filter.actions {
        cond = cond.add(usage_daily::Column::Action.is_in(actions.iter().map(|a| a.as_str())));
    }
    cond
}

/// Whether a tallied key passes the filter (the asset scope is checked apart).
fn key_passes(key: &UsageKey, scope: &Scope, query: &UsageQuery) -> bool {
    let f = &query.filter;
    f.asset_ids
        .as_ref()
        .is_none_or(|ids| ids.contains(&key.asset_id))
        && key.day >= query.from
        && key.day <= query.to
        && scope.organisation.is_none_or(|o| o == key.partner_org_id)
        && f.partner_org_id.is_none_or(|o| o == key.partner_org_id)
        && f.share_link_id.is_none_or(|l| l == key.share_link_id)
        && f.accessor_types
            .as_ref()
            .is_none_or(|k| k.contains(&key.accessor))
        && f.actions.as_ref().is_none_or(|a| a.contains(&key.action))
}

/// A read snapshot: the rolled-up rows and the tail past the watermark are
/// read as of one instant (PostgreSQL: REPEATABLE READ; SQLite transactions
/// are snapshots).
async fn snapshot(state: &AppState) -> ApiResult<DatabaseTransaction> {
    Ok(if state.db.get_database_backend() == DbBackend::Postgres {
        state
            .db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
    } else {
        state.db.begin().await?
    })
}

/// The tally of the usage events past the rollup's watermark, as of some
/// sequence number: queries extend it with what was recorded since instead
/// of reading the whole tail each time, and start afresh when the rollup
/// moved the watermark.
#[derive(Debug, Default)]
pub struct TailCache(std::sync::Mutex<Option<CachedTail>>);

#[derive(Debug, Clone)]
struct CachedTail {
    watermark: i64,
    upto: i64,
    tally: Arc<Tally>,
}

impl TailCache {
    fn get(&self) -> Option<CachedTail> {
        self.0.lock().ok().and_then(|c| c.clone())
    }

    fn put(&self, fresh: CachedTail) {
        if let Ok(mut slot) = self.0.lock() {
            let newer = slot.as_ref().is_none_or(|c| {
                fresh.watermark > c.watermark
                    || (fresh.watermark == c.watermark && fresh.upto > c.upto)
            });
            if newer {
                *slot = Some(fresh);
            }
        }
    }
}

/// The tail as of `txn`'s snapshot: the cached tally extended by the events
/// recorded since, or a fresh one.
async fn tail_tally(state: &AppState, txn: &DatabaseTransaction) -> ApiResult<Arc<Tally>> {
    let watermark = vitrine_worker::usage::watermark_of(txn, vitrine_worker::usage::ROLLUP).await?;
    let head = vitrine_entity::audit::last_seq(txn).await?;
    let (mut tally, from) = match state.usage_tail.get() {
        Some(c) if c.watermark == watermark && c.upto <= head => (c.tally, c.upto),
        _ => (Arc::new(Tally::default()), watermark),
    };
    if from >= head {
        return Ok(tally);
    }
    let events = vitrine_worker::usage::events_between(txn, from, head, TAIL_LIMIT).await?;
    let upto = match events.last() {
        Some(last) if events.len() as u64 == TAIL_LIMIT => {
            tracing::warn!("usage statistics: the rollup is far behind; live figures are partial");
            last.seq
        }
        _ => head,
    };
    vitrine_worker::usage::tally_into(txn, &events, Arc::make_mut(&mut tally)).await?;
    state.usage_tail.put(CachedTail {
        watermark,
        upto,
        tally: tally.clone(),
    });
    Ok(tally)
}

/// The unrolled events, tallied and narrowed to the scope and filter.
async fn live_tail(
    state: &AppState,
    txn: &DatabaseTransaction,
    scope: &Scope,
    query: &UsageQuery,
) -> ApiResult<Vec<(UsageKey, i64, DateTime<Utc>)>> {
    let tally = tail_tally(state, txn).await?;
    if tally.is_empty() {
        return Ok(Vec::new());
    }
    let candidates: Vec<(UsageKey, i64, DateTime<Utc>)> = tally
        .counts
        .iter()
        .filter(|(k, _)| key_passes(k, scope, query))
        .map(|(k, c)| (*k, c.count, c.last_at))
        .collect();
    let ids: Vec<Uuid> = candidates
        .iter()
        .map(|(k, _, _)| k.asset_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut visible = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<Uuid> = asset::Entity::find()
            .select_only()
            .column(asset::Column::Id)
            .filter(scope.assets.clone())
            .filter(asset::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        visible.extend(found);
    }
    Ok(candidates
        .into_iter()
        .filter(|(k, _, _)| visible.contains(&k.asset_id))
        .collect())
}

/// `usageStats`: rows grouped as asked, sorted by their dimensions.
/// At most `max_rows` rows (`None`: any number; the CSV export reads long
/// ranges slice by slice), or BAD_USER_INPUT.
pub async fn stats(
    state: &AppState,
    actor: &Actor,
    query: &UsageQuery,
    max_rows: Option<usize>,
) -> ApiResult<Vec<UsageRow>> {
    let txn = snapshot(state).await?;
    let Some(scope) = scope_of(state, &txn, actor, &query.filter).await? else {
        return Ok(Vec::new());
    };
    let mut rows = Rows::default();
    // Whole months from the monthly totals where they can answer (no
    // dimension or filter they do not keep), the days around them, or all
    // of the range, from the daily rows.
    let (first_month, months_end) = whole_months(query.from, query.to);
    let f = &query.filter;
    let monthly = scope.organisation.is_none()
        && f.partner_org_id.is_none()
        && f.share_link_id.is_none()
        && f.accessor_types.is_none()
        && f.actions.is_none()
        && query
            .group_by
            .iter()
            .all(|g| matches!(g, Grouping::Month | Grouping::Asset))
        && first_month < months_end;
    if monthly {
        if query.from < first_month {
            add_daily(
                &txn,
                &scope,
                query,
                query.from,
                first_month - Duration::days(1),
                max_rows,
                &mut rows,
            )
            .await?;
        }
        add_monthly(&txn, &scope, query, first_month, months_end, &mut rows).await?;
        if months_end <= query.to {
            add_daily(
                &txn, &scope, query, months_end, query.to, max_rows, &mut rows,
            )
            .await?;
        }
    } else {
        add_daily(
            &txn, &scope, query, query.from, query.to, max_rows, &mut rows,
        )
        .await?;
    }
    for (k, count, last_at) in live_tail(state, &txn, &scope, query).await? {
        rows.add(
            query.row_key(
                Some(k.day),
                Some(k.asset_id),
                Some(k.accessor),
                Some(k.partner_org_id),
                Some(k.share_link_id),
            ),
            k.action,
            count,
            Some(last_at),
        );
    }
    txn.commit().await?;
    if let Some(max) = max_rows
        && rows.0.len() > max
    {
        return Err(ApiError::BadUserInput(format!(
            "more than {max} rows: narrow the range, the filter or the grouping, or export as CSV"
        )));
    }
    Ok(rows
        .into_rows()
        .into_iter()
        .map(|mut r| {
            r.partner_org_id = r.partner_org_id.and_then(none_if_nil);
            r.share_link_id = r.share_link_id.and_then(none_if_nil);
            r
        })
        .collect())
}

/// The whole calendar months inside the days `from..=to`: `[first, end)`
/// (empty when `first >= end`).
fn whole_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = if month_start(from) == from {
        from
    } else {
        next_month(from)
    };
    let end = month_start(to + Duration::days(1));
    (first, std::cmp::max(first, end))
}

/// Adds the daily rows of the days `from..=to`, grouped in SQL by the
/// dimensions asked (by day when a period is asked: weeks and months are
/// folded here).
async fn add_daily(
    txn: &DatabaseTransaction,
    scope: &Scope,
    query: &UsageQuery,
    from: NaiveDate,
    to: NaiveDate,
    max_rows: Option<usize>,
    rows: &mut Rows,
) -> ApiResult<()> {
    let period = query.period();
    let mut select = Query::select();
    select.from(usage_daily::Entity);
    let dims: [(Grouping, usage_daily::Column); 5] = [
        (Grouping::Day, usage_daily::Column::Day),
        (Grouping::Asset, usage_daily::Column::AssetId),
        (Grouping::AccessorType, usage_daily::Column::Accessor),
        (Grouping::PartnerOrg, usage_daily::Column::PartnerOrgId),
        (Grouping::ShareLink, usage_daily::Column::ShareLinkId),
    ];
    for (g, col) in dims {
        let wanted = match g {
            Grouping::Day => period.is_some(),
            other => query.groups(other),
        };
        if wanted {
            select.column(col).group_by_col(col);
        }
    }
    select
        .column(usage_daily::Column::Action)
        .group_by_col(usage_daily::Column::Action)
        .expr_as(
            Func::sum(Expr::col(usage_daily::Column::Count)).cast_as(Alias::new("BIGINT")),
            Alias::new("total"),
        )
        .expr_as(
            Func::max(Expr::col(usage_daily::Column::LastAt)),
            Alias::new("last_at"),
        )
        .cond_where(daily_condition(scope, &query.filter, from, to));
    if let Some(max) = max_rows {
        // Rows come per action: four per result row at most.
        select.limit(u64::try_from(max.saturating_mul(4).saturating_add(1)).unwrap_or(u64::MAX));
    }
    for row in txn.query_all(&select).await? {
        let Some(action) = UsageAction::parse(&row.try_get::<String>("", "action")?) else {
            continue;
        };
        let day = match period {
            Some(_) => Some(row.try_get::<NaiveDate>("", "day")?),
            None => None,
        };
        let uuid = |g: Grouping, col: &str| -> Result<Option<Uuid>, sea_orm::DbErr> {
            if query.groups(g) {
                row.try_get::<Uuid>("", col).map(Some)
            } else {
                Ok(None)
            }
        };
        let accessor = if query.groups(Grouping::AccessorType) {
            AccessorType::parse(&row.try_get::<String>("", "accessor")?)
        } else {
            None
        };
        let key = query.row_key(
            day,
            uuid(Grouping::Asset, "asset_id")?,
            accessor,
            uuid(Grouping::PartnerOrg, "partner_org_id")?,
            uuid(Grouping::ShareLink, "share_link_id")?,
        );
        let total: i64 = row.try_get("", "total")?;
        let last_at: Option<DateTime<Utc>> = row.try_get("", "last_at").ok();
        rows.add(key, action, total, last_at);
    }
    Ok(())
}

/// Adds the monthly totals of the months `[first, end)` (for queries grouped
/// by month and/or asset only, filtered by assets only).
async fn add_monthly(
    txn: &DatabaseTransaction,
    scope: &Scope,
    query: &UsageQuery,
    first: NaiveDate,
    end: NaiveDate,
    rows: &mut Rows,
) -> ApiResult<()> {
    let by_month = query.groups(Grouping::Month);
    let by_asset = query.groups(Grouping::Asset);
    let mut select = Query::select();
    select.from(usage_monthly::Entity);
    if by_month {
        select
            .column(usage_monthly::Column::Month)
            .group_by_col(usage_monthly::Column::Month);
    }
    if by_asset {
        select
            .column(usage_monthly::Column::AssetId)
            .group_by_col(usage_monthly::Column::AssetId);
    }
    let metrics = [
        (UsageAction::View, usage_monthly::Column::Views),
        (UsageAction::Download, usage_monthly::Column::Downloads),
        (UsageAction::ShareCreated, usage_monthly::Column::Shares),
        (UsageAction::ShareOpened, usage_monthly::Column::ShareOpens),
    ];
    for (action, col) in metrics {
        select.expr_as(
            Func::sum(Expr::col(col)).cast_as(Alias::new("BIGINT")),
            Alias::new(action.as_str()),
        );
    }
    select.expr_as(
        Func::max(Expr::col(usage_monthly::Column::LastAt)),
        Alias::new("last_at"),
    );
    let mut cond = Condition::all()
        .add(usage_monthly::Column::Month.gte(first))
        .add(usage_monthly::Column::Month.lt(end))
        .add(usage_monthly::Column::AssetId.in_subquery(visible_ids(scope)));
    if let Some(ids) = &query.filter.asset_ids {
        cond = cond.add(usage_monthly::Column::AssetId.is_in(ids.iter().copied()));
    }
    select.cond_where(cond);
    for row in txn.query_all(&select).await? {
        let month = if by_month {
            Some(row.try_get::<NaiveDate>("", "month")?)
        } else {
            None
        };
        let asset = if by_asset {
            Some(row.try_get::<Uuid>("", "asset_id")?)
        } else {
            None
        };
        let last_at: Option<DateTime<Utc>> = row.try_get("", "last_at").ok();
        for (action, _) in metrics {
            let n = row
                .try_get::<Option<i64>>("", action.as_str())?
                .unwrap_or(0);
            if n > 0 {
                rows.add((month, asset, None, None, None), action, n, last_at);
            }
        }
    }
    Ok(())
}

/// What `topAssets` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "UsageMetric")]
pub enum Metric {
    Views,
    Downloads,
    /// Times put into a share link.
    Shares,
}

impl Metric {
    fn index(self) -> usize {
        match self {
            Metric::Views => 0,
            Metric::Downloads => 1,
            Metric::Shares => 2,
        }
    }
}

/// `topAssets`: the `first` assets with the highest `metric` over the days
/// `from..=to`, with all their counts, highest first (ties by id).
pub async fn top_assets(
    state: &AppState,
    actor: &Actor,
    metric: Metric,
    from: NaiveDate,
    to: NaiveDate,
    first: u64,
) -> ApiResult<Vec<(asset::Model, Counts)>> {
    let query = UsageQuery::new(UsageFilter::default(), from, to, vec![Grouping::Asset])?;
    let txn = snapshot(state).await?;
    let Some(scope) = scope_of(state, &txn, actor, &query.filter).await? else {
        return Ok(Vec::new());
    };
    let mut totals: HashMap<Uuid, Counts> = HashMap::new();
    for (id, counts) in rolled_up_top(&txn, &scope, metric, from, to, first, None).await? {
        totals.insert(id, counts);
    }
    let tail = live_tail(state, &txn, &scope, &query).await?;
    // An asset the rolled-up top left out has at most the top's last value
    // rolled up (`floor`); it can enter the top only if its tail brings it
    // to the top's last value after the tail (`bar`). Only those are read.
    let m = metric.index();
    let mut tail_of: HashMap<Uuid, Counts> = HashMap::new();
    for (k, count, _) in &tail {
        tail_of.entry(k.asset_id).or_default()[metric_index(k.action)] += count;
    }
    let full = totals.len() as u64 >= first;
    let floor = totals.values().map(|c| c[m]).min().unwrap_or(0);
    let mut finals: Vec<i64> = totals
        .iter()
        .map(|(id, c)| c[m] + tail_of.get(id).map_or(0, |t| t[m]))
        .collect();
    finals.sort_unstable();
    let bar = if full {
        finals.first().copied().unwrap_or(0)
    } else {
        0
    };
    let missing: Vec<Uuid> = tail_of
        .iter()
        .filter(|(id, t)| !totals.contains_key(*id) && (!full || floor + t[m] >= bar))
        .map(|(id, _)| *id)
        .collect();
    for chunk in missing.chunks(CHUNK) {
        for (id, counts) in rolled_up_top(
            &txn,
            &scope,
            metric,
            from,
            to,
            chunk.len() as u64,
            Some(chunk),
        )
        .await?
        {
            totals.insert(id, counts);
        }
    }
    for id in &missing {
        totals.entry(*id).or_default();
    }
    for (k, count, _) in tail {
        totals.entry(k.asset_id).or_default()[metric_index(k.action)] += count;
    }
    let mut ranked: Vec<(Uuid, Counts)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1[metric.index()]
            .cmp(&a.1[metric.index()])
            .then(a.0.cmp(&b.0))
    });
    ranked.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    let mut models: HashMap<Uuid, asset::Model> = HashMap::new();
    let ids: Vec<Uuid> = ranked.iter().map(|(id, _)| *id).collect();
    for chunk in ids.chunks(CHUNK) {
        for m in asset::Entity::find()
            .filter(asset::Column::Id.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?
        {
            models.insert(m.id, m);
        }
    }
    txn.commit().await?;
    Ok(ranked
        .into_iter()
        .filter_map(|(id, counts)| models.remove(&id).map(|m| (m, counts)))
        .collect())
}

/// The rolled-up top `first` assets (or the totals of `only`): whole months
/// inside the range from the monthly totals, the days around them from the
/// daily rows; an organisation's from its daily rows only.
async fn rolled_up_top(
    txn: &DatabaseTransaction,
    scope: &Scope,
    metric: Metric,
    from: NaiveDate,
    to: NaiveDate,
    first: u64,
    only: Option<&[Uuid]>,
) -> ApiResult<Vec<(Uuid, Counts)>> {
    let names = ["views", "downloads", "shares", "share_opens"];
    let (first_month, months_end) = whole_months(from, to);
    let end = to + Duration::days(1);
    let use_monthly = scope.organisation.is_none() && first_month < months_end;
    if use_monthly
        && from == first_month
        && end == months_end
        && only.is_none()
        && next_month(first_month) == months_end
    {
        return top_of_month(txn, scope, metric, first_month, first).await;
    }
    let mut parts: Vec<SelectStatement> = Vec::new();
    let daily = |a: NaiveDate, b: NaiveDate| {
        // Days a..b (exclusive), by asset, pivoted.
        let mut s = Query::select();
        s.from(usage_daily::Entity)
            .column(usage_daily::Column::AssetId);
        for (i, action) in UsageAction::ALL.iter().enumerate() {
            s.expr_as(
                Expr::case(
                    Expr::col(usage_daily::Column::Action).eq(action.as_str()),
                    Expr::col(usage_daily::Column::Count),
                )
                .finally(Expr::val(0i64)),
                Alias::new(names[i]),
            );
        }
        let mut cond = daily_condition(scope, &UsageFilter::default(), a, b - Duration::days(1));
        if let Some(ids) = only {
            cond = cond.add(usage_daily::Column::AssetId.is_in(ids.iter().copied()));
        }
        s.cond_where(cond);
        s
    };
    if use_monthly {
        if from < first_month {
            parts.push(daily(from, first_month));
        }
        let mut m = Query::select();
        m.from(usage_monthly::Entity)
            .column(usage_monthly::Column::AssetId)
            .expr_as(Expr::col(usage_monthly::Column::Views), Alias::new("views"))
            .expr_as(
                Expr::col(usage_monthly::Column::Downloads),
                Alias::new("downloads"),
            )
            .expr_as(
                Expr::col(usage_monthly::Column::Shares),
                Alias::new("shares"),
            )
            .expr_as(
                Expr::col(usage_monthly::Column::ShareOpens),
                Alias::new("share_opens"),
            );
        let mut cond = Condition::all()
            .add(usage_monthly::Column::Month.gte(first_month))
            .add(usage_monthly::Column::Month.lt(months_end))
            .add(usage_monthly::Column::AssetId.in_subquery(visible_ids(scope)));
        if let Some(ids) = only {
            cond = cond.add(usage_monthly::Column::AssetId.is_in(ids.iter().copied()));
        }
        m.cond_where(cond);
        parts.push(m);
        if months_end < end {
            parts.push(daily(months_end, end));
        }
    } else {
        parts.push(daily(from, end));
    }
    let mut union = parts.remove(0);
    for p in parts {
        union.union(UnionType::All, p);
    }
    let mut outer = Query::select();
    outer
        .from_subquery(union, Alias::new("u"))
        .column(Alias::new("asset_id"));
    for name in names {
        outer.expr_as(
            Func::sum(Expr::col(Alias::new(name))).cast_as(Alias::new("BIGINT")),
            Alias::new(name),
        );
    }
    outer
        .group_by_col(Alias::new("asset_id"))
        .order_by(Alias::new(names[metric.index()]), Order::Desc)
        .order_by(Alias::new("asset_id"), Order::Asc)
        .limit(first);
    let rows = txn.query_all(&outer).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get("", "asset_id")?;
        let mut counts = Counts::default();
        for (i, name) in names.iter().enumerate() {
            counts[i] = row.try_get::<Option<i64>>("", name)?.unwrap_or(0);
        }
        out.push((id, counts));
    }
    Ok(out)
}

/// The top of one calendar month: one row per asset, read in the order of
/// the month's metric index.
async fn top_of_month(
    txn: &DatabaseTransaction,
    scope: &Scope,
    metric: Metric,
    month: NaiveDate,
    first: u64,
) -> ApiResult<Vec<(Uuid, Counts)>> {
    let order = match metric {
        Metric::Views => usage_monthly::Column::Views,
        Metric::Downloads => usage_monthly::Column::Downloads,
        Metric::Shares => usage_monthly::Column::Shares,
    };
    let rows = usage_monthly::Entity::find()
        .filter(usage_monthly::Column::Month.eq(month))
        .filter(usage_monthly::Column::AssetId.in_subquery(visible_ids(scope)))
        .order_by_desc(order)
        .order_by_asc(usage_monthly::Column::AssetId)
        .limit(first)
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.asset_id, [m.views, m.downloads, m.shares, m.share_opens]))
        .collect())
}

/// Per-asset usage (`asset.usage`) of several assets over the days
/// `from..=to`, by accessor type, in one query (what a page of assets asking
/// for `usage` costs): each asset's
/// rows, absent for an asset without usage (or that the actor may not see).
pub async fn of_assets(
    state: &AppState,
    actor: &Actor,
    asset_ids: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<HashMap<Uuid, Vec<UsageRow>>> {
    let query = UsageQuery::new(
        UsageFilter {
            asset_ids: Some(asset_ids.to_vec()),
            ..UsageFilter::default()
        },
        from,
        to,
        vec![Grouping::Asset, Grouping::AccessorType],
    )?;
    let mut out: HashMap<Uuid, Vec<UsageRow>> = HashMap::new();
    for row in stats(state, actor, &query, None).await? {
        if let Some(id) = row.asset_id {
            out.entry(id).or_default().push(row);
        }
    }
    Ok(out)
}

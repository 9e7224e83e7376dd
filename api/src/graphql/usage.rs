//! Usage statistics in the GraphQL API: `usageStats`, `topAssets`,
//! `asset.usage` (in asset_types) and the `anomalies` subscription's type.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;
use vitrine_entity::ActorKind;
use vitrine_entity::anomaly::AnomalyRule;
use vitrine_entity::entities::audit_event;
use vitrine_entity::usage::{AccessorType, UsageAction};

use super::asset_types::Asset;
use super::{auth, parse_id, state};
use crate::error::ApiError;
use crate::services::usage::{
    self, Counts, Grouping, Metric, UsageFilter, UsageQuery, UsageRow as Row,
};

/// Which usage to count (every field narrows; absent: no narrowing).
#[derive(InputObject, Clone, Debug, Default)]
pub struct UsageFilterInput {
    pub asset_ids: Option<Vec<ID>>,
    /// Assets filed in this folder or below it.
    pub folder_id: Option<ID>,
    pub partner_org_id: Option<ID>,
    pub share_link_id: Option<ID>,
    pub accessor_types: Option<Vec<AccessorType>>,
    pub actions: Option<Vec<UsageAction>>,
}

impl UsageFilterInput {
    pub fn parse(self) -> Result<UsageFilter, ApiError> {
        let one = |id: Option<ID>, what: &str| id.map(|id| parse_id(&id, what)).transpose();
        Ok(UsageFilter {
            asset_ids: self
                .asset_ids
                .map(|ids| ids.iter().map(|id| parse_id(id, "assetIds")).collect())
                .transpose()?,
            folder_id: one(self.folder_id, "folderId")?,
            partner_org_id: one(self.partner_org_id, "partnerOrgId")?,
            share_link_id: one(self.share_link_id, "shareLinkId")?,
            accessor_types: self.accessor_types,
            actions: self.actions,
        })
    }
}

/// The four counts.
#[derive(SimpleObject, Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    /// Thumbnails and previews served.
    pub views: i64,
    /// Low-resolution renditions and originals downloaded.
    pub downloads: i64,
    /// Times put into a share link.
    pub shares: i64,
    /// Share-link pages showing it opened (once per visit).
    pub share_opens: i64,
}

impl From<Counts> for UsageCounts {
    fn from(c: Counts) -> Self {
        Self {
            views: c[0],
            downloads: c[1],
            shares: c[2],
            share_opens: c[3],
        }
    }
}

/// One row of `usageStats`: the dimensions grouped by (the others are null)
/// and the counts.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageRow {
    /// The first day of the row's day, week or month (when grouped by one).
    pub period: Option<NaiveDate>,
    pub asset_id: Option<ID>,
    pub accessor_type: Option<AccessorType>,
    /// Null when grouped by organisation: usage by no organisation (members,
    /// visitors of links made for no one).
    pub partner_org_id: Option<ID>,
    /// Null when grouped by link: usage not through a share link.
    pub share_link_id: Option<ID>,
    pub views: i64,
    pub downloads: i64,
    pub shares: i64,
    pub share_opens: i64,
    /// The latest access counted in the row.
    pub last_access_at: Option<DateTime<Utc>>,
}

fn id(u: Uuid) -> ID {
    ID(u.to_string())
}

impl From<Row> for UsageRow {
    fn from(r: Row) -> Self {
        Self {
            period: r.period,
            asset_id: r.asset_id.map(id),
            accessor_type: r.accessor,
            partner_org_id: r.partner_org_id.map(id),
            share_link_id: r.share_link_id.map(id),
            views: r.views(),
            downloads: r.downloads(),
            shares: r.shares(),
            share_opens: r.share_opens(),
            last_access_at: r.last_at,
        }
    }
}

/// The result of `usageStats`.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[graphql(complexity = "super::cost::list(super::cost::REPORT_ROWS, child_complexity)")]
    pub rows: Vec<UsageRow>,
    /// The sums of all rows.
    pub totals: UsageCounts,
}

/// An asset among the most used.
#[derive(SimpleObject, Clone)]
pub struct TopAsset {
    pub asset: Asset,
    pub views: i64,
    pub downloads: i64,
    pub shares: i64,
    pub share_opens: i64,
}

/// One asset's usage over a range.
#[derive(SimpleObject, Clone, Debug)]
pub struct AssetUsage {
    pub views: i64,
    pub downloads: i64,
    pub shares: i64,
    pub share_opens: i64,
    #[graphql(complexity = "super::cost::list(super::cost::ACCESSOR_TYPES, child_complexity)")]
    pub by_accessor_type: Vec<AccessorUsage>,
    /// The latest view, download or share in the range; null if none.
    pub last_access_at: Option<DateTime<Utc>>,
}

/// Usage by one accessor type.
#[derive(SimpleObject, Clone, Debug)]
pub struct AccessorUsage {
    pub accessor_type: AccessorType,
    pub views: i64,
    pub downloads: i64,
    pub shares: i64,
    pub share_opens: i64,
}

impl AssetUsage {
    pub fn from_rows(rows: Vec<Row>) -> Self {
        let mut total = Counts::default();
        let mut last_access_at = None;
        let mut by_accessor_type = Vec::new();
        for r in rows {
            for (t, c) in total.iter_mut().zip(r.counts) {
                *t += c;
            }
            last_access_at = std::cmp::max(last_access_at, r.last_at);
            if let Some(accessor_type) = r.accessor {
                by_accessor_type.push(AccessorUsage {
                    accessor_type,
                    views: r.views(),
                    downloads: r.downloads(),
                    shares: r.shares(),
                    share_opens: r.share_opens(),
                });
            }
        }
        let t = UsageCounts::from(total);
        Self {
            views: t.views,
            downloads: t.downloads,
            shares: t.shares,
            share_opens: t.share_opens,
            by_accessor_type,
            last_access_at,
        }
    }
}

/// An alert of the anomaly watcher (bulk downloading).
#[derive(SimpleObject, Clone, Debug)]
pub struct Anomaly {
    /// The audit event that recorded it.
    pub audit_seq: i64,
    pub detected_at: DateTime<Utc>,
    pub rule: AnomalyRule,
    /// `user:<id>`, `link:<id>` or `ip:<address>`.
    pub subject: String,
    pub count: i32,
    pub threshold: i32,
    pub window_seconds: i32,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub actor_kind: Option<ActorKind>,
    pub partner_org_id: Option<ID>,
    pub share_link_id: Option<ID>,
    pub asset_ids: Vec<ID>,
}

impl Anomaly {
    /// The alert an ANOMALY_DETECTED audit event records.
    pub fn of_event(event: &audit_event::Model) -> Option<Self> {
        let d: serde_json::Value = serde_json::from_str(&event.details).ok()?;
        let int = |k: &str| {
            d[k].as_i64()
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
                .unwrap_or(0)
        };
        let at = |k: &str| d[k].as_str().and_then(|s| s.parse().ok());
        let uuid = |k: &str| d[k].as_str().map(|s| ID(s.to_owned()));
        Some(Self {
            audit_seq: event.seq,
            detected_at: event.occurred_at,
            rule: AnomalyRule::parse(d["rule"].as_str()?)?,
            subject: d["subject"].as_str()?.to_owned(),
            count: int("count"),
            threshold: int("threshold"),
            window_seconds: int("windowSeconds"),
            first_at: at("firstAt"),
            last_at: at("lastAt"),
            actor_kind: serde_json::from_value(d["actorKind"].clone()).ok(),
            partner_org_id: uuid("partnerOrgId"),
            share_link_id: uuid("shareLinkId"),
            asset_ids: d["assets"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(|s| ID(s.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The most rows `usageStats` answers with (the CSV export has no limit).
const MAX_ROWS: usize = 10_000;

#[derive(Default)]
pub struct UsageQueryRoot;

#[Object]
impl UsageQueryRoot {
    /// Usage statistics over the UTC days `from`..=`to`, grouped as asked
    /// (VIEW_STATS; a partner sees only its own organisation's usage; anyone
    /// only that of assets it may see). Today's figures include events not
    /// rolled up yet. At most 10,000 rows (BAD_USER_INPUT beyond); any number
    /// as CSV: `GET /stats/usage.csv` with the same parameters.
    async fn usage_stats(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(default)] group_by: Vec<Grouping>,
    ) -> async_graphql::Result<UsageReport> {
        let query = UsageQuery::new(filter.unwrap_or_default().parse()?, from, to, group_by)?;
        let rows = usage::stats(state(ctx)?, &auth(ctx)?.actor, &query, Some(MAX_ROWS)).await?;
        let mut total = Counts::default();
        for r in &rows {
            for (t, c) in total.iter_mut().zip(r.counts) {
                *t += c;
            }
        }
        Ok(UsageReport {
            from,
            to,
            rows: rows.into_iter().map(UsageRow::from).collect(),
            totals: total.into(),
        })
    }

    /// The most viewed, downloaded or shared assets over the UTC days
    /// `from`..=`to` (VIEW_STATS), highest first; `first` at most 1,000.
    #[graphql(complexity = "super::cost::page(Some(first), child_complexity)")]
    async fn top_assets(
        &self,
        ctx: &Context<'_>,
        metric: Metric,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(default = 10)] first: i32,
    ) -> async_graphql::Result<Vec<TopAsset>> {
        if !(1..=1000).contains(&first) {
            return Err(ApiError::BadUserInput("first must be between 1 and 1000".into()).into());
        }
        let state = state(ctx)?;
        let ranked = usage::top_assets(
            state,
            &auth(ctx)?.actor,
            metric,
            from,
            to,
            u64::try_from(first).unwrap_or(10),
        )
        .await?;
        Ok(ranked
            .into_iter()
            .map(|(model, counts)| TopAsset {
                asset: Asset::from(model),
                views: counts[0],
                downloads: counts[1],
                shares: counts[2],
                share_opens: counts[3],
            })
            .collect())
    }
}

/// `asset.usage` of one asset over one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageOf {
    pub asset_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Loads `asset.usage` for a page of assets with one statistics query per
/// distinct range, as the caller (built per request with its actor).
pub struct UsageLoader {
    state: crate::state::AppState,
    actor: vitrine_entity::policy::Actor,
}

impl UsageLoader {
    pub fn new(state: crate::state::AppState, actor: vitrine_entity::policy::Actor) -> Self {
        Self { state, actor }
    }
}

impl async_graphql::dataloader::Loader<UsageOf> for UsageLoader {
    type Value = AssetUsage;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[UsageOf],
    ) -> Result<std::collections::HashMap<UsageOf, AssetUsage>, Self::Error> {
        let mut ranges: std::collections::HashMap<(NaiveDate, NaiveDate), Vec<Uuid>> =
            std::collections::HashMap::new();
        for k in keys {
            ranges.entry((k.from, k.to)).or_default().push(k.asset_id);
        }
        let mut out = std::collections::HashMap::with_capacity(keys.len());
        for ((from, to), ids) in ranges {
            let mut rows = usage::of_assets(&self.state, &self.actor, &ids, from, to).await?;
            for asset_id in ids {
                let usage = AssetUsage::from_rows(rows.remove(&asset_id).unwrap_or_default());
                out.insert(UsageOf { asset_id, from, to }, usage);
            }
        }
        Ok(out)
    }
}

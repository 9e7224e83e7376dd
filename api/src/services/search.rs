//! Search: words matched by the database's full-text engine, structured
//! filters, the visible scope — all one SQL condition — ranked, paged with
//! a keyset cursor, and counted per facet over the same matches.
//!
//! Relevance is computed the same way on both databases so that a query
//! gives the same order on PostgreSQL and on SQLite: each positive word or
//! phrase adds 4 when it matches the title, else 2 when it matches a tag,
//! else 1 when it matches the rest (description, keywords, camera, lens;
//! for members also the file name, caption, headline and folder path, which
//! other actors' words never reach); ties go to the newest asset. The engines'
//! own scores (`ts_rank`, `bm25`) disagree with each other by design, so
//! they are not used (docs/SEARCH.md).

use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, JoinType, Order as SqlOrder, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, FromQueryResult, Iterable,
    QueryResult, Statement, TransactionTrait, Value,
};
use uuid::Uuid;
use vitrine_entity::entities::{asset, asset_search};
use vitrine_entity::policy::Actor;
use vitrine_entity::search::{self, Reach, SearchQuery};

use crate::error::{ApiError, ApiResult};
use crate::services::access::{self, Shelf};
use crate::services::asset_filter::{self, AssetFilter};
use crate::state::AppState;

mod facets;
pub use facets::{FacetCount, FacetSet, Facets};

/// What results are ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrderField {
    /// Best matches first, then newest (the default).
    Relevance,
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOrder {
    pub field: SearchOrderField,
    pub descending: bool,
}

impl Default for SearchOrder {
    fn default() -> Self {
        SearchOrder {
            field: SearchOrderField::Relevance,
            descending: true,
        }
    }
}

/// Most values listed per facet.
pub const FACET_LIMIT: u32 = 30;

/// A search ready to run: the matched set as a condition, and how to score.
#[derive(Debug, Clone)]
pub struct Plan {
    backend: DatabaseBackend,
    /// Scope, filters and words, on `assets` joined with `asset_search`.
    cond: Option<Condition>,
    /// Whether `cond` reads `assets` (it must then be joined).
    reads_assets: bool,
    score: SimpleExpr,
    now: DateTime<Utc>,
    notice: chrono::Duration,
}

/// One match.
#[derive(Debug, Clone)]
pub struct Hit {
    pub asset: asset::Model,
    pub score: i32,
}

/// A page of matches.
#[derive(Debug)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub has_next: bool,
    pub has_previous: bool,
}

/// A position in the results: the score, the sort value and the id of the
/// last match seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Cursor {
    s: i32,
    v: String,
    id: Uuid,
}

fn sort_value(field: SearchOrderField, a: &asset::Model) -> String {
    match field {
        SearchOrderField::Relevance | SearchOrderField::CreatedAt => {
            vitrine_entity::audit_chain::format_instant(a.created_at)
        }
        SearchOrderField::UpdatedAt => vitrine_entity::audit_chain::format_instant(a.updated_at),
        SearchOrderField::Title => a.title.clone(),
    }
}

pub fn encode_cursor(order: SearchOrder, hit: &Hit) -> String {
    let c = Cursor {
        s: hit.score,
        v: sort_value(order.field, &hit.asset),
        id: hit.asset.id,
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&c).unwrap_or_default())
}

fn decode_cursor(raw: &str) -> ApiResult<Cursor> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::BadUserInput("after is not a valid cursor".into()))
}

const FTS_ROWS: &str =
    "asset_search.doc_id IN (SELECT rowid FROM asset_fts WHERE asset_fts MATCH ?)";
const PG_MATCH: &str = "asset_search.tsv @@ to_tsquery('simple', ?)";

/// A custom SQL expression with its values: PostgreSQL numbers its
/// placeholders (`$1`, … local to the expression), SQLite takes `?`.
fn cust(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> SimpleExpr {
    if backend != DatabaseBackend::Postgres {
        return Expr::cust_with_values(sql.to_owned(), values);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    Expr::cust_with_values(out, values)
}

/// The words' condition, or `None` when the query has none.
fn text_condition(backend: DatabaseBackend, q: &SearchQuery, reach: Reach) -> Option<SimpleExpr> {
    let pg = backend == DatabaseBackend::Postgres;
    if let Some(all) = if pg { q.tsquery(reach) } else { q.fts5(reach) } {
        let sql = if pg { PG_MATCH } else { FTS_ROWS };
        return Some(cust(backend, sql, vec![all.into()]));
    }
    let none = if pg {
        q.tsquery_excluded(reach)
    } else {
        q.fts5_excluded(reach)
    }?;
    let sql = if pg { PG_MATCH } else { FTS_ROWS };
    Some(cust(backend, &format!("NOT ({sql})"), vec![none.into()]))
}

/// The relevance of a match (see the module's documentation).
fn score_expr(backend: DatabaseBackend, q: &SearchQuery, reach: Reach) -> SimpleExpr {
    let pg = backend == DatabaseBackend::Postgres;
    let test = FTS_ROWS;
    let mut parts = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for atom in q.positive_atoms() {
        let mut case = String::from("(CASE");
        for &field in reach.fields() {
            if pg {
                // The field's terms, not the weighted tsvector: the same
                // test (see `like_in`), a fraction of the cost per row.
                case.push_str(&format!(
                    " WHEN (' ' || asset_search.{} || ' ') LIKE ? THEN {}",
                    field.column(),
                    field.weight()
                ));
                values.push(search::like_in(atom).into());
            } else {
                case.push_str(&format!(" WHEN {test} THEN {}", field.weight()));
                values.push(search::fts5_in(atom, field).into());
            }
        }
        case.push_str(" ELSE 0 END)");
        parts.push(case);
    }
    if parts.is_empty() {
        return Expr::cust("0");
    }
    cust(backend, &parts.join(" + "), values)
}

/// Prepares a search as `actor`; `None` when it sees no asset at all.
pub async fn plan(
    state: &AppState,
    actor: &Actor,
    query: &str,
    filter: &AssetFilter,
) -> ApiResult<Plan> {
    if matches!(actor, Actor::Anonymous) {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    if query.chars().count() > 500 {
        return Err(ApiError::BadUserInput(
            "a query has at most 500 characters".into(),
        ));
    }
    let parsed = search::parse(query).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
    // Members' words also reach what only members see (file names,
    // captions, folder paths); anyone else's never do.
    let reach = if vitrine_entity::policy::sees_internal_details(actor) {
        Reach::All
    } else {
        Reach::Public
    };
    let now = state.clock.now();
    let backend = state.db.get_database_backend();
    let scope = access::search_scope(
        &state.db,
        actor,
        now,
        Shelf::Live,
        state.config.license_unlicensed_deliverable,
    )
    .await?;
    // The filter is checked even when the scope is empty: its refusals
    // (a folder or reference asset not seen, GPS for non-administrators)
    // do not depend on how much the asker sees.
    let filtered =
        asset_filter::condition_on(state, actor, filter, asset_filter::SearchDoc::Joined).await?;
    let cond = match scope {
        None => None,
        Some(scope) => {
            let mut cond = scope.add(filtered);
            if let Some(text) = text_condition(backend, &parsed, reach) {
                cond = cond.add(text);
            }
            Some(cond)
        }
    };
    let reads_assets = cond
        .as_ref()
        .is_some_and(|c| mentions_assets(backend, c.clone()));
    Ok(Plan {
        backend,
        cond,
        reads_assets,
        score: score_expr(backend, &parsed, reach),
        now,
        notice: crate::services::licenses::notice(state),
    })
}

/// Whether a condition reads `assets` (else a search reads its documents
/// alone until it looks up the page it returns).
fn mentions_assets(backend: DatabaseBackend, cond: Condition) -> bool {
    let probe = Query::select()
        .expr(Expr::cust("1"))
        .from(asset_search::Entity)
        .cond_where(cond)
        .to_owned();
    let table = format!("\"{}\".", sea_orm::EntityName::table_name(&asset::Entity));
    backend.build(&probe).sql.contains(&table)
}

impl Plan {
    /// The same search, its matches narrowed further by `extra` (a
    /// condition on `assets`).
    pub fn narrowed(mut self, extra: Condition) -> Self {
        self.cond = self.cond.map(|c| c.add(extra));
        self.reads_assets = true;
        self
    }

    /// `SELECT … FROM assets JOIN asset_search … WHERE <matched>`, or
    /// `FROM asset_search` alone when nothing asked reads `assets`.
    fn base(&self, cond: Condition) -> SelectStatement {
        if !self.reads_assets {
            return Query::select()
                .from(asset_search::Entity)
                .cond_where(cond)
                .to_owned();
        }
        let on = Expr::col((asset_search::Entity, asset_search::Column::AssetId))
            .equals((asset::Entity, asset::Column::Id));
        if self.backend == DatabaseBackend::Sqlite {
            // SQLite keeps the order of a CROSS JOIN: the search documents
            // drive (by the full-text rowid list), assets are looked up by
            // key. Left free, it may drive from another list (tags,
            // folders) and probe the documents' (asset_id, rowid) index
            // with every full-text match for every one of those rows:
            // quadratic (33 s at 100,000 assets).
            let mut q = Query::select().from(asset_search::Entity).to_owned();
            q.join(JoinType::CrossJoin, asset::Entity, Condition::all())
                .cond_where(Condition::all().add(on).add(cond));
            return q;
        }
        Query::select()
            .from(asset::Entity)
            .inner_join(asset_search::Entity, on)
            .cond_where(cond)
            .to_owned()
    }

    /// One page of matches after `after`.
    pub async fn page(
        &self,
        state: &AppState,
        order: SearchOrder,
        after: Option<&str>,
        limit: u64,
    ) -> ApiResult<SearchPage> {
        let Some(cond) = self.cond.clone() else {
            return Ok(SearchPage {
                hits: Vec::new(),
                has_next: false,
                has_previous: after.is_some(),
            });
        };
        let hits = Alias::new("hits");
        let page = Alias::new("page");
        // The matches are ranked on their documents (and `assets` only
        // where the scope or the order reads it); the page's assets are
        // looked up once it is cut.
        let (sort_expr, needs_assets) = match order.field {
            SearchOrderField::Relevance | SearchOrderField::CreatedAt => (
                Expr::col((asset_search::Entity, asset_search::Column::CreatedAt)),
                false,
            ),
            SearchOrderField::UpdatedAt => {
                (Expr::col((asset::Entity, asset::Column::UpdatedAt)), true)
            }
            SearchOrderField::Title => (Expr::col((asset::Entity, asset::Column::Title)), true),
        };
        let mut inner = if needs_assets && !self.reads_assets {
            let mut with_assets = self.clone();
            with_assets.reads_assets = true;
            with_assets.base(cond)
        } else {
            self.base(cond)
        };
        inner
            .expr_as(
                Expr::col((asset_search::Entity, asset_search::Column::AssetId)),
                Alias::new("id"),
            )
            .expr_as(self.score.clone(), Alias::new("score"))
            .expr_as(sort_expr, Alias::new("sortv"));
        let col = |name: &str| Expr::col((hits.clone(), Alias::new(name)));
        let dir = if order.descending {
            SqlOrder::Desc
        } else {
            SqlOrder::Asc
        };
        let mut outer = Query::select()
            .column((hits.clone(), Alias::new("id")))
            .column((hits.clone(), Alias::new("score")))
            .column((hits.clone(), Alias::new("sortv")))
            .from_subquery(inner, hits.clone())
            .to_owned();
        if let Some(raw) = after {
            let c = decode_cursor(raw)?;
            let value: Value = match order.field {
                SearchOrderField::Title => c.v.clone().into(),
                _ => DateTime::parse_from_rfc3339(&c.v)
                    .map_err(|_| ApiError::BadUserInput("after is not a valid cursor".into()))?
                    .with_timezone(&Utc)
                    .into(),
            };
            let beyond = |e: Expr, v: Value| {
                if order.descending { e.lt(v) } else { e.gt(v) }
            };
            let by_field = Condition::any()
                .add(beyond(col("sortv"), value.clone()))
                .add(
                    Condition::all()
                        .add(col("sortv").eq(value))
                        .add(beyond(col("id"), c.id.into())),
                );
            outer.cond_where(if order.field == SearchOrderField::Relevance {
                Condition::any()
                    .add(col("score").lt(c.s))
                    .add(Condition::all().add(col("score").eq(c.s)).add(by_field))
            } else {
                by_field
            });
        }
        if order.field == SearchOrderField::Relevance {
            outer.order_by((hits.clone(), Alias::new("score")), SqlOrder::Desc);
        }
        outer
            .order_by((hits.clone(), Alias::new("sortv")), dir.clone())
            .order_by((hits.clone(), Alias::new("id")), dir.clone())
            .limit(limit.saturating_add(1));
        let paged = {
            let mut q = Query::select()
                .columns(asset::Column::iter().map(|c| (asset::Entity, c)))
                .column((page.clone(), Alias::new("score")))
                .from_subquery(outer, page.clone())
                .inner_join(
                    asset::Entity,
                    Expr::col((asset::Entity, asset::Column::Id))
                        .equals((page.clone(), Alias::new("id"))),
                )
                .to_owned();
            if order.field == SearchOrderField::Relevance {
                q.order_by((page.clone(), Alias::new("score")), SqlOrder::Desc);
            }
            q.order_by((page.clone(), Alias::new("sortv")), dir.clone())
                .order_by((page.clone(), Alias::new("id")), dir);
            q
        };
        let rows = planned(state, self.backend.build(&paged)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(Hit {
                asset: asset::Model::from_query_result(row, "")?,
                score: row.try_get::<i32>("", "score")?,
            });
        }
        let has_next = out.len() as u64 > limit;
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(SearchPage {
            hits: out,
            has_next,
            has_previous: after.is_some(),
        })
    }
}

impl Plan {
    /// The number of matches (for a smart folder's `count`).
    pub async fn count(&self, state: &AppState) -> ApiResult<u64> {
        let Some(cond) = self.cond.clone() else {
            return Ok(0);
        };
        let mut q = self.base(cond);
        q.expr_as(Expr::cust("COUNT(*)"), Alias::new("n"));
        let n: i64 = match planned(state, self.backend.build(&q)).await?.first() {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Runs a search statement planned for its own values. On PostgreSQL, in
/// a read-only transaction whose settings end with it: `plan_cache_mode =
/// force_custom_plan` (after five runs a cached statement could switch to a
/// generic plan, estimated without its words and instants: the partner
/// search became 2-3x slower) and `random_page_cost = 1.1` (at the default
/// 4, meant for spinning disks, the planner scanned the whole search table,
/// 80 ms, rather than fetch a word's 12,000 matches through its index,
/// 32 ms). Other statements keep the server's settings.
async fn planned(state: &AppState, stmt: Statement) -> ApiResult<Vec<QueryResult>> {
    if stmt.db_backend != DatabaseBackend::Postgres {
        return Ok(state.db.query_all_raw(stmt).await?);
    }
    let tx = state.db.begin().await?;
    tx.execute_unprepared(
        "SET TRANSACTION READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan; \
         SET LOCAL random_page_cost = 1.1",
    )
    .await?;
    let rows = tx.query_all_raw(stmt).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Whether `asset_id` is among a plan's matches (for live feeds filtered
/// by a saved search).
pub async fn matches(state: &AppState, plan: &Plan, asset_id: Uuid) -> ApiResult<bool> {
    let Some(cond) = plan.cond.clone() else {
        return Ok(false);
    };
    let mut q = plan.base(cond.add(asset_search::Column::AssetId.eq(asset_id)));
    q.column((asset_search::Entity, asset_search::Column::AssetId))
        .limit(1);
    Ok(state.db.query_one(&q).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_statements_number_their_placeholders() {
        let q = search::parse("rose gold -earring").unwrap();
        let e = score_expr(DatabaseBackend::Postgres, &q, Reach::Public);
        let t = text_condition(DatabaseBackend::Postgres, &q, Reach::Public).unwrap();
        let stmt = Query::select().expr(e).and_where(t).to_owned();
        let built = DatabaseBackend::Postgres.build(&stmt);
        assert!(built.sql.contains("$7"), "{}", built.sql);
        assert!(!built.sql.contains('?'), "{}", built.sql);
    }
}

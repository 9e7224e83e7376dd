//! Counts over a search's matches: the total and, for the facets a request
//! selects, the most frequent values (tags, folders, stages, moderation and
//! license states, orientations, camera models), never beyond what the
//! asker may see (the matched set is the plan's condition, scope included).
//!
//! Both databases materialise the matches once and count over them in one
//! statement (run beside the page's). PostgreSQL counts the total and the
//! single-valued facets in one pass (`GROUPING SETS`) and the tags from a
//! `text[]` copy; SQLite, which has no grouping sets, counts each facet in
//! its own pass and reads the tags from the JSON list. Splitting
//! PostgreSQL's counts into two statements run at once was no faster on two
//! cores (the page, the counts and the tags each read the matches: 47 ms of
//! work against 39) and costs more under load.

use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::{Condition, DatabaseBackend, QueryResult, Statement, Value};
use uuid::Uuid;
use vitrine_entity::entities::asset_search;

use super::{FACET_LIMIT, Plan, planned};
use crate::error::ApiResult;
use crate::state::AppState;

/// How many matches have one value of a facet (`value` is null for assets
/// without one, e.g. at the root for folders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    pub value: Option<String>,
    pub count: u64,
}

/// Which facets to count (a client that shows three pays for three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacetSet {
    pub tags: bool,
    pub folders: bool,
    pub stages: bool,
    pub moderation_states: bool,
    pub license_states: bool,
    pub orientations: bool,
    pub camera_models: bool,
}

/// Counts over all matches (never beyond what the asker may see).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub total: u64,
    pub tags: Vec<FacetCount>,
    pub folders: Vec<FacetCount>,
    pub stages: Vec<FacetCount>,
    pub moderation_states: Vec<FacetCount>,
    pub license_states: Vec<FacetCount>,
    pub orientations: Vec<FacetCount>,
    pub camera_models: Vec<FacetCount>,
}

/// The values bound by a statement, and placeholders for more after them.
struct Binds {
    values: Vec<Value>,
    numbered: bool,
}

impl Binds {
    fn new(backend: DatabaseBackend, values: Option<sea_orm::Values>) -> Self {
        Binds {
            values: values.map(|v| v.0).unwrap_or_default(),
            numbered: backend == DatabaseBackend::Postgres,
        }
    }

    fn bind(&mut self, v: Value) -> String {
        self.values.push(v);
        if self.numbered {
            format!("${}", self.values.len())
        } else {
            "?".to_owned()
        }
    }
}

impl Plan {
    /// The number of matches and the facet counts. Only the facets in
    /// `wanted` are counted (the total always is).
    pub async fn facets(&self, state: &AppState, wanted: FacetSet) -> ApiResult<Facets> {
        let Some(cond) = self.cond.clone() else {
            return Ok(Facets::default());
        };
        let mut facets = Facets::default();
        let statement = if self.backend == DatabaseBackend::Postgres {
            self.grouped_counts(cond, wanted)
        } else {
            self.materialised_counts(cond, wanted)
        };
        collect(&mut facets, planned(state, statement).await?)?;
        // Folder ids come back as text: hyphenated on PostgreSQL, bare hex
        // on SQLite; give them one form.
        for f in &mut facets.folders {
            f.value = f
                .value
                .as_deref()
                .and_then(|v| Uuid::parse_str(v).ok())
                .map(|u| u.to_string());
        }
        Ok(facets)
    }

    /// The matches with what is counted of each: everything is on the
    /// document (the stage, moderation state and folder are its copies,
    /// kept by the database).
    fn counted(&self, cond: Condition) -> SelectStatement {
        let mut hits = self.base(cond);
        let doc = |c: asset_search::Column| (asset_search::Entity, c);
        hits.expr_as(
            Expr::col(doc(asset_search::Column::AssetId)),
            Alias::new("id"),
        )
        .column(doc(asset_search::Column::FolderId))
        .column(doc(asset_search::Column::Stage))
        .column(doc(asset_search::Column::ModerationState))
        .column(doc(asset_search::Column::Orientation))
        .column(doc(asset_search::Column::CameraModel))
        .column(doc(asset_search::Column::Licensed));
        hits
    }

    /// The SQL of a hit's license state from its own licenses (an index
    /// probe per licensed hit, a correlated subquery: joining the hits to
    /// every license link hashed the whole link table), as `licenseState`
    /// decides it: in force now and at the end of the notice period, now
    /// only, later only, once, never. Hits without any license are
    /// UNLICENSED by the document's copy, without a probe.
    fn license_state_sql(&self, id: &str, licensed: &str, binds: &mut Binds) -> String {
        let mut in_force = |at: chrono::DateTime<chrono::Utc>| {
            format!(
                "MAX(CASE WHEN l.starts_at <= {} AND l.ends_at > {} THEN 1 ELSE 0 END) = 1",
                binds.bind(at.into()),
                binds.bind(at.into())
            )
        };
        let now_in_force = in_force(self.now);
        let later_in_force = in_force(self.now + self.notice);
        let now_again = in_force(self.now);
        let scheduled = format!(
            "MAX(CASE WHEN l.starts_at > {} THEN 1 ELSE 0 END) = 1",
            binds.bind(self.now.into())
        );
        format!(
            "CASE WHEN NOT {licensed} THEN 'UNLICENSED' ELSE (SELECT CASE \
             WHEN {now_in_force} AND {later_in_force} THEN 'ACTIVE' \
             WHEN {now_again} THEN 'EXPIRING' WHEN {scheduled} THEN 'SCHEDULED' \
             WHEN COUNT(*) > 0 THEN 'EXPIRED' ELSE 'UNLICENSED' END \
             FROM asset_licenses al JOIN licenses l ON l.id = al.license_id \
             WHERE al.asset_id = {id}) END"
        )
    }

    /// PostgreSQL: the matches materialised once; the total and the
    /// single-valued facets counted in one pass over them (`GROUPING
    /// SETS`), each facet's first values ranked in the statement; the tags
    /// from each hit's `text[]` copy (migration 21), expanded in the select
    /// list (no tuple store per hit, no JSON to parse).
    fn grouped_counts(&self, cond: Condition, wanted: FacetSet) -> Statement {
        let mut hits = self.counted(cond);
        if wanted.tags {
            hits.expr_as(
                Expr::cust("asset_search.tag_array"),
                Alias::new("tag_array"),
            );
        }
        let built = self.backend.build(&hits);
        let mut binds = Binds::new(self.backend, built.values);
        let license = if wanted.license_states {
            self.license_state_sql("h.id", "h.licensed", &mut binds)
        } else {
            "NULL".to_owned()
        };
        let columns: Vec<&str> = [
            (wanted.folders, "folder"),
            (wanted.stages, "stage"),
            (wanted.moderation_states, "moderation"),
            (wanted.license_states, "license"),
            (wanted.orientations, "orientation"),
            (wanted.camera_models, "camera"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        // Which set a row counts (the total is the empty set), and its value
        // (the other columns are null in it).
        let which = if columns.is_empty() {
            "'total'".to_owned()
        } else {
            let arms: String = columns
                .iter()
                .map(|name| format!(" WHEN GROUPING(x.{name}) = 0 THEN '{name}'"))
                .collect();
            format!("CASE{arms} ELSE 'total' END")
        };
        let value = if columns.is_empty() {
            "NULL".to_owned()
        } else {
            let cols: Vec<String> = columns.iter().map(|c| format!("x.{c}")).collect();
            format!("COALESCE({})", cols.join(", "))
        };
        let sets: String = columns.iter().map(|c| format!(", (x.{c})")).collect();
        let limit = FACET_LIMIT;
        let mut sql = format!(
            "WITH hits AS MATERIALIZED ({}) \
             (SELECT facet, value, n FROM ( \
               SELECT facet, value, n, \
                 row_number() OVER (PARTITION BY facet ORDER BY n DESC, value) AS rank \
               FROM ( \
                 SELECT {which} AS facet, {value} AS value, COUNT(*) AS n \
                 FROM (SELECT CAST(h.folder_id AS TEXT) AS folder, h.stage AS stage, \
                         h.moderation_state AS moderation, {license} AS license, \
                         h.orientation AS orientation, h.camera_model AS camera \
                       FROM hits h) x \
                 GROUP BY GROUPING SETS ((){sets}) \
               ) g \
               WHERE NOT (g.facet IN ('orientation', 'camera') AND g.value IS NULL) \
             ) r WHERE rank <= {limit} ORDER BY facet, rank)",
            built.sql
        );
        if wanted.tags {
            sql.push_str(&format!(
                " UNION ALL (SELECT 'tag' AS facet, t.value AS value, COUNT(*) AS n \
                 FROM (SELECT unnest(h.tag_array) AS value FROM hits h) t \
                 GROUP BY t.value ORDER BY n DESC, t.value LIMIT {limit})"
            ));
        }
        Statement::from_sql_and_values(self.backend, sql, binds.values)
    }

    /// SQLite: the matches materialised once, each facet counted over them.
    fn materialised_counts(&self, cond: Condition, wanted: FacetSet) -> Statement {
        let mut hits = self.counted(cond);
        hits.column((asset_search::Entity, asset_search::Column::TagList));
        let built = self.backend.build(&hits);
        let mut binds = Binds::new(self.backend, built.values);
        let licenses_of_hits = if wanted.license_states {
            format!(
                "(SELECT {} AS state FROM hits h) s",
                self.license_state_sql("h.id", "h.licensed", &mut binds)
            )
        } else {
            String::new()
        };
        let limit = FACET_LIMIT;
        let facet = |name: &str, value: &str, from: &str, filter: &str| {
            format!(
                "SELECT * FROM (SELECT '{name}' AS facet, {value} AS value, COUNT(*) AS n \
                 FROM {from} {filter} GROUP BY {value} ORDER BY n DESC, value LIMIT {limit}) f_{name}"
            )
        };
        let parts: Vec<String> = [
            (
                true,
                "SELECT 'total' AS facet, '' AS value, COUNT(*) AS n FROM hits".to_owned(),
            ),
            (
                wanted.tags,
                facet("tag", "t.value", "hits h, json_each(h.tag_list) t", ""),
            ),
            (
                wanted.folders,
                facet("folder", "lower(hex(h.folder_id))", "hits h", ""),
            ),
            (wanted.stages, facet("stage", "h.stage", "hits h", "")),
            (
                wanted.moderation_states,
                facet("moderation", "h.moderation_state", "hits h", ""),
            ),
            (
                wanted.license_states,
                facet("license", "s.state", &licenses_of_hits, ""),
            ),
            (
                wanted.orientations,
                facet(
                    "orientation",
                    "h.orientation",
                    "hits h",
                    "WHERE h.orientation IS NOT NULL",
                ),
            ),
            (
                wanted.camera_models,
                facet(
                    "camera",
                    "h.camera_model",
                    "hits h",
                    "WHERE h.camera_model IS NOT NULL",
                ),
            ),
        ]
        .into_iter()
        .filter_map(|(on, sql)| on.then_some(sql))
        .collect();
        let sql = format!(
            "WITH hits AS MATERIALIZED ({}) {}",
            built.sql,
            parts.join(" UNION ALL ")
        );
        Statement::from_sql_and_values(self.backend, sql, binds.values)
    }
}

/// Files `(facet, value, n)` rows into their lists, in the order given.
fn collect(facets: &mut Facets, rows: Vec<QueryResult>) -> ApiResult<()> {
    for row in rows {
        let name: String = row.try_get("", "facet")?;
        let value: Option<String> = row.try_get("", "value")?;
        let n: i64 = row.try_get("", "n")?;
        let count = u64::try_from(n).unwrap_or(0);
        let list = match name.as_str() {
            "total" => {
                facets.total = count;
                continue;
            }
            "tag" => &mut facets.tags,
            "folder" => &mut facets.folders,
            "stage" => &mut facets.stages,
            "moderation" => &mut facets.moderation_states,
            "license" => &mut facets.license_states,
            "orientation" => &mut facets.orientations,
            _ => &mut facets.camera_models,
        };
        list.push(FacetCount { value, count });
    }
    Ok(())
}

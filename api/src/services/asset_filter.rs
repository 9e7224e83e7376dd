//! Structured asset filters, as SQL conditions on `assets` — shared by the
//! listing (`assets`), search (`search`) and smart folders. Every filter is
//! a subquery or a column test: nothing is filtered in memory.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, asset_license, asset_search, asset_tag, asset_version, folder, license,
};
use vitrine_entity::license::{Channel, LicenseState, Usage};
use vitrine_entity::policy::{Action, Actor};
use vitrine_entity::{ModerationState, Stage, TagSource};

use crate::error::{ApiError, ApiResult};
use crate::services::assets::normalize_tags;
use crate::state::AppState;

/// Most bits two perceptual hashes may differ by in `similar_to`.
pub const MAX_SIMILAR_DISTANCE: u32 = 16;

/// The shape of an image as seen (EXIF orientation applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Orientation {
    Landscape,
    Portrait,
    Square,
}

impl Orientation {
    pub fn as_str(self) -> &'static str {
        match self {
            Orientation::Landscape => "LANDSCAPE",
            Orientation::Portrait => "PORTRAIT",
            Orientation::Square => "SQUARE",
        }
    }
}

/// "May be used for this channel in this territory at this instant".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsableFor {
    pub channel: Option<Channel>,
    pub territory: Option<String>,
    /// Defaults to the moment of the query (so a saved search follows time).
    pub at: Option<DateTime<Utc>>,
}

/// Perceptually similar to an asset's current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimilarTo {
    pub asset_id: Uuid,
    pub max_distance: u32,
}

/// A filter on assets (every field optional; all given ones must hold).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AssetFilter {
    pub folder_id: Option<Uuid>,
    pub recursive: bool,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// At least one of these tags.
    pub tags_any: Vec<String>,
    /// With `tags`/`tagsAny`: count only tags from these sources.
    pub tag_sources: Vec<TagSource>,
    /// The current version's stage.
    pub stage: Option<Stage>,
    /// The current version's moderation state (any of these).
    pub moderation_states: Vec<ModerationState>,
    /// In the title or a tag (case-insensitive substring; `search` ranks
    /// words instead).
    pub text: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub captured_after: Option<DateTime<Utc>>,
    pub captured_before: Option<DateTime<Utc>>,
    pub orientation: Option<Orientation>,
    pub min_width: Option<i32>,
    pub min_height: Option<i32>,
    pub min_megapixels: Option<f64>,
    pub max_megapixels: Option<f64>,
    pub camera_model: Option<String>,
    pub license_state: Option<LicenseState>,
    pub usable_for: Option<UsableFor>,
    /// Whether the original carries a GPS position (administrators only).
    pub has_gps: Option<bool>,
    pub similar_to: Option<SimilarTo>,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn tags_query(tags: Vec<String>, sources: &[TagSource]) -> SelectStatement {
    let mut q = Query::select()
        .column(asset_tag::Column::AssetId)
        .from(asset_tag::Entity)
        .and_where(asset_tag::Column::Tag.is_in(tags))
        .to_owned();
    if !sources.is_empty() {
        q.and_where(asset_tag::Column::Source.is_in(sources.iter().copied()));
    }
    q
}

fn search_where(cond: Condition) -> Condition {
    Condition::all().add(
        asset::Column::Id.in_subquery(
            Query::select()
                .column(asset_search::Column::AssetId)
                .from(asset_search::Entity)
                .cond_where(cond)
                .to_owned(),
        ),
    )
}

fn current_version_where(cond: Condition) -> Condition {
    Condition::all().add(
        asset::Column::CurrentVersionId.in_subquery(
            Query::select()
                .column(asset_version::Column::Id)
                .from(asset_version::Entity)
                .cond_where(cond)
                .to_owned(),
        ),
    )
}

/// Assets with any license attached.
fn licensed_any() -> SelectStatement {
    Query::select()
        .column(asset_license::Column::AssetId)
        .from(asset_license::Entity)
        .to_owned()
}

/// Assets with a license that starts after `at`.
fn licensed_later(at: DateTime<Utc>) -> SelectStatement {
    Query::select()
        .column((asset_license::Entity, asset_license::Column::AssetId))
        .from(asset_license::Entity)
        .inner_join(
            license::Entity,
            Expr::col((license::Entity, license::Column::Id))
                .equals((asset_license::Entity, asset_license::Column::LicenseId)),
        )
        .and_where(Expr::col((license::Entity, license::Column::StartsAt)).gt(at))
        .to_owned()
}

/// Assets in `state` with their licenses at `at`, `notice` being the
/// expiry notice period. The SQL twin of `license::state`, except that
/// EXPIRING is read as "in force now but not at the end of the notice
/// period" (a chain with a gap inside the period and coverage after it is
/// ACTIVE here, EXPIRING on the asset).
pub fn license_state_condition(
    state: LicenseState,
    at: DateTime<Utc>,
    notice: chrono::Duration,
    id: impl Fn() -> Expr,
) -> Condition {
    let in_force = |t: DateTime<Utc>| license::in_force_at(t, &Usage::default());
    match state {
        LicenseState::Active => Condition::all()
            .add(id().in_subquery(in_force(at)))
            .add(id().in_subquery(in_force(at + notice))),
        LicenseState::Expiring => Condition::all()
            .add(id().in_subquery(in_force(at)))
            .add(id().not_in_subquery(in_force(at + notice))),
        LicenseState::Scheduled => Condition::all()
            .add(id().not_in_subquery(in_force(at)))
            .add(id().in_subquery(licensed_later(at))),
        LicenseState::Expired => Condition::all()
            .add(id().not_in_subquery(in_force(at)))
            .add(id().in_subquery(licensed_any()))
            .add(id().not_in_subquery(licensed_later(at))),
        LicenseState::Unlicensed => Condition::all().add(id().not_in_subquery(licensed_any())),
    }
}

/// SQL counting the bits in which a 16-bit band column differs from `q`
/// (portable: no XOR or popcount on SQLite, so `a|q - a&q`, bit by bit).
fn band_distance(column: &str, q: i32) -> String {
    let x = format!("(({column} | {q}) - ({column} & {q}))");
    let bits: Vec<String> = (0..16).map(|b| format!("(({x} >> {b}) & 1)")).collect();
    format!("({})", bits.join(" + "))
}

/// The SQL Hamming distance between the current version's hash and `hash`.
pub fn hamming_sql(hash: u64) -> String {
    let bands = vitrine_entity::moderation_rules::bands(hash);
    let parts: Vec<String> = ["phash_b0", "phash_b1", "phash_b2", "phash_b3"]
        .iter()
        .zip(bands)
        .map(|(c, q)| band_distance(&format!("asset_versions.{c}"), q))
        .collect();
    parts.join(" + ")
}

/// The condition for `filter`, as `actor` asks it (a folder it may not see
/// is NOT_FOUND; `hasGps` needs an administrator; `similarTo` an asset it
/// sees).
pub async fn condition(
    state: &AppState,
    actor: &Actor,
    filter: &AssetFilter,
) -> ApiResult<Condition> {
    condition_on(state, actor, filter, SearchDoc::Subquery).await
}

/// How a filter reaches the search document's columns (orientation, size,
/// camera, capture time, GPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchDoc {
    /// `assets.id IN (SELECT asset_id FROM asset_search WHERE …)`: for
    /// queries on `assets` alone.
    Subquery,
    /// Directly on `asset_search`, which the query joins (search). SQLite
    /// must not see the subquery there: with the full-text `doc_id IN (…)`
    /// beside it, it probes one list for every row of the other
    /// (quadratic: 33 s at 100,000 assets).
    Joined,
}

/// [`condition`], with the search document reached as `doc` says.
pub async fn condition_on(
    state: &AppState,
    actor: &Actor,
    filter: &AssetFilter,
    doc_columns: SearchDoc,
) -> ApiResult<Condition> {
    let now = state.clock.now();
    let joined = matches!(doc_columns, SearchDoc::Joined);
    // With the search document joined, what it copies (migration 20) is
    // read there: a search then needs no other table for these filters.
    let doc_col = |c: asset_search::Column| Expr::col((asset_search::Entity, c));
    let folder_col = || {
        if joined {
            doc_col(asset_search::Column::FolderId)
        } else {
            Expr::col((asset::Entity, asset::Column::FolderId))
        }
    };
    let id_col = || {
        if joined {
            doc_col(asset_search::Column::AssetId)
        } else {
            Expr::col((asset::Entity, asset::Column::Id))
        }
    };
    let mut cond = Condition::all();
    if let Some(folder_id) = filter.folder_id {
        let root = crate::services::folders::get(state, actor, folder_id).await?;
        if filter.recursive {
            // Ancestry strings hold only ids and '/', so no LIKE wildcard.
            cond = cond.add(
                folder_col().in_subquery(
                    Query::select()
                        .column(folder::Column::Id)
                        .from(folder::Entity)
                        .and_where(folder::Column::Ancestry.like(format!("{}%", root.ancestry)))
                        .to_owned(),
                ),
            );
        } else {
            cond = cond.add(folder_col().eq(folder_id));
        }
    }
    for tag in normalize_tags(&filter.tags)? {
        cond = cond.add(id_col().in_subquery(tags_query(vec![tag], &filter.tag_sources)));
    }
    let any = normalize_tags(&filter.tags_any)?;
    if !any.is_empty() {
        cond = cond.add(id_col().in_subquery(tags_query(any, &filter.tag_sources)));
    }
    if filter.tags.is_empty() && filter.tags_any.is_empty() && !filter.tag_sources.is_empty() {
        // Assets with any tag from these sources.
        cond = cond.add(
            id_col().in_subquery(
                Query::select()
                    .column(asset_tag::Column::AssetId)
                    .from(asset_tag::Entity)
                    .and_where(asset_tag::Column::Source.is_in(filter.tag_sources.iter().copied()))
                    .to_owned(),
            ),
        );
    }
    if let Some(stage) = filter.stage {
        cond = cond.add(if joined {
            Condition::all().add(doc_col(asset_search::Column::Stage).eq(stage))
        } else {
            current_version_where(Condition::all().add(asset_version::Column::Stage.eq(stage)))
        });
    }
    if !filter.moderation_states.is_empty() {
        cond = cond.add(if joined {
            Condition::all().add(
                doc_col(asset_search::Column::ModerationState)
                    .is_in(filter.moderation_states.iter().copied()),
            )
        } else {
            current_version_where(
                Condition::all().add(
                    asset_version::Column::ModerationState
                        .is_in(filter.moderation_states.iter().copied()),
                ),
            )
        });
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        cond = cond.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col((
                        asset::Entity,
                        asset::Column::Title,
                    ))))
                    .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    asset::Column::Id.in_subquery(
                        Query::select()
                            .column(asset_tag::Column::AssetId)
                            .from(asset_tag::Entity)
                            .and_where(
                                Expr::col(asset_tag::Column::Tag)
                                    .like(LikeExpr::new(pattern).escape('\\')),
                            )
                            .to_owned(),
                    ),
                ),
        );
    }
    let created_col = || {
        if joined {
            doc_col(asset_search::Column::CreatedAt)
        } else {
            Expr::col((asset::Entity, asset::Column::CreatedAt))
        }
    };
    if let Some(after) = filter.created_after {
        cond = cond.add(created_col().gte(after));
    }
    if let Some(before) = filter.created_before {
        cond = cond.add(created_col().lt(before));
    }
    let mut doc = Condition::all();
    if let Some(after) = filter.captured_after {
        doc = doc.add(asset_search::Column::CapturedAt.gte(after));
    }
    if let Some(before) = filter.captured_before {
        doc = doc.add(asset_search::Column::CapturedAt.lt(before));
    }
    if let Some(o) = filter.orientation {
        doc = doc.add(asset_search::Column::Orientation.eq(o.as_str()));
    }
    if let Some(w) = filter.min_width {
        doc = doc.add(asset_search::Column::Width.gte(w));
    }
    if let Some(h) = filter.min_height {
        doc = doc.add(asset_search::Column::Height.gte(h));
    }
    if let Some(m) = filter.min_megapixels {
        doc = doc.add(asset_search::Column::Megapixels.gte(m));
    }
    if let Some(m) = filter.max_megapixels {
        doc = doc.add(asset_search::Column::Megapixels.lte(m));
    }
    if let Some(model) = &filter.camera_model {
        doc = doc.add(asset_search::Column::CameraModel.eq(model.clone()));
    }
    if let Some(gps) = filter.has_gps {
        // Where a photo was taken is for administrators only.
        crate::services::authorize_instance(state, actor, Action::Admin).map_err(|_| {
            ApiError::Forbidden("only administrators may filter by GPS position".into())
        })?;
        doc = doc.add(asset_search::Column::HasGps.eq(gps));
    }
    if !doc.is_empty() {
        cond = cond.add(match doc_columns {
            SearchDoc::Subquery => search_where(doc),
            SearchDoc::Joined => doc,
        });
    }
    if joined && filter.license_state == Some(LicenseState::Unlicensed) {
        // The document's copy: no probe of every license link.
        cond = cond.add(doc_col(asset_search::Column::Licensed).eq(false));
    } else if let Some(state_wanted) = filter.license_state {
        cond = cond.add(license_state_condition(
            state_wanted,
            now,
            crate::services::licenses::notice(state),
            id_col,
        ));
    }
    if let Some(usable) = &filter.usable_for {
        let usage = Usage {
            channel: usable.channel,
            territory: usable
                .territory
                .as_ref()
                .map(|t| t.trim().to_uppercase())
                .filter(|t| !t.is_empty()),
        };
        if let Some(t) = &usage.territory
            && !(t == "WORLD" || (t.len() == 2 && t.chars().all(|c| c.is_ascii_uppercase())))
        {
            return Err(ApiError::BadUserInput(
                "territory is an ISO 3166-1 alpha-2 code or WORLD".into(),
            ));
        }
        cond = cond.add(license::licensed_at(
            usable.at.unwrap_or(now),
            &usage,
            state.config.license_unlicensed_deliverable,
        ));
    }
    if let Some(similar) = filter.similar_to {
        if similar.max_distance > MAX_SIMILAR_DISTANCE {
            return Err(ApiError::BadUserInput(format!(
                "maxDistance is at most {MAX_SIMILAR_DISTANCE}"
            )));
        }
        let target = crate::services::assets::get(state, actor, similar.asset_id).await?;
        let hash = match target.current_version_id {
            Some(v) => crate::services::assets::version_hash(&state.db, v).await?,
            None => None,
        };
        let Some(hash) = hash else {
            return Err(ApiError::Conflict(
                "that asset has not been processed yet: it has no perceptual hash".into(),
            ));
        };
        cond = cond.add(current_version_where(
            Condition::all()
                .add(asset_version::Column::PhashB0.is_not_null())
                .add(Expr::cust(format!(
                    "{} <= {}",
                    hamming_sql(hash),
                    similar.max_distance
                ))),
        ));
    }
    Ok(cond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_band_distance_counts_differing_bits() {
        // Evaluate the generated expression's arithmetic the way SQL does.
        for (a, q) in [
            (0, 0),
            (0xFFFF, 0),
            (0b1010, 0b0110),
            (12345, 54321 & 0xFFFF),
        ] {
            let x: i64 = (a | q) - (a & q);
            let bits: i64 = (0..16).map(|b| (x >> b) & 1).sum();
            assert_eq!(bits, i64::from((a ^ q).count_ones()));
        }
        let sql = band_distance("c", 7);
        assert_eq!(sql.matches("((c | 7) - (c & 7))").count(), 16);
    }
}

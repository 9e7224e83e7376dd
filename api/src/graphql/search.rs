//! `search`: ranked full-text search with filters and facets.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject};

use super::asset_types::{Asset, prefetch};
use super::filters::AssetFilter;
use super::{auth, state};
use crate::services::search::{
    self as service, FacetSet, Facets, Plan, SearchOrder, SearchOrderField,
};

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrderBy {
    /// Best matches first (title before tags before the rest), then newest.
    Relevance,
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(InputObject, Debug, Clone, Copy)]
pub struct SearchOrderInput {
    #[graphql(default_with = "SearchOrderBy::Relevance")]
    pub field: SearchOrderBy,
    /// Relevance is always best first.
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

impl From<Option<SearchOrderInput>> for SearchOrder {
    fn from(o: Option<SearchOrderInput>) -> Self {
        let Some(o) = o else {
            return SearchOrder::default();
        };
        SearchOrder {
            field: match o.field {
                SearchOrderBy::Relevance => SearchOrderField::Relevance,
                SearchOrderBy::CreatedAt => SearchOrderField::CreatedAt,
                SearchOrderBy::UpdatedAt => SearchOrderField::UpdatedAt,
                SearchOrderBy::Title => SearchOrderField::Title,
            },
            descending: o.field == SearchOrderBy::Relevance || o.direction == SortDirection::Desc,
        }
    }
}

/// One match.
#[derive(SimpleObject)]
pub struct SearchEdge {
    pub cursor: String,
    pub node: Asset,
    /// Its relevance: per word or phrase, 4 for a title match, 2 for a tag,
    /// 1 for the rest.
    pub score: i32,
}

#[derive(SimpleObject)]
pub struct SearchPageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub end_cursor: Option<String>,
}

/// How many matches have one value.
#[derive(SimpleObject, Debug, Clone)]
pub struct FacetValue {
    /// The value (a tag, a folder id, a stage, …); null for "none".
    pub value: Option<String>,
    pub count: u64,
}

/// Counts over every match, never over what the asker cannot see.
#[derive(SimpleObject, Debug, Clone)]
pub struct SearchFacets {
    /// The most frequent tags.
    pub tags: Vec<FacetValue>,
    /// Folder ids (null: the root).
    pub folders: Vec<FacetValue>,
    pub stages: Vec<FacetValue>,
    pub moderation_states: Vec<FacetValue>,
    /// ACTIVE, EXPIRING, SCHEDULED, EXPIRED or UNLICENSED, now.
    pub license_states: Vec<FacetValue>,
    pub orientations: Vec<FacetValue>,
    pub camera_models: Vec<FacetValue>,
}

fn values(list: Vec<service::FacetCount>) -> Vec<FacetValue> {
    list.into_iter()
        .map(|f| FacetValue {
            value: f.value,
            count: f.count,
        })
        .collect()
}

/// A page of search results, with the total and facets (computed once, and
/// only when asked for).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SearchResults {
    pub edges: Vec<SearchEdge>,
    pub page_info: SearchPageInfo,
    #[graphql(skip)]
    plan: Plan,
    #[graphql(skip)]
    facets: tokio::sync::OnceCell<Facets>,
    /// The facets the request selects (counted with the page).
    #[graphql(skip)]
    wanted: FacetSet,
}

impl SearchResults {
    async fn counted(&self, ctx: &Context<'_>) -> async_graphql::Result<&Facets> {
        let state = state(ctx)?;
        Ok(self
            .facets
            .get_or_try_init(|| self.plan.facets(state, self.wanted))
            .await?)
    }
}

#[ComplexObject]
impl SearchResults {
    /// How many assets match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(self.counted(ctx).await?.total)
    }

    async fn facets(&self, ctx: &Context<'_>) -> async_graphql::Result<SearchFacets> {
        let f = self.counted(ctx).await?.clone();
        Ok(SearchFacets {
            tags: values(f.tags),
            folders: values(f.folders),
            stages: values(f.stages),
            moderation_states: values(f.moderation_states),
            license_states: values(f.license_states),
            orientations: values(f.orientations),
            camera_models: values(f.camera_models),
        })
    }
}

/// Runs a prepared search for one page.
pub async fn results(
    ctx: &Context<'_>,
    plan: Plan,
    order: SearchOrder,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<SearchResults> {
    let limit = super::page_size(first).map_err(|_| {
        crate::error::ApiError::BadUserInput("first must be between 1 and 200".into())
    })?;
    let state = state(ctx)?;
    // The page and the counts are two statements: when both are asked
    // for, they run at once (on two connections) rather than one after
    // the other.
    let look = ctx.look_ahead();
    let wants_counts = look.field("totalCount").exists() || look.field("facets").exists();
    // Only the facets the request selects are counted.
    let selected = look.field("facets");
    let wanted = FacetSet {
        tags: selected.field("tags").exists(),
        folders: selected.field("folders").exists(),
        stages: selected.field("stages").exists(),
        moderation_states: selected.field("moderationStates").exists(),
        license_states: selected.field("licenseStates").exists(),
        orientations: selected.field("orientations").exists(),
        camera_models: selected.field("cameraModels").exists(),
    };
    let facets = tokio::sync::OnceCell::new();
    let page = if wants_counts {
        let (page, counted) = tokio::try_join!(
            plan.page(state, order, after.as_deref(), limit),
            plan.facets(state, wanted)
        )?;
        // The cell is new and empty: this cannot fail.
        let _ = facets.set(counted);
        page
    } else {
        plan.page(state, order, after.as_deref(), limit).await?
    };
    let models: Vec<_> = page.hits.iter().map(|h| h.asset.clone()).collect();
    prefetch(ctx, &models).await?;
    let edges: Vec<SearchEdge> = page
        .hits
        .into_iter()
        .map(|h| SearchEdge {
            cursor: service::encode_cursor(order, &h),
            score: h.score,
            node: Asset::from(h.asset),
        })
        .collect();
    Ok(SearchResults {
        page_info: SearchPageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        plan,
        facets,
        wanted,
    })
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Searches the assets the caller may see: `query` in web-search syntax
    /// (words are ANDed, "quoted phrases", -excluded, `a OR b`, `pre*`),
    /// matched with stemming in titles, tags, descriptions, captions and
    /// keywords, file names, camera and lens, folder names; combined with
    /// `filter`; ranked by relevance (or `orderBy`); with facet counts.
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] query: String,
        filter: Option<AssetFilter>,
        order_by: Option<SearchOrderInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SearchResults> {
        let filter = filter.unwrap_or_default().to_service()?;
        let plan = service::plan(state(ctx)?, &auth(ctx)?.actor, &query, &filter).await?;
        results(ctx, plan, SearchOrder::from(order_by), first, after).await
    }
}

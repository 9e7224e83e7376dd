//! Smart folders: saved searches, opened live.

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::smart_folder;
use vitrine_entity::policy::SmartFolderSharing;

use super::filters::AssetFilter;
use super::search::{SearchOrderInput, SearchResults, results};
use super::{auth, meta, parse_id, state};
use crate::error::ApiError;
use crate::services::search::SearchOrder;
use crate::services::smart_folders::{self as service, SmartFolderInput as ServiceInput};

/// Who sees a smart folder besides its owner.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartFolderShare {
    /// Nobody.
    Private,
    /// Every member of the organisation.
    Members,
    /// The users of `partnerOrgId` (each sees only what it may).
    Partner,
}

/// A saved search: its content is the search, run as whoever opens it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SmartFolder {
    pub id: ID,
    pub name: String,
    /// The words, in `search`'s language.
    pub query: String,
    /// The saved `AssetFilter`, as JSON.
    pub filter: async_graphql::Json<serde_json::Value>,
    pub sharing: SmartFolderShare,
    pub partner_org_id: Option<ID>,
    pub owner_id: ID,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    model: smart_folder::Model,
}

impl From<smart_folder::Model> for SmartFolder {
    fn from(m: smart_folder::Model) -> Self {
        let (sharing, partner) = match m.sharing() {
            SmartFolderSharing::Private => (SmartFolderShare::Private, None),
            SmartFolderSharing::Members => (SmartFolderShare::Members, None),
            SmartFolderSharing::Partner(org) => (SmartFolderShare::Partner, Some(org)),
        };
        SmartFolder {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            query: m.query.clone(),
            filter: async_graphql::Json(serde_json::from_str(&m.filter).unwrap_or_default()),
            sharing,
            partner_org_id: partner.map(|p| ID(p.to_string())),
            owner_id: ID(m.owner_id.to_string()),
            created_at: m.created_at,
            updated_at: m.updated_at,
            model: m,
        }
    }
}

#[ComplexObject]
impl SmartFolder {
    /// What it holds now for the caller: its search, inside what the caller
    /// may see, ranked (or ordered by `orderBy`), with total and facets.
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        order_by: Option<SearchOrderInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SearchResults> {
        let plan = service::plan(state(ctx)?, &auth(ctx)?.actor, &self.model).await?;
        results(ctx, plan, SearchOrder::from(order_by), first, after).await
    }

    /// How many assets it holds now for the caller.
    async fn count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let state = state(ctx)?;
        let plan = service::plan(state, &auth(ctx)?.actor, &self.model).await?;
        Ok(plan.count(state).await?)
    }
}

#[derive(InputObject, Debug, Clone)]
pub struct SmartFolderInput {
    pub name: String,
    /// Words in `search`'s language (may be empty: the filter alone).
    #[graphql(default)]
    pub query: String,
    #[graphql(default)]
    pub filter: AssetFilter,
    #[graphql(default_with = "SmartFolderShare::Private")]
    pub sharing: SmartFolderShare,
    /// With PARTNER sharing: the organisation.
    pub partner_org_id: Option<ID>,
}

impl SmartFolderInput {
    fn to_service(&self) -> async_graphql::Result<ServiceInput> {
        let sharing = match (self.sharing, &self.partner_org_id) {
            (SmartFolderShare::Private, None) => SmartFolderSharing::Private,
            (SmartFolderShare::Members, None) => SmartFolderSharing::Members,
            (SmartFolderShare::Partner, Some(org)) => {
                SmartFolderSharing::Partner(parse_id(org, "partnerOrgId")?)
            }
            (SmartFolderShare::Partner, None) => {
                return Err(
                    ApiError::BadUserInput("PARTNER sharing needs partnerOrgId".into()).into(),
                );
            }
            (_, Some(_)) => {
                return Err(ApiError::BadUserInput(
                    "partnerOrgId goes with PARTNER sharing only".into(),
                )
                .into());
            }
        };
        Ok(ServiceInput {
            name: self.name.clone(),
            query: self.query.clone(),
            filter: self.filter.to_service()?,
            sharing,
        })
    }
}

#[derive(Default)]
pub struct SmartFolderQuery;

#[Object]
impl SmartFolderQuery {
    /// The smart folders the caller owns or that are shared with it.
    async fn smart_folders(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SmartFolder>> {
        Ok(service::list(state(ctx)?, &auth(ctx)?.actor)
            .await?
            .into_iter()
            .map(SmartFolder::from)
            .collect())
    }

    /// One smart folder the caller may open.
    async fn smart_folder(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<SmartFolder> {
        let id = parse_id(&id, "id")?;
        Ok(service::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct SmartFolderMutation;

#[Object]
impl SmartFolderMutation {
    /// Saves a search as a smart folder owned by the caller. Its filter is
    /// checked as the caller would run it now.
    async fn create_smart_folder(
        &self,
        ctx: &Context<'_>,
        input: SmartFolderInput,
    ) -> async_graphql::Result<SmartFolder> {
        let input = input.to_service()?;
        Ok(
            service::create(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), input)
                .await?
                .into(),
        )
    }

    /// Replaces a smart folder's name, search and sharing (its owner, or an
    /// administrator).
    async fn update_smart_folder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SmartFolderInput,
    ) -> async_graphql::Result<SmartFolder> {
        let id = parse_id(&id, "id")?;
        let input = input.to_service()?;
        Ok(
            service::update(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id, input)
                .await?
                .into(),
        )
    }

    async fn delete_smart_folder(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let id = parse_id(&id, "id")?;
        Ok(service::delete(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id).await?)
    }
}

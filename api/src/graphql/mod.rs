//! The GraphQL schema. Resolvers stay thin: parse, call a service (which asks
//! the policy), map the result to an output type.

mod api_keys;
mod asset_inputs;
mod asset_resolvers;
pub mod asset_types;
pub mod budget;
mod codes;
mod cost;
mod derivatives;
mod explain;
mod filters;
mod licenses;
mod loaders;
mod moderation;
mod mutation;
mod node;
mod presets;
mod public_delivery;
mod query;
mod retag_runs;
mod search;
mod share;
mod smart_folders;
mod subscription;
pub mod types;
pub mod usage;
mod version_types;
mod webhooks;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Schema};
use vitrine_entity::access::AccessMap;

use asset_resolvers::{AssetMutation, AssetQuery};
pub use codes::ErrorCodes;
pub(crate) use codes::coded;
pub use loaders::Loaders;
use mutation::IdentityMutation;
use query::IdentityQuery;

/// The query root: identity and audit, then the asset library.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    IdentityQuery,
    AssetQuery,
    share::ShareQuery,
    search::SearchQuery,
    smart_folders::SmartFolderQuery,
    retag_runs::RetagRunQuery,
    licenses::LicenseQuery,
    usage::UsageQueryRoot,
    api_keys::ApiKeyQuery,
    webhooks::WebhookQuery,
    explain::ExplainQuery,
    node::NodeQuery,
    moderation::ModerationQuery,
    presets::PresetQuery,
    derivatives::DerivativeQuery,
);

/// The mutation root.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    IdentityMutation,
    AssetMutation,
    share::ShareMutation,
    licenses::LicenseMutation,
    api_keys::ApiKeyMutation,
    webhooks::WebhookMutation,
    moderation::ModerationMutation,
    presets::PresetMutation,
    smart_folders::SmartFolderMutation,
    retag_runs::RetagRunMutation,
    derivatives::DerivativeMutation,
    public_delivery::PublicDeliveryMutation,
);
pub use subscription::SubscriptionRoot;

use crate::config::Limits;
use crate::error::ApiError;
use crate::state::{AppState, Auth, RequestMeta};

pub type VitrineSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with its limits.
pub fn build_schema(
    state: AppState,
    limits: &Limits,
    introspection: crate::config::Introspection,
) -> VitrineSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(limits.max_query_depth)
    .limit_complexity(limits.max_query_complexity)
    .limit_recursive_depth(64)
    .limit_directives(8)
    .extension(ErrorCodes)
    .extension(budget::RequestLimits {
        max_aliases: limits.max_aliases,
    })
    .data(state);
    // "Did you mean …" names fields: only where anyone may see the schema.
    if introspection != crate::config::Introspection::Everyone {
        builder = builder.disable_suggestions();
    }
    if introspection == crate::config::Introspection::Nobody {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL of the schema, as committed in `schema.graphql` (limits and data
/// do not change it).
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .finish()
    .sdl_with_options(async_graphql::SDLExportOptions::new().use_space_ident())
}

/// How long what a resolver reads may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataScope {
    /// One query or mutation: read once, reuse.
    Request,
    /// A WebSocket connection: its subscriptions' events each read afresh.
    Connection,
}

/// Per-request data the HTTP and WebSocket layers attach.
pub fn request_data(
    state: &AppState,
    auth: Auth,
    meta: RequestMeta,
    scope: DataScope,
) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    // `asset.usage` of a page of assets: one statistics query, as the caller.
    data.insert(DataLoader::new(
        usage::UsageLoader::new(state.clone(), auth.actor.clone()),
        tokio::spawn,
    ));
    data.insert(auth);
    data.insert(meta);
    if scope == DataScope::Request {
        data.insert(AccessCell::default());
    }
    // Cached per request: a page resolver prefetches related rows in a few
    // batched queries and the fields of each item then read the cache.
    data.insert(DataLoader::with_cache(
        Loaders::new(state.db.clone()),
        tokio::spawn,
        loaders::RequestCache {
            enabled: scope == DataScope::Request,
        },
    ));
    data
}

/// The caller's access map, loaded once per request (WebSocket connections
/// have no cell: each use loads it afresh).
#[derive(Default)]
pub struct AccessCell(tokio::sync::Mutex<Option<std::sync::Arc<AccessMap>>>);

pub(crate) async fn access_map(ctx: &Context<'_>) -> Result<std::sync::Arc<AccessMap>, ApiError> {
    let state = state(ctx)?;
    let actor = &auth(ctx)?.actor;
    let Ok(cell) = ctx.data::<AccessCell>() else {
        return Ok(std::sync::Arc::new(
            crate::services::access::load_map(&state.db, actor).await?,
        ));
    };
    let mut slot = cell.0.lock().await;
    if let Some(map) = slot.as_ref() {
        return Ok(map.clone());
    }
    let map = std::sync::Arc::new(crate::services::access::load_map(&state.db, actor).await?);
    *slot = Some(map.clone());
    Ok(map)
}

/// Whether the caller sees the folder with `ancestry`.
pub(crate) async fn sees_folder(
    ctx: &Context<'_>,
    ancestry: Option<&str>,
) -> Result<bool, ApiError> {
    let map = access_map(ctx).await?;
    let state = state(ctx)?;
    Ok(crate::services::access::sees_folder(
        &auth(ctx)?.actor,
        &map,
        ancestry,
        state.clock.now(),
    ))
}

pub(crate) fn state<'c>(ctx: &Context<'c>) -> Result<&'c AppState, ApiError> {
    ctx.data::<AppState>()
        .map_err(|_| ApiError::Internal("application state missing".into()))
}

pub(crate) fn auth<'c>(ctx: &Context<'c>) -> Result<&'c Auth, ApiError> {
    ctx.data::<Auth>()
        .map_err(|_| ApiError::Internal("request identity missing".into()))
}

/// The caller must have presented a valid token. Names why a token was refused.
pub(crate) fn require_auth<'c>(ctx: &Context<'c>) -> Result<&'c Auth, ApiError> {
    let auth = auth(ctx)?;
    if auth.session_id.is_none() {
        return Err(ApiError::Unauthenticated(
            auth.rejected.unwrap_or("authentication required").into(),
        ));
    }
    Ok(auth)
}

pub(crate) fn meta<'c>(ctx: &Context<'c>) -> RequestMeta {
    ctx.data::<RequestMeta>().cloned().unwrap_or_default()
}

/// A patch field: absent (unchanged), null (cleared) or a value.
pub(crate) fn maybe<T>(m: async_graphql::MaybeUndefined<T>) -> Option<Option<T>> {
    match m {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

pub(crate) fn parse_id(raw: &async_graphql::ID, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw.as_str())
        .map_err(|_| ApiError::BadUserInput(format!("{what} is not a valid id")))
}

/// Validates a page size: default 50, at most 200.
pub(crate) fn page_size(first: Option<i32>) -> Result<u64, ApiError> {
    match first {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(u64::try_from(n).unwrap_or(50)),
        Some(_) => Err(ApiError::BadUserInput(
            "first must be between 1 and 200".into(),
        )),
    }
}

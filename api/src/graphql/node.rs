//! Relay object identification: `node(id:)` and `nodes(ids:)`.
//!
//! Every object's `id` is a UUID (version 7), unique across all kinds of
//! object, so ids are already global: no `Type:uuid` encoding is added (it
//! would change every id clients hold today and say nothing a UUID does not).
//! A node is fetched through the same service call as its own query
//! (`asset(id)`, `folder(id)`, …), so it is authorized exactly the same; an
//! object the caller may not see is `null`, like an id that does not exist.

use async_graphql::{Context, ID, Interface, Object};
use sea_orm::EntityTrait;
use uuid::Uuid;
use vitrine_entity::entities::{asset, folder, license, partner_org, share_link, user};

use super::asset_types::{Asset, Folder};
use super::licenses::License;
use super::share::ShareLink;
use super::types::{PartnerOrg, User};
use super::{auth, state};
use crate::error::ApiError;
use crate::services::{assets, folders, licenses, partners, share_links, users};

/// An object that can be fetched again by its id alone.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID", desc = "A UUID, unique across all objects."))]
pub enum Node {
    Asset(Asset),
    Folder(Folder),
    License(License),
    ShareLink(ShareLink),
    User(User),
    PartnerOrg(PartnerOrg),
}

/// `None` for what the caller may not see (or what does not exist).
fn hidden<T>(result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(ApiError::NotFound(_) | ApiError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn resolve(ctx: &Context<'_>, raw: &ID) -> Result<Option<Node>, ApiError> {
    let Ok(id) = Uuid::parse_str(raw.as_str()) else {
        return Ok(None);
    };
    let state = state(ctx)?;
    let actor = &auth(ctx)?.actor;
    if matches!(actor, vitrine_entity::policy::Actor::Anonymous) {
        return Err(ApiError::Unauthenticated(
            auth(ctx)?
                .rejected
                .unwrap_or("authentication required")
                .into(),
        ));
    }
    let db = &state.db;
    if asset::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(hidden(assets::get(state, actor, id).await)?.map(|a| Node::Asset(a.into())));
    }
    if folder::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(hidden(folders::get(state, actor, id).await)?.map(|f| Node::Folder(f.into())));
    }
    if license::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(hidden(licenses::get(state, actor, id).await)?.map(|l| Node::License(l.into())));
    }
    if share_link::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(
            hidden(share_links::get(state, actor, id).await)?.map(|l| Node::ShareLink(l.into()))
        );
    }
    if partner_org::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(
            hidden(partners::get(state, actor, id).await)?.map(|o| Node::PartnerOrg(o.into()))
        );
    }
    if user::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(hidden(users::get(state, actor, id).await)?.map(|u| Node::User(u.into())));
    }
    Ok(None)
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its id; null when it does not exist or the caller may
    /// not see it (the two are not told apart).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        Ok(resolve(ctx, &id).await?)
    }

    /// Several objects by id (at most 100), in the order asked.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ApiError::BadUserInput("at most 100 ids".into()).into());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(resolve(ctx, id).await?);
        }
        Ok(out)
    }
}

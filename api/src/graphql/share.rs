//! Share links in the GraphQL API: creation, the inventory with counters,
//! changes and revocation.

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use vitrine_entity::ShareScope;
use vitrine_entity::entities::share_link;
use vitrine_entity::license::Channel;
use vitrine_entity::policy::LinkState;

use super::asset_types::{UserSummary, internal_user};
use super::{auth, maybe, meta, parse_id, state};
use crate::error::ApiError;
use crate::services::share_links::{self, LinkFilter, NewShareLink, ShareLinkPatch};

/// Whether a link can be used now.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShareLinkState {
    Active,
    /// Before its `startsAt`.
    Scheduled,
    Expired,
    Revoked,
    /// Its `maxViews` are used up.
    Exhausted,
}

impl From<LinkState> for ShareLinkState {
    fn from(s: LinkState) -> Self {
        match s {
            LinkState::Active => ShareLinkState::Active,
            LinkState::NotStarted => ShareLinkState::Scheduled,
            LinkState::Expired => ShareLinkState::Expired,
            LinkState::Revoked => ShareLinkState::Revoked,
            LinkState::Exhausted => ShareLinkState::Exhausted,
        }
    }
}

/// A share link, as its creator and administrators see it. The token is
/// never shown again after creation.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ShareLink {
    pub id: ID,
    pub scope: ShareScope,
    pub label: Option<String>,
    pub recipient_email: Option<String>,
    pub partner_org_id: Option<ID>,
    /// The channel the link is for: visitors get only assets with a license
    /// in force covering it (and `territory`).
    pub channel: Option<Channel>,
    /// The territory the link is for (ISO 3166-1 alpha-2, or WORLD).
    pub territory: Option<String>,
    /// A folder link shows the folder's deliverable content at each visit.
    pub folder_id: Option<ID>,
    /// A smart-folder link shows what the saved search finds at each visit,
    /// run as the link's creator (each asset only while they may share it).
    pub smart_folder_id: Option<ID>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub max_views: Option<i32>,
    pub max_downloads: Option<i32>,
    pub has_password: bool,
    /// Visits started (after the password, if any).
    pub opens: i32,
    /// Previews delivered through the link.
    pub views: i32,
    /// Files downloaded through the link.
    pub downloads: i32,
    pub failed_passwords: i32,
    pub last_access_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub model: share_link::Model,
}

impl From<share_link::Model> for ShareLink {
    fn from(m: share_link::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            scope: m.scope,
            label: m.label.clone(),
            recipient_email: m.recipient_email.clone(),
            partner_org_id: m.partner_org_id.map(|i| ID(i.to_string())),
            channel: m.channel.as_deref().and_then(Channel::parse),
            territory: m.territory.clone(),
            folder_id: m.folder_id.map(|i| ID(i.to_string())),
            smart_folder_id: m.smart_folder_id.map(|i| ID(i.to_string())),
            starts_at: m.starts_at,
            expires_at: m.expires_at,
            max_views: m.max_views,
            max_downloads: m.max_downloads,
            has_password: m.password_hash.is_some(),
            opens: m.opens,
            views: m.views,
            downloads: m.downloads,
            failed_passwords: m.failed_passwords,
            last_access_at: m.last_access_at,
            revoked_at: m.revoked_at,
            created_at: m.created_at,
            model: m,
        }
    }
}

#[ComplexObject]
impl ShareLink {
    /// Whether it can be used now.
    async fn state(&self, ctx: &Context<'_>) -> async_graphql::Result<ShareLinkState> {
        Ok(self.model.state(state(ctx)?.clock.now()).into())
    }

    /// The assets it lists (empty for a folder link).
    async fn asset_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ID>> {
        Ok(
            share_links::listed_asset_ids(&state(ctx)?.db, self.model.id)
                .await?
                .into_iter()
                .map(|i| ID(i.to_string()))
                .collect(),
        )
    }

    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, Some(self.model.created_by)).await
    }

    /// The derivative profile its page shows images in (null: THUMBNAIL,
    /// or the profile was deleted).
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        use sea_orm::EntityTrait;
        let Some(id) = self.model.profile_id else {
            return Ok(None);
        };
        Ok(
            vitrine_entity::entities::derivative_profile::Entity::find_by_id(id)
                .one(&state(ctx)?.db)
                .await?
                .map(|p| p.name),
        )
    }
}

/// What `createShareLink` answers: the URL is shown this once.
#[derive(SimpleObject, Clone, Debug)]
pub struct CreateShareLinkPayload {
    /// `/s/<token>` (prefixed with the public URL when configured).
    pub url: String,
    pub link: ShareLink,
}

#[derive(InputObject, Debug)]
pub struct CreateShareLinkInput {
    /// The assets to share (1 to 500); or give `folderId` or
    /// `smartFolderId`.
    #[graphql(default)]
    pub asset_ids: Vec<ID>,
    /// A folder to share: visitors see what it holds at each visit.
    pub folder_id: Option<ID>,
    /// A smart folder to share (one you may open): visitors see what its
    /// search finds at each visit, run as you, each asset only while you
    /// may SHARE it.
    pub smart_folder_id: Option<ID>,
    /// Defaults to PREVIEW.
    pub scope: Option<ShareScope>,
    /// At least 8 characters; visitors type it in a form.
    pub password: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    /// Defaults to 7 days from now; at most the server's maximum (90 days).
    pub expires_at: Option<DateTime<Utc>>,
    /// Most visits (each successful opening of the page).
    pub max_views: Option<i32>,
    /// Most downloads, all visitors together.
    pub max_downloads: Option<i32>,
    pub label: Option<String>,
    pub recipient_email: Option<String>,
    pub partner_org_id: Option<ID>,
    /// The use the link is for (a marketplace link is MARKETPLACE): visitors
    /// then get only assets with a license in force covering this channel
    /// (and `territory`, when given) at each request.
    pub channel: Option<Channel>,
    /// ISO 3166-1 alpha-2 code, or WORLD.
    pub territory: Option<String>,
    /// The derivative profile the page shows images in (its audience must
    /// be VISITORS), at every density it offers; default: THUMBNAIL.
    pub profile: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct UpdateShareLinkInput {
    pub label: MaybeUndefined<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_views: MaybeUndefined<i32>,
    pub max_downloads: MaybeUndefined<i32>,
    /// A new password (ends every visit admitted with the old one); null
    /// removes it.
    pub password: MaybeUndefined<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct ShareLinkFilter {
    /// Links that list this asset.
    pub asset_id: Option<ID>,
    /// Only links neither revoked nor expired.
    #[graphql(default)]
    pub active_only: bool,
}

#[derive(Default)]
pub struct ShareQuery;

#[Object]
impl ShareQuery {
    /// Share links with their counters, newest first: every link for
    /// administrators, one's own for everybody else.
    #[graphql(complexity = "super::cost::list(super::cost::SHORT_LIST, child_complexity)")]
    async fn share_links(
        &self,
        ctx: &Context<'_>,
        filter: Option<ShareLinkFilter>,
    ) -> async_graphql::Result<Vec<ShareLink>> {
        let filter = filter.unwrap_or_default();
        let asset_id = filter
            .asset_id
            .as_ref()
            .map(|i| parse_id(i, "filter.assetId"))
            .transpose()?;
        Ok(share_links::list(
            state(ctx)?,
            &auth(ctx)?.actor,
            LinkFilter {
                asset_id,
                active_only: filter.active_only,
            },
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    /// One share link (its creator and administrators).
    async fn share_link(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ShareLink> {
        let id = parse_id(&id, "id")?;
        Ok(share_links::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct ShareMutation;

#[Object]
impl ShareMutation {
    /// Creates a share link to assets, a folder or a smart folder. Needs
    /// SHARE on every asset (or on the folder); a smart folder must be one
    /// you may open. The URL's token is shown only here.
    async fn create_share_link(
        &self,
        ctx: &Context<'_>,
        input: CreateShareLinkInput,
    ) -> async_graphql::Result<CreateShareLinkPayload> {
        let asset_ids = input
            .asset_ids
            .iter()
            .map(|i| parse_id(i, "assetIds"))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let folder_id = input
            .folder_id
            .as_ref()
            .map(|i| parse_id(i, "folderId"))
            .transpose()?;
        let smart_folder_id = input
            .smart_folder_id
            .as_ref()
            .map(|i| parse_id(i, "smartFolderId"))
            .transpose()?;
        let partner_org_id = input
            .partner_org_id
            .as_ref()
            .map(|i| parse_id(i, "partnerOrgId"))
            .transpose()?;
        let created = share_links::create(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            NewShareLink {
                asset_ids,
                folder_id,
                smart_folder_id,
                scope: input.scope,
                password: input.password,
                starts_at: input.starts_at,
                expires_at: input.expires_at,
                max_views: input.max_views,
                max_downloads: input.max_downloads,
                label: input.label,
                recipient_email: input.recipient_email,
                partner_org_id,
                channel: input.channel,
                territory: input.territory,
                profile: input.profile,
            },
        )
        .await?;
        Ok(CreateShareLinkPayload {
            url: created.url,
            link: created.link.into(),
        })
    }

    /// Changes a link's label, expiry, caps or password (its creator or an
    /// administrator).
    async fn update_share_link(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateShareLinkInput,
    ) -> async_graphql::Result<ShareLink> {
        let id = parse_id(&id, "id")?;
        Ok(share_links::update(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            id,
            ShareLinkPatch {
                label: maybe(input.label),
                expires_at: input.expires_at,
                max_views: maybe(input.max_views),
                max_downloads: maybe(input.max_downloads),
                password: maybe(input.password),
            },
        )
        .await?
        .into())
    }

    /// Revokes a link: its page and every image URL issued under it stop at
    /// their next request.
    async fn revoke_share_link(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ShareLink> {
        let id = parse_id(&id, "id")?;
        Ok(
            share_links::revoke(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id)
                .await?
                .into(),
        )
    }

    /// Revokes every live link that could show the asset (those listing it,
    /// folder links above it, smart-folder links whose search finds it). Needs SHARE on the asset. Returns how
    /// many were revoked.
    async fn revoke_share_links_for_asset(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
    ) -> async_graphql::Result<i32> {
        let id = parse_id(&asset_id, "assetId")?;
        let n =
            share_links::revoke_for_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

//! Public delivery (`/p/`): opting assets and folders in, and their public
//! URLs. Members only: partners and visitors never see these fields.

use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use uuid::Uuid;
use vitrine_entity::entities::{asset, derivative_profile};
use vitrine_entity::policy::{Actor, authorize_public};
use vitrine_worker::derivatives::Encoding;

use super::{auth, meta, parse_id, state};
use crate::error::ApiError;
use crate::services::derivatives::Format;
use crate::services::public_delivery::{self, Publication};

/// How an asset stands for public delivery.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct PublicDelivery {
    /// Opted in by itself.
    pub opted_in: bool,
    /// Opted in by a folder above it.
    pub via_folder: bool,
    /// Its stable slug (when opted in by itself); public URLs use the id
    /// otherwise.
    pub slug: Option<String>,
    #[graphql(skip)]
    pub asset: asset::Model,
}

impl PublicDelivery {
    fn of(p: Publication, asset: asset::Model) -> Self {
        Self {
            opted_in: p.own.is_some(),
            via_folder: p.via_folder,
            slug: p.own.map(|o| o.slug),
            asset,
        }
    }

    fn key(&self) -> String {
        self.slug
            .clone()
            .unwrap_or_else(|| self.asset.id.to_string())
    }
}

#[ComplexObject]
impl PublicDelivery {
    /// Why a public profile's URL answers 404 now (NOT_PUBLIC_DELIVERY,
    /// NOT_PUBLISHED, AWAITING_MODERATION, NOT_LICENSED, …), or null when
    /// it is served. Asked again by every request that reaches Vitrine.
    async fn blocked_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let state = state(ctx)?;
        let facts =
            crate::delivery::public::public_facts(state, &self.asset, self.opted_in).await?;
        Ok(authorize_public(&facts, state.clock.now())
            .err()
            .map(|d| vitrine_entity::explain::code(&d).to_owned()))
    }

    /// The stable public URL of this asset in a public profile:
    /// `/p/{profile}/{slug-or-id}[@{dpr}x][.{ext}]` (no extension: the
    /// profile's format; AUTO chooses from `Accept`). NOT_FOUND for an
    /// unknown profile, BAD_USER_INPUT for one that is not public or does
    /// not offer `dpr`.
    async fn url(
        &self,
        ctx: &Context<'_>,
        profile: String,
        format: Option<Format>,
        #[graphql(default = 1)] dpr: i32,
    ) -> async_graphql::Result<String> {
        let state = state(ctx)?;
        let found =
            crate::services::derivatives::profile_for(state, &auth(ctx)?.actor, &profile).await?;
        check_profile(&found, dpr)?;
        let density = if dpr == 1 {
            String::new()
        } else {
            format!("@{dpr}x")
        };
        let extension = match format {
            None | Some(Format::Auto) => String::new(),
            Some(Format::Jpeg) => format!(".{}", Encoding::Jpeg.extension()),
            Some(Format::Webp) => format!(".{}", Encoding::Webp.extension()),
            Some(Format::Avif) => format!(".{}", Encoding::Avif.extension()),
            Some(Format::Png) => format!(".{}", Encoding::Png.extension()),
        };
        Ok(format!(
            "{}/p/{}/{}{density}{extension}",
            state
                .config
                .delivery
                .public_url
                .as_deref()
                .unwrap_or_default(),
            found.name,
            self.key(),
        ))
    }
}

fn check_profile(profile: &derivative_profile::Model, dpr: i32) -> Result<(), ApiError> {
    if !profile.public {
        return Err(ApiError::BadUserInput(format!(
            "the profile {:?} is not public",
            profile.name
        )));
    }
    if !u8::try_from(dpr).is_ok_and(|d| profile.dpr_list().contains(&d)) {
        return Err(ApiError::BadUserInput(format!(
            "the profile {:?} does not offer {dpr}x",
            profile.name
        )));
    }
    Ok(())
}

/// `Asset.publicDelivery`: null for anyone but members.
pub async fn of_asset(
    ctx: &Context<'_>,
    found: &asset::Model,
) -> async_graphql::Result<Option<PublicDelivery>> {
    if !matches!(auth(ctx)?.actor, Actor::Member { .. } | Actor::System) {
        return Ok(None);
    }
    let p = public_delivery::of_asset(&state(ctx)?.db, found).await?;
    Ok(Some(PublicDelivery::of(p, found.clone())))
}

#[derive(Default)]
pub struct PublicDeliveryMutation;

#[Object]
impl PublicDeliveryMutation {
    /// Opts an asset into public delivery (MANAGE_ACCESS on it), with a
    /// stable slug (given, kept, or made from its title), or out of it.
    /// Served publicly only while it is also PUBLIC, inside its window,
    /// approved and licensed for E_COMMERCE; every change that ends that
    /// sends a CDN purge of `asset-{id}`.
    async fn set_public_delivery(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        enabled: bool,
        slug: Option<String>,
    ) -> async_graphql::Result<PublicDelivery> {
        let asset_id = parse_id(&asset_id, "assetId")?;
        let state = state(ctx)?;
        let actor = &auth(ctx)?.actor;
        let p =
            public_delivery::set_asset(state, actor, &meta(ctx), asset_id, enabled, slug).await?;
        let found = find_asset(state, asset_id).await?;
        Ok(PublicDelivery::of(p, found))
    }

    /// Opts a folder and everything below it into public delivery, or out
    /// of it (MANAGE_ACCESS on the folder). Returns whether it is opted in.
    async fn set_folder_public_delivery(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        enabled: bool,
    ) -> async_graphql::Result<bool> {
        let folder_id = parse_id(&folder_id, "folderId")?;
        Ok(public_delivery::set_folder(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            folder_id,
            enabled,
        )
        .await?)
    }
}

async fn find_asset(state: &crate::state::AppState, id: Uuid) -> Result<asset::Model, ApiError> {
    use sea_orm::EntityTrait;
    asset::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))
}

//! Derivative profiles and focal points in the GraphQL API.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::{asset_focal_point, derivative_profile};
use vitrine_entity::policy::{Actor, ProfileAudience};

use super::{auth, meta, parse_id, state};
use crate::services::derivatives::{self, Anchor, Fit, Format, ProfileInput};

/// One derivative URL.
#[derive(SimpleObject, Clone, Debug)]
pub struct DerivativeLink {
    /// The pixel density (1×, 2×, …).
    pub dpr: i32,
    pub url: String,
}

/// Every density of a derivative, for `<img srcset>`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DerivativeSrcset {
    /// The URL of the lowest density (for `src`).
    pub src: String,
    /// `url 1x, url 2x`, ready for the `srcset` attribute.
    pub srcset: String,
    pub links: Vec<DerivativeLink>,
}

impl From<Vec<crate::delivery::DerivativeLink>> for DerivativeSrcset {
    fn from(links: Vec<crate::delivery::DerivativeLink>) -> Self {
        let srcset = links
            .iter()
            .map(|l| format!("{} {}x", l.url, l.dpr))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            src: links.first().map(|l| l.url.clone()).unwrap_or_default(),
            srcset,
            links: links
                .into_iter()
                .map(|l| DerivativeLink {
                    dpr: i32::from(l.dpr),
                    url: l.url,
                })
                .collect(),
        }
    }
}

/// A named size, crop and format of the images Vitrine delivers.
#[derive(SimpleObject, Clone, Debug)]
pub struct DerivativeProfile {
    pub id: ID,
    /// Lower-case letters, digits and hyphens (it appears in URLs).
    pub name: String,
    /// The box at 1× (CSS pixels).
    pub width: i32,
    pub height: i32,
    pub fit: Fit,
    /// Where a COVER crop centres.
    pub anchor: Anchor,
    pub format: Format,
    /// Encoder quality, 1–100.
    pub quality: i32,
    /// The pixel densities offered (1×, 2×, …).
    pub dprs: Vec<i32>,
    /// `#rrggbb`: CONTAIN's padding and what transparency is flattened on.
    pub background: String,
    /// Sharpened after downscaling.
    pub sharpen: bool,
    /// Whether a smaller original is enlarged to the box.
    pub upscale: bool,
    /// Made when a version is processed (otherwise on first request).
    pub eager: bool,
    /// Served without credentials at `/p/{name}/{asset}.{ext}` for
    /// published assets opted into public delivery (cached by CDNs).
    pub public: bool,
    pub audience: ProfileAudience,
    /// The partner organisations entitled to it (empty: all, for PARTNERS
    /// and VISITORS); null for anyone but members.
    pub partner_org_ids: Option<Vec<ID>>,
    /// Moves on with every change: derivatives of an older revision are
    /// superseded.
    pub revision: i32,
    pub updated_at: DateTime<Utc>,
}

impl DerivativeProfile {
    fn of(m: derivative_profile::Model, actor: &Actor) -> Self {
        let member = matches!(actor, Actor::Member { .. } | Actor::System);
        Self {
            id: ID(m.id.to_string()),
            dprs: m.dpr_list().into_iter().map(i32::from).collect(),
            partner_org_ids: member.then(|| {
                m.partner_orgs()
                    .into_iter()
                    .map(|id| ID(id.to_string()))
                    .collect()
            }),
            fit: Fit::parse(&m.fit).unwrap_or(Fit::Inside),
            anchor: Anchor::parse(&m.anchor).unwrap_or(Anchor::Center),
            format: Format::parse(&m.format).unwrap_or(Format::Jpeg),
            audience: derivatives::facts(&m).audience,
            name: m.name,
            width: m.width,
            height: m.height,
            quality: m.quality,
            background: m.background,
            sharpen: m.sharpen,
            upscale: m.upscale,
            eager: m.eager,
            public: m.public,
            revision: m.revision,
            updated_at: m.updated_at,
        }
    }
}

#[derive(InputObject, Debug)]
pub struct DerivativeProfileInput {
    pub name: String,
    pub width: i32,
    pub height: i32,
    #[graphql(default_with = "Fit::Inside")]
    pub fit: Fit,
    #[graphql(default_with = "Anchor::Center")]
    pub anchor: Anchor,
    #[graphql(default_with = "Format::Auto")]
    pub format: Format,
    #[graphql(default = 80)]
    pub quality: i32,
    #[graphql(default_with = "vec![1]")]
    pub dprs: Vec<i32>,
    #[graphql(default_with = "String::from(\"#ffffff\")")]
    pub background: String,
    #[graphql(default = true)]
    pub sharpen: bool,
    #[graphql(default)]
    pub upscale: bool,
    #[graphql(default)]
    pub eager: bool,
    /// Served publicly (`/p/`) for published assets opted in.
    #[graphql(default)]
    pub public: bool,
    #[graphql(default_with = "ProfileAudience::Members")]
    pub audience: ProfileAudience,
    #[graphql(default)]
    pub partner_org_ids: Vec<ID>,
}

impl DerivativeProfileInput {
    fn into_service(self) -> async_graphql::Result<ProfileInput> {
        Ok(ProfileInput {
            partner_org_ids: self
                .partner_org_ids
                .iter()
                .map(|id| parse_id(id, "partnerOrgIds"))
                .collect::<Result<_, _>>()?,
            name: self.name,
            width: self.width,
            height: self.height,
            fit: self.fit,
            anchor: self.anchor,
            format: self.format,
            quality: self.quality,
            dprs: self.dprs,
            background: self.background,
            sharpen: self.sharpen,
            upscale: self.upscale,
            eager: self.eager,
            public: self.public,
            audience: self.audience,
        })
    }
}

/// Where the subject of an asset is: fractions (0–1) of the upright
/// image's width and height from its top-left corner.
#[derive(SimpleObject, Clone, Debug)]
pub struct FocalPoint {
    pub x: f64,
    pub y: f64,
    pub set_at: DateTime<Utc>,
}

impl From<asset_focal_point::Model> for FocalPoint {
    fn from(m: asset_focal_point::Model) -> Self {
        Self {
            x: m.x,
            y: m.y,
            set_at: m.set_at,
        }
    }
}

/// `Asset.focalPoint` (the asset itself was decided visible), one query
/// for a whole page of assets.
pub async fn focal_point_of(
    ctx: &Context<'_>,
    asset_id: uuid::Uuid,
) -> async_graphql::Result<Option<FocalPoint>> {
    Ok(
        super::types::load(ctx, super::loaders::FocalPointOf(asset_id))
            .await?
            .map(Into::into),
    )
}

#[derive(Default)]
pub struct DerivativeQuery;

#[Object]
impl DerivativeQuery {
    /// The derivative profiles the asker may receive, by name (members: all).
    async fn derivative_profiles(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<DerivativeProfile>> {
        let actor = &auth(ctx)?.actor;
        Ok(derivatives::list_profiles(state(ctx)?, actor)
            .await?
            .into_iter()
            .map(|m| DerivativeProfile::of(m, actor))
            .collect())
    }

    /// One profile by name (NOT_FOUND when the asker may not receive it).
    async fn derivative_profile(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<DerivativeProfile> {
        let actor = &auth(ctx)?.actor;
        let m = derivatives::profile_for(state(ctx)?, actor, &name).await?;
        Ok(DerivativeProfile::of(m, actor))
    }
}

#[derive(Default)]
pub struct DerivativeMutation;

#[Object]
impl DerivativeMutation {
    /// Defines a derivative profile (administrators).
    async fn create_derivative_profile(
        &self,
        ctx: &Context<'_>,
        input: DerivativeProfileInput,
    ) -> async_graphql::Result<DerivativeProfile> {
        let input = input.into_service()?;
        let actor = &auth(ctx)?.actor;
        let m = derivatives::create_profile(state(ctx)?, actor, input, &meta(ctx)).await?;
        Ok(DerivativeProfile::of(m, actor))
    }

    /// Replaces a profile's settings (administrators); its revision moves on
    /// and derivatives made under the old settings are superseded.
    async fn update_derivative_profile(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: DerivativeProfileInput,
    ) -> async_graphql::Result<DerivativeProfile> {
        let id = parse_id(&id, "id")?;
        let input = input.into_service()?;
        let actor = &auth(ctx)?.actor;
        let m = derivatives::update_profile(state(ctx)?, actor, id, input, &meta(ctx)).await?;
        Ok(DerivativeProfile::of(m, actor))
    }

    /// Deletes a profile (administrators).
    async fn delete_derivative_profile(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<bool> {
        let id = parse_id(&id, "id")?;
        Ok(derivatives::delete_profile(state(ctx)?, &auth(ctx)?.actor, id, &meta(ctx)).await?)
    }

    /// Sets an asset's focal point (EDIT on the asset): fractions (0–1) of
    /// the upright image from its top-left corner. Both null clears it.
    async fn set_focal_point(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        x: Option<f64>,
        y: Option<f64>,
    ) -> async_graphql::Result<Option<FocalPoint>> {
        let asset_id = parse_id(&asset_id, "assetId")?;
        let point = match (x, y) {
            (Some(x), Some(y)) => Some((x, y)),
            (None, None) => None,
            _ => {
                return Err(crate::error::ApiError::BadUserInput(
                    "give both x and y, or neither to clear the focal point".into(),
                )
                .into());
            }
        };
        Ok(derivatives::set_focal_point(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            asset_id,
            point,
        )
        .await?
        .map(Into::into))
    }
}

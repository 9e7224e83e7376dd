//! GraphQL types of the asset library: folders, assets, versions.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, ID, InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::{access_grant, asset, asset_version, folder, user};
use vitrine_entity::{AccessMode, GrantLevel, ProcessingState, RenditionKind, Stage, SubjectKind};

use crate::delivery::DeliveryKind;
use vitrine_worker::tagging::Ownership;

use async_graphql::dataloader::DataLoader;

use super::loaders::{
    AssetLicenses, FolderId, Loaders, RenditionsOf, TagsOf, TakenDown, UserId, VersionId,
    VersionsOf,
};
use super::types::load;
use crate::error::ApiError;
use crate::services::assets::{self as asset_service, Order, OrderField, Page, PageRequest};
use crate::services::folders::display_path;

/// A member as others see it.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserSummary {
    pub id: ID,
    pub display_name: String,
    pub email: String,
}

impl From<user::Model> for UserSummary {
    fn from(m: user::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            display_name: m.display_name,
            email: m.email,
        }
    }
}

/// Who did something, for those who may see internal details (members);
/// null for partners and visitors.
pub(crate) async fn internal_user(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<UserSummary>> {
    if !internal(ctx)? {
        return Ok(None);
    }
    user_summary(ctx, id).await
}

fn internal(ctx: &Context<'_>) -> async_graphql::Result<bool> {
    Ok(vitrine_entity::policy::sees_internal_details(
        &super::auth(ctx)?.actor,
    ))
}

async fn user_summary(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<UserSummary>> {
    match id {
        Some(id) => Ok(load(ctx, UserId(id)).await?.map(UserSummary::from)),
        None => Ok(None),
    }
}

/// A folder of the library tree.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Folder {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A pre-launch collection: only administrators and explicitly granted
    /// subjects see it and anything below.
    pub restricted: bool,
    #[graphql(skip)]
    pub model: folder::Model,
}

impl From<folder::Model> for Folder {
    fn from(m: folder::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            restricted: m.restricted,
            model: m,
        }
    }
}

#[ComplexObject]
impl Folder {
    /// Whether versions uploaded here (or below) wait for a moderator; null
    /// for partners.
    async fn requires_moderation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        Ok(internal(ctx)?.then_some(self.model.requires_moderation))
    }

    /// The names from the top of what the caller sees down to this folder,
    /// e.g. `/Campaigns/SS27` (folders above a partner's grant, or a
    /// restricted folder the caller may not see, are left out).
    async fn path(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let ids: Vec<FolderId> = self.model.lineage().into_iter().map(FolderId).collect();
        let loader = ctx.data::<RequestLoader>()?;
        let found = loader
            .load_many(ids.iter().copied())
            .await
            .map_err(|e| ApiError::Internal(e.to_string().into()))?;
        let lineage: Vec<folder::Model> =
            ids.iter().filter_map(|id| found.get(id).cloned()).collect();
        let mut visible = Vec::new();
        for f in lineage.into_iter().rev() {
            if !super::sees_folder(ctx, Some(&f.ancestry)).await? {
                break;
            }
            visible.push(f);
        }
        visible.reverse();
        Ok(display_path(&visible))
    }

    /// The parent folder; null at the root, and where the caller may not see it.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Folder>> {
        let Some(id) = self.model.parent_id else {
            return Ok(None);
        };
        let Some(parent) = load(ctx, FolderId(id)).await? else {
            return Ok(None);
        };
        Ok(super::sees_folder(ctx, Some(&parent.ancestry))
            .await?
            .then(|| Folder::from(parent)))
    }

    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.created_by).await
    }

    /// The grants given on this folder itself (MANAGE_ACCESS).
    #[graphql(complexity = "super::cost::list(super::cost::GRANTS, child_complexity)")]
    async fn grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AccessGrant>> {
        let state = super::state(ctx)?;
        let actor = &super::auth(ctx)?.actor;
        Ok(
            crate::services::access::grants_on(state, actor, self.model.id)
                .await?
                .into_iter()
                .map(AccessGrant::from)
                .collect(),
        )
    }
}

/// A grant on a folder, inherited by everything below it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct AccessGrant {
    pub id: ID,
    pub subject_kind: SubjectKind,
    /// The user's or the partner organisation's id.
    pub subject_id: ID,
    pub level: GrantLevel,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub model: access_grant::Model,
}

impl From<access_grant::Model> for AccessGrant {
    fn from(m: access_grant::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            subject_kind: m.subject_kind,
            subject_id: ID(m.subject_id.to_string()),
            level: m.level,
            created_at: m.created_at,
            model: m,
        }
    }
}

#[ComplexObject]
impl AccessGrant {
    async fn granted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.granted_by).await
    }
}

/// One version of an asset's image.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct AssetVersion {
    pub id: ID,
    /// 1, 2, 3… per asset.
    pub number: i32,
    pub stage: Stage,
    /// SHA-256 of the original's bytes (hex).
    pub sha256: String,
    pub bytes: i64,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
    pub created_at: DateTime<Utc>,
    /// When a FINAL version was approved; null until then.
    pub approved_at: Option<DateTime<Utc>>,
    /// For a restore: the number of the version it brought back.
    pub restored_from: Option<i32>,
    #[graphql(skip)]
    pub model: asset_version::Model,
}

impl From<asset_version::Model> for AssetVersion {
    fn from(m: asset_version::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            number: m.number,
            stage: m.stage,
            sha256: m.blob_sha256.clone(),
            bytes: m.bytes,
            media_type: m.media_type.clone(),
            width: m.width,
            height: m.height,
            created_at: m.created_at,
            approved_at: m.approved_at,
            restored_from: m.restored_from,
            model: m,
        }
    }
}

/// What authorized a version when it was approved: the license state and
/// the licenses attached at that moment, as they read then.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct VersionAuthorization {
    pub approved_at: DateTime<Utc>,
    pub license_state: vitrine_entity::license::LicenseState,
    #[graphql(complexity = "super::cost::list(super::cost::LICENSES, child_complexity)")]
    pub licenses: Vec<LicenseRecord>,
    #[graphql(skip)]
    pub approved_by_id: Option<uuid::Uuid>,
}

#[ComplexObject]
impl VersionAuthorization {
    async fn approved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.approved_by_id).await
    }
}

/// A license as it read at a moment in the past.
#[derive(SimpleObject, Clone, Debug)]
pub struct LicenseRecord {
    pub id: ID,
    pub name: String,
    pub licensor: String,
    pub reference: Option<String>,
    pub channels: Vec<vitrine_entity::license::Channel>,
    pub territories: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<vitrine_entity::license::Authorization> for VersionAuthorization {
    fn from(a: vitrine_entity::license::Authorization) -> Self {
        Self {
            approved_at: a.approved_at,
            license_state: a.license_state,
            approved_by_id: a.approved_by,
            licenses: a
                .licenses
                .into_iter()
                .map(|l| LicenseRecord {
                    id: ID(l.id.to_string()),
                    name: l.name,
                    licensor: l.licensor,
                    reference: l.reference,
                    channels: l.channels,
                    territories: l.territories,
                    starts_at: l.starts_at,
                    ends_at: l.ends_at,
                })
                .collect(),
        }
    }
}

/// A derived image of a version.
#[derive(SimpleObject, Clone, Debug)]
pub struct Rendition {
    pub kind: RenditionKind,
    /// READY once made; otherwise the version's processing state.
    pub state: ProcessingState,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub bytes: Option<i64>,
}

/// Where processing of a version stands.
#[derive(SimpleObject, Clone, Debug)]
pub struct VersionProcessing {
    pub state: ProcessingState,
    /// Why it failed (or, while retrying, the last transient error);
    /// members only (null for partners).
    pub error: Option<String>,
    pub attempts: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// A GPS position (administrators only).
#[derive(SimpleObject, Clone, Debug)]
pub struct GpsPosition {
    pub latitude: f64,
    pub longitude: f64,
}

/// Whether the caller is a member (partners learn nothing of private
/// metadata or of internals).
fn is_member(ctx: &Context<'_>) -> Result<bool, crate::error::ApiError> {
    Ok(matches!(
        super::auth(ctx)?.actor,
        vitrine_entity::policy::Actor::Member { .. }
    ))
}

/// What the file says about itself (from its EXIF).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct VersionMetadata {
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    /// As recorded by the camera, with its offset when known.
    pub captured_at: Option<String>,
    /// EXIF orientation (1–8), applied to every rendition.
    pub orientation: i32,
    /// Whether the original carries a GPS position (never delivered); null
    /// for partners, who learn nothing of private metadata.
    pub has_gps: Option<bool>,
    /// Whether the original carries camera or lens serial numbers (never
    /// delivered); null for partners.
    pub has_serial_numbers: Option<bool>,
    #[graphql(skip)]
    pub gps_position: Option<(f64, f64)>,
}

#[ComplexObject]
impl VersionMetadata {
    /// The GPS position; null unless the caller is an administrator.
    async fn gps(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<GpsPosition>> {
        let state = super::state(ctx)?;
        let actor = &super::auth(ctx)?.actor;
        let admin = crate::services::authorize_instance(
            state,
            actor,
            vitrine_entity::policy::Action::Admin,
        )
        .is_ok();
        Ok(self
            .gps_position
            .filter(|_| admin)
            .map(|(latitude, longitude)| GpsPosition {
                latitude,
                longitude,
            }))
    }
}

#[ComplexObject]
impl AssetVersion {
    /// Where it stands with moderation; null for partners and visitors (who
    /// only ever see what needs none or was approved).
    async fn moderation(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::moderation::VersionModeration>> {
        Ok(internal(ctx)?.then(|| (&self.model).into()))
    }

    /// THUMBNAIL, PREVIEW and LOWRES, each READY once made.
    #[graphql(complexity = "super::cost::list(super::cost::RENDITIONS, child_complexity)")]
    async fn renditions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Rendition>> {
        let made = load(ctx, RenditionsOf(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(RenditionKind::ALL
            .iter()
            .map(|kind| match made.iter().find(|r| r.kind == *kind) {
                Some(r) => Rendition {
                    kind: *kind,
                    state: ProcessingState::Ready,
                    width: Some(r.width),
                    height: Some(r.height),
                    bytes: Some(r.bytes),
                },
                None => Rendition {
                    kind: *kind,
                    state: match self.model.processing_state {
                        ProcessingState::Ready => ProcessingState::Pending,
                        other => other,
                    },
                    width: None,
                    height: None,
                    bytes: None,
                },
            })
            .collect())
    }

    async fn processing(&self, ctx: &Context<'_>) -> async_graphql::Result<VersionProcessing> {
        // Failure reasons name storage and decoder internals: members only.
        let member = is_member(ctx)?;
        Ok(VersionProcessing {
            state: self.model.processing_state,
            error: self.model.processing_error.clone().filter(|_| member),
            attempts: self.model.processing_attempts,
            started_at: self.model.processing_started_at,
            processed_at: self.model.processed_at,
        })
    }

    /// Null until the version is processed.
    async fn metadata(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VersionMetadata>> {
        let member = is_member(ctx)?;
        let Some(m) =
            self.model.metadata.as_deref().and_then(|m| {
                serde_json::from_str::<vitrine_worker::render::ImageMetadata>(m).ok()
            })
        else {
            return Ok(None);
        };
        Ok(Some(VersionMetadata {
            camera_make: m.camera_make,
            camera_model: m.camera_model,
            lens: m.lens,
            captured_at: m.captured_at,
            orientation: i32::from(m.orientation),
            has_gps: Some(m.has_gps).filter(|_| member),
            has_serial_numbers: Some(m.has_serial_numbers).filter(|_| member),
            gps_position: self.model.gps_latitude.zip(self.model.gps_longitude),
        }))
    }

    /// 64-bit difference hash of the image (hex), for duplicate and leak lookup.
    async fn perceptual_hash(&self) -> Option<String> {
        self.model.perceptual_hash.clone()
    }

    /// What authorized it when it was approved (members only): the license
    /// state and the licenses attached then. Null until approved (and for
    /// versions approved before this was recorded).
    async fn authorization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<VersionAuthorization>> {
        if !internal(ctx)? {
            return Ok(None);
        }
        Ok(self
            .model
            .authorization
            .as_deref()
            .and_then(|a| serde_json::from_str::<vitrine_entity::license::Authorization>(a).ok())
            .map(Into::into))
    }

    /// The uploaded file's name (members only).
    async fn filename(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .model
            .filename
            .clone()
            .filter(|_| internal(ctx).unwrap_or(false)))
    }

    /// The uploader's note (members only).
    async fn note(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .model
            .note
            .clone()
            .filter(|_| internal(ctx).unwrap_or(false)))
    }

    async fn uploaded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.uploaded_by).await
    }

    async fn approved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.approved_by).await
    }
}

/// A tag and where it came from.
#[derive(SimpleObject, Clone, Debug)]
pub struct AssetTag {
    pub name: String,
    pub source: vitrine_entity::TagSource,
}

/// A product image with its version history.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Asset {
    pub id: ID,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the asset is in the trash.
    pub deleted_at: Option<DateTime<Utc>>,
    /// PUBLIC assets may leave the organisation (partners, share links)
    /// inside their window; RESTRICTED ones never do.
    pub access_mode: AccessMode,
    /// Embargo: before this instant only members see the asset.
    pub access_starts_at: Option<DateTime<Utc>>,
    /// After this instant the asset is RESTRICTED again.
    pub access_ends_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub model: asset::Model,
}

impl From<asset::Model> for Asset {
    fn from(m: asset::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            title: m.title.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
            access_mode: m.access_mode,
            access_starts_at: m.access_starts_at,
            access_ends_at: m.access_ends_at,
            model: m,
        }
    }
}

impl Asset {
    /// The asset's policy facts for a delivery URL declaring `channel` and
    /// `territory` (licensing included), and that declared use.
    async fn delivery_facts(
        &self,
        ctx: &Context<'_>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<(
        vitrine_entity::policy::AssetFacts,
        vitrine_entity::license::Usage,
    )> {
        let usage = vitrine_entity::license::Usage {
            channel,
            territory: territory
                .map(|t| {
                    vitrine_entity::license::normalize_territory(&t).ok_or_else(|| {
                        crate::error::ApiError::BadUserInput(format!(
                            "territory {t:?} is not an ISO 3166-1 alpha-2 code or WORLD"
                        ))
                    })
                })
                .transpose()?,
        };
        let state = super::state(ctx)?;
        let auth = super::auth(ctx)?;
        let map = super::access_map(ctx).await?;
        let ancestry = match self.model.folder_id {
            Some(id) => load(ctx, FolderId(id)).await?.map(|f| f.ancestry),
            None => None,
        };
        let mut facts = map.asset_facts(ancestry.as_deref(), &self.model);
        crate::services::access::add_licensing(
            &state.db,
            &auth.actor,
            &mut facts,
            self.model.id,
            state.config.license_unlicensed_deliverable,
            usage.clone(),
        )
        .await?;
        Ok((facts, usage))
    }
}

#[ComplexObject]
impl Asset {
    /// Whether it is opted into public delivery (`/p/`), its slug, public
    /// URLs and why they answer 404 now (members only; null for others).
    async fn public_delivery(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::public_delivery::PublicDelivery>> {
        super::public_delivery::of_asset(ctx, &self.model).await
    }

    /// Where the subject is (COVER crops anchored at the focal point keep
    /// it); null when none is set.
    async fn focal_point(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::derivatives::FocalPoint>> {
        super::derivatives::focal_point_of(ctx, self.model.id).await
    }

    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(load(ctx, TagsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }

    /// The tags with where each came from (typed by a person, or added by
    /// the worker from the file, its colours or the upload preset's rules).
    async fn tag_details(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AssetTag>> {
        Ok(load(ctx, TagsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|(name, source)| AssetTag { name, source })
            .collect())
    }

    /// Free text describing the asset (searchable).
    async fn description(&self) -> &str {
        &self.model.description
    }

    /// The folder it is filed in; null at the root.
    async fn folder(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Folder>> {
        match self.model.folder_id {
            Some(id) => Ok(load(ctx, FolderId(id)).await?.map(Folder::from)),
            None => Ok(None),
        }
    }

    /// The latest version.
    async fn current_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AssetVersion>> {
        match self.model.current_version_id {
            Some(id) => Ok(load(ctx, VersionId(id)).await?.map(AssetVersion::from)),
            None => Ok(None),
        }
    }

    /// Every version, oldest first.
    #[graphql(complexity = "super::cost::list(super::cost::VERSIONS, child_complexity)")]
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AssetVersion>> {
        Ok(load(ctx, VersionsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(AssetVersion::from)
            .collect())
    }

    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.created_by).await
    }

    async fn deleted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.deleted_by).await
    }

    /// A signed URL for the current version's rendition or original, valid
    /// for `ttlSeconds` (default and maximum set by the server; rounded up to
    /// the minute) and only for the caller. Every request to it asks the
    /// access policy again. THUMBNAIL and PREVIEW need VIEW_PREVIEW, LOWRES
    /// DOWNLOAD_LOWRES, ORIGINAL DOWNLOAD_ORIGINAL (served stamped with the
    /// ownership statement). With a `channel` and/or a `territory` (the use
    /// the URL is for: a marketplace feed is MARKETPLACE), every request
    /// also needs a license in force covering that use, for members too.
    #[graphql(complexity = 2)]
    async fn url(
        &self,
        ctx: &Context<'_>,
        kind: DeliveryKind,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<String> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        Ok(crate::delivery::issue(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            kind,
            None,
            ttl_seconds,
            &usage,
        )?)
    }

    /// A signed URL for the current version made by a derivative profile
    /// (by name) at pixel density `dpr` (default 1, one the profile
    /// offers), in `format` (default: the profile's; AUTO answers each
    /// request with the best format its `Accept` header names, AVIF, then
    /// WebP, else JPEG). Needs VIEW_PREVIEW on the asset and the profile's
    /// entitlement (a profile the caller is not entitled to is NOT_FOUND);
    /// both are asked again at every request. The URL stops working (410)
    /// when the profile changes or a new version becomes current.
    #[graphql(complexity = 2)]
    #[allow(clippy::too_many_arguments)]
    async fn derivative_url(
        &self,
        ctx: &Context<'_>,
        profile: String,
        format: Option<crate::services::derivatives::Format>,
        #[graphql(default = 1)] dpr: i32,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<String> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        let links = crate::delivery::issue_derivative(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            &profile,
            format,
            Some(dpr),
            ttl_seconds,
            &usage,
        )
        .await?;
        Ok(links.into_iter().next().map(|l| l.url).unwrap_or_default())
    }

    /// Every pixel density a derivative profile offers, as signed URLs and
    /// as a ready `srcset` attribute (`url 1x, url 2x`); see `derivativeUrl`.
    #[graphql(complexity = 4)]
    async fn derivative_srcset(
        &self,
        ctx: &Context<'_>,
        profile: String,
        format: Option<crate::services::derivatives::Format>,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<super::derivatives::DerivativeSrcset> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        let links = crate::delivery::issue_derivative(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            &profile,
            format,
            None,
            ttl_seconds,
            &usage,
        )
        .await?;
        Ok(super::derivatives::DerivativeSrcset::from(links))
    }

    /// The ownership statement written into this asset's files (its
    /// override over the organisation's profile).
    async fn ownership(&self, ctx: &Context<'_>) -> async_graphql::Result<OwnershipProfile> {
        let state = super::state(ctx)?;
        Ok(crate::services::ownership::effective(state, self.model.id)
            .await?
            .into())
    }

    /// The licenses attached to it (members only; others get an empty list).
    #[graphql(complexity = "super::cost::list(super::cost::LICENSES, child_complexity)")]
    async fn licenses(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::licenses::License>> {
        if !internal(ctx)? {
            return Ok(Vec::new());
        }
        let mut list = load(ctx, AssetLicenses(self.model.id))
            .await?
            .unwrap_or_default();
        list.sort_by_key(|l| (l.ends_at, l.id));
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// When the takedown sweep found it left without a license in force;
    /// null if never, or licensed again since. (Delivery stops at the
    /// license's end whether or not the sweep has run.)
    async fn taken_down_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        load(ctx, TakenDown(self.model.id)).await
    }

    /// Its usage over the UTC days `from`..=`to` (default: from the start
    /// of records to today), live to the last few seconds. Needs VIEW_STATS;
    /// a partner sees only its own organisation's usage.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> async_graphql::Result<super::usage::AssetUsage> {
        let state = super::state(ctx)?;
        let to = to.unwrap_or_else(|| state.clock.now().date_naive());
        let from = from.unwrap_or_else(|| to - chrono::Duration::days(3650));
        let usage = ctx
            .data::<DataLoader<super::usage::UsageLoader>>()?
            .load_one(super::usage::UsageOf {
                asset_id: self.model.id,
                from,
                to,
            })
            .await?;
        Ok(usage.unwrap_or_else(|| super::usage::AssetUsage::from_rows(Vec::new())))
    }

    /// Its license state now, from every license attached to it.
    async fn license_state(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<vitrine_entity::license::LicenseState> {
        let state = super::state(ctx)?;
        let licenses = load(ctx, AssetLicenses(self.model.id))
            .await?
            .unwrap_or_default();
        let terms: Vec<_> = licenses.iter().map(|l| l.terms()).collect();
        Ok(vitrine_entity::license::state(
            &terms,
            state.clock.now(),
            crate::services::licenses::notice(state),
        ))
    }

    /// This asset's own override, if it has one.
    async fn ownership_override(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OwnershipProfile>> {
        if !internal(ctx)? {
            return Ok(None);
        }
        let state = super::state(ctx)?;
        Ok(
            crate::services::ownership::asset_override(state, self.model.id)
                .await?
                .map(Into::into),
        )
    }
}

/// The ownership statement stamped into every delivered file (EXIF, IPTC, XMP).
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct OwnershipProfile {
    pub copyright: Option<String>,
    pub creator: Option<String>,
    pub credit: Option<String>,
    pub source: Option<String>,
    pub usage_terms: Option<String>,
    pub web_statement: Option<String>,
}

impl From<Ownership> for OwnershipProfile {
    fn from(o: Ownership) -> Self {
        Self {
            copyright: o.copyright,
            creator: o.creator,
            credit: o.credit,
            source: o.source,
            usage_terms: o.usage_terms,
            web_statement: o.web_statement,
        }
    }
}

/// Ownership fields; an empty or absent field is unset.
#[derive(InputObject, Debug, Default)]
pub struct OwnershipInput {
    /// EXIF Copyright, IPTC 2:116, XMP dc:rights.
    pub copyright: Option<String>,
    /// EXIF Artist, IPTC 2:80 By-line, XMP dc:creator.
    pub creator: Option<String>,
    /// IPTC 2:110, XMP photoshop:Credit.
    pub credit: Option<String>,
    /// IPTC 2:115, XMP photoshop:Source.
    pub source: Option<String>,
    /// XMP xmpRights:UsageTerms.
    pub usage_terms: Option<String>,
    /// XMP xmpRights:WebStatement (an http(s) URL).
    pub web_statement: Option<String>,
}

impl From<OwnershipInput> for Ownership {
    fn from(i: OwnershipInput) -> Self {
        Ownership {
            copyright: i.copyright,
            creator: i.creator,
            credit: i.credit,
            source: i.source,
            usage_terms: i.usage_terms,
            web_statement: i.web_statement,
        }
    }
}

/// The per-request loader (cached for a request; not across the events of a
/// subscription, which must see the data as it is at each event).
pub type RequestLoader = DataLoader<Loaders, super::loaders::RequestCache>;

fn loader_error(e: std::sync::Arc<sea_orm::DbErr>) -> async_graphql::Error {
    ApiError::Internal(e.to_string().into()).into()
}

/// Loads, in one query per kind, everything the selection under
/// `edges.node` will ask of a page of assets, so that resolving the page
/// costs the same number of statements whatever its size. (Leaving it to the
/// field resolvers would batch too, but a batch can split when resolving a
/// long list yields midway.)
pub async fn prefetch(ctx: &Context<'_>, assets: &[asset::Model]) -> async_graphql::Result<()> {
    if assets.is_empty() {
        return Ok(());
    }
    let loader = ctx.data::<RequestLoader>()?;
    let wants = |path: &[&str]| {
        let mut l = ctx.look_ahead().field("edges").field("node");
        for p in path {
            l = l.field(p);
        }
        l.exists()
    };
    let tags = async {
        if wants(&["tags"]) {
            loader
                .load_many(assets.iter().map(|a| TagsOf(a.id)))
                .await
                .map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let current = async {
        if wants(&["currentVersion"]) {
            let found = loader
                .load_many(
                    assets
                        .iter()
                        .filter_map(|a| a.current_version_id)
                        .map(VersionId),
                )
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let all_versions = async {
        if wants(&["versions"]) {
            let found = loader
                .load_many(assets.iter().map(|a| VersionsOf(a.id)))
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().flatten().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let folders = async {
        if wants(&["folder"]) {
            let found = loader
                .load_many(assets.iter().filter_map(|a| a.folder_id).map(FolderId))
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let ((), current, all_versions, folders) =
        futures_util::try_join!(tags, current, all_versions, folders)?;

    let ancestors = async {
        if wants(&["folder", "path"]) || wants(&["folder", "parent"]) {
            let ids: Vec<FolderId> = folders
                .iter()
                .flat_map(|f| f.lineage())
                .map(FolderId)
                .collect();
            loader.load_many(ids).await.map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let users = async {
        let mut ids = Vec::new();
        if wants(&["createdBy"]) {
            ids.extend(assets.iter().filter_map(|a| a.created_by));
        }
        if wants(&["deletedBy"]) {
            ids.extend(assets.iter().filter_map(|a| a.deleted_by));
        }
        for (field, versions) in [("currentVersion", &current), ("versions", &all_versions)] {
            if wants(&[field, "uploadedBy"]) {
                ids.extend(versions.iter().filter_map(|v| v.uploaded_by));
            }
            if wants(&[field, "approvedBy"]) {
                ids.extend(versions.iter().filter_map(|v| v.approved_by));
            }
        }
        if !ids.is_empty() {
            loader
                .load_many(ids.into_iter().map(UserId))
                .await
                .map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let renditions = async {
        let mut ids = Vec::new();
        for (field, versions) in [("currentVersion", &current), ("versions", &all_versions)] {
            if wants(&[field, "renditions"]) {
                ids.extend(versions.iter().map(|v| RenditionsOf(v.id)));
            }
        }
        if !ids.is_empty() {
            loader.load_many(ids).await.map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    futures_util::try_join!(ancestors, users, renditions)?;
    Ok(())
}

/// Extra fields of asset connections.
#[derive(SimpleObject, Debug)]
pub struct AssetConnectionFields {
    /// How many assets match, across all pages (counted only when asked for).
    pub total_count: u64,
}

/// Where a client is in a connection: `first`/`after` forwards, or
/// `last`/`before` backwards (Relay cursor connections).
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// The page the client asks for; `totalCount` is computed only if selected.
pub fn page_request<'a>(
    ctx: &Context<'_>,
    paging: &'a Paging,
) -> async_graphql::Result<PageRequest<'a>> {
    let backwards = match (
        paging.first.is_some() || paging.after.is_some(),
        paging.last.is_some() || paging.before.is_some(),
    ) {
        (true, true) => {
            return Err(crate::error::ApiError::BadUserInput(
                "page forwards (first, after) or backwards (last, before), not both".into(),
            )
            .into());
        }
        (_, backwards) => backwards,
    };
    let size = if backwards { paging.last } else { paging.first };
    Ok(PageRequest {
        after: paging.after.as_deref(),
        before: paging.before.as_deref(),
        backwards,
        limit: super::page_size(size).map_err(|_| {
            crate::error::ApiError::BadUserInput("first and last must be between 1 and 200".into())
        })?,
        with_total: ctx.look_ahead().field("totalCount").exists(),
    })
}

pub type AssetConnection =
    Connection<String, Asset, AssetConnectionFields, async_graphql::connection::EmptyFields>;

pub fn asset_connection(page: Page, order: Order) -> AssetConnection {
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        AssetConnectionFields {
            total_count: page.total.unwrap_or_default(),
        },
    );
    connection.edges.extend(page.rows.into_iter().map(|row| {
        let cursor = asset_service::encode_cursor(order, &row);
        Edge::new(cursor, Asset::from(row))
    }));
    connection
}

/// Who a grant is for.
#[derive(InputObject, Debug, Clone)]
pub struct GrantSubjectInput {
    pub kind: SubjectKind,
    /// A user id or a partner organisation id.
    pub id: ID,
}

#[derive(InputObject, Debug)]
pub struct SetAccessInput {
    /// 1 to 500 assets; all are changed or none.
    pub asset_ids: Vec<ID>,
    pub mode: AccessMode,
    /// Null: no embargo.
    pub starts_at: Option<DateTime<Utc>>,
    /// Null: no end.
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(InputObject, Debug)]
pub struct CreateFolderInput {
    /// Null creates a root folder.
    pub parent_id: Option<ID>,
    pub name: String,
}

#[derive(InputObject, Debug, Default)]
pub struct UploadAssetInput {
    /// An upload preset; without one, the default preset applies (if any).
    pub preset_id: Option<ID>,
    /// Null files the asset at the root (or in the preset's folder).
    pub folder_id: Option<ID>,
    /// Defaults to the file name without its extension.
    pub title: Option<String>,
    /// Free text (searchable), at most 5000 characters.
    pub description: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Defaults to RAW.
    pub stage: Option<Stage>,
    pub note: Option<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UploadVersionInput {
    /// Defaults to RAW.
    pub stage: Option<Stage>,
    pub note: Option<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct UpdateAssetInput {
    pub title: Option<String>,
    /// Free text (searchable), at most 5000 characters; empty clears it.
    pub description: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// A folder id, or null to move the asset to the root; absent leaves it.
    pub folder_id: MaybeUndefined<ID>,
}

pub use super::filters::AssetFilter;

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetOrderField {
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderDirection {
    Asc,
    Desc,
}

#[derive(InputObject, Debug, Clone, Copy)]
pub struct AssetOrder {
    pub field: AssetOrderField,
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl From<Option<AssetOrder>> for Order {
    fn from(o: Option<AssetOrder>) -> Self {
        match o {
            None => Order::default(),
            Some(o) => Order {
                field: match o.field {
                    AssetOrderField::CreatedAt => OrderField::CreatedAt,
                    AssetOrderField::UpdatedAt => OrderField::UpdatedAt,
                    AssetOrderField::Title => OrderField::Title,
                },
                descending: o.direction == OrderDirection::Desc,
            },
        }
    }
}

//! GraphQL types of an asset's versions: renditions, processing, metadata,
//! license authorization.

use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::asset_version;
use vitrine_entity::{ProcessingState, RenditionKind, Stage};

use super::loaders::RenditionsOf;
use super::types::load;

use super::asset_types::{UserSummary, internal, internal_user};

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

//! The asset filter input, shared by `assets`, `search` and smart folders.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};
use vitrine_entity::license::Channel;
use vitrine_entity::{ModerationState, Stage, TagSource};

use super::parse_id;
use crate::services::asset_filter::{self as service, Orientation};
use vitrine_entity::license::LicenseState;

/// "May be used for this channel in this territory at this instant."
#[derive(InputObject, Debug, Clone, Default)]
pub struct UsableForInput {
    pub channel: Option<Channel>,
    /// ISO 3166-1 alpha-2 (DE, FR, …) or WORLD.
    pub territory: Option<String>,
    /// Defaults to now (a saved search keeps following time).
    pub at: Option<DateTime<Utc>>,
}

/// Perceptually similar to another asset's current version.
#[derive(InputObject, Debug, Clone)]
pub struct SimilarToInput {
    pub asset_id: ID,
    /// Most differing bits of the 64-bit perceptual hash (0–16, default 8).
    #[graphql(default = 8)]
    pub max_distance: u32,
}

#[derive(InputObject, Debug, Default, Clone)]
pub struct AssetFilter {
    pub folder_id: Option<ID>,
    /// With `folderId`: include every subfolder.
    #[graphql(default)]
    pub recursive: bool,
    /// Assets with every one of these tags.
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Assets with at least one of these tags.
    #[graphql(default)]
    pub tags_any: Vec<String>,
    /// With `tags`/`tagsAny`, count only tags from these sources; alone,
    /// assets with any tag from them.
    #[graphql(default)]
    pub tag_sources: Vec<TagSource>,
    /// The current version's stage.
    pub stage: Option<Stage>,
    /// The current version's moderation state (any of these).
    #[graphql(default)]
    pub moderation_states: Vec<ModerationState>,
    /// Appears in the title or a tag (case-insensitive substring). For
    /// ranked word search use `search(query:)`.
    pub text: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// When the photo was taken (EXIF), from.
    pub captured_after: Option<DateTime<Utc>>,
    pub captured_before: Option<DateTime<Utc>>,
    pub orientation: Option<Orientation>,
    pub min_width: Option<i32>,
    pub min_height: Option<i32>,
    pub min_megapixels: Option<f64>,
    pub max_megapixels: Option<f64>,
    /// The camera model as EXIF records it (see the `cameraModels` facet).
    pub camera_model: Option<String>,
    pub license_state: Option<LicenseState>,
    /// Licensed for this use (or usable unlicensed, where allowed).
    pub usable_for: Option<UsableForInput>,
    /// Whether the original carries a GPS position (administrators only).
    pub has_gps: Option<bool>,
    pub similar_to: Option<SimilarToInput>,
}

impl AssetFilter {
    pub fn to_service(&self) -> async_graphql::Result<service::AssetFilter> {
        Ok(service::AssetFilter {
            folder_id: self
                .folder_id
                .as_ref()
                .map(|id| parse_id(id, "folderId"))
                .transpose()?,
            recursive: self.recursive,
            tags: self.tags.clone(),
            tags_any: self.tags_any.clone(),
            tag_sources: self.tag_sources.clone(),
            stage: self.stage,
            moderation_states: self.moderation_states.clone(),
            text: self.text.clone(),
            created_after: self.created_after,
            created_before: self.created_before,
            captured_after: self.captured_after,
            captured_before: self.captured_before,
            orientation: self.orientation,
            min_width: self.min_width,
            min_height: self.min_height,
            min_megapixels: self.min_megapixels,
            max_megapixels: self.max_megapixels,
            camera_model: self.camera_model.clone(),
            license_state: self.license_state,
            usable_for: self.usable_for.as_ref().map(|u| service::UsableFor {
                channel: u.channel,
                territory: u.territory.clone(),
                at: u.at,
            }),
            has_gps: self.has_gps,
            similar_to: self
                .similar_to
                .as_ref()
                .map(|s| {
                    Ok::<_, async_graphql::Error>(service::SimilarTo {
                        asset_id: parse_id(&s.asset_id, "similarTo.assetId")?,
                        max_distance: s.max_distance,
                    })
                })
                .transpose()?,
        })
    }
}

//! Upload presets in the GraphQL API.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::AccessMode;
use vitrine_entity::entities::upload_preset;
use vitrine_entity::moderation_rules::RuleSet;
use vitrine_worker::tagging::Ownership;

use super::asset_types::{OwnershipInput, OwnershipProfile};

use super::{auth, meta, parse_id, state};
use crate::services::presets::{self, PresetInput, PresetModeration};

/// How a batch of uploads is filed and handled.
#[derive(SimpleObject, Clone, Debug)]
pub struct UploadPreset {
    pub id: ID,
    pub name: String,
    /// Where uploads go when they name no folder.
    pub folder_id: Option<ID>,
    pub access_mode: AccessMode,
    pub access_starts_at: Option<DateTime<Utc>>,
    pub access_ends_at: Option<DateTime<Utc>>,
    pub moderation: PresetModeration,
    pub tags: Vec<String>,
    pub license_ids: Vec<ID>,
    /// A regular expression over the file name; each named capture becomes a
    /// tag `name:value` (one named `tag` the bare value).
    pub filename_pattern: Option<String>,
    /// Applied to uploads that name no preset.
    pub is_default: bool,
    /// The automatic rules' thresholds (the organisation's defaults where
    /// the preset sets none).
    pub rules: ModerationRules,
    /// The ownership override every upload gets (null: the organisation's
    /// statement).
    pub ownership: Option<OwnershipProfile>,
    pub updated_at: DateTime<Utc>,
}

/// Thresholds of the automatic moderation rules; a null one is off.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModerationRules {
    /// Smallest width and height (pixels, upright).
    pub min_width: Option<u32>,
    pub min_height: Option<u32>,
    pub min_megapixels: Option<f64>,
    /// Bounds of width / height.
    pub min_aspect_ratio: Option<f64>,
    pub max_aspect_ratio: Option<f64>,
    /// Media types allowed (empty: all that uploads accept).
    pub formats: Vec<String>,
    /// Smallest variance of the Laplacian of the preview-sized luma.
    pub min_sharpness: Option<f64>,
    /// Largest share (0–1) of pixels clipped to black, or to white.
    pub max_clipped: Option<f64>,
    /// Largest perceptual-hash distance (of 64 bits) counted as a
    /// near-duplicate of a live asset or of the blocklist.
    pub duplicate_distance: Option<u32>,
    /// The original must carry a copyright or creator field.
    pub require_ownership_metadata: bool,
    /// Warn (never decide) when the original names another copyright holder.
    pub warn_third_party_copyright: bool,
}

impl From<RuleSet> for ModerationRules {
    fn from(r: RuleSet) -> Self {
        Self {
            min_width: r.min_width,
            min_height: r.min_height,
            min_megapixels: r.min_megapixels,
            min_aspect_ratio: r.min_aspect_ratio,
            max_aspect_ratio: r.max_aspect_ratio,
            formats: r.formats,
            min_sharpness: r.min_sharpness,
            max_clipped: r.max_clipped,
            duplicate_distance: r.duplicate_distance,
            require_ownership_metadata: r.require_ownership_metadata,
            warn_third_party_copyright: r.warn_third_party_copyright,
        }
    }
}

/// Rule thresholds: a field left out keeps the organisation's default, an
/// explicit null turns the rule off.
#[derive(InputObject, Debug, Default)]
pub struct ModerationRulesInput {
    pub min_width: MaybeUndefined<u32>,
    pub min_height: MaybeUndefined<u32>,
    pub min_megapixels: MaybeUndefined<f64>,
    pub min_aspect_ratio: MaybeUndefined<f64>,
    pub max_aspect_ratio: MaybeUndefined<f64>,
    pub formats: Option<Vec<String>>,
    pub min_sharpness: MaybeUndefined<f64>,
    pub max_clipped: MaybeUndefined<f64>,
    pub duplicate_distance: MaybeUndefined<u32>,
    pub require_ownership_metadata: Option<bool>,
    pub warn_third_party_copyright: Option<bool>,
}

fn merge<T>(value: MaybeUndefined<T>, default: Option<T>) -> Option<T> {
    match value {
        MaybeUndefined::Undefined => default,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(v) => Some(v),
    }
}

impl From<ModerationRulesInput> for RuleSet {
    fn from(i: ModerationRulesInput) -> Self {
        let d = RuleSet::default();
        RuleSet {
            min_width: merge(i.min_width, d.min_width),
            min_height: merge(i.min_height, d.min_height),
            min_megapixels: merge(i.min_megapixels, d.min_megapixels),
            min_aspect_ratio: merge(i.min_aspect_ratio, d.min_aspect_ratio),
            max_aspect_ratio: merge(i.max_aspect_ratio, d.max_aspect_ratio),
            formats: i.formats.unwrap_or(d.formats),
            min_sharpness: merge(i.min_sharpness, d.min_sharpness),
            max_clipped: merge(i.max_clipped, d.max_clipped),
            duplicate_distance: merge(i.duplicate_distance, d.duplicate_distance),
            require_ownership_metadata: i
                .require_ownership_metadata
                .unwrap_or(d.require_ownership_metadata),
            warn_third_party_copyright: i
                .warn_third_party_copyright
                .unwrap_or(d.warn_third_party_copyright),
        }
    }
}

impl From<upload_preset::Model> for UploadPreset {
    fn from(m: upload_preset::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            folder_id: m.folder_id.map(|id| ID(id.to_string())),
            access_mode: m.access_mode,
            access_starts_at: m.access_starts_at,
            access_ends_at: m.access_ends_at,
            moderation: PresetModeration::parse(&m.moderation),
            tags: m.tag_list(),
            license_ids: m
                .license_list()
                .into_iter()
                .map(|id| ID(id.to_string()))
                .collect(),
            filename_pattern: m.filename_pattern.clone(),
            is_default: m.is_default,
            rules: m.rule_set().into(),
            ownership: m
                .ownership
                .as_deref()
                .and_then(|o| serde_json::from_str::<Ownership>(o).ok())
                .map(Into::into),
            updated_at: m.updated_at,
        }
    }
}

#[derive(InputObject, Debug)]
pub struct UploadPresetInput {
    pub name: String,
    pub folder_id: Option<ID>,
    #[graphql(default_with = "AccessMode::Restricted")]
    pub access_mode: AccessMode,
    pub access_starts_at: Option<DateTime<Utc>>,
    pub access_ends_at: Option<DateTime<Utc>>,
    #[graphql(default_with = "PresetModeration::Folder")]
    pub moderation: PresetModeration,
    #[graphql(default)]
    pub tags: Vec<String>,
    #[graphql(default)]
    pub license_ids: Vec<ID>,
    pub filename_pattern: Option<String>,
    #[graphql(default)]
    pub is_default: bool,
    /// Rule thresholds (left out: the organisation's defaults).
    pub rules: Option<ModerationRulesInput>,
    /// An ownership override for every upload made with the preset.
    pub ownership: Option<OwnershipInput>,
}

impl UploadPresetInput {
    fn into_service(self) -> async_graphql::Result<PresetInput> {
        Ok(PresetInput {
            name: self.name,
            folder_id: self
                .folder_id
                .as_ref()
                .map(|id| parse_id(id, "folderId"))
                .transpose()?,
            access_mode: self.access_mode,
            starts_at: self.access_starts_at,
            ends_at: self.access_ends_at,
            moderation: self.moderation,
            tags: self.tags,
            license_ids: self
                .license_ids
                .iter()
                .map(|id| parse_id(id, "licenseIds"))
                .collect::<Result<_, _>>()?,
            filename_pattern: self.filename_pattern.filter(|p| !p.trim().is_empty()),
            is_default: self.is_default,
            rules: self.rules.map(Into::into),
            ownership: self.ownership.map(Into::into),
        })
    }
}

#[derive(Default)]
pub struct PresetQuery;

#[Object]
impl PresetQuery {
    /// Every upload preset, by name (anyone who may upload).
    async fn upload_presets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UploadPreset>> {
        Ok(presets::list(state(ctx)?, &auth(ctx)?.actor)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct PresetMutation;

#[Object]
impl PresetMutation {
    /// Creates an upload preset (ADMIN and MANAGER).
    async fn create_upload_preset(
        &self,
        ctx: &Context<'_>,
        input: UploadPresetInput,
    ) -> async_graphql::Result<UploadPreset> {
        let input = input.into_service()?;
        Ok(
            presets::create(state(ctx)?, &auth(ctx)?.actor, input, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Replaces a preset's settings; uploads already made keep theirs.
    async fn update_upload_preset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UploadPresetInput,
    ) -> async_graphql::Result<UploadPreset> {
        let id = parse_id(&id, "id")?;
        let input = input.into_service()?;
        Ok(
            presets::update(state(ctx)?, &auth(ctx)?.actor, id, input, &meta(ctx))
                .await?
                .into(),
        )
    }

    async fn delete_upload_preset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let id = parse_id(&id, "id")?;
        Ok(presets::delete(state(ctx)?, &auth(ctx)?.actor, id, &meta(ctx)).await?)
    }
}

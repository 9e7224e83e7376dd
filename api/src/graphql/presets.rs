//! Upload presets in the GraphQL API.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::AccessMode;
use vitrine_entity::entities::upload_preset;

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
    pub updated_at: DateTime<Utc>,
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

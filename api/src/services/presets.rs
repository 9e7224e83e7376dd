//! Upload presets (ADMIN and MANAGER): where a batch of uploads goes and how
//! it is handled. An upload naming a preset (or, naming none, the default
//! preset) gets, in its own transaction: the preset's folder when it names
//! none, its access mode and publication window, its tags and the tags its
//! filename rule captures, its licenses, and its moderation. All or nothing:
//! a license that no longer exists fails the upload and leaves no asset.

use chrono::{DateTime, Utc};
use regex::Regex;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, asset_license, asset_version, folder, license, ownership_profile, upload_preset,
};
use vitrine_entity::moderation_rules::{ModerationMode, RuleSet};
use vitrine_entity::policy::{Action, Actor};
use vitrine_entity::{AccessMode, AuditAction, ModerationState};
use vitrine_worker::tagging::Ownership;

use crate::error::{ApiError, ApiResult};
use crate::services::{Tx, authorize_instance, begin, event, is_unique_violation};
use crate::state::{AppState, RequestMeta};

/// How a preset moderates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum PresetModeration {
    /// As the target folder requires (queued for a person when it does).
    Folder,
    /// Always queued for a moderator (who sees the rules' results).
    Manual,
    /// Approved when every rule passes, rejected otherwise.
    Automatic,
    /// Approved when every rule passes, queued for a moderator otherwise.
    AutomaticThenManual,
}

impl PresetModeration {
    fn as_str(self) -> &'static str {
        match self.mode() {
            Some(mode) => mode.as_str(),
            None => "FOLDER",
        }
    }

    /// The moderation mode it imposes (none: the folder decides).
    pub fn mode(self) -> Option<ModerationMode> {
        match self {
            PresetModeration::Folder => None,
            PresetModeration::Manual => Some(ModerationMode::Manual),
            PresetModeration::Automatic => Some(ModerationMode::Automatic),
            PresetModeration::AutomaticThenManual => Some(ModerationMode::AutomaticThenManual),
        }
    }

    pub fn parse(s: &str) -> Self {
        match ModerationMode::parse(s) {
            Some(ModerationMode::Manual) => PresetModeration::Manual,
            Some(ModerationMode::Automatic) => PresetModeration::Automatic,
            Some(ModerationMode::AutomaticThenManual) => PresetModeration::AutomaticThenManual,
            None => PresetModeration::Folder,
        }
    }
}

/// How an upload is moderated, fixed when it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadModeration {
    pub state: ModerationState,
    pub preset_id: Option<Uuid>,
    /// For a PENDING version: how the rules' results are used…
    pub mode: Option<ModerationMode>,
    /// …and their thresholds (a snapshot of the preset's).
    pub rules: Option<RuleSet>,
}

impl UploadModeration {
    /// A state with no rules (a restore keeping its source's decision).
    pub fn plain(state: ModerationState) -> Self {
        Self {
            state,
            preset_id: None,
            mode: None,
            rules: None,
        }
    }
}

/// A preset as given by its author.
#[derive(Debug, Clone)]
pub struct PresetInput {
    pub name: String,
    pub folder_id: Option<Uuid>,
    pub access_mode: AccessMode,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub moderation: PresetModeration,
    pub tags: Vec<String>,
    pub license_ids: Vec<Uuid>,
    pub filename_pattern: Option<String>,
    pub is_default: bool,
    /// Rule thresholds; the organisation's defaults when `None`.
    pub rules: Option<RuleSet>,
    /// An ownership override for every upload.
    pub ownership: Option<Ownership>,
}

/// Compiles a filename rule: it must have at least one named capture.
pub fn compile(pattern: &str) -> ApiResult<Regex> {
    let re = vitrine_worker::autotag::compile_pattern(pattern)
        .map_err(|e| ApiError::BadUserInput(format!("filenamePattern: {e}")))?;
    if re.capture_names().flatten().next().is_none() {
        return Err(ApiError::BadUserInput(
            "filenamePattern needs a named capture, e.g. (?P<sku>[A-Z]+-\\d+)".into(),
        ));
    }
    Ok(re)
}

/// A preset's input once checked, in the form it is stored.
struct Checked {
    name: String,
    tags: Vec<String>,
    /// The normalized ownership override (JSON); none when it sets nothing.
    ownership: Option<String>,
}

async fn validate<C: ConnectionTrait>(conn: &C, input: &PresetInput) -> ApiResult<Checked> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadUserInput(
            "name must be 1 to 200 characters".into(),
        ));
    }
    if let (Some(s), Some(e)) = (input.starts_at, input.ends_at)
        && s >= e
    {
        return Err(ApiError::BadUserInput(
            "startsAt must be before endsAt".into(),
        ));
    }
    if let Some(folder_id) = input.folder_id
        && folder::Entity::find_by_id(folder_id)
            .one(conn)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("no such folder".into()));
    }
    for id in &input.license_ids {
        if license::Entity::find_by_id(*id).one(conn).await?.is_none() {
            return Err(ApiError::NotFound(format!("no such license {id}")));
        }
    }
    if let Some(p) = &input.filename_pattern {
        compile(p)?;
    }
    if let Some(rules) = &input.rules {
        rules.validate().map_err(ApiError::BadUserInput)?;
    }
    let ownership = match &input.ownership {
        Some(o) => Some(crate::services::ownership::normalize(o.clone())?)
            .filter(|o| *o != Ownership::default())
            .and_then(|o| serde_json::to_string(&o).ok()),
        None => None,
    };
    let tags = crate::services::assets::normalize_tags(&input.tags)?;
    Ok(Checked {
        name,
        tags,
        ownership,
    })
}

fn fill(
    active: &mut upload_preset::ActiveModel,
    input: &PresetInput,
    checked: Checked,
    now: DateTime<Utc>,
) {
    active.name = Set(checked.name);
    active.folder_id = Set(input.folder_id);
    active.access_mode = Set(input.access_mode);
    active.access_starts_at = Set(input.starts_at);
    active.access_ends_at = Set(input.ends_at);
    active.moderation = Set(input.moderation.as_str().into());
    active.tags = Set(checked.tags.join(","));
    active.license_ids = Set(input
        .license_ids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(","));
    active.filename_pattern = Set(input.filename_pattern.clone());
    active.is_default = Set(input.is_default);
    active.rules = Set(input
        .rules
        .as_ref()
        .and_then(|r| serde_json::to_string(r).ok()));
    active.ownership = Set(checked.ownership);
    active.updated_at = Set(now);
}

async fn clear_default(tx: &Tx<'_>, except: Uuid) -> ApiResult<()> {
    upload_preset::Entity::update_many()
        .col_expr(
            upload_preset::Column::IsDefault,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(upload_preset::Column::Id.ne(except))
        .exec(tx.conn())
        .await?;
    Ok(())
}

fn conflict(e: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::Conflict("a preset with this name exists".into())
    } else {
        e.into()
    }
}

/// Creates a preset.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: PresetInput,
    meta: &RequestMeta,
) -> ApiResult<upload_preset::Model> {
    authorize_instance(state, actor, Action::ManageAccess)?;
    let mut tx = begin(state).await?;
    let checked = validate(tx.conn(), &input).await?;
    let now = tx.now();
    let id = Uuid::now_v7();
    let mut active = upload_preset::ActiveModel {
        id: Set(id),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        ..Default::default()
    };
    fill(&mut active, &input, checked, now);
    let preset = active.insert(tx.conn()).await.map_err(conflict)?;
    if preset.is_default {
        clear_default(&tx, id).await?;
    }
    tx.audit(
        event(AuditAction::UploadPresetChanged, actor, meta)
            .target("upload_preset", id)
            .details(json!({ "created": preset.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(preset)
}

/// Replaces a preset's settings (later uploads only).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    input: PresetInput,
    meta: &RequestMeta,
) -> ApiResult<upload_preset::Model> {
    authorize_instance(state, actor, Action::ManageAccess)?;
    let mut tx = begin(state).await?;
    let found = upload_preset::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such preset".into()))?;
    let checked = validate(tx.conn(), &input).await?;
    let now = tx.now();
    let mut active: upload_preset::ActiveModel = found.into();
    fill(&mut active, &input, checked, now);
    let preset = active.update(tx.conn()).await.map_err(conflict)?;
    if preset.is_default {
        clear_default(&tx, id).await?;
    }
    tx.audit(
        event(AuditAction::UploadPresetChanged, actor, meta)
            .target("upload_preset", id)
            .details(json!({ "updated": preset.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(preset)
}

/// Deletes a preset (uploads made with it keep what it gave them).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<bool> {
    authorize_instance(state, actor, Action::ManageAccess)?;
    let mut tx = begin(state).await?;
    let deleted = upload_preset::Entity::delete_by_id(id)
        .exec(tx.conn())
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::NotFound("no such preset".into()));
    }
    tx.audit(
        event(AuditAction::UploadPresetChanged, actor, meta)
            .target("upload_preset", id)
            .details(json!({ "deleted": true })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Every preset, by name (anyone who may upload: they choose one).
pub async fn list(state: &AppState, actor: &Actor) -> ApiResult<Vec<upload_preset::Model>> {
    authorize_instance(state, actor, Action::Upload)?;
    Ok(upload_preset::Entity::find()
        .order_by_asc(upload_preset::Column::Name)
        .all(&state.db)
        .await?)
}

/// The preset an upload uses: the one it names (which must exist), or the
/// default one, or none.
pub async fn for_upload<C: ConnectionTrait>(
    conn: &C,
    named: Option<Uuid>,
) -> ApiResult<Option<upload_preset::Model>> {
    match named {
        Some(id) => Ok(Some(
            upload_preset::Entity::find_by_id(id)
                .one(conn)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such preset".into()))?,
        )),
        None => Ok(upload_preset::Entity::find()
            .filter(upload_preset::Column::IsDefault.eq(true))
            .one(conn)
            .await?),
    }
}

/// The preset an asset's current version came through, if it still exists.
pub async fn of_current_version<C: ConnectionTrait>(
    conn: &C,
    asset: &asset::Model,
) -> ApiResult<Option<upload_preset::Model>> {
    let Some(current) = asset.current_version_id else {
        return Ok(None);
    };
    let Some(preset_id) = asset_version::Entity::find_by_id(current)
        .one(conn)
        .await?
        .and_then(|v| v.preset_id)
    else {
        return Ok(None);
    };
    Ok(upload_preset::Entity::find_by_id(preset_id)
        .one(conn)
        .await?)
}

/// How an upload into `folder_id` through `preset` is moderated: the
/// preset's mode when it sets one, else as the folder requires (a person
/// decides); the preset's rule thresholds (or the organisation's defaults)
/// are evaluated whenever the version waits.
pub async fn moderation_for<C: ConnectionTrait>(
    conn: &C,
    preset: Option<&upload_preset::Model>,
    folder_id: Option<Uuid>,
) -> ApiResult<UploadModeration> {
    let mode = match preset.and_then(|p| PresetModeration::parse(&p.moderation).mode()) {
        Some(mode) => Some(mode),
        None => match crate::services::moderation::state_for_upload(conn, folder_id).await? {
            ModerationState::Pending => Some(ModerationMode::Manual),
            _ => None,
        },
    };
    Ok(UploadModeration {
        state: if mode.is_some() {
            ModerationState::Pending
        } else {
            ModerationState::NotRequired
        },
        preset_id: preset.map(|p| p.id),
        mode,
        rules: mode.map(|_| {
            preset
                .map(upload_preset::Model::rule_set)
                .unwrap_or_default()
        }),
    })
}

/// Gives a new asset the preset's ownership override, inside the upload's
/// transaction.
pub async fn apply_ownership(
    tx: &Tx<'_>,
    preset: &upload_preset::Model,
    asset_id: Uuid,
    by: Option<Uuid>,
) -> ApiResult<()> {
    let Some(o) = preset
        .ownership
        .as_deref()
        .and_then(|o| serde_json::from_str::<Ownership>(o).ok())
    else {
        return Ok(());
    };
    ownership_profile::ActiveModel {
        id: Set(Uuid::now_v7()),
        asset_id: Set(Some(asset_id)),
        copyright: Set(o.copyright),
        creator: Set(o.creator),
        credit: Set(o.credit),
        source: Set(o.source),
        usage_terms: Set(o.usage_terms),
        web_statement: Set(o.web_statement),
        updated_by: Set(by),
        updated_at: Set(tx.now()),
    }
    .insert(tx.conn())
    .await?;
    Ok(())
}

/// Attaches the preset's licenses to a new asset, inside the upload's
/// transaction; a license that is gone fails it.
pub async fn attach_licenses(
    tx: &Tx<'_>,
    preset: &upload_preset::Model,
    asset_id: Uuid,
    by: Option<Uuid>,
) -> ApiResult<()> {
    for license_id in preset.license_list() {
        if license::Entity::find_by_id(license_id)
            .one(tx.conn())
            .await?
            .is_none()
        {
            return Err(ApiError::Conflict(format!(
                "the preset's license {license_id} no longer exists: nothing was uploaded"
            )));
        }
        asset_license::ActiveModel {
            license_id: Set(license_id),
            asset_id: Set(asset_id),
            attached_by: Set(by),
            attached_at: Set(tx.now()),
        }
        .insert(tx.conn())
        .await?;
    }
    Ok(())
}

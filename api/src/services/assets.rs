//! Assets and their versions: upload, history, approval, restore, edits,
//! trash and purge, and the listing.

use std::path::Path;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, asset_tag, asset_tag_suppression, asset_takedown, asset_version,
};
use vitrine_entity::policy::{Action, Actor, Resource, authorize};
use vitrine_entity::{AuditAction, ModerationState, ProcessingState, Stage, TagSource};
use vitrine_worker::blobs::{self, BlobInfo};
use vitrine_worker::media::{self, MediaError};
use vitrine_worker::storage::original_key;

use crate::error::{ApiError, ApiResult};
use crate::services::access;
use crate::services::folders::authorize_folder;
use crate::services::{Tx, begin, event};
use crate::state::{AppState, RequestMeta};

/// A file received with a request, ready to be checked and stored.
#[derive(Debug, Clone, Copy)]
pub struct IncomingFile<'a> {
    pub path: &'a Path,
    pub sha256: &'a str,
    pub size: u64,
    /// The client's name for it (untrusted).
    pub filename: Option<&'a str>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAsset {
    /// An upload preset (or, when none is named, the default one if any).
    pub preset_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub stage: Option<Stage>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AssetPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` moves the asset to the root.
    pub folder_id: Option<Option<Uuid>>,
}

const MAX_TAGS: usize = 50;

fn not_found() -> ApiError {
    ApiError::NotFound("no such asset".into())
}

/// Tags: trimmed, lower-case, 1–64 characters, no control characters; sorted, deduplicated.
pub fn normalize_tags(raw: &[String]) -> ApiResult<Vec<String>> {
    let mut tags = Vec::new();
    for t in raw {
        let tag = t.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_control) {
            return Err(ApiError::BadUserInput(format!(
                "tag {t:?} must have 1 to 64 characters and no control characters"
            )));
        }
        tags.push(tag);
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(ApiError::BadUserInput(format!(
            "at most {MAX_TAGS} tags per asset"
        )));
    }
    Ok(tags)
}

fn normalize_title(raw: &str) -> ApiResult<String> {
    let title = raw.trim();
    if title.is_empty() || title.chars().count() > 300 || title.chars().any(char::is_control) {
        return Err(ApiError::BadUserInput(
            "a title has 1 to 300 characters and no control characters".into(),
        ));
    }
    Ok(title.to_owned())
}

/// A description: trimmed, at most 5000 characters (empty clears it).
fn normalize_description(raw: &str) -> ApiResult<String> {
    let d = raw.trim();
    if d.chars().count() > 5000 || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::BadUserInput(
            "a description has at most 5000 characters and no control characters but line breaks"
                .into(),
        ));
    }
    Ok(d.to_owned())
}

fn normalize_note(raw: Option<String>) -> ApiResult<Option<String>> {
    match raw.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > 2000 => Err(ApiError::BadUserInput(
            "a note has at most 2000 characters".into(),
        )),
        other => Ok(other),
    }
}

/// The last path component of a client-supplied file name, without control
/// characters, at most 255 bytes.
pub fn sanitize_filename(raw: Option<&str>) -> Option<String> {
    let name = raw?.rsplit(['/', '\\']).next()?;
    let mut clean: String = name.chars().filter(|c| !c.is_control()).collect();
    while clean.len() > 255 {
        clean.pop();
    }
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

fn title_from_filename(filename: Option<&str>) -> String {
    sanitize_filename(filename)
        .map(|f| match f.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
            _ => f,
        })
        .and_then(|t| normalize_title(&t).ok())
        .unwrap_or_else(|| "Untitled".into())
}

/// Asks the policy about `asset` (with its facts read through `conn`); what
/// the actor may not know exists is NOT_FOUND.
pub(crate) async fn authorize_asset<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    action: Action,
    asset: &asset::Model,
) -> ApiResult<()> {
    let now = state.clock.now();
    let facts = Resource::Asset(
        access::asset_facts(
            state,
            conn,
            actor,
            asset,
            now,
            state.config.license_unlicensed_deliverable,
            Default::default(),
        )
        .await?,
    );
    // Whoever may not see it learns nothing else about it.
    authorize(actor, Action::ViewMetadata, &facts, now)
        .map_err(|d| access::denied(d, not_found))?;
    authorize(actor, action, &facts, now).map_err(|d| access::denied(d, not_found))
}

/// Moving something between places with different restrictions changes who
/// sees it: that needs MANAGE_ACCESS on both sides.
pub(crate) async fn authorize_move<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    from: Option<Uuid>,
    to: Option<Uuid>,
) -> ApiResult<()> {
    let map = access::load_map(conn, actor).await?;
    let from = access::folder_ancestry(conn, from).await?;
    let to = access::folder_ancestry(conn, to).await?;
    let boundary = |a: &Option<String>| {
        a.as_deref()
            .and_then(|a| map.boundary(a))
            .map(str::to_owned)
    };
    if boundary(&from) == boundary(&to) {
        return Ok(());
    }
    let now = state.clock.now();
    for side in [&from, &to] {
        let facts = Resource::Folder(map.folder_facts(side.as_deref()));
        authorize(actor, Action::ManageAccess, &facts, now)
            .map_err(|d| access::denied(d, || ApiError::NotFound("no such folder".into())))?;
    }
    Ok(())
}

async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> ApiResult<asset::Model> {
    asset::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

/// Locks an asset row for the rest of the transaction on PostgreSQL (on
/// SQLite the transaction already holds the write lock), so concurrent
/// uploads to one asset number their versions one after the other.
async fn find_for_update<C: ConnectionTrait>(conn: &C, id: Uuid) -> ApiResult<asset::Model> {
    let mut query = asset::Entity::find_by_id(id);
    if conn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.ok_or_else(not_found)
}

/// Records a refused upload (committed on its own) and returns the client error.
async fn reject(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    file: IncomingFile<'_>,
    asset_id: Option<Uuid>,
    reason: &str,
    message: String,
) -> ApiError {
    let mut e = event(AuditAction::UploadRejected, actor, meta).details(json!({
        "reason": reason,
        "message": message,
        "filename": sanitize_filename(file.filename),
        "bytes": file.size,
        "sha256": file.sha256,
    }));
    if let Some(id) = asset_id {
        e = e.target("asset", id);
    }
    let recorded = async {
        let mut tx = begin(state).await?;
        tx.audit(e).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = recorded {
        return err.into();
    }
    ApiError::BadUserInput(message)
}

/// Checks a received file (type, size, dimensions, full decode) and stores
/// its bytes. A refused file leaves nothing but its audit event.
async fn ingest(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    file: IncomingFile<'_>,
    asset_id: Option<Uuid>,
) -> ApiResult<BlobInfo> {
    let limits = &state.config.limits;
    if file.size == 0 {
        return Err(reject(
            state,
            actor,
            meta,
            file,
            asset_id,
            "empty",
            "the file is empty".into(),
        )
        .await);
    }
    if file.size > limits.max_upload_bytes {
        let message = format!(
            "the file exceeds the limit of {} bytes",
            limits.max_upload_bytes
        );
        let error = reject(state, actor, meta, file, asset_id, "too large", message).await;
        return Err(match error {
            ApiError::BadUserInput(m) => ApiError::PayloadTooLarge(m),
            other => other,
        });
    }
    let media_limits = media::Limits {
        max_pixels: limits.max_image_pixels,
        max_decode_bytes: limits.max_decode_bytes,
    };
    let inspected = check_image(state, file.path, media_limits).await?;
    let inspected = match inspected {
        Ok(i) => i,
        Err(MediaError::Io(e)) => return Err(ApiError::Internal(e.into())),
        Err(e) => {
            return Err(reject(
                state,
                actor,
                meta,
                file,
                asset_id,
                e.reason(),
                e.to_string(),
            )
            .await);
        }
    };
    let info = BlobInfo {
        sha256: file.sha256.to_owned(),
        bytes: i64::try_from(file.size).map_err(ApiError::internal)?,
        media_type: inspected.format.media_type().to_owned(),
        width: i32::try_from(inspected.width).map_err(ApiError::internal)?,
        height: i32::try_from(inspected.height).map_err(ApiError::internal)?,
    };
    let key = original_key(file.sha256);
    let stored = async {
        if !state.store.exists(&key).await? {
            state
                .store
                .put_file(&key, file.path, file.sha256, file.size)
                .await?;
        }
        Ok::<_, vitrine_worker::storage::StorageError>(())
    }
    .await;
    stored.map_err(ApiError::internal)?;
    Ok(info)
}

/// Checks an upload: its header first, then — holding what the complete
/// decode will take from the process's image memory budget, waiting for it
/// if other uploads or jobs hold it — the whole file.
async fn check_image(
    state: &AppState,
    path: &std::path::Path,
    limits: media::Limits,
) -> ApiResult<Result<media::Inspected, MediaError>> {
    let at = path.to_path_buf();
    let probed = tokio::task::spawn_blocking(move || media::probe(&at, limits))
        .await
        .map_err(ApiError::internal)?;
    let probed = match probed {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let _memory = match state.budget.reserve(probed.decode_bytes).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(MediaError::TooLargeToDecode(e.to_string()))),
    };
    let at = path.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || media::validate(&at, &probed, limits))
        .await
        .map_err(ApiError::internal)?;
    Ok(checked.map(|()| media::Inspected {
        format: probed.format,
        width: probed.width,
        height: probed.height,
    }))
}

/// Enqueues the processing of a committed version. A lost enqueue is not an
/// error for the client: the version stays PENDING and the reconciler
/// enqueues it again.
async fn enqueue_processing(state: &AppState, version_id: Uuid) {
    if let Err(e) = state.queue.enqueue_process_version(version_id, None).await {
        tracing::warn!(%version_id, error = %e, "could not enqueue processing; the reconciler will");
    }
}

struct VersionSpec<'a> {
    asset_id: Uuid,
    number: i32,
    stage: Stage,
    info: &'a BlobInfo,
    filename: Option<String>,
    note: Option<String>,
    uploaded_by: Option<Uuid>,
    restored_from: Option<i32>,
    moderation: crate::services::presets::UploadModeration,
}

async fn insert_version(tx: &Tx<'_>, spec: VersionSpec<'_>) -> ApiResult<asset_version::Model> {
    Ok(asset_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        asset_id: Set(spec.asset_id),
        number: Set(spec.number),
        stage: Set(spec.stage),
        blob_sha256: Set(spec.info.sha256.clone()),
        bytes: Set(spec.info.bytes),
        media_type: Set(spec.info.media_type.clone()),
        width: Set(spec.info.width),
        height: Set(spec.info.height),
        filename: Set(spec.filename),
        note: Set(spec.note),
        uploaded_by: Set(spec.uploaded_by),
        created_at: Set(tx.now()),
        approved_by: Set(None),
        approved_at: Set(None),
        restored_from: Set(spec.restored_from),
        processing_state: Set(ProcessingState::Pending),
        processing_attempts: Set(0),
        moderation_state: Set(spec.moderation.state),
        preset_id: Set(spec.moderation.preset_id),
        moderation_mode: Set(spec.moderation.mode.map(|m| m.as_str().to_owned())),
        moderation_rules: Set(spec
            .moderation
            .rules
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok())),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?)
}

async fn next_number<C: ConnectionTrait>(conn: &C, asset_id: Uuid) -> ApiResult<i32> {
    let latest = asset_version::Entity::find()
        .filter(asset_version::Column::AssetId.eq(asset_id))
        .order_by_desc(asset_version::Column::Number)
        .one(conn)
        .await?;
    Ok(latest.map_or(1, |v| v.number + 1))
}

async fn make_current(
    tx: &Tx<'_>,
    asset: asset::Model,
    version: &asset_version::Model,
) -> ApiResult<asset::Model> {
    let mut active: asset::ActiveModel = asset.into();
    active.current_version_id = Set(Some(version.id));
    active.awaiting_moderation = Set(version.moderation_state.holds_back());
    active.updated_at = Set(tx.now());
    let updated = active.update(tx.conn()).await?;
    let current = vitrine_worker::search_index::Current::from_version(Some(version.clone()));
    vitrine_worker::autotag::retag_current(
        tx.conn(),
        &updated,
        &current,
        vitrine_worker::autotag::Rules::Current,
        tx.now(),
    )
    .await?;
    Ok(updated)
}

async fn write_tags<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
    tags: &[String],
) -> ApiResult<()> {
    asset_tag::Entity::delete_many()
        .filter(asset_tag::Column::AssetId.eq(asset_id))
        .exec(conn)
        .await?;
    if !tags.is_empty() {
        asset_tag::Entity::insert_many(tags.iter().map(|t| asset_tag::ActiveModel {
            asset_id: Set(asset_id),
            tag: Set(t.clone()),
            source: Set(TagSource::Manual),
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// Sets an asset's tags to `tags` as a person asked: tags they added become
/// MANUAL; automatic tags they removed are remembered (never added back by
/// processing or a retag run); automatic tags they kept stay automatic; a
/// removed automatic tag typed again is theirs (MANUAL) from then on.
async fn retag_by_hand(tx: &Tx<'_>, asset_id: Uuid, tags: &[String]) -> ApiResult<()> {
    let existing = asset_tag::Entity::find()
        .filter(asset_tag::Column::AssetId.eq(asset_id))
        .all(tx.conn())
        .await?;
    let removed: Vec<&asset_tag::Model> =
        existing.iter().filter(|t| !tags.contains(&t.tag)).collect();
    let suppress: Vec<asset_tag_suppression::ActiveModel> = removed
        .iter()
        .filter(|t| t.source.is_auto())
        .map(|t| asset_tag_suppression::ActiveModel {
            asset_id: Set(asset_id),
            tag: Set(t.tag.clone()),
            created_at: Set(tx.now()),
        })
        .collect();
    if !removed.is_empty() {
        asset_tag::Entity::delete_many()
            .filter(asset_tag::Column::AssetId.eq(asset_id))
            .filter(asset_tag::Column::Tag.is_in(removed.iter().map(|t| t.tag.clone())))
            .exec(tx.conn())
            .await?;
    }
    if !suppress.is_empty() {
        asset_tag_suppression::Entity::insert_many(suppress)
            .on_conflict_do_nothing()
            .exec_without_returning(tx.conn())
            .await?;
    }
    let added: Vec<String> = tags
        .iter()
        .filter(|t| !existing.iter().any(|e| e.tag == **t))
        .cloned()
        .collect();
    if !added.is_empty() {
        asset_tag_suppression::Entity::delete_many()
            .filter(asset_tag_suppression::Column::AssetId.eq(asset_id))
            .filter(asset_tag_suppression::Column::Tag.is_in(added.clone()))
            .exec(tx.conn())
            .await?;
        asset_tag::Entity::insert_many(added.into_iter().map(|t| asset_tag::ActiveModel {
            asset_id: Set(asset_id),
            tag: Set(t),
            source: Set(TagSource::Manual),
        }))
        .exec_without_returning(tx.conn())
        .await?;
    }
    Ok(())
}

/// Creates an asset from its first file.
pub async fn upload_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    file: IncomingFile<'_>,
    input: NewAsset,
) -> ApiResult<(asset::Model, asset_version::Model)> {
    let title = match input.title.as_deref() {
        Some(t) => normalize_title(t)?,
        None => title_from_filename(file.filename),
    };
    let preset = crate::services::presets::for_upload(&state.db, input.preset_id).await?;
    let folder_id = input
        .folder_id
        .or_else(|| preset.as_ref().and_then(|p| p.folder_id));
    // The preset's own tags and what its filename rule captures are added as
    // automatic (AUTO_RULE) tags when the version becomes current.
    let tags = normalize_tags(&input.tags)?;
    let description = normalize_description(input.description.as_deref().unwrap_or(""))?;
    let note = normalize_note(input.note)?;
    authorize_folder(state, &state.db, actor, Action::Upload, folder_id).await?;
    let info = ingest(state, actor, meta, file, None).await?;

    let mut tx = begin(state).await?;
    authorize_folder(state, tx.conn(), actor, Action::Upload, folder_id).await?;
    blobs::claim(tx.conn(), &state.store, &info, file.path, tx.now())
        .await
        .map_err(ApiError::internal)?;
    let now = tx.now();
    let asset_id = Uuid::now_v7();
    let created = asset::ActiveModel {
        id: Set(asset_id),
        folder_id: Set(folder_id),
        title: Set(title),
        description: Set(description),
        current_version_id: Set(None),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        deleted_by: Set(None),
        // Nothing leaves the organisation until someone publishes it (or
        // the preset it was uploaded with says so).
        access_mode: Set(preset
            .as_ref()
            .map_or(vitrine_entity::AccessMode::Restricted, |p| p.access_mode)),
        access_starts_at: Set(preset.as_ref().and_then(|p| p.access_starts_at)),
        access_ends_at: Set(preset.as_ref().and_then(|p| p.access_ends_at)),
        awaiting_moderation: Set(false),
    }
    .insert(tx.conn())
    .await?;
    write_tags(tx.conn(), asset_id, &tags).await?;
    if let Some(p) = &preset {
        crate::services::presets::attach_licenses(&tx, p, asset_id, actor.user_id()).await?;
        crate::services::presets::apply_ownership(&tx, p, asset_id, actor.user_id()).await?;
    }
    let moderation =
        crate::services::presets::moderation_for(tx.conn(), preset.as_ref(), folder_id).await?;
    let version = insert_version(
        &tx,
        VersionSpec {
            moderation,
            asset_id,
            number: 1,
            stage: input.stage.unwrap_or(Stage::Raw),
            info: &info,
            filename: sanitize_filename(file.filename),
            note,
            uploaded_by: actor.user_id(),
            restored_from: None,
        },
    )
    .await?;
    let asset = make_current(&tx, created, &version).await?;
    tx.audit(
        event(AuditAction::AssetCreated, actor, meta)
            .target("asset", asset_id)
            .details(json!({
                "title": asset.title, "folderId": asset.folder_id, "tags": tags,
                "preset": preset.as_ref().map(|p| json!({ "id": p.id, "name": p.name })),
                "accessMode": asset.access_mode,
                "licenses": preset.as_ref().map(|p| p.license_list()),
            })),
    )
    .await?;
    tx.audit(
        event(AuditAction::VersionUploaded, actor, meta)
            .target("asset", asset_id)
            .details(json!({
                "versionId": version.id,
                "number": version.number,
                "stage": version.stage,
                "sha256": version.blob_sha256,
                "bytes": version.bytes,
                "mediaType": version.media_type,
                "width": version.width,
                "height": version.height,
            })),
    )
    .await?;
    tx.commit().await?;
    enqueue_processing(state, version.id).await;
    Ok((asset, version))
}

/// Adds a version to an asset; it becomes the current one.
pub async fn upload_version(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
    file: IncomingFile<'_>,
    stage: Option<Stage>,
    note: Option<String>,
) -> ApiResult<asset_version::Model> {
    let asset = find(&state.db, asset_id).await?;
    authorize_asset(state, &state.db, actor, Action::Upload, &asset).await?;
    let note = normalize_note(note)?;
    let info = ingest(state, actor, meta, file, Some(asset_id)).await?;

    let mut tx = begin(state).await?;
    let asset = find_for_update(tx.conn(), asset_id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Upload, &asset).await?;
    blobs::claim(tx.conn(), &state.store, &info, file.path, tx.now())
        .await
        .map_err(ApiError::internal)?;
    let number = next_number(tx.conn(), asset_id).await?;
    // A new version is checked like the asset's first one: through the
    // preset its current version came with, while that preset exists.
    let preset = crate::services::presets::of_current_version(tx.conn(), &asset).await?;
    let moderation =
        crate::services::presets::moderation_for(tx.conn(), preset.as_ref(), asset.folder_id)
            .await?;
    let version = insert_version(
        &tx,
        VersionSpec {
            moderation,
            asset_id,
            number,
            stage: stage.unwrap_or(Stage::Raw),
            info: &info,
            filename: sanitize_filename(file.filename),
            note,
            uploaded_by: actor.user_id(),
            restored_from: None,
        },
    )
    .await?;
    make_current(&tx, asset, &version).await?;
    tx.audit(
        event(AuditAction::VersionUploaded, actor, meta)
            .target("asset", asset_id)
            .details(json!({
                "versionId": version.id,
                "number": version.number,
                "stage": version.stage,
                "sha256": version.blob_sha256,
                "bytes": version.bytes,
                "mediaType": version.media_type,
                "width": version.width,
                "height": version.height,
            })),
    )
    .await?;
    tx.commit().await?;
    enqueue_processing(state, version.id).await;
    Ok(version)
}

/// Records who approved a FINAL version, and when.
pub async fn approve_version(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    version_id: Uuid,
) -> ApiResult<asset_version::Model> {
    let mut tx = begin(state).await?;
    let version = asset_version::Entity::find_by_id(version_id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such version".into()))?;
    let asset = find(tx.conn(), version.asset_id).await?;
    authorize_asset(state, tx.conn(), actor, Action::ViewMetadata, &asset)
        .await
        .map_err(|_| ApiError::NotFound("no such version".into()))?;
    authorize_asset(state, tx.conn(), actor, Action::Moderate, &asset).await?;
    if version.stage != Stage::Final {
        return Err(ApiError::BadUserInput(format!(
            "only FINAL versions can be approved; version {} is {:?}",
            version.number, version.stage
        )));
    }
    if version.approved_at.is_some() {
        return Ok(version);
    }
    // What authorized it: the licenses attached now, as they read now.
    let now = tx.now();
    let mut licenses = crate::services::licenses::of_assets(tx.conn(), &[asset.id])
        .await?
        .remove(&asset.id)
        .unwrap_or_default();
    licenses.sort_by_key(|l| (l.ends_at, l.id));
    let terms: Vec<_> = licenses.iter().map(|l| l.terms()).collect();
    let authorization = vitrine_entity::license::Authorization {
        approved_by: actor.user_id(),
        approved_at: now,
        license_state: vitrine_entity::license::state(
            &terms,
            now,
            crate::services::licenses::notice(state),
        ),
        licenses: licenses
            .iter()
            .map(|l| vitrine_entity::license::LicenseSnapshot {
                id: l.id,
                name: l.name.clone(),
                licensor: l.licensor.clone(),
                reference: l.reference.clone(),
                channels: l.channel_set().into_iter().collect(),
                territories: l.territory_set().into_iter().collect(),
                starts_at: l.starts_at,
                ends_at: l.ends_at,
            })
            .collect(),
    };
    let mut active: asset_version::ActiveModel = version.into();
    active.approved_by = Set(actor.user_id());
    active.approved_at = Set(Some(now));
    active.authorization = Set(Some(
        serde_json::to_string(&authorization).map_err(ApiError::internal)?,
    ));
    let version = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::VersionApproved, actor, meta)
            .target("asset", asset.id)
            .details(json!({
                "versionId": version.id,
                "number": version.number,
                "licenseState": authorization.license_state,
                "licenseIds": authorization.licenses.iter().map(|l| l.id).collect::<Vec<_>>(),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Makes an earlier version current again by adding a new version that uses
/// its bytes. History is never rewritten.
pub async fn restore_version(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_id: Uuid,
    number: i32,
) -> ApiResult<asset_version::Model> {
    let mut tx = begin(state).await?;
    let asset = find_for_update(tx.conn(), asset_id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Edit, &asset).await?;
    let old = asset_version::Entity::find()
        .filter(asset_version::Column::AssetId.eq(asset_id))
        .filter(asset_version::Column::Number.eq(number))
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the asset has no version {number}")))?;
    if asset.current_version_id == Some(old.id) {
        return Err(ApiError::BadUserInput(format!(
            "version {number} is already the current version"
        )));
    }
    let info = BlobInfo {
        sha256: old.blob_sha256.clone(),
        bytes: old.bytes,
        media_type: old.media_type.clone(),
        width: old.width,
        height: old.height,
    };
    let next = next_number(tx.conn(), asset_id).await?;
    // The same bytes as `number`: a rejected image cannot come back through
    // a restore, an approved one needs no second look.
    let moderation = match old.moderation_state {
        ModerationState::Rejected | ModerationState::Approved => {
            crate::services::presets::UploadModeration::plain(old.moderation_state)
        }
        ModerationState::Pending | ModerationState::NotRequired => {
            crate::services::presets::moderation_for(tx.conn(), None, asset.folder_id).await?
        }
    };
    let version = insert_version(
        &tx,
        VersionSpec {
            moderation,
            asset_id,
            number: next,
            stage: old.stage,
            info: &info,
            filename: old.filename.clone(),
            note: Some(format!("restored from version {number}")),
            uploaded_by: actor.user_id(),
            restored_from: Some(number),
        },
    )
    .await?;
    make_current(&tx, asset, &version).await?;
    tx.audit(
        event(AuditAction::VersionRestored, actor, meta)
            .target("asset", asset_id)
            .details(json!({ "restoredFrom": number, "number": version.number, "versionId": version.id })),
    )
    .await?;
    tx.commit().await?;
    enqueue_processing(state, version.id).await;
    Ok(version)
}

/// Renames, retags or moves an asset (one audit event per kind of change).
pub async fn update_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    patch: AssetPatch,
) -> ApiResult<asset::Model> {
    let title = patch.title.as_deref().map(normalize_title).transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(normalize_description)
        .transpose()?;
    let tags = patch.tags.as_deref().map(normalize_tags).transpose()?;
    let mut tx = begin(state).await?;
    let current = find(tx.conn(), id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Edit, &current).await?;
    let mut active: asset::ActiveModel = current.clone().into();
    let mut events = Vec::new();
    if let Some(title) = title.filter(|t| *t != current.title) {
        events.push(
            event(AuditAction::AssetRenamed, actor, meta)
                .target("asset", id)
                .details(json!({ "from": current.title, "to": title })),
        );
        active.title = Set(title);
    }
    if let Some(description) = description.filter(|d| *d != current.description) {
        events.push(
            event(AuditAction::AssetDescribed, actor, meta)
                .target("asset", id)
                .details(json!({ "from": current.description, "to": description })),
        );
        active.description = Set(description);
    }
    if let Some(folder_id) = patch.folder_id.filter(|f| *f != current.folder_id) {
        authorize_folder(state, tx.conn(), actor, Action::Upload, folder_id).await?;
        authorize_move(state, tx.conn(), actor, current.folder_id, folder_id).await?;
        events.push(
            event(AuditAction::AssetMoved, actor, meta)
                .target("asset", id)
                .details(json!({ "fromFolderId": current.folder_id, "toFolderId": folder_id })),
        );
        active.folder_id = Set(folder_id);
    }
    if let Some(tags) = tags {
        let before: Vec<String> = asset_tag::Entity::find()
            .filter(asset_tag::Column::AssetId.eq(id))
            .order_by_asc(asset_tag::Column::Tag)
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|t| t.tag)
            .collect();
        if before != tags {
            retag_by_hand(&tx, id, &tags).await?;
            events.push(
                event(AuditAction::AssetRetagged, actor, meta)
                    .target("asset", id)
                    .details(json!({ "from": before, "to": tags })),
            );
        }
    }
    if events.is_empty() {
        return Ok(current);
    }
    active.updated_at = Set(tx.now());
    let updated = active.update(tx.conn()).await?;
    let current = vitrine_worker::search_index::Current::of(tx.conn(), &updated).await?;
    vitrine_worker::search_index::write(tx.conn(), &updated, &current, None, None, tx.now())
        .await?;
    for e in events {
        tx.audit(e).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Moves an asset to the trash (who, when). It disappears from everywhere but the trash.
pub async fn delete_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> ApiResult<asset::Model> {
    let mut tx = begin(state).await?;
    let current = find(tx.conn(), id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Delete, &current).await?;
    if current.deleted_at.is_some() {
        return Ok(current);
    }
    let mut active: asset::ActiveModel = current.into();
    active.deleted_at = Set(Some(tx.now()));
    active.deleted_by = Set(actor.user_id());
    let updated = active.update(tx.conn()).await?;
    tx.audit(event(AuditAction::AssetDeleted, actor, meta).target("asset", id))
        .await?;
    tx.commit().await?;
    Ok(updated)
}

/// Brings an asset back from the trash.
pub async fn restore_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> ApiResult<asset::Model> {
    let mut tx = begin(state).await?;
    let current = find(tx.conn(), id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Delete, &current).await?;
    if current.deleted_at.is_none() {
        return Ok(current);
    }
    let mut active: asset::ActiveModel = current.into();
    active.deleted_at = Set(None);
    active.deleted_by = Set(None);
    active.updated_at = Set(tx.now());
    let updated = active.update(tx.conn()).await?;
    tx.audit(event(AuditAction::AssetRestored, actor, meta).target("asset", id))
        .await?;
    tx.commit().await?;
    Ok(updated)
}

/// Removes a trashed asset for good: its rows, and the stored originals no
/// other version uses (deleted at once, under the blob-row lock).
pub async fn purge_asset(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> ApiResult<u64> {
    let mut tx = begin(state).await?;
    let current = find(tx.conn(), id).await?;
    authorize_asset(state, tx.conn(), actor, Action::Admin, &current).await?;
    if current.deleted_at.is_none() {
        return Err(ApiError::Conflict(
            "only assets in the trash can be purged; delete it first".into(),
        ));
    }
    let versions = asset_version::Entity::find()
        .filter(asset_version::Column::AssetId.eq(id))
        .all(tx.conn())
        .await?;
    let mut shas: Vec<String> = versions.iter().map(|v| v.blob_sha256.clone()).collect();
    shas.sort();
    shas.dedup();
    // No foreign key cascades to the takedown mark (see migration 9).
    asset_takedown::Entity::delete_by_id(id)
        .exec(tx.conn())
        .await?;
    asset::Entity::delete_by_id(id).exec(tx.conn()).await?;
    let purged_at = tx.now();
    tx.audit(
        event(AuditAction::AssetPurged, actor, meta)
            .target("asset", id)
            .details(json!({
                "title": current.title,
                "versions": versions.len(),
                "sha256": shas,
            })),
    )
    .await?;
    tx.commit().await?;
    // Originals no other version uses go now; an upload that claims one in
    // the meantime keeps it (it refreshed the claim after `purged_at`).
    let cutoff = purged_at + chrono::Duration::microseconds(1);
    let mut removed = 0;
    for sha in &shas {
        match blobs::collect(&state.db, &state.store, sha, cutoff).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "an original of a purged asset stays for the cleanup job")
            }
        }
    }
    // Its renditions and stamped originals go too (else the cleanup job).
    let version_ids: Vec<Uuid> = versions.iter().map(|v| v.id).collect();
    if let Err(e) = vitrine_worker::derived::remove_for_asset(&state.store, id, &version_ids).await
    {
        tracing::warn!(error = %e, "files derived from a purged asset stay for the cleanup job");
    }
    Ok(removed)
}

/// The perceptual hash of a processed version.
pub async fn version_hash<C: ConnectionTrait>(
    conn: &C,
    version_id: Uuid,
) -> ApiResult<Option<u64>> {
    Ok(asset_version::Entity::find_by_id(version_id)
        .one(conn)
        .await?
        .and_then(|v| v.perceptual_hash)
        .and_then(|h| u64::from_str_radix(&h, 16).ok()))
}

/// One live asset.
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<asset::Model> {
    let asset = find(&state.db, id).await?;
    authorize_asset(state, &state.db, actor, Action::ViewMetadata, &asset).await?;
    if asset.deleted_at.is_some() {
        return Err(not_found());
    }
    Ok(asset)
}

/// The versions of an asset, oldest first.
pub async fn versions<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
) -> ApiResult<Vec<asset_version::Model>> {
    Ok(asset_version::Entity::find()
        .filter(asset_version::Column::AssetId.eq(asset_id))
        .order_by_asc(asset_version::Column::Number)
        .all(conn)
        .await?)
}

pub use crate::services::asset_listing::{
    AssetFilter, Order, OrderField, Page, PageRequest, encode_cursor, list, trash,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_bounded() {
        let tags = normalize_tags(&[" Gold ".into(), "ring".into(), "gold".into()]).unwrap();
        assert_eq!(tags, ["gold", "ring"]);
        assert!(normalize_tags(&["".into()]).is_err());
        assert!(normalize_tags(&["x".repeat(65)]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
    }

    #[test]
    fn filenames_lose_paths_and_control_characters() {
        assert_eq!(
            sanitize_filename(Some("../../etc/passwd")).as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename(Some("C:\\photos\\ring.jpg")).as_deref(),
            Some("ring.jpg")
        );
        assert_eq!(
            sanitize_filename(Some("a\u{0}b.png")).as_deref(),
            Some("ab.png")
        );
        assert_eq!(sanitize_filename(Some("   ")), None);
        assert_eq!(
            title_from_filename(Some("Ring_Gold-01.final.jpg")),
            "Ring_Gold-01.final"
        );
        assert_eq!(title_from_filename(None), "Untitled");
    }
}

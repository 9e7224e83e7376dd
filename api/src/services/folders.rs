//! The folder tree.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Statement,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::asset;
use vitrine_entity::entities::folder::{self, ancestry_under};
use vitrine_entity::policy::{Action, Actor, Resource, authorize};

use crate::error::{ApiError, ApiResult};
use crate::services::assets::authorize_move;
use crate::services::{access, begin, event, is_unique_violation};
use crate::state::{AppState, RequestMeta};

fn not_found() -> ApiError {
    ApiError::NotFound("no such folder".into())
}

fn sibling_conflict() -> ApiError {
    ApiError::Conflict("a folder with this name already exists here".into())
}

/// Validates a folder name: 1–200 characters, no `/`, no control characters.
pub fn normalize_folder_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > 200
        || name.contains('/')
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::BadUserInput(
            "a folder name has 1 to 200 characters and no '/' or control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Asks the policy about a folder (`None`: the root), read through `conn`.
/// A folder the actor may not see is NOT_FOUND; at the root there is
/// nothing to hide, so a refusal there is FORBIDDEN.
pub(crate) async fn authorize_folder<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    action: Action,
    folder_id: Option<Uuid>,
) -> ApiResult<Option<folder::Model>> {
    let folder = match folder_id {
        Some(id) => Some(find(conn, id).await?),
        None => None,
    };
    let resource = Resource::Folder(access::folder_facts(conn, actor, folder.as_ref()).await?);
    let now = state.clock.now();
    if folder.is_some() {
        authorize(actor, Action::ViewMetadata, &resource, now)
            .map_err(|d| access::denied(d, not_found))?;
        authorize(actor, action, &resource, now).map_err(|d| access::denied(d, not_found))?;
    } else {
        authorize(actor, action, &resource, now)?;
    }
    Ok(folder)
}

async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> ApiResult<folder::Model> {
    folder::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

async fn sibling_exists<C: ConnectionTrait>(
    conn: &C,
    parent: Option<Uuid>,
    name: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut query = folder::Entity::find().filter(folder::Column::Name.eq(name));
    query = match parent {
        Some(p) => query.filter(folder::Column::ParentId.eq(p)),
        None => query.filter(folder::Column::ParentId.is_null()),
    };
    if let Some(id) = except {
        query = query.filter(folder::Column::Id.ne(id));
    }
    Ok(query.count(conn).await? > 0)
}

/// The display path of a folder (`/Campaigns/SS27`) from its lineage.
pub fn display_path(lineage: &[folder::Model]) -> String {
    let mut path = String::new();
    for f in lineage {
        path.push('/');
        path.push_str(&f.name);
    }
    if path.is_empty() { "/".into() } else { path }
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    parent_id: Option<Uuid>,
    name: &str,
    meta: &RequestMeta,
) -> ApiResult<folder::Model> {
    let name = normalize_folder_name(name)?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let parent = authorize_folder(state, tx.conn(), actor, Action::Edit, parent_id).await?;
    if sibling_exists(tx.conn(), parent_id, &name, None).await? {
        return Err(sibling_conflict());
    }
    let id = Uuid::now_v7();
    let model = folder::ActiveModel {
        id: Set(id),
        parent_id: Set(parent_id),
        name: Set(name),
        ancestry: Set(ancestry_under(
            parent.as_ref().map(|p| p.ancestry.as_str()),
            id,
        )),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
        restricted: Set(false),
        requires_moderation: Set(false),
    }
    .insert(tx.conn())
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            sibling_conflict()
        } else {
            e.into()
        }
    })?;
    tx.audit(
        event(AuditAction::FolderCreated, actor, meta)
            .target("folder", id)
            .details(json!({ "name": model.name, "parentId": parent_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

pub async fn rename(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    name: &str,
    meta: &RequestMeta,
) -> ApiResult<folder::Model> {
    let name = normalize_folder_name(name)?;
    let mut tx = begin(state).await?;
    let current = authorize_folder(state, tx.conn(), actor, Action::Edit, Some(id))
        .await?
        .ok_or_else(not_found)?;
    if current.name == name {
        return Ok(current);
    }
    if sibling_exists(tx.conn(), current.parent_id, &name, Some(id)).await? {
        return Err(sibling_conflict());
    }
    let old = current.name.clone();
    let mut active: folder::ActiveModel = current.into();
    active.name = Set(name.clone());
    active.updated_at = Set(state.clock.now());
    let model = active.update(tx.conn()).await.map_err(|e| {
        if is_unique_violation(&e) {
            sibling_conflict()
        } else {
            e.into()
        }
    })?;
    // The folder path is searchable: its assets' documents follow.
    vitrine_worker::search_index::refresh_under(tx.conn(), &model.ancestry, tx.now()).await?;
    tx.audit(
        event(AuditAction::FolderRenamed, actor, meta)
            .target("folder", id)
            .details(json!({ "from": old, "to": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// Moves a folder (and everything below it) under `new_parent`, or to the
/// root. Moving a folder into itself or its own subtree is refused.
pub async fn move_to(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    new_parent: Option<Uuid>,
    meta: &RequestMeta,
) -> ApiResult<folder::Model> {
    let mut tx = begin(state).await?;
    let current = authorize_folder(state, tx.conn(), actor, Action::Edit, Some(id))
        .await?
        .ok_or_else(not_found)?;
    if current.parent_id == new_parent {
        return Ok(current);
    }
    let parent = authorize_folder(state, tx.conn(), actor, Action::Edit, new_parent).await?;
    if !current.restricted {
        // A restricted folder keeps its own boundary wherever it goes.
        authorize_move(state, tx.conn(), actor, current.parent_id, new_parent).await?;
    }
    let parent = match parent {
        Some(parent) => {
            if current.contains(&parent) {
                return Err(ApiError::BadUserInput(
                    "a folder cannot be moved into itself or its own subtree".into(),
                ));
            }
            Some(parent)
        }
        None => None,
    };
    if sibling_exists(tx.conn(), new_parent, &current.name, Some(id)).await? {
        return Err(sibling_conflict());
    }
    let old_prefix = current.ancestry.clone();
    let new_prefix = ancestry_under(parent.as_ref().map(|p| p.ancestry.as_str()), id);
    let now = state.clock.now();
    // Rewrite the ancestry prefix of the folder and its whole subtree at once.
    let backend = tx.conn().get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE folders SET ancestry = $1 || substr(ancestry, $2) WHERE substr(ancestry, 1, $3) = $4"
        }
        _ => {
            "UPDATE folders SET ancestry = ? || substr(ancestry, ?) WHERE substr(ancestry, 1, ?) = ?"
        }
    };
    let old_len = i32::try_from(old_prefix.len())
        .map_err(|_| ApiError::BadUserInput("the folder tree is too deep".into()))?;
    tx.conn()
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                new_prefix.clone().into(),
                (old_len + 1).into(),
                old_len.into(),
                old_prefix.clone().into(),
            ],
        ))
        .await?;
    let mut active: folder::ActiveModel = find(tx.conn(), id).await?.into();
    active.parent_id = Set(new_parent);
    active.updated_at = Set(now);
    let model = active.update(tx.conn()).await.map_err(|e| {
        if is_unique_violation(&e) {
            sibling_conflict()
        } else {
            e.into()
        }
    })?;
    vitrine_worker::search_index::refresh_under(tx.conn(), &model.ancestry, now).await?;
    tx.audit(
        event(AuditAction::FolderMoved, actor, meta)
            .target("folder", id)
            .details(json!({ "fromParentId": current.parent_id, "toParentId": new_parent })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// Deletes a folder that holds nothing: no subfolder, no asset (not even in the trash).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    meta: &RequestMeta,
) -> ApiResult<bool> {
    let mut tx = begin(state).await?;
    let current = authorize_folder(state, tx.conn(), actor, Action::Edit, Some(id))
        .await?
        .ok_or_else(not_found)?;
    let children = folder::Entity::find()
        .filter(folder::Column::ParentId.eq(id))
        .count(tx.conn())
        .await?;
    let assets = asset::Entity::find()
        .filter(asset::Column::FolderId.eq(id))
        .count(tx.conn())
        .await?;
    if children > 0 || assets > 0 {
        return Err(ApiError::Conflict(format!(
            "the folder is not empty ({children} subfolders, {assets} assets including the trash)"
        )));
    }
    folder::Entity::delete_by_id(id).exec(tx.conn()).await?;
    tx.audit(
        event(AuditAction::FolderDeleted, actor, meta)
            .target("folder", id)
            .details(json!({ "name": current.name, "parentId": current.parent_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<folder::Model> {
    authorize_folder(state, &state.db, actor, Action::ViewMetadata, Some(id))
        .await?
        .ok_or_else(not_found)
}

/// The folders `actor` sees directly under `parent` (at the top level when
/// `None`), by name.
pub async fn children(
    state: &AppState,
    actor: &Actor,
    parent: Option<Uuid>,
) -> ApiResult<Vec<folder::Model>> {
    let parent = match parent {
        Some(id) => {
            authorize_folder(state, &state.db, actor, Action::ViewMetadata, Some(id)).await?
        }
        // The top level is whatever the actor sees there, possibly nothing.
        None if matches!(actor, Actor::Anonymous) => {
            return Err(ApiError::Unauthenticated("authentication required".into()));
        }
        None => None,
    };
    access::visible_children(&state.db, actor, parent.as_ref(), state.clock.now()).await
}

//! Smart folders: saved searches, shared or not. Opening one runs its search
//! as the viewer — through the viewer's own visible scope — so a folder
//! shared with a partner shows that partner only what it may see, and its
//! content follows the library live (no membership is stored).

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{partner_org, smart_folder};
use vitrine_entity::policy::{
    Actor, SmartFolderAction, SmartFolderFacts, SmartFolderSharing, authorize_smart_folder,
};
use vitrine_entity::{AuditAction, Role};

use crate::error::{ApiError, ApiResult};
use crate::services::access::denied;
use crate::services::asset_filter::AssetFilter;
use crate::services::search::{self, Plan};
use crate::services::{begin, event};
use crate::state::{AppState, RequestMeta};

/// What a smart folder is made of.
#[derive(Debug, Clone)]
pub struct SmartFolderInput {
    pub name: String,
    pub query: String,
    pub filter: AssetFilter,
    pub sharing: SmartFolderSharing,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such smart folder".into())
}

fn normalize_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::BadUserInput(
            "a smart folder's name has 1 to 200 characters and no control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Checks an input as `actor` would save it: its search must run for them
/// (a folder they cannot see, or a GPS filter from a non-administrator, is
/// refused now rather than at every opening), a partner organisation it is
/// shared with must exist.
async fn check(state: &AppState, actor: &Actor, input: &SmartFolderInput) -> ApiResult<String> {
    let name = normalize_name(&input.name)?;
    search::plan(state, actor, &input.query, &input.filter).await?;
    if let SmartFolderSharing::Partner(org) = input.sharing
        && partner_org::Entity::find_by_id(org)
            .one(&state.db)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("no such partner organisation".into()));
    }
    Ok(name)
}

fn authorize(actor: &Actor, action: SmartFolderAction, facts: &SmartFolderFacts) -> ApiResult<()> {
    authorize_smart_folder(actor, action, facts).map_err(|d| denied(d, not_found))
}

/// One smart folder `actor` may open.
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<smart_folder::Model> {
    let folder = smart_folder::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    authorize(actor, SmartFolderAction::View, &folder.facts())?;
    Ok(folder)
}

/// The smart folders `actor` owns or that are shared with it (an
/// administrator: all), by name.
pub async fn list(state: &AppState, actor: &Actor) -> ApiResult<Vec<smart_folder::Model>> {
    let mine = |user_id: Uuid| smart_folder::Column::OwnerId.eq(user_id);
    let cond = match actor {
        Actor::Member {
            role: Role::Admin, ..
        }
        | Actor::System => Condition::all(),
        Actor::Member { user_id, .. } => Condition::any()
            .add(mine(*user_id))
            .add(smart_folder::Column::Sharing.eq("MEMBERS")),
        Actor::Partner {
            user_id,
            org_id,
            org_allowlisted: true,
            ..
        } => Condition::any().add(mine(*user_id)).add(
            Condition::all()
                .add(smart_folder::Column::Sharing.eq("PARTNER"))
                .add(smart_folder::Column::PartnerOrgId.eq(*org_id)),
        ),
        Actor::Anonymous => {
            return Err(ApiError::Unauthenticated("authentication required".into()));
        }
        Actor::Partner { .. } | Actor::Visitor { .. } => return Ok(Vec::new()),
    };
    let rows = smart_folder::Entity::find()
        .filter(cond)
        .order_by_asc(smart_folder::Column::Name)
        .order_by_asc(smart_folder::Column::Id)
        .all(&state.db)
        .await?;
    // The policy decides each one (the query above only narrows the read).
    Ok(rows
        .into_iter()
        .filter(|f| authorize_smart_folder(actor, SmartFolderAction::View, &f.facts()).is_ok())
        .collect())
}

/// The saved filter.
pub fn filter_of(folder: &smart_folder::Model) -> ApiResult<AssetFilter> {
    serde_json::from_str(&folder.filter).map_err(ApiError::internal)
}

/// The folder's search, ready to run as `actor` (inside its scope).
pub async fn plan(
    state: &AppState,
    actor: &Actor,
    folder: &smart_folder::Model,
) -> ApiResult<Plan> {
    search::plan(state, actor, &folder.query, &filter_of(folder)?).await
}

/// Creates a smart folder owned by `actor`.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    input: SmartFolderInput,
) -> ApiResult<smart_folder::Model> {
    let Some(owner_id) = actor.user_id() else {
        return Err(ApiError::Forbidden("only users own smart folders".into()));
    };
    authorize(
        actor,
        SmartFolderAction::Manage,
        &SmartFolderFacts {
            owner_id,
            sharing: input.sharing,
        },
    )?;
    let name = check(state, actor, &input).await?;
    let (sharing, partner_org_id) = smart_folder::sharing_columns(input.sharing);
    let tx = begin(state).await?;
    let now = tx.now();
    let folder = smart_folder::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        owner_id: Set(owner_id),
        query: Set(input.query.trim().to_owned()),
        filter: Set(serde_json::to_string(&input.filter).map_err(ApiError::internal)?),
        sharing: Set(sharing.into()),
        partner_org_id: Set(partner_org_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(tx.conn())
    .await?;
    let mut tx = tx;
    tx.audit(
        event(AuditAction::SmartFolderCreated, actor, meta)
            .target("smart_folder", folder.id)
            .details(json!({ "name": folder.name, "query": folder.query, "sharing": sharing, "partnerOrgId": partner_org_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(folder)
}

/// Replaces a smart folder's name, search and sharing (its owner, or an
/// administrator).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    input: SmartFolderInput,
) -> ApiResult<smart_folder::Model> {
    let current = get(state, actor, id).await?;
    authorize(actor, SmartFolderAction::Manage, &current.facts())?;
    authorize(
        actor,
        SmartFolderAction::Manage,
        &SmartFolderFacts {
            owner_id: current.owner_id,
            sharing: input.sharing,
        },
    )?;
    let name = check(state, actor, &input).await?;
    let (sharing, partner_org_id) = smart_folder::sharing_columns(input.sharing);
    let mut tx = begin(state).await?;
    let mut active: smart_folder::ActiveModel = current.into();
    active.name = Set(name);
    active.query = Set(input.query.trim().to_owned());
    active.filter = Set(serde_json::to_string(&input.filter).map_err(ApiError::internal)?);
    active.sharing = Set(sharing.into());
    active.partner_org_id = Set(partner_org_id);
    active.updated_at = Set(tx.now());
    let folder = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::SmartFolderUpdated, actor, meta)
            .target("smart_folder", id)
            .details(json!({ "name": folder.name, "query": folder.query, "sharing": sharing, "partnerOrgId": partner_org_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(folder)
}

/// Deletes a smart folder (nothing else: it holds no assets).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> ApiResult<bool> {
    let current = get(state, actor, id).await?;
    authorize(actor, SmartFolderAction::Manage, &current.facts())?;
    let mut tx = begin(state).await?;
    smart_folder::Entity::delete_by_id(id)
        .exec(tx.conn())
        .await?;
    tx.audit(
        event(AuditAction::SmartFolderDeleted, actor, meta)
            .target("smart_folder", id)
            .details(json!({ "name": current.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Whether `asset_id` is in the smart folder for `actor` right now.
pub async fn contains(
    state: &AppState,
    actor: &Actor,
    folder: &smart_folder::Model,
    asset_id: Uuid,
) -> ApiResult<bool> {
    let plan = plan(state, actor, folder).await?;
    search::matches(state, &plan, asset_id).await
}

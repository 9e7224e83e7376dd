//! Moderation: folders that require it, the state of each version, and the
//! moderators' decisions.
//!
//! A version uploaded into a folder that requires moderation (or below one)
//! is PENDING; while an asset's *current* version is PENDING or REJECTED the
//! asset carries `awaiting_moderation`, a fact the one policy reads (partners
//! and visitors: `Denial::AwaitingModeration`, as if it did not exist) and
//! that listings filter on in SQL (`access::published_at`). Decided: while a
//! new version waits, **nothing** of the asset leaves the organisation — not
//! even the previously approved version (a URL of it is answered 410 once a
//! newer version exists anyway); this leaks least. Existing versions are never
//! re-queued by turning moderation on for a folder.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::entities::{asset, asset_version, folder};
use vitrine_entity::moderation_rules::{ModerationMode, Rule};
use vitrine_entity::policy::{Action, Actor};
use vitrine_entity::{AuditAction, GrantLevel, ModerationState};

use crate::error::{ApiError, ApiResult};
use crate::services::assets::authorize_asset;
use crate::services::folders::authorize_folder;
use crate::services::{authorize_instance, begin, event, fetch_page};
use crate::state::{AppState, RequestMeta};

/// The most versions one `moderate` call decides.
pub const MAX_BATCH: usize = 500;

/// The moderation state of a version uploaded into `folder_id` now.
pub async fn state_for_upload<C: ConnectionTrait>(
    conn: &C,
    folder_id: Option<Uuid>,
) -> ApiResult<ModerationState> {
    let Some(id) = folder_id else {
        return Ok(ModerationState::NotRequired);
    };
    let Some(folder) = folder::Entity::find_by_id(id).one(conn).await? else {
        return Ok(ModerationState::NotRequired);
    };
    let required = folder::Entity::find()
        .filter(folder::Column::Id.is_in(folder.lineage()))
        .filter(folder::Column::RequiresModeration.eq(true))
        .count(conn)
        .await?
        > 0;
    Ok(if required {
        ModerationState::Pending
    } else {
        ModerationState::NotRequired
    })
}

/// Turns moderation on or off for what is uploaded into a folder (and
/// below) from now on (MANAGE_ACCESS on the folder).
pub async fn set_folder_requirement(
    state: &AppState,
    actor: &Actor,
    folder_id: Uuid,
    required: bool,
    meta: &RequestMeta,
) -> ApiResult<folder::Model> {
    let mut tx = begin(state).await?;
    let found = authorize_folder(
        state,
        tx.conn(),
        actor,
        Action::ManageAccess,
        Some(folder_id),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no such folder".into()))?;
    if found.requires_moderation == required {
        return Ok(found);
    }
    let mut active: folder::ActiveModel = found.into();
    active.requires_moderation = Set(required);
    active.updated_at = Set(tx.now());
    let updated = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::FolderModerationChanged, actor, meta)
            .target("folder", folder_id)
            .details(json!({ "requiresModeration": required })),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// A moderator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Decision {
    Approved,
    Rejected,
}

/// Decides up to [`MAX_BATCH`] versions at once, all or nothing. Each must
/// be one the actor may MODERATE; a version that never required moderation
/// cannot be decided. A decision on a version already decided is an
/// override (recorded as such). Returns the versions as decided.
pub async fn moderate(
    state: &AppState,
    actor: &Actor,
    version_ids: &[Uuid],
    decision: Decision,
    reason: Option<String>,
    meta: &RequestMeta,
) -> ApiResult<Vec<asset_version::Model>> {
    if version_ids.is_empty() || version_ids.len() > MAX_BATCH {
        return Err(ApiError::BadUserInput(format!(
            "give 1 to {MAX_BATCH} versions"
        )));
    }
    let reason = match reason.map(|r| r.trim().to_owned()) {
        Some(r) if r.chars().count() > 2000 => {
            return Err(ApiError::BadUserInput(
                "a reason has at most 2000 characters".into(),
            ));
        }
        Some(r) if r.is_empty() => None,
        other => other,
    };
    let target = match decision {
        Decision::Approved => ModerationState::Approved,
        Decision::Rejected => ModerationState::Rejected,
    };
    let not_found = || ApiError::NotFound("no such version".into());
    // The same version named twice is decided (and audited) once.
    let mut seen = std::collections::HashSet::new();
    let version_ids: Vec<Uuid> = version_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let mut tx = begin(state).await?;
    let now = tx.now();
    let mut decided = Vec::with_capacity(version_ids.len());
    for &id in &version_ids {
        let version = asset_version::Entity::find_by_id(id)
            .one(tx.conn())
            .await?
            .ok_or_else(not_found)?;
        let asset = asset::Entity::find_by_id(version.asset_id)
            .one(tx.conn())
            .await?
            .ok_or_else(not_found)?;
        authorize_asset(state, tx.conn(), actor, Action::Moderate, &asset).await?;
        if version.moderation_state == ModerationState::NotRequired {
            return Err(ApiError::BadUserInput(format!(
                "version {} of {:?} does not require moderation",
                version.number, asset.title
            )));
        }
        let previous = version.moderation_state;
        let overrides = version.moderated_at.is_some() && previous != target;
        let mut active: asset_version::ActiveModel = version.clone().into();
        active.moderation_state = Set(target);
        active.moderation_kind = Set(Some(if overrides { "OVERRIDE" } else { "MANUAL" }.into()));
        active.moderated_by = Set(actor.user_id());
        active.moderated_at = Set(Some(now));
        active.moderation_reason = Set(reason.clone());
        let updated = active.update(tx.conn()).await?;
        if asset.current_version_id == Some(id) {
            let mut current: asset::ActiveModel = asset.clone().into();
            current.awaiting_moderation = Set(target.holds_back());
            current.update(tx.conn()).await?;
        }
        // A rejected image joins the blocklist (a re-upload is caught);
        // approved again, it leaves it.
        match decision {
            Decision::Rejected => {
                vitrine_worker::moderation::block(
                    tx.conn(),
                    &updated,
                    vitrine_worker::moderation::REJECTED,
                    now,
                )
                .await?;
            }
            Decision::Approved => {
                vitrine_worker::moderation::unblock(
                    tx.conn(),
                    id,
                    vitrine_worker::moderation::REJECTED,
                )
                .await?;
            }
        }
        let action = match (overrides, decision) {
            (true, _) => AuditAction::ModerationOverridden,
            (false, Decision::Approved) => AuditAction::ModerationApproved,
            (false, Decision::Rejected) => AuditAction::ModerationRejected,
        };
        tx.audit(
            event(action, actor, meta)
                .target("asset", asset.id)
                .details(json!({
                    "versionId": id,
                    "number": updated.number,
                    "decision": target.as_str(),
                    "previous": previous.as_str(),
                    "previousKind": version.moderation_kind,
                    "override": overrides,
                    "reason": reason,
                    "rules": version.results(),
                })),
        )
        .await?;
        decided.push(updated);
    }
    tx.commit().await?;
    Ok(decided)
}

/// Queues the live versions under a folder for moderation (administrators):
/// each asset in it (and below, with `recursive`) whose current version
/// needed none becomes PENDING — and so stops leaving the organisation until
/// approved. Batched (500 assets a transaction), one audit event per asset.
/// Returns how many versions were queued.
pub async fn require_for_folder(
    state: &AppState,
    actor: &Actor,
    folder_id: Uuid,
    recursive: bool,
    meta: &RequestMeta,
) -> ApiResult<u64> {
    authorize_instance(state, actor, Action::Admin)?;
    let root = authorize_folder(
        state,
        &state.db,
        actor,
        Action::ViewMetadata,
        Some(folder_id),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no such folder".into()))?;
    let folders: Vec<Uuid> = if recursive {
        folder::Entity::find()
            .select_only()
            .column(folder::Column::Id)
            .filter(crate::services::access::like_prefix(&root.ancestry))
            .into_tuple()
            .all(&state.db)
            .await?
    } else {
        vec![root.id]
    };
    let mut queued = 0u64;
    loop {
        let mut tx = begin(state).await?;
        let current = asset::Entity::find()
            .select_only()
            .column(asset::Column::CurrentVersionId)
            .filter(asset::Column::FolderId.is_in(folders.clone()))
            .filter(asset::Column::DeletedAt.is_null())
            .filter(asset::Column::AwaitingModeration.eq(false))
            .into_query();
        let batch = asset_version::Entity::find()
            .filter(asset_version::Column::Id.in_subquery(current))
            .filter(asset_version::Column::ModerationState.eq(ModerationState::NotRequired))
            .limit(500)
            .all(tx.conn())
            .await?;
        if batch.is_empty() {
            break;
        }
        let now = tx.now();
        let mut events = Vec::with_capacity(batch.len());
        for version in batch {
            let mut active: asset_version::ActiveModel = version.clone().into();
            active.moderation_state = Set(ModerationState::Pending);
            active.update(tx.conn()).await?;
            asset::Entity::update_many()
                .col_expr(
                    asset::Column::AwaitingModeration,
                    sea_orm::sea_query::Expr::value(true),
                )
                .col_expr(
                    asset::Column::UpdatedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(asset::Column::Id.eq(version.asset_id))
                .exec(tx.conn())
                .await?;
            events.push(
                event(AuditAction::ModerationRequired, actor, meta)
                    .target("asset", version.asset_id)
                    .details(json!({ "versionId": version.id, "number": version.number })),
            );
        }
        queued += events.len() as u64;
        tx.audit_many(events).await?;
        tx.commit().await?;
    }
    Ok(queued)
}

/// Narrows the queue.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only assets in this folder (and below, with `recursive`).
    pub folder_id: Option<Uuid>,
    pub recursive: bool,
    /// Only versions this user uploaded.
    pub uploaded_by: Option<Uuid>,
    /// Only versions uploaded at or after / before these instants.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Which state (PENDING when unset).
    pub state: Option<ModerationState>,
    /// Only versions moderated this way.
    pub kind: Option<QueueKind>,
    /// Only versions uploaded through this preset.
    pub preset_id: Option<Uuid>,
    /// Only versions that failed this rule.
    pub rule_failed: Option<Rule>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// How a version is moderated, for the queue's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum QueueKind {
    /// A person decides every version (mode MANUAL, or a folder that
    /// requires moderation).
    Manual,
    /// The rules decide first (AUTOMATIC, AUTOMATIC_THEN_MANUAL).
    Automatic,
}

/// One page of the queue: PENDING versions, oldest first, of the assets the
/// actor may moderate — everything for ADMIN and MANAGER, and for a member
/// holding MODERATE (or MANAGE) grants, what lies under them.
pub async fn queue(
    state: &AppState,
    actor: &Actor,
    filter: &QueueFilter,
    after: Option<Uuid>,
    limit: u64,
) -> ApiResult<(Vec<(asset_version::Model, asset::Model)>, bool)> {
    let mut assets = asset::Entity::find()
        .select_only()
        .column(asset::Column::Id)
        .filter(asset::Column::DeletedAt.is_null());
    if let Some(folder_id) = filter.folder_id {
        // A folder the caller may not see is NOT_FOUND, like a missing one.
        let root = authorize_folder(
            state,
            &state.db,
            actor,
            Action::ViewMetadata,
            Some(folder_id),
        )
        .await?
        .ok_or_else(|| ApiError::NotFound("no such folder".into()))?;
        assets = if filter.recursive {
            assets.filter(
                asset::Column::FolderId.in_subquery(
                    folder::Entity::find()
                        .select_only()
                        .column(folder::Column::Id)
                        .filter(crate::services::access::like_prefix(&root.ancestry))
                        .into_query(),
                ),
            )
        } else {
            assets.filter(asset::Column::FolderId.eq(root.id))
        };
    }
    if let Err(denied) = authorize_instance(state, actor, Action::Moderate) {
        let regions = match actor {
            Actor::Member { .. } => crate::services::access::load_map(&state.db, actor)
                .await?
                .regions_at_least(GrantLevel::Moderate),
            _ => Vec::new(),
        };
        if regions.is_empty() {
            return Err(denied);
        }
        assets = assets.filter(
            asset::Column::FolderId.in_subquery(
                folder::Entity::find()
                    .select_only()
                    .column(folder::Column::Id)
                    .filter(crate::services::access::in_regions(&regions))
                    .into_query(),
            ),
        );
    }
    let wanted = filter.state.unwrap_or(ModerationState::Pending);
    if wanted == ModerationState::NotRequired {
        return Err(ApiError::BadUserInput(
            "the queue holds versions that require moderation: state is PENDING, APPROVED or REJECTED"
                .into(),
        ));
    }
    let mut query = asset_version::Entity::find()
        .filter(asset_version::Column::ModerationState.eq(wanted))
        .filter(asset_version::Column::AssetId.in_subquery(assets.into_query()));
    query = if filter.newest_first {
        query.order_by_desc(asset_version::Column::Id)
    } else {
        query.order_by_asc(asset_version::Column::Id)
    };
    let automatic = [
        ModerationMode::Automatic.as_str(),
        ModerationMode::AutomaticThenManual.as_str(),
    ];
    match filter.kind {
        Some(QueueKind::Automatic) => {
            query = query.filter(asset_version::Column::ModerationMode.is_in(automatic));
        }
        Some(QueueKind::Manual) => {
            query = query.filter(
                sea_orm::Condition::any()
                    .add(asset_version::Column::ModerationMode.is_null())
                    .add(asset_version::Column::ModerationMode.is_not_in(automatic)),
            );
        }
        None => {}
    }
    if let Some(preset) = filter.preset_id {
        query = query.filter(asset_version::Column::PresetId.eq(preset));
    }
    if let Some(rule) = filter.rule_failed {
        query =
            query.filter(asset_version::Column::FailedRules.like(format!("%,{},%", rule.as_str())));
    }
    if let Some(user) = filter.uploaded_by {
        query = query.filter(asset_version::Column::UploadedBy.eq(user));
    }
    if let Some(from) = filter.from {
        query = query.filter(asset_version::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(asset_version::Column::CreatedAt.lt(to));
    }
    if let Some(after) = after {
        query = query.filter(if filter.newest_first {
            asset_version::Column::Id.lt(after)
        } else {
            asset_version::Column::Id.gt(after)
        });
    }
    let (versions, more) = fetch_page(query, limit, &state.db).await?;
    // The page's assets in one query (the moderator sees what they decide).
    let ids: Vec<Uuid> = versions.iter().map(|v| v.asset_id).collect();
    let assets: std::collections::HashMap<Uuid, asset::Model> = asset::Entity::find()
        .filter(asset::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let items = versions
        .into_iter()
        .filter_map(|v| assets.get(&v.asset_id).cloned().map(|a| (v, a)))
        .collect();
    Ok((items, more))
}

/// How the moderation queue changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum QueueChange {
    /// A version began waiting (uploaded, restored or queued by backfill).
    Entered,
    /// A waiting version's rule results arrived (the worker processed it).
    Evaluated,
    /// A version was decided (by a person or the rules), or overridden.
    Decided,
}

/// The queue change an audit action stands for, if any (pure: decided
/// before anything is read for a subscriber).
pub fn queue_change_of(action: &str) -> Option<QueueChange> {
    match AuditAction::from_str_opt(action)? {
        AuditAction::VersionUploaded
        | AuditAction::VersionRestored
        | AuditAction::ModerationRequired => Some(QueueChange::Entered),
        AuditAction::VersionProcessed => Some(QueueChange::Evaluated),
        AuditAction::ModerationApproved
        | AuditAction::ModerationRejected
        | AuditAction::ModerationOverridden => Some(QueueChange::Decided),
        _ => None,
    }
}

/// What an audit event means for `actor`'s moderation queue: the change and
/// the version as it is now, when the event is about a version that
/// requires moderation on an asset the actor may moderate.
pub async fn queue_change(
    state: &AppState,
    actor: &Actor,
    event: &vitrine_entity::entities::audit_event::Model,
) -> ApiResult<Option<(QueueChange, asset_version::Model, asset::Model)>> {
    let Some(change) = queue_change_of(&event.action) else {
        return Ok(None);
    };
    let Some(version_id) = serde_json::from_str::<serde_json::Value>(&event.details)
        .ok()
        .and_then(|d| {
            d.get("versionId")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .and_then(|v| Uuid::parse_str(&v).ok())
    else {
        return Ok(None);
    };
    let Some(version) = asset_version::Entity::find_by_id(version_id)
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    if version.moderation_state == ModerationState::NotRequired
        || (change != QueueChange::Decided && version.moderation_state != ModerationState::Pending)
    {
        return Ok(None);
    }
    let Some(asset) = asset::Entity::find_by_id(version.asset_id)
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    if authorize_asset(state, &state.db, actor, Action::Moderate, &asset)
        .await
        .is_err()
    {
        return Ok(None);
    }
    Ok(Some((change, version, asset)))
}

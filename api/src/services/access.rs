//! Access control: the facts the policy needs, the SQL conditions lists
//! filter on (the one place a scope becomes SQL), and the management of
//! grants, restricted folders and access modes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::access::{AccessMap, Region};
use vitrine_entity::entities::{access_grant, asset, folder, partner_org, user};
use vitrine_entity::license::Usage;
use vitrine_entity::policy::{
    Action, Actor, AssetFacts, AssetScope, FolderFacts, Licensing, Resource, Subject, authorize,
    subjects, visible_scope,
};
use vitrine_entity::{AccessMode, AuditAction, GrantLevel, SubjectKind};

use crate::error::{ApiError, ApiResult};
use crate::services::{begin, event};
use crate::state::{AppState, RequestMeta};

/// Loads the restricted folders and the grants `actor` holds (two small queries).
pub async fn load_map<C: ConnectionTrait>(conn: &C, actor: &Actor) -> ApiResult<AccessMap> {
    let restricted: Vec<String> = folder::Entity::find()
        .select_only()
        .column(folder::Column::Ancestry)
        .filter(folder::Column::Restricted.eq(true))
        .into_tuple()
        .all(conn)
        .await?;
    let holders = subjects(actor);
    let grants: Vec<(String, GrantLevel)> = if holders.is_empty() {
        Vec::new()
    } else {
        access_grant::Entity::find()
            .select_only()
            .column(folder::Column::Ancestry)
            .column(access_grant::Column::Level)
            .join(JoinType::InnerJoin, access_grant::Relation::Folder.def())
            .filter(subject_condition(&holders))
            .into_tuple()
            .all(conn)
            .await?
    };
    Ok(AccessMap::new(restricted, grants))
}

fn subject_condition(holders: &[Subject]) -> Condition {
    holders.iter().fold(Condition::any(), |c, s| {
        c.add(
            Condition::all()
                .add(access_grant::Column::SubjectKind.eq(s.kind))
                .add(access_grant::Column::SubjectId.eq(s.id)),
        )
    })
}

/// The ancestry of a folder, or `None` at the root (or if it is gone).
pub async fn folder_ancestry<C: ConnectionTrait>(
    conn: &C,
    folder_id: Option<Uuid>,
) -> ApiResult<Option<String>> {
    let Some(id) = folder_id else {
        return Ok(None);
    };
    Ok(folder::Entity::find_by_id(id)
        .select_only()
        .column(folder::Column::Ancestry)
        .into_tuple()
        .one(conn)
        .await?)
}

/// The policy facts about `asset` for `actor`, for a delivery declaring
/// `usage` (a URL's channel and territory; none for everything else).
/// For a visitor, the facts include its share link's (see the policy) and
/// the use is the link's; for partners, visitors and declared uses, the
/// asset's licenses.
pub async fn asset_facts<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    asset: &asset::Model,
    now: DateTime<Utc>,
    unlicensed_allowed: bool,
    usage: Usage,
) -> ApiResult<AssetFacts> {
    let map = load_map(conn, actor).await?;
    let ancestry = folder_ancestry(conn, asset.folder_id).await?;
    let mut facts = map.asset_facts(ancestry.as_deref(), asset);
    let mut usage = usage;
    if let Actor::Visitor { share_link_id } = actor
        && let Some((link, link_usage)) = crate::services::link_content::link_facts(
            state,
            conn,
            *share_link_id,
            asset,
            ancestry.as_deref(),
            now,
        )
        .await?
    {
        facts.link = Some(link);
        usage = link_usage;
    }
    add_licensing(conn, actor, &mut facts, asset.id, unlicensed_allowed, usage).await?;
    Ok(facts)
}

/// Adds the asset's licenses to `facts` where they bind: what leaves the
/// organisation (to partners, visitors) and deliveries for a declared use.
pub async fn add_licensing<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    facts: &mut AssetFacts,
    asset_id: Uuid,
    unlicensed_allowed: bool,
    usage: Usage,
) -> ApiResult<()> {
    if matches!(actor, Actor::Partner { .. } | Actor::Visitor { .. }) || usage.is_declared() {
        let mut found = crate::services::licenses::of_assets(conn, &[asset_id]).await?;
        facts.licensing = Some(licensing_of(
            found.remove(&asset_id).unwrap_or_default(),
            unlicensed_allowed,
            usage,
        ));
    }
    Ok(())
}

/// The policy's view of an asset's licenses.
pub fn licensing_of(
    licenses: Vec<vitrine_entity::entities::license::Model>,
    unlicensed_allowed: bool,
    usage: Usage,
) -> Licensing {
    Licensing {
        licenses: licenses.iter().map(|l| l.terms()).collect(),
        unlicensed_allowed,
        usage,
    }
}

/// The policy facts about a folder (`None`: the root) for `actor`.
pub async fn folder_facts<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    folder: Option<&folder::Model>,
) -> ApiResult<FolderFacts> {
    let map = load_map(conn, actor).await?;
    Ok(map.folder_facts(folder.map(|f| f.ancestry.as_str())))
}

/// Maps a denial: what the actor may not know exists is `not_found`.
pub fn denied(d: vitrine_entity::policy::Denial, not_found: impl FnOnce() -> ApiError) -> ApiError {
    if d.hides_existence() {
        not_found()
    } else {
        d.into()
    }
}

pub(crate) fn like_prefix(prefix: &str) -> sea_orm::sea_query::SimpleExpr {
    // Ancestries hold only hex digits, '-' and '/': no LIKE wildcard to escape.
    Expr::col((folder::Entity, folder::Column::Ancestry)).like(format!("{prefix}%"))
}

fn in_any(prefixes: &[String]) -> Condition {
    prefixes
        .iter()
        .fold(Condition::any(), |c, p| c.add(like_prefix(p)))
}

pub(crate) fn in_regions(regions: &[Region]) -> Condition {
    regions.iter().fold(Condition::any(), |c, r| {
        let mut inside = Condition::all().add(like_prefix(&r.prefix));
        if !r.except.is_empty() {
            inside = inside.add(in_any(&r.except).not());
        }
        c.add(inside)
    })
}

/// Which folders an actor sees, as a condition on the `folders` table, or
/// `None` when it sees none. `Condition::all()` (empty) means every folder.
pub fn folder_scope(scope: &AssetScope, map: &AccessMap) -> Option<Condition> {
    match scope {
        AssetScope::All => Some(Condition::all()),
        AssetScope::Members { .. } => {
            if map.restricted().is_empty() {
                return Some(Condition::all());
            }
            let mut visible = Condition::any().add(in_any(map.restricted()).not());
            let regions = map.granted_regions();
            if !regions.is_empty() {
                visible = visible.add(in_regions(&regions));
            }
            Some(visible)
        }
        AssetScope::Granted { .. } => {
            let regions = map.granted_regions();
            (!regions.is_empty()).then(|| in_regions(&regions))
        }
        AssetScope::Nothing => None,
    }
}

/// Published (PUBLIC, inside the window) at `at`, as a condition on `assets`.
pub fn published_at(at: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(asset::Column::AccessMode.eq(AccessMode::Public))
        // The policy's AwaitingModeration, in SQL.
        .add(asset::Column::AwaitingModeration.eq(false))
        .add(
            Condition::any()
                .add(asset::Column::AccessStartsAt.is_null())
                .add(asset::Column::AccessStartsAt.lte(at)),
        )
        .add(
            Condition::any()
                .add(asset::Column::AccessEndsAt.is_null())
                .add(asset::Column::AccessEndsAt.gt(at)),
        )
}

fn folders_where(cond: Condition) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column((folder::Entity, folder::Column::Id))
        .from(folder::Entity)
        .cond_where(cond)
        .to_owned()
}

/// Which part of the library a list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    Live,
    Trash,
}

/// The assets `actor` may see at `now` (live ones, or those in the trash),
/// as a condition on `assets`, or `None` when it sees none. This is where
/// every asset list's scope becomes SQL.
pub async fn asset_scope<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    now: DateTime<Utc>,
    shelf: Shelf,
    unlicensed_allowed: bool,
) -> ApiResult<Option<Condition>> {
    let live = on_shelf(shelf);
    scope_with(conn, actor, now, (live, None), unlicensed_allowed).await
}

/// The assets on `shelf` (decided on `assets`).
fn on_shelf(shelf: Shelf) -> Condition {
    Condition::all().add(match shelf {
        Shelf::Live => asset::Column::DeletedAt.is_null(),
        Shelf::Trash => asset::Column::DeletedAt.is_not_null(),
    })
}

/// [`asset_scope`] for a search, which joins the search document: whether
/// an asset is in the trash is read from the document's copy (kept by the
/// database, migration 20), so an administrator's or an unrestricted
/// member's search reads no other table for its matches. Restricted
/// scopes (folders, grants, publication, licenses) are still decided on
/// `assets` itself, and keep its trash check beside the copy's.
pub async fn search_scope<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    now: DateTime<Utc>,
    shelf: Shelf,
    unlicensed_allowed: bool,
) -> ApiResult<Option<Condition>> {
    let doc = Condition::all().add(
        Expr::col((
            vitrine_entity::entities::asset_search::Entity,
            vitrine_entity::entities::asset_search::Column::Live,
        ))
        .eq(matches!(shelf, Shelf::Live)),
    );
    let live = on_shelf(shelf);
    scope_with(conn, actor, now, (live, Some(doc)), unlicensed_allowed).await
}

async fn scope_with<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    now: DateTime<Utc>,
    (live, doc_live): (Condition, Option<Condition>),
    unlicensed_allowed: bool,
) -> ApiResult<Option<Condition>> {
    let scope = visible_scope(actor, now);
    // Where nothing else restricts the asker, the document's copy decides
    // the shelf alone; restricted scopes keep the original beside it.
    let unrestricted = || doc_live.clone().unwrap_or_else(|| live.clone());
    let live = match &doc_live {
        Some(doc) => live.clone().add(doc.clone()),
        None => live.clone(),
    };
    let map = match &scope {
        AssetScope::All => return Ok(Some(unrestricted())),
        AssetScope::Nothing => return Ok(None),
        AssetScope::Members { .. } | AssetScope::Granted { .. } => load_map(conn, actor).await?,
    };
    let Some(folders) = folder_scope(&scope, &map) else {
        return Ok(None);
    };
    Ok(Some(match scope {
        AssetScope::Members { .. } if folders.is_empty() => unrestricted(),
        AssetScope::Members { .. } => live.add(
            Condition::any()
                .add(asset::Column::FolderId.is_null())
                .add(asset::Column::FolderId.in_subquery(folders_where(folders))),
        ),
        AssetScope::Granted { at, .. } => live
            .add(asset::Column::FolderId.in_subquery(folders_where(folders)))
            .add(published_at(at))
            .add(vitrine_entity::entities::license::licensed_at(
                at,
                &Usage::default(),
                unlicensed_allowed,
            )),
        AssetScope::All | AssetScope::Nothing => return Ok(None),
    }))
}

/// The ancestry of the parent of the folder with `ancestry`.
fn parent_ancestry(ancestry: &str) -> Option<&str> {
    let trimmed = ancestry.strip_suffix('/')?;
    let cut = trimmed.rfind('/')?;
    (cut > 0).then(|| &ancestry[..=cut])
}

/// Whether `actor` sees the folder with `ancestry` (given its map).
pub fn sees_folder(
    actor: &Actor,
    map: &AccessMap,
    ancestry: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    authorize(
        actor,
        Action::ViewMetadata,
        &Resource::Folder(map.folder_facts(ancestry)),
        now,
    )
    .is_ok()
}

/// The folders `actor` sees directly under `parent` (the top level when
/// `None`: the root folders it sees, and the granted folders whose parent it
/// does not see), by name.
pub async fn visible_children<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    parent: Option<&folder::Model>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<folder::Model>> {
    let scope = visible_scope(actor, now);
    let map = match scope {
        AssetScope::All => AccessMap::default(),
        AssetScope::Nothing => return Ok(Vec::new()),
        AssetScope::Members { .. } | AssetScope::Granted { .. } => load_map(conn, actor).await?,
    };
    let Some(visible) = folder_scope(&scope, &map) else {
        return Ok(Vec::new());
    };
    let cond = match parent {
        Some(p) => Condition::all()
            .add(folder::Column::ParentId.eq(p.id))
            .add(visible),
        None => {
            // Granted folders reachable only through their grant.
            let tops: Vec<String> = map
                .granted_regions()
                .into_iter()
                .map(|r| r.prefix)
                .filter(|a| !sees_folder(actor, &map, parent_ancestry(a), now))
                .collect();
            let mut any = Condition::any();
            if !matches!(scope, AssetScope::Granted { .. }) {
                any = any.add(
                    Condition::all()
                        .add(folder::Column::ParentId.is_null())
                        .add(visible),
                );
            }
            if !tops.is_empty() {
                any = any.add(folder::Column::Ancestry.is_in(tops));
            }
            if any.is_empty() {
                return Ok(Vec::new());
            }
            any
        }
    };
    Ok(folder::Entity::find()
        .filter(cond)
        .order_by_asc(folder::Column::Name)
        .all(conn)
        .await?)
}

// ------------------------------------------------------------ management

fn no_folder() -> ApiError {
    ApiError::NotFound("no such folder".into())
}

/// Finds a folder `actor` may manage access on.
pub(crate) async fn managed_folder<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    folder_id: Uuid,
) -> ApiResult<folder::Model> {
    let folder = folder::Entity::find_by_id(folder_id)
        .one(conn)
        .await?
        .ok_or_else(no_folder)?;
    let facts = folder_facts(conn, actor, Some(&folder)).await?;
    let resource = Resource::Folder(facts);
    let now = state.clock.now();
    authorize(actor, Action::ViewMetadata, &resource, now).map_err(|d| denied(d, no_folder))?;
    authorize(actor, Action::ManageAccess, &resource, now).map_err(|d| denied(d, no_folder))?;
    Ok(folder)
}

/// Checks that a grant's subject exists: an active user, or a partner organisation.
async fn check_subject<C: ConnectionTrait>(conn: &C, subject: Subject) -> ApiResult<()> {
    let exists = match subject.kind {
        SubjectKind::User => user::Entity::find_by_id(subject.id)
            .one(conn)
            .await?
            .is_some(),
        SubjectKind::PartnerOrg => partner_org::Entity::find_by_id(subject.id)
            .one(conn)
            .await?
            .is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::NotFound(
            "no such user or partner organisation".into(),
        ))
    }
}

/// The grant `subject` holds on the folder itself, if any.
async fn grant_of<C: ConnectionTrait>(
    conn: &C,
    folder_id: Uuid,
    subject: Subject,
) -> ApiResult<Option<access_grant::Model>> {
    Ok(access_grant::Entity::find()
        .filter(access_grant::Column::FolderId.eq(folder_id))
        .filter(subject_condition(&[subject]))
        .one(conn)
        .await?)
}

/// Gives `subject` `level` on a folder and everything below it (or changes
/// the level of its grant there).
pub async fn grant(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    folder_id: Uuid,
    subject: Subject,
    level: GrantLevel,
) -> ApiResult<access_grant::Model> {
    let mut tx = begin(state).await?;
    let folder = managed_folder(state, tx.conn(), actor, folder_id).await?;
    check_subject(tx.conn(), subject).await?;
    let existing = grant_of(tx.conn(), folder.id, subject).await?;
    let previous = existing.as_ref().map(|g| g.level);
    if previous == Some(level)
        && let Some(g) = existing
    {
        return Ok(g);
    }
    let model = match existing {
        Some(g) => {
            let mut active: access_grant::ActiveModel = g.into();
            active.level = Set(level);
            active.granted_by = Set(actor.user_id());
            active.update(tx.conn()).await?
        }
        None => {
            access_grant::ActiveModel {
                id: Set(Uuid::now_v7()),
                folder_id: Set(folder.id),
                subject_kind: Set(subject.kind),
                subject_id: Set(subject.id),
                level: Set(level),
                granted_by: Set(actor.user_id()),
                created_at: Set(tx.now()),
            }
            .insert(tx.conn())
            .await?
        }
    };
    tx.audit(
        event(AuditAction::AccessGranted, actor, meta)
            .target("folder", folder.id)
            .details(json!({
                "subjectKind": subject.kind,
                "subjectId": subject.id,
                "level": level,
                "previous": previous,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// Takes a grant away. Says whether there was one.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    folder_id: Uuid,
    subject: Subject,
) -> ApiResult<bool> {
    let mut tx = begin(state).await?;
    let folder = managed_folder(state, tx.conn(), actor, folder_id).await?;
    let existing = grant_of(tx.conn(), folder.id, subject).await?;
    let Some(existing) = existing else {
        return Ok(false);
    };
    access_grant::Entity::delete_by_id(existing.id)
        .exec(tx.conn())
        .await?;
    tx.audit(
        event(AuditAction::AccessRevoked, actor, meta)
            .target("folder", folder.id)
            .details(json!({
                "subjectKind": subject.kind,
                "subjectId": subject.id,
                "level": existing.level,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The grants given on a folder itself (not inherited ones), oldest first.
pub async fn grants_on(
    state: &AppState,
    actor: &Actor,
    folder_id: Uuid,
) -> ApiResult<Vec<access_grant::Model>> {
    managed_folder(state, &state.db, actor, folder_id).await?;
    Ok(access_grant::Entity::find()
        .filter(access_grant::Column::FolderId.eq(folder_id))
        .order_by_asc(access_grant::Column::CreatedAt)
        .order_by_asc(access_grant::Column::Id)
        .all(&state.db)
        .await?)
}

/// Turns a folder into a restricted (pre-launch) collection, or back. A
/// member who restricts a folder without being an administrator is granted
/// MANAGE on it in the same transaction, so as not to lock themselves out.
pub async fn set_restricted(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    folder_id: Uuid,
    restricted: bool,
) -> ApiResult<folder::Model> {
    let mut tx = begin(state).await?;
    let folder = managed_folder(state, tx.conn(), actor, folder_id).await?;
    if folder.restricted == restricted {
        return Ok(folder);
    }
    let mut active: folder::ActiveModel = folder.into();
    active.restricted = Set(restricted);
    active.updated_at = Set(tx.now());
    let folder = active.update(tx.conn()).await?;
    tx.audit(
        event(
            if restricted {
                AuditAction::FolderRestricted
            } else {
                AuditAction::FolderUnrestricted
            },
            actor,
            meta,
        )
        .target("folder", folder.id),
    )
    .await?;
    if restricted {
        // Still able to manage it afterwards?
        let after = folder_facts(tx.conn(), actor, Some(&folder)).await?;
        let keeps = authorize(
            actor,
            Action::ManageAccess,
            &Resource::Folder(after),
            tx.now(),
        )
        .is_ok();
        if let (false, Some(user_id)) = (keeps, actor.user_id()) {
            access_grant::ActiveModel {
                id: Set(Uuid::now_v7()),
                folder_id: Set(folder.id),
                subject_kind: Set(SubjectKind::User),
                subject_id: Set(user_id),
                level: Set(GrantLevel::Manage),
                granted_by: Set(Some(user_id)),
                created_at: Set(tx.now()),
            }
            .insert(tx.conn())
            .await?;
            tx.audit(
                event(AuditAction::AccessGranted, actor, meta)
                    .target("folder", folder.id)
                    .details(json!({
                        "subjectKind": SubjectKind::User,
                        "subjectId": user_id,
                        "level": GrantLevel::Manage,
                        "previous": null,
                        "reason": "restricted by a non-administrator",
                    })),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(folder)
}

/// An access mode and publication window for `setAccess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessSetting {
    pub mode: AccessMode,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// The most assets one `setAccess` changes.
pub const MAX_ACCESS_BATCH: usize = 500;

/// Sets the access mode and window of a batch of assets: all or nothing,
/// MANAGE_ACCESS needed on every one. Returns the updated assets in the
/// order asked.
pub async fn set_access(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    asset_ids: &[Uuid],
    setting: AccessSetting,
) -> ApiResult<Vec<asset::Model>> {
    if asset_ids.is_empty() || asset_ids.len() > MAX_ACCESS_BATCH {
        return Err(ApiError::BadUserInput(format!(
            "give 1 to {MAX_ACCESS_BATCH} asset ids"
        )));
    }
    if let (Some(s), Some(e)) = (setting.starts_at, setting.ends_at)
        && e <= s
    {
        return Err(ApiError::BadUserInput(
            "endsAt must come after startsAt".into(),
        ));
    }
    let mut ids = asset_ids.to_vec();
    ids.sort();
    ids.dedup();
    let not_found = || ApiError::NotFound("no such asset".into());
    let mut tx = begin(state).await?;
    let found = asset::Entity::find()
        .filter(asset::Column::Id.is_in(ids.clone()))
        .all(tx.conn())
        .await?;
    if found.len() != ids.len() {
        return Err(not_found());
    }
    let map = load_map(tx.conn(), actor).await?;
    let folder_ids: Vec<Uuid> = found.iter().filter_map(|a| a.folder_id).collect();
    let ancestries: std::collections::HashMap<Uuid, String> = folder::Entity::find()
        .select_only()
        .column(folder::Column::Id)
        .column(folder::Column::Ancestry)
        .filter(folder::Column::Id.is_in(folder_ids))
        .into_tuple::<(Uuid, String)>()
        .all(tx.conn())
        .await?
        .into_iter()
        .collect();
    let now = tx.now();
    for a in &found {
        let ancestry = a
            .folder_id
            .and_then(|f| ancestries.get(&f))
            .map(String::as_str);
        let resource = Resource::Asset(map.asset_facts(ancestry, a));
        authorize(actor, Action::ViewMetadata, &resource, now).map_err(|d| denied(d, not_found))?;
        if a.deleted_at.is_some() {
            return Err(not_found());
        }
        authorize(actor, Action::ManageAccess, &resource, now).map_err(|d| denied(d, not_found))?;
    }
    let mut updated = std::collections::HashMap::new();
    for a in found {
        let unchanged = a.access_mode == setting.mode
            && a.access_starts_at == setting.starts_at
            && a.access_ends_at == setting.ends_at;
        if unchanged {
            updated.insert(a.id, a);
            continue;
        }
        let before = json!({
            "mode": a.access_mode,
            "startsAt": a.access_starts_at,
            "endsAt": a.access_ends_at,
        });
        let id = a.id;
        let mut active: asset::ActiveModel = a.into();
        active.access_mode = Set(setting.mode);
        active.access_starts_at = Set(setting.starts_at);
        active.access_ends_at = Set(setting.ends_at);
        active.updated_at = Set(now);
        let model = active.update(tx.conn()).await?;
        tx.audit(
            event(AuditAction::AssetAccessChanged, actor, meta)
                .target("asset", id)
                .details(json!({
                    "from": before,
                    "to": {
                        "mode": setting.mode,
                        "startsAt": setting.starts_at,
                        "endsAt": setting.ends_at,
                    },
                })),
        )
        .await?;
        updated.insert(id, model);
    }
    tx.commit().await?;
    Ok(asset_ids
        .iter()
        .filter_map(|id| updated.get(id).cloned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_ancestries() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(parent_ancestry(&format!("/{a}/")), None);
        let child = format!("/{a}/{b}/");
        let parent = format!("/{a}/");
        assert_eq!(parent_ancestry(&child), Some(parent.as_str()));
    }
}

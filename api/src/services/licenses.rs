//! Licenses: created and attached by those with MANAGE_LICENSES; an asset's
//! license state is computed at each request from the licenses attached to
//! it (`vitrine_entity::license`).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{asset, asset_license, folder, license};
use vitrine_entity::license::{Channel, LicenseState, normalize_territory, state};
use vitrine_entity::policy::{Action, Actor};

use crate::error::{ApiError, ApiResult};
use crate::services::{access, assets, authorize_instance, begin, event, folders};
use crate::state::{AppState, RequestMeta};

/// Most assets one attach or detach may change.
pub const MAX_ATTACH_BATCH: usize = 10_000;

/// A license's terms as given by a client.
#[derive(Debug, Clone, Default)]
pub struct LicenseInput {
    pub name: Option<String>,
    pub licensor: Option<String>,
    pub reference: Option<Option<String>>,
    pub channels: Option<Vec<Channel>>,
    pub territories: Option<Vec<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub notes: Option<Option<String>>,
}

/// Which licenses `licenses` lists.
#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    pub state: Option<LicenseState>,
    pub expiring_within_days: Option<i64>,
    pub licensor: Option<String>,
    pub channel: Option<Channel>,
}

/// Licenses by state (for the dashboard).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub scheduled: u64,
    pub active: u64,
    pub expiring: u64,
    pub expired: u64,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such license".into())
}

fn required_text(value: Option<String>, name: &str) -> ApiResult<String> {
    let v = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(ApiError::BadUserInput(format!(
            "{name} needs 1 to 200 printable characters"
        )));
    }
    Ok(v)
}

fn optional_text(value: Option<String>, max: usize, name: &str) -> ApiResult<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(ApiError::BadUserInput(format!(
            "{name} is longer than {max} characters"
        )));
    }
    Ok(Some(v))
}

fn channels_text(channels: &[Channel]) -> ApiResult<String> {
    let set: BTreeSet<Channel> = channels.iter().copied().collect();
    if set.is_empty() {
        return Err(ApiError::BadUserInput("give at least one channel".into()));
    }
    Ok(set
        .into_iter()
        .map(Channel::as_str)
        .collect::<Vec<_>>()
        .join(","))
}

fn territories_text(territories: &[String]) -> ApiResult<String> {
    let mut set = BTreeSet::new();
    for t in territories {
        let code = normalize_territory(t).ok_or_else(|| {
            ApiError::BadUserInput(format!("{t:?} is not an ISO 3166-1 alpha-2 code nor WORLD"))
        })?;
        set.insert(code);
    }
    if set.is_empty() {
        return Err(ApiError::BadUserInput("give at least one territory".into()));
    }
    if set.contains(vitrine_entity::license::WORLD) {
        return Ok(vitrine_entity::license::WORLD.to_owned());
    }
    Ok(set.into_iter().collect::<Vec<_>>().join(","))
}

fn check_window(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> ApiResult<()> {
    if ends_at <= starts_at {
        return Err(ApiError::BadUserInput(
            "endsAt must come after startsAt".into(),
        ));
    }
    Ok(())
}

/// The license's own state at `now` (as if it were the only one).
pub fn license_state(l: &license::Model, now: DateTime<Utc>, notice: Duration) -> LicenseState {
    state(&[l.terms()], now, notice)
}

pub fn notice(state: &AppState) -> Duration {
    Duration::from_std(state.config.license_notice).unwrap_or(Duration::days(14))
}

/// Creates a license (MANAGE_LICENSES).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    input: LicenseInput,
) -> ApiResult<license::Model> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    let name = required_text(input.name, "name")?;
    let licensor = required_text(input.licensor, "licensor")?;
    let reference = optional_text(input.reference.flatten(), 200, "reference")?;
    let notes = optional_text(input.notes.flatten(), 10_000, "notes")?;
    let channels = channels_text(&input.channels.unwrap_or_default())?;
    let territories = territories_text(&input.territories.unwrap_or_default())?;
    let (Some(starts_at), Some(ends_at)) = (input.starts_at, input.ends_at) else {
        return Err(ApiError::BadUserInput(
            "startsAt and endsAt are required".into(),
        ));
    };
    check_window(starts_at, ends_at)?;
    let now = state.clock.now();
    let mut tx = begin(state).await?;
    let model = license::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        licensor: Set(licensor),
        reference: Set(reference),
        channels: Set(channels),
        territories: Set(territories),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        notes: Set(notes),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
        expiry_processed_at: Set(None),
        expiring_notice_for: Set(None),
    }
    .insert(tx.conn())
    .await?;
    tx.audit(
        event(AuditAction::LicenseCreated, actor, meta)
            .target("license", model.id)
            .details(json!({
                "name": model.name,
                "licensor": model.licensor,
                "channels": model.channels,
                "territories": model.territories,
                "startsAt": model.starts_at,
                "endsAt": model.ends_at,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// Changes a license's terms (MANAGE_LICENSES). A shorter window acts at
/// once on every path that asks for the asset's license state.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
    input: LicenseInput,
) -> ApiResult<license::Model> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    let mut tx = begin(state).await?;
    let current = license::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let before = json!({
        "channels": current.channels,
        "territories": current.territories,
        "startsAt": current.starts_at,
        "endsAt": current.ends_at,
    });
    let starts_at = input.starts_at.unwrap_or(current.starts_at);
    let ends_at = input.ends_at.unwrap_or(current.ends_at);
    let end_moved = ends_at != current.ends_at;
    check_window(starts_at, ends_at)?;
    let mut active: license::ActiveModel = current.into();
    if input.name.is_some() {
        active.name = Set(required_text(input.name, "name")?);
    }
    if input.licensor.is_some() {
        active.licensor = Set(required_text(input.licensor, "licensor")?);
    }
    if let Some(r) = input.reference {
        active.reference = Set(optional_text(r, 200, "reference")?);
    }
    if let Some(n) = input.notes {
        active.notes = Set(optional_text(n, 10_000, "notes")?);
    }
    if let Some(c) = input.channels {
        active.channels = Set(channels_text(&c)?);
    }
    if let Some(t) = input.territories {
        active.territories = Set(territories_text(&t)?);
    }
    if end_moved {
        // The takedown sweep handles the new end (and gives back what an
        // extension covers again).
        active.expiry_processed_at = Set(None);
    }
    active.starts_at = Set(starts_at);
    active.ends_at = Set(ends_at);
    active.updated_at = Set(state.clock.now());
    let model = active.update(tx.conn()).await?;
    tx.audit(
        event(AuditAction::LicenseUpdated, actor, meta)
            .target("license", model.id)
            .details(json!({
                "before": before,
                "after": {
                    "channels": model.channels,
                    "territories": model.territories,
                    "startsAt": model.starts_at,
                    "endsAt": model.ends_at,
                },
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(model)
}

/// The assets an attach or detach concerns: the ids given, or every asset
/// under a folder (not in the trash). Each needs MANAGE_LICENSES.
async fn target_assets<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    actor: &Actor,
    asset_ids: &[Uuid],
    folder_id: Option<Uuid>,
) -> ApiResult<Vec<Uuid>> {
    let found = match (asset_ids.is_empty(), folder_id) {
        (false, None) => {
            if asset_ids.len() > MAX_ATTACH_BATCH {
                return Err(ApiError::BadUserInput(format!(
                    "at most {MAX_ATTACH_BATCH} assets at once"
                )));
            }
            let mut ids = asset_ids.to_vec();
            ids.sort();
            ids.dedup();
            let found = asset::Entity::find()
                .filter(asset::Column::Id.is_in(ids.clone()))
                .all(conn)
                .await?;
            if found.len() != ids.len() {
                return Err(ApiError::NotFound("no such asset".into()));
            }
            found
        }
        (true, Some(folder_id)) => {
            let folder = folders::authorize_folder(
                state,
                conn,
                actor,
                Action::ManageLicenses,
                Some(folder_id),
            )
            .await?
            .ok_or_else(|| ApiError::NotFound("no such folder".into()))?;
            let found = asset::Entity::find()
                .filter(asset::Column::DeletedAt.is_null())
                .filter(
                    asset::Column::FolderId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(folder::Column::Id)
                            .from(folder::Entity)
                            .and_where(access::like_prefix(&folder.ancestry))
                            .to_owned(),
                    ),
                )
                .limit(MAX_ATTACH_BATCH as u64 + 1)
                .all(conn)
                .await?;
            if found.len() > MAX_ATTACH_BATCH {
                return Err(ApiError::BadUserInput(format!(
                    "the folder holds more than {MAX_ATTACH_BATCH} assets: attach in batches of ids"
                )));
            }
            found
        }
        _ => {
            return Err(ApiError::BadUserInput(
                "give either assetIds or a folderId".into(),
            ));
        }
    };
    for a in &found {
        assets::authorize_asset(state, conn, actor, Action::ManageLicenses, a).await?;
    }
    Ok(found.into_iter().map(|a| a.id).collect())
}

/// Attaches a license to assets (all or nothing). Returns how many were
/// newly attached.
pub async fn attach(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    license_id: Uuid,
    asset_ids: &[Uuid],
    folder_id: Option<Uuid>,
) -> ApiResult<u64> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    let mut tx = begin(state).await?;
    license::Entity::find_by_id(license_id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let ids = target_assets(state, tx.conn(), actor, asset_ids, folder_id).await?;
    let existing: BTreeSet<Uuid> = asset_license::Entity::find()
        .select_only()
        .column(asset_license::Column::AssetId)
        .filter(asset_license::Column::LicenseId.eq(license_id))
        .filter(asset_license::Column::AssetId.is_in(ids.clone()))
        .into_tuple::<Uuid>()
        .all(tx.conn())
        .await?
        .into_iter()
        .collect();
    let new: Vec<Uuid> = ids.into_iter().filter(|i| !existing.contains(i)).collect();
    let now = state.clock.now();
    for chunk in new.chunks(1000) {
        asset_license::Entity::insert_many(chunk.iter().map(|a| asset_license::ActiveModel {
            license_id: Set(license_id),
            asset_id: Set(*a),
            attached_by: Set(actor.user_id()),
            attached_at: Set(now),
        }))
        .exec_without_returning(tx.conn())
        .await?;
    }
    if !new.is_empty() {
        tx.audit(
            event(AuditAction::LicenseAttached, actor, meta)
                .target("license", license_id)
                .details(json!({ "assets": new.len(), "folderId": folder_id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(new.len() as u64)
}

/// Detaches a license from assets. Returns how many were detached.
pub async fn detach(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    license_id: Uuid,
    asset_ids: &[Uuid],
    folder_id: Option<Uuid>,
) -> ApiResult<u64> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    let mut tx = begin(state).await?;
    license::Entity::find_by_id(license_id)
        .one(tx.conn())
        .await?
        .ok_or_else(not_found)?;
    let ids = target_assets(state, tx.conn(), actor, asset_ids, folder_id).await?;
    let mut removed = 0;
    for chunk in ids.chunks(1000) {
        removed += asset_license::Entity::delete_many()
            .filter(asset_license::Column::LicenseId.eq(license_id))
            .filter(asset_license::Column::AssetId.is_in(chunk.to_vec()))
            .exec(tx.conn())
            .await?
            .rows_affected;
    }
    if removed > 0 {
        tx.audit(
            event(AuditAction::LicenseDetached, actor, meta)
                .target("license", license_id)
                .details(json!({
                    "assets": removed,
                    "folderId": folder_id,
                    // Named when few (a CDN purge needs them once detached).
                    "assetIds": (ids.len() <= 1000).then_some(&ids),
                })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// The SQL condition for licenses in `wanted` state at `now`.
fn state_condition(wanted: LicenseState, now: DateTime<Utc>, notice: Duration) -> Condition {
    use license::Column as C;
    match wanted {
        LicenseState::Scheduled => Condition::all().add(C::StartsAt.gt(now)),
        LicenseState::Active => Condition::all()
            .add(C::StartsAt.lte(now))
            .add(C::EndsAt.gt(now + notice)),
        LicenseState::Expiring => Condition::all()
            .add(C::StartsAt.lte(now))
            .add(C::EndsAt.gt(now))
            .add(C::EndsAt.lte(now + notice)),
        LicenseState::Expired => Condition::all().add(C::EndsAt.lte(now)),
        // A license is never "unlicensed".
        LicenseState::Unlicensed => Condition::all().add(C::Id.is_null()),
    }
}

/// Licenses by end date (MANAGE_LICENSES), with counts per state of all
/// licenses matching the other filters.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: LicenseFilter,
) -> ApiResult<(Vec<license::Model>, StateCounts)> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    let now = state.clock.now();
    let notice = notice(state);
    let mut base = Condition::all();
    if let Some(l) = filter
        .licensor
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        base = base.add(license::Column::Licensor.eq(l));
    }
    if let Some(c) = filter.channel {
        base = base.add(license::Column::Channels.like(format!("%{}%", c.as_str())));
    }
    let mut counts = StateCounts::default();
    for (s, slot) in [
        (LicenseState::Scheduled, &mut counts.scheduled),
        (LicenseState::Active, &mut counts.active),
        (LicenseState::Expiring, &mut counts.expiring),
        (LicenseState::Expired, &mut counts.expired),
    ] {
        *slot = sea_orm::PaginatorTrait::count(
            license::Entity::find()
                .filter(base.clone())
                .filter(state_condition(s, now, notice)),
            &state.db,
        )
        .await?;
    }
    let mut query = license::Entity::find().filter(base);
    if let Some(s) = filter.state {
        query = query.filter(state_condition(s, now, notice));
    }
    if let Some(days) = filter.expiring_within_days {
        if days < 0 {
            return Err(ApiError::BadUserInput(
                "expiringWithinDays must not be negative".into(),
            ));
        }
        query = query
            .filter(license::Column::EndsAt.gt(now))
            .filter(license::Column::EndsAt.lte(now + Duration::days(days)));
    }
    let items = query
        .order_by_asc(license::Column::EndsAt)
        .order_by_asc(license::Column::Id)
        .limit(1000)
        .all(&state.db)
        .await?;
    Ok((items, counts))
}

/// One license (MANAGE_LICENSES).
pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<license::Model> {
    authorize_instance(state, actor, Action::ManageLicenses)?;
    license::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)
}

/// The licenses attached to each of `asset_ids`.
pub async fn of_assets<C: ConnectionTrait>(
    conn: &C,
    asset_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<license::Model>>, sea_orm::DbErr> {
    let links = asset_license::Entity::find()
        .filter(asset_license::Column::AssetId.is_in(asset_ids.to_vec()))
        .all(conn)
        .await?;
    let license_ids: BTreeSet<Uuid> = links.iter().map(|l| l.license_id).collect();
    let licenses: HashMap<Uuid, license::Model> = license::Entity::find()
        .filter(license::Column::Id.is_in(license_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let mut out: HashMap<Uuid, Vec<license::Model>> = HashMap::new();
    for link in links {
        if let Some(l) = licenses.get(&link.license_id) {
            out.entry(link.asset_id).or_default().push(l.clone());
        }
    }
    Ok(out)
}

/// How many assets a license is attached to.
pub async fn asset_count<C: ConnectionTrait>(conn: &C, license_id: Uuid) -> ApiResult<u64> {
    Ok(sea_orm::PaginatorTrait::count(
        asset_license::Entity::find().filter(asset_license::Column::LicenseId.eq(license_id)),
        conn,
    )
    .await?)
}

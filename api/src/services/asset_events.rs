//! What the `assetEvents` subscription tells each subscriber: asset changes
//! read from the audit stream, each re-checked against the subscriber's
//! access at the moment it is delivered.

use sea_orm::EntityTrait;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_entity::entities::{asset, audit_event};
use vitrine_entity::policy::{Action, Actor, Resource, authorize};

use crate::error::ApiResult;
use crate::services::access;
use crate::state::AppState;

pub use vitrine_entity::asset_events::{AssetEventKind, classify, window};

/// What a subscriber gets told.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Nothing: the subscriber neither sees the asset now nor saw it before.
    Nothing,
    /// The event with the asset as it is now.
    With(asset::Model),
    /// The event without the asset: the subscriber saw it before this event
    /// but not any more (trashed, withdrawn, moved away).
    Without,
}

/// Decides what `actor` (as it is now) is told about `event`.
pub async fn for_subscriber(
    state: &AppState,
    actor: &Actor,
    event: &audit_event::Model,
    asset_id: Uuid,
) -> ApiResult<Delivery> {
    let Some(current) = asset::Entity::find_by_id(asset_id).one(&state.db).await? else {
        return Ok(Delivery::Nothing);
    };
    let now = state.clock.now();
    let map = access::load_map(&state.db, actor).await?;
    let mut licensed = vitrine_entity::policy::AssetFacts::default();
    access::add_licensing(
        &state.db,
        actor,
        &mut licensed,
        asset_id,
        state.config.license_unlicensed_deliverable,
        Default::default(),
    )
    .await?;
    let licensing = licensed.licensing;
    // Before a takedown, the asset was licensed.
    let taken_down = event.action == AuditAction::AssetTakenDown.as_str();
    let sees_licensed = |a: &asset::Model, ancestry: Option<&str>, licensed: bool| {
        let mut facts = map.asset_facts(ancestry, a);
        facts.licensing = if licensed {
            Some(vitrine_entity::policy::Licensing {
                unlicensed_allowed: true,
                ..Default::default()
            })
        } else {
            licensing.clone()
        };
        authorize(actor, Action::ViewMetadata, &Resource::Asset(facts), now).is_ok()
    };
    let ancestry = access::folder_ancestry(&state.db, current.folder_id).await?;
    if current.deleted_at.is_none() && sees_licensed(&current, ancestry.as_deref(), false) {
        return Ok(Delivery::With(current));
    }
    // Did the subscriber see it just before this event?
    let mut before = current.clone();
    let mut before_ancestry = ancestry;
    match AuditAction::from_str_opt(&event.action) {
        Some(AuditAction::AssetDeleted) => before.deleted_at = None,
        Some(AuditAction::AssetAccessChanged) => {
            let Some((mode, starts, ends)) = window(event, "from") else {
                return Ok(Delivery::Nothing);
            };
            before.access_mode = mode;
            before.access_starts_at = starts;
            before.access_ends_at = ends;
        }
        Some(AuditAction::AssetMoved) => {
            let from = serde_json::from_str::<serde_json::Value>(&event.details)
                .ok()
                .and_then(|d| d.get("fromFolderId").cloned())
                .and_then(|v| serde_json::from_value::<Option<Uuid>>(v).ok())
                .flatten();
            before.folder_id = from;
            before_ancestry = access::folder_ancestry(&state.db, from).await?;
        }
        Some(AuditAction::AssetTakenDown) => {}
        Some(
            AuditAction::ModerationRejected
            | AuditAction::ModerationRequired
            | AuditAction::ModerationOverridden,
        ) => before.awaiting_moderation = false,
        _ => return Ok(Delivery::Nothing),
    }
    Ok(
        if before.deleted_at.is_none()
            && sees_licensed(&before, before_ancestry.as_deref(), taken_down)
        {
            Delivery::Without
        } else {
            Delivery::Nothing
        },
    )
}

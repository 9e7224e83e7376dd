//! Which audit events are events about an asset, and of what kind (read by
//! the `assetEvents` subscription and the webhook fan-out alike).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{AccessMode, AuditAction};
use crate::entities::audit_event;

/// What happened to an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AssetEventKind {
    /// A new asset was uploaded.
    Created,
    /// It became PUBLIC (inside its window): it may now leave the organisation.
    Published,
    /// Title, tags, folder, a new version, its renditions, its ownership statement.
    Updated,
    /// A FINAL version was approved.
    VersionApproved,
    /// Its access mode or window changed (other than becoming published).
    AccessChanged,
    /// Moved to the trash.
    Deleted,
    /// Back from the trash.
    Restored,
    /// Its last license in force ended: it no longer leaves the organisation.
    TakenDown,
    /// Licensed again after a takedown.
    Reinstated,
}

/// The asset event an audit event stands for, if any.
pub fn classify(event: &audit_event::Model, now: DateTime<Utc>) -> Option<(Uuid, AssetEventKind)> {
    if event.target_type.as_deref() != Some("asset") {
        return None;
    }
    let asset_id = Uuid::parse_str(event.target_id.as_deref()?).ok()?;
    let action = AuditAction::from_str_opt(&event.action)?;
    let kind = match action {
        AuditAction::AssetCreated => AssetEventKind::Created,
        AuditAction::AssetRenamed
        | AuditAction::AssetRetagged
        | AuditAction::AssetDescribed
        | AuditAction::AssetMoved
        | AuditAction::VersionUploaded
        | AuditAction::VersionRestored
        | AuditAction::VersionProcessed
        | AuditAction::AssetOwnershipUpdated
        | AuditAction::RenditionsRetagged => AssetEventKind::Updated,
        AuditAction::VersionApproved => AssetEventKind::VersionApproved,
        // Approval lets the asset leave the organisation; a rejection (of a
        // version that was approved before) takes it back.
        AuditAction::ModerationApproved => AssetEventKind::Published,
        AuditAction::ModerationRejected | AuditAction::ModerationRequired => {
            AssetEventKind::AccessChanged
        }
        AuditAction::ModerationOverridden => {
            let details: serde_json::Value = serde_json::from_str(&event.details).ok()?;
            if details.get("decision").and_then(|d| d.as_str()) == Some("APPROVED") {
                AssetEventKind::Published
            } else {
                AssetEventKind::AccessChanged
            }
        }
        AuditAction::AssetAccessChanged => {
            let to = window(event, "to")?;
            if to.0 == AccessMode::Public
                && to.1.is_none_or(|s| now >= s)
                && to.2.is_none_or(|e| now < e)
            {
                AssetEventKind::Published
            } else {
                AssetEventKind::AccessChanged
            }
        }
        AuditAction::AssetDeleted => AssetEventKind::Deleted,
        AuditAction::AssetRestored => AssetEventKind::Restored,
        AuditAction::AssetTakenDown => AssetEventKind::TakenDown,
        AuditAction::AssetReinstated => AssetEventKind::Reinstated,
        _ => return None,
    };
    Some((asset_id, kind))
}

pub type Window = (AccessMode, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The access mode and window recorded under `key` (`from` or `to`) of an
/// ASSET_ACCESS_CHANGED event.
pub fn window(event: &audit_event::Model, key: &str) -> Option<Window> {
    let details: serde_json::Value = serde_json::from_str(&event.details).ok()?;
    let part = details.get(key)?;
    let mode: AccessMode = serde_json::from_value(part.get("mode")?.clone()).ok()?;
    let at = |k: &str| {
        part.get(k)
            .and_then(|v| serde_json::from_value::<Option<DateTime<Utc>>>(v.clone()).ok())
            .flatten()
    };
    Some((mode, at("startsAt"), at("endsAt")))
}

impl AssetEventKind {
    /// The webhook event type (`asset.published`, …).
    pub fn webhook_type(self) -> &'static str {
        match self {
            AssetEventKind::Created => "asset.created",
            AssetEventKind::Published => "asset.published",
            AssetEventKind::Updated => "asset.updated",
            AssetEventKind::VersionApproved => "asset.version_approved",
            AssetEventKind::AccessChanged => "asset.access_changed",
            AssetEventKind::Deleted => "asset.deleted",
            AssetEventKind::Restored => "asset.restored",
            AssetEventKind::TakenDown => "asset.taken_down",
            AssetEventKind::Reinstated => "asset.reinstated",
        }
    }
}

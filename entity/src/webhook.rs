//! Webhook rules: the event types, which audit events they stand for, who
//! may subscribe to which, and the retry schedule. Pure; the worker fans out
//! and sends, the API manages endpoints.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::asset_events::{AssetEventKind, classify};
use crate::domain::AuditAction;
use crate::entities::audit_event;

/// Every event type an endpoint may subscribe to, in documentation order.
pub const EVENT_TYPES: [&str; 12] = [
    "asset.created",
    "asset.published",
    "asset.updated",
    "asset.version_approved",
    "asset.access_changed",
    "asset.deleted",
    "asset.restored",
    "asset.taken_down",
    "asset.reinstated",
    "license.expiring",
    "share_link.opened",
    "anomaly.detected",
];

/// The type of the test ping (`testWebhook`); not subscribable.
pub const PING: &str = "ping";

/// Whether a partner organisation's endpoint may subscribe to `event_type`:
/// events about assets only (each re-checked against the organisation's
/// rights when sent). Licenses, share links and anomalies are the brand's
/// own business.
pub fn partner_may_subscribe(event_type: &str) -> bool {
    event_type.starts_with("asset.") && EVENT_TYPES.contains(&event_type)
}

/// The webhook event an audit event stands for: its type and, for asset
/// events, the asset (deliveries about one asset go out in order).
pub fn event_of(
    event: &audit_event::Model,
    now: DateTime<Utc>,
) -> Option<(&'static str, Option<Uuid>)> {
    if let Some((asset_id, kind)) = classify(event, now) {
        return Some((kind.webhook_type(), Some(asset_id)));
    }
    match AuditAction::from_str_opt(&event.action)? {
        AuditAction::LicenseExpiring => Some(("license.expiring", None)),
        AuditAction::ShareLinkOpened => Some(("share_link.opened", None)),
        AuditAction::AnomalyDetected => Some(("anomaly.detected", None)),
        _ => None,
    }
}

/// The audit actions that may stand for a webhook event (a pre-filter for
/// reading the log; [`event_of`] decides).
pub fn candidate_actions() -> Vec<&'static str> {
    [
        AuditAction::AssetCreated,
        AuditAction::AssetRenamed,
        AuditAction::AssetRetagged,
        AuditAction::AssetDescribed,
        AuditAction::AssetMoved,
        AuditAction::VersionUploaded,
        AuditAction::VersionRestored,
        AuditAction::VersionProcessed,
        AuditAction::AssetOwnershipUpdated,
        AuditAction::RenditionsRetagged,
        AuditAction::VersionApproved,
        AuditAction::AssetAccessChanged,
        AuditAction::AssetDeleted,
        AuditAction::AssetRestored,
        AuditAction::AssetTakenDown,
        AuditAction::AssetReinstated,
        AuditAction::ModerationApproved,
        AuditAction::ModerationRejected,
        AuditAction::ModerationOverridden,
        AuditAction::ModerationRequired,
        AuditAction::LicenseExpiring,
        AuditAction::ShareLinkOpened,
        AuditAction::AnomalyDetected,
    ]
    .iter()
    .map(|a| a.as_str())
    .collect()
}

/// Whether an asset event kind is a removal: a subscriber that no longer
/// sees the asset is still told it is gone, without the asset, if it was
/// told about the asset before.
pub fn is_removal(kind: AssetEventKind) -> bool {
    matches!(
        kind,
        AssetEventKind::Deleted | AssetEventKind::TakenDown | AssetEventKind::AccessChanged
    )
}

/// Validates an event filter: known types, and for a partner endpoint only
/// asset events. Returns the normalised list.
pub fn validate_events(events: &[String], partner: bool) -> Result<Vec<String>, String> {
    if events.is_empty() {
        return Err("give at least one event type".into());
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim().to_ascii_lowercase();
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(format!(
                "{e:?} is not an event type (one of: {})",
                EVENT_TYPES.join(", ")
            ));
        }
        if partner && !partner_may_subscribe(&e) {
            return Err(format!(
                "a partner organisation's endpoint may subscribe to asset events only, not {e:?}"
            ));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// When attempt `attempts + 1` is due after `attempts` failed ones:
/// exponential backoff from 10 seconds, doubling, capped at one hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let seconds = 10i64.saturating_mul(1i64 << exp.min(20));
    Duration::seconds(seconds.min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_to_an_hour() {
        let secs: Vec<i64> = (1..=12).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(
            secs,
            vec![10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
        );
        assert_eq!(backoff(0).num_seconds(), 10);
        assert_eq!(backoff(i32::MAX).num_seconds(), 3600);
    }

    #[test]
    fn partners_subscribe_to_asset_events_only() {
        for t in EVENT_TYPES {
            assert_eq!(partner_may_subscribe(t), t.starts_with("asset."), "{t}");
        }
        assert!(!partner_may_subscribe("asset.bogus"));
        assert!(validate_events(&["license.expiring".into()], true).is_err());
        assert!(validate_events(&["license.expiring".into()], false).is_ok());
        assert!(validate_events(&[], false).is_err());
        assert!(validate_events(&["nope".into()], false).is_err());
        assert_eq!(
            validate_events(&["Asset.Published".into(), "asset.published".into()], true),
            Ok(vec!["asset.published".to_owned()])
        );
    }
}

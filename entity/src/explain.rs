//! Why the policy decided what it did, in words: for `explainAccess`. Pure;
//! it reads the same [`Denial`] and facts the decision was made from, so it
//! cannot disagree with it (there is no second implementation).

use chrono::{DateTime, Utc};

use crate::audit_chain::format_instant;
use crate::domain::AccessMode;
use crate::policy::{AssetFacts, Denial, LinkState};

/// A stable code per denial, for clients to branch on.
pub fn code(denial: &Denial) -> &'static str {
    match denial {
        Denial::Unauthenticated => "UNAUTHENTICATED",
        Denial::RoleLacksAction { .. } => "ROLE_LACKS_ACTION",
        Denial::PartnerNotAllowlisted => "PARTNER_NOT_ALLOWLISTED",
        Denial::ActorKindLacksAction { .. } => "ACTOR_KIND_LACKS_ACTION",
        Denial::InTrash => "IN_TRASH",
        Denial::Restricted => "RESTRICTED_FOLDER",
        Denial::NoGrant => "NO_GRANT",
        Denial::NotPublished => "NOT_PUBLISHED",
        Denial::GrantLacksAction { .. } => "GRANT_LACKS_ACTION",
        Denial::LinkUnavailable => "LINK_UNAVAILABLE",
        Denial::NotInLink => "NOT_IN_LINK",
        Denial::ScopeLacksAction { .. } => "LINK_SCOPE_LACKS_ACTION",
        Denial::DownloadsExhausted => "DOWNLOADS_EXHAUSTED",
        Denial::NotLicensed => "NOT_LICENSED",
        Denial::CreatorLacksAction { .. } => "LINK_CREATOR_LACKS_ACTION",
        Denial::UseNotLicensed => "USE_NOT_LICENSED",
        Denial::KeyScopeLacksAction { .. } => "KEY_SCOPE_LACKS_ACTION",
        Denial::AwaitingModeration => "AWAITING_MODERATION",
        Denial::NotShared => "NOT_SHARED",
        Denial::NotOwner => "NOT_OWNER",
        Denial::PartnerMayNotShare => "PARTNER_MAY_NOT_SHARE",
        Denial::ProfileNotEntitled => "PROFILE_NOT_ENTITLED",
        Denial::NotPublicDelivery => "NOT_PUBLIC_DELIVERY",
    }
}

/// The fact that decided a denial about an asset, as a sentence.
pub fn sentence(denial: &Denial, facts: &AssetFacts, now: DateTime<Utc>) -> String {
    match denial {
        Denial::NotPublished => not_published(facts, now),
        Denial::NotLicensed => not_licensed(facts, now),
        Denial::LinkUnavailable => match facts.link.as_ref().map(|l| l.state(now)) {
            Some(LinkState::Revoked) => "the share link was revoked".into(),
            Some(LinkState::Expired) => "the share link has expired".into(),
            Some(LinkState::NotStarted) => "the share link has not started yet".into(),
            Some(LinkState::Exhausted) => "the share link's views are used up".into(),
            _ => "the share link is unavailable".into(),
        },
        Denial::NoGrant => {
            "no grant on the asset's folder (or a folder above it) covers this subject".into()
        }
        Denial::Restricted => {
            "the asset is in a restricted folder and no grant there covers this subject".into()
        }
        Denial::InTrash => "the asset is in the trash".into(),
        Denial::AwaitingModeration => {
            "its current version is awaiting moderation (or was rejected)".into()
        }
        other => other.to_string(),
    }
}

fn not_published(facts: &AssetFacts, now: DateTime<Utc>) -> String {
    if facts.access != AccessMode::Public {
        return "the asset's access mode is RESTRICTED (members only), not PUBLIC".into();
    }
    match (facts.starts_at, facts.ends_at) {
        (Some(start), _) if now < start => format!(
            "embargoed until {}: its publication window has not opened",
            format_instant(start)
        ),
        (_, Some(end)) if now >= end => {
            format!("its publication window ended at {}", format_instant(end))
        }
        _ => "not published".into(),
    }
}

fn not_licensed(facts: &AssetFacts, now: DateTime<Utc>) -> String {
    let Some(licensing) = &facts.licensing else {
        return "no license in force covers it now".into();
    };
    if licensing.licenses.is_empty() {
        return "it has no license (and unlicensed assets may not leave the organisation)".into();
    }
    let ended = licensing
        .licenses
        .iter()
        .filter(|t| t.ends_at <= now)
        .map(|t| t.ends_at)
        .max();
    let next = licensing
        .licenses
        .iter()
        .filter(|t| t.starts_at > now)
        .map(|t| t.starts_at)
        .min();
    match (next, ended) {
        (Some(start), _) => format!("its license starts only at {}", format_instant(start)),
        (None, Some(end)) => format!("its last license ended at {}", format_instant(end)),
        _ => "no license in force covers this use (channel or territory)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Action, Actor, KeyScope, Licensing, Resource, authorize};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn partner() -> Actor {
        Actor::Partner {
            user_id: Uuid::nil(),
            org_id: Uuid::from_u128(7),
            org_allowlisted: true,
            scope: KeyScope::FULL,
        }
    }

    #[test]
    fn an_embargo_is_named_with_its_instant() {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let start = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
        let facts = AssetFacts {
            grant: Some(crate::domain::GrantLevel::View),
            access: AccessMode::Public,
            starts_at: Some(start),
            licensing: Some(Licensing {
                unlicensed_allowed: true,
                ..Licensing::default()
            }),
            ..AssetFacts::default()
        };
        let denial = authorize(
            &partner(),
            Action::ViewMetadata,
            &Resource::Asset(facts.clone()),
            now,
        )
        .unwrap_err();
        assert_eq!(code(&denial), "NOT_PUBLISHED");
        assert!(
            sentence(&denial, &facts, now).contains("embargoed until 2027-03-01T09:00:00"),
            "{}",
            sentence(&denial, &facts, now)
        );
        let mut unlicensed = facts.clone();
        unlicensed.starts_at = None;
        unlicensed.licensing = Some(Licensing::default());
        let denial = authorize(
            &partner(),
            Action::ViewMetadata,
            &Resource::Asset(unlicensed.clone()),
            now,
        )
        .unwrap_err();
        assert_eq!(code(&denial), "NOT_LICENSED");
        assert!(sentence(&denial, &unlicensed, now).contains("no license"));
    }
}

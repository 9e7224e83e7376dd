//! The one authorization policy.
//!
//! Pure, synchronous functions of (actor, action, resource facts, now) that
//! return `Ok(())` or a typed [`Denial`]. No I/O happens here: services gather
//! the facts, ask [`authorize`], and map a denial to an error. Every read and
//! write path asks this module; there is no second, looser path.
//!
//! Matches over [`Action`] are exhaustive (no `_` arm) so that a new action
//! cannot be forgotten, and anything not explicitly allowed is denied.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{ActorKind, Role};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No valid credentials were presented.
    Anonymous,
    /// An internal member with a role.
    Member { user_id: Uuid, role: Role },
    /// A user of a partner organisation; `org_allowlisted` is read at request time.
    Partner {
        user_id: Uuid,
        org_id: Uuid,
        org_allowlisted: bool,
    },
    /// The holder of a share-link session.
    Visitor { share_link_id: Uuid },
    /// Vitrine itself (jobs, command-line administration).
    System,
}

impl Actor {
    /// The audit actor kind; anonymous callers are recorded as visitors.
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Anonymous | Actor::Visitor { .. } => ActorKind::Visitor,
            Actor::Member { .. } => ActorKind::Member,
            Actor::Partner { .. } => ActorKind::Partner,
            Actor::System => ActorKind::System,
        }
    }

    /// The user id behind the actor, if it is a user.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::Member { user_id, .. } | Actor::Partner { user_id, .. } => Some(*user_id),
            Actor::Anonymous | Actor::Visitor { .. } | Actor::System => None,
        }
    }

    /// The partner organisation behind the actor, if any.
    pub fn partner_org_id(&self) -> Option<Uuid> {
        match self {
            Actor::Partner { org_id, .. } => Some(*org_id),
            Actor::Anonymous | Actor::Member { .. } | Actor::Visitor { .. } | Actor::System => None,
        }
    }
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ViewMetadata,
    /// Thumbnail and preview renditions.
    ViewPreview,
    DownloadLowres,
    DownloadOriginal,
    Upload,
    Edit,
    Delete,
    Share,
    Moderate,
    ManageAccess,
    ManageLicenses,
    ViewAudit,
    ViewStats,
    /// User and partner-organisation administration.
    Admin,
}

impl Action {
    /// Every action, in documentation order.
    pub const ALL: [Action; 14] = [
        Action::ViewMetadata,
        Action::ViewPreview,
        Action::DownloadLowres,
        Action::DownloadOriginal,
        Action::Upload,
        Action::Edit,
        Action::Delete,
        Action::Share,
        Action::Moderate,
        Action::ManageAccess,
        Action::ManageLicenses,
        Action::ViewAudit,
        Action::ViewStats,
        Action::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ViewMetadata => "VIEW_METADATA",
            Action::ViewPreview => "VIEW_PREVIEW",
            Action::DownloadLowres => "DOWNLOAD_LOWRES",
            Action::DownloadOriginal => "DOWNLOAD_ORIGINAL",
            Action::Upload => "UPLOAD",
            Action::Edit => "EDIT",
            Action::Delete => "DELETE",
            Action::Share => "SHARE",
            Action::Moderate => "MODERATE",
            Action::ManageAccess => "MANAGE_ACCESS",
            Action::ManageLicenses => "MANAGE_LICENSES",
            Action::ViewAudit => "VIEW_AUDIT",
            Action::ViewStats => "VIEW_STATS",
            Action::Admin => "ADMIN",
        }
    }
}

/// What the action is about, with the facts the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole: users, partner organisations, the audit
    /// log, statistics — anything not scoped to one asset or folder.
    Instance,
    /// A folder (creating one under it, renaming, moving, deleting, listing).
    Folder(FolderFacts),
    /// An asset and its versions.
    Asset(AssetFacts),
}

/// Facts about a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderFacts {}

/// Facts about an asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFacts {
    /// In the trash: only those who may restore it see it, and only there.
    pub deleted: bool,
}

/// Which assets an actor may list; services turn it into a SQL condition in
/// one place, so lists never load everything and filter in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetScope {
    /// Every asset not in the trash.
    All,
    /// None at all.
    Nothing,
}

/// The assets `actor` may see in lists.
pub fn visible_scope(actor: &Actor) -> AssetScope {
    match actor {
        Actor::Member { .. } | Actor::System => AssetScope::All,
        // Partners and visitors see assets only through grants and links.
        Actor::Anonymous | Actor::Partner { .. } | Actor::Visitor { .. } => AssetScope::Nothing,
    }
}

/// Why a request was refused. Services map these to client errors: the
/// unauthenticated case to UNAUTHENTICATED, the others to FORBIDDEN (or
/// NOT_FOUND where admitting existence would leak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("authentication required")]
    Unauthenticated,
    #[error("role {} may not {}", role.as_str(), action.as_str())]
    RoleLacksAction { role: Role, action: Action },
    #[error("the partner organisation is not allowlisted")]
    PartnerNotAllowlisted,
    #[error("{} actors may not {} here", kind.as_str(), action.as_str())]
    ActorKindLacksAction { kind: ActorKind, action: Action },
    /// The asset is in the trash (answered as NOT_FOUND).
    #[error("the asset is in the trash")]
    InTrash,
}

impl Denial {
    /// Whether the refusal must not admit that the object exists.
    pub fn hides_existence(&self) -> bool {
        match self {
            Denial::InTrash
            | Denial::ActorKindLacksAction { .. }
            | Denial::PartnerNotAllowlisted => true,
            Denial::Unauthenticated | Denial::RoleLacksAction { .. } => false,
        }
    }
}

/// The decision.
pub fn authorize(
    actor: &Actor,
    action: Action,
    resource: &Resource,
    _now: DateTime<Utc>,
) -> Result<(), Denial> {
    match actor {
        Actor::Anonymous => Err(Denial::Unauthenticated),
        Actor::System => Ok(()),
        Actor::Member { role, .. } => {
            let role_allows = |action: Action| {
                if role_permits(*role, action) {
                    Ok(())
                } else {
                    Err(Denial::RoleLacksAction {
                        role: *role,
                        action,
                    })
                }
            };
            match resource {
                Resource::Instance | Resource::Folder(_) => role_allows(action),
                Resource::Asset(facts) if facts.deleted => trashed(action, role_allows),
                Resource::Asset(_) => role_allows(action),
            }
        }
        Actor::Partner {
            org_allowlisted, ..
        } => {
            if !org_allowlisted {
                Err(Denial::PartnerNotAllowlisted)
            } else {
                // Partners act only through grants (not yet granted anything).
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Partner,
                    action,
                })
            }
        }
        Actor::Visitor { .. } => Err(Denial::ActorKindLacksAction {
            kind: ActorKind::Visitor,
            action,
        }),
    }
}

/// What may be done to an asset in the trash: see it there and restore it
/// (with the right to delete), purge it (administrators); nothing else.
fn trashed(
    action: Action,
    role_allows: impl Fn(Action) -> Result<(), Denial>,
) -> Result<(), Denial> {
    use Action::*;
    match action {
        ViewMetadata | Delete => role_allows(Delete).map_err(|_| Denial::InTrash),
        Admin => role_allows(Admin),
        ViewPreview | DownloadLowres | DownloadOriginal | Upload | Edit | Share | Moderate
        | ManageAccess | ManageLicenses | ViewAudit | ViewStats => Err(Denial::InTrash),
    }
}

/// The role matrix: what a member's role permits at most. Resource facts
/// (restricted folders, grants, windows, licenses) can only narrow it.
pub fn role_permits(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Manager => match action {
            ViewMetadata | ViewPreview | DownloadLowres | DownloadOriginal | Upload | Edit
            | Delete | Share | Moderate | ManageAccess | ManageLicenses | ViewStats => true,
            // The audit log records every user's sign-ins: it belongs to user administration.
            ViewAudit | Admin => false,
        },
        Role::Editor => match action {
            // Delete is the soft delete (to the trash); purging is Admin.
            ViewMetadata | ViewPreview | DownloadLowres | DownloadOriginal | Upload | Edit
            | Delete | Share => true,
            Moderate | ManageAccess | ManageLicenses | ViewAudit | ViewStats | Admin => false,
        },
        Role::Contributor => match action {
            ViewMetadata | ViewPreview | Upload => true,
            DownloadLowres | DownloadOriginal | Edit | Delete | Share | Moderate | ManageAccess
            | ManageLicenses | ViewAudit | ViewStats | Admin => false,
        },
        Role::Viewer => match action {
            ViewMetadata | ViewPreview | DownloadLowres => true,
            DownloadOriginal | Upload | Edit | Delete | Share | Moderate | ManageAccess
            | ManageLicenses | ViewAudit | ViewStats | Admin => false,
        },
    }
}

/// The role matrix as a Markdown table (docs/ACCESS.md is tested against it).
pub fn role_matrix_markdown() -> String {
    use sea_orm::Iterable;
    let roles: Vec<Role> = Role::iter().collect();
    let mut out = String::from("| action |");
    for role in &roles {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in &roles {
        out.push_str("---|");
    }
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {} |", action.as_str()));
        for role in &roles {
            out.push_str(if role_permits(*role, action) {
                " yes |"
            } else {
                " — |"
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
    }

    fn member(role: Role) -> Actor {
        Actor::Member {
            user_id: Uuid::nil(),
            role,
        }
    }

    /// The expected matrix, written out independently of `role_permits`.
    const EXPECTED: &[(Action, [bool; 5])] = &[
        //                              ADMIN MANAGER EDITOR CONTRIB VIEWER
        (Action::ViewMetadata, [true, true, true, true, true]),
        (Action::ViewPreview, [true, true, true, true, true]),
        (Action::DownloadLowres, [true, true, true, false, true]),
        (Action::DownloadOriginal, [true, true, true, false, false]),
        (Action::Upload, [true, true, true, true, false]),
        (Action::Edit, [true, true, true, false, false]),
        (Action::Delete, [true, true, true, false, false]),
        (Action::Share, [true, true, true, false, false]),
        (Action::Moderate, [true, true, false, false, false]),
        (Action::ManageAccess, [true, true, false, false, false]),
        (Action::ManageLicenses, [true, true, false, false, false]),
        (Action::ViewAudit, [true, false, false, false, false]),
        (Action::ViewStats, [true, true, false, false, false]),
        (Action::Admin, [true, false, false, false, false]),
    ];

    #[test]
    fn every_action_appears_in_the_expected_table_once() {
        for action in Action::ALL {
            assert_eq!(
                EXPECTED.iter().filter(|(a, _)| *a == action).count(),
                1,
                "{action:?}"
            );
        }
        assert_eq!(EXPECTED.len(), Action::ALL.len());
    }

    #[test]
    fn members_get_exactly_their_role_matrix_on_the_instance() {
        let roles = [
            Role::Admin,
            Role::Manager,
            Role::Editor,
            Role::Contributor,
            Role::Viewer,
        ];
        assert_eq!(Role::iter().collect::<Vec<_>>(), roles);
        for (action, row) in EXPECTED {
            for (role, allowed) in roles.iter().zip(row) {
                let decision = authorize(&member(*role), *action, &Resource::Instance, now());
                if *allowed {
                    assert_eq!(decision, Ok(()), "{role:?} {action:?}");
                } else {
                    assert_eq!(
                        decision,
                        Err(Denial::RoleLacksAction {
                            role: *role,
                            action: *action
                        }),
                        "{role:?} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn anonymous_is_denied_everything_as_unauthenticated() {
        for action in Action::ALL {
            assert_eq!(
                authorize(&Actor::Anonymous, action, &Resource::Instance, now()),
                Err(Denial::Unauthenticated)
            );
        }
    }

    #[test]
    fn partners_and_visitors_get_nothing_installation_wide() {
        let allowlisted = Actor::Partner {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            org_allowlisted: true,
        };
        let removed = Actor::Partner {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            org_allowlisted: false,
        };
        let visitor = Actor::Visitor {
            share_link_id: Uuid::nil(),
        };
        for action in Action::ALL {
            assert_eq!(
                authorize(&allowlisted, action, &Resource::Instance, now()),
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Partner,
                    action
                })
            );
            assert_eq!(
                authorize(&removed, action, &Resource::Instance, now()),
                Err(Denial::PartnerNotAllowlisted)
            );
            assert_eq!(
                authorize(&visitor, action, &Resource::Instance, now()),
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Visitor,
                    action
                })
            );
        }
    }

    #[test]
    fn live_assets_and_folders_follow_the_role_matrix() {
        for (action, row) in EXPECTED {
            for (role, allowed) in [
                Role::Admin,
                Role::Manager,
                Role::Editor,
                Role::Contributor,
                Role::Viewer,
            ]
            .iter()
            .zip(row)
            {
                for resource in [
                    Resource::Asset(AssetFacts::default()),
                    Resource::Folder(FolderFacts::default()),
                ] {
                    assert_eq!(
                        authorize(&member(*role), *action, &resource, now()).is_ok(),
                        *allowed,
                        "{role:?} {action:?} {resource:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn trashed_assets_are_seen_and_restored_by_deleters_and_purged_by_admins_only() {
        let trashed = Resource::Asset(AssetFacts { deleted: true });
        for role in Role::iter() {
            let can_delete = role_permits(role, Action::Delete);
            for action in Action::ALL {
                let decision = authorize(&member(role), action, &trashed, now());
                let expected = match action {
                    Action::ViewMetadata | Action::Delete => can_delete,
                    Action::Admin => role == Role::Admin,
                    _ => false,
                };
                assert_eq!(decision.is_ok(), expected, "{role:?} {action:?}");
                if let Err(denial) = decision
                    && action != Action::Admin
                {
                    assert_eq!(denial, Denial::InTrash, "{role:?} {action:?}");
                    assert!(denial.hides_existence());
                }
            }
        }
    }

    #[test]
    fn partners_and_visitors_see_no_asset_yet() {
        let partner = Actor::Partner {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            org_allowlisted: true,
        };
        let asset = Resource::Asset(AssetFacts::default());
        for action in Action::ALL {
            let denial = authorize(&partner, action, &asset, now()).unwrap_err();
            assert!(denial.hides_existence());
        }
        assert_eq!(visible_scope(&partner), AssetScope::Nothing);
        assert_eq!(visible_scope(&Actor::Anonymous), AssetScope::Nothing);
        assert_eq!(
            visible_scope(&Actor::Visitor {
                share_link_id: Uuid::nil()
            }),
            AssetScope::Nothing
        );
        assert_eq!(visible_scope(&member(Role::Viewer)), AssetScope::All);
    }

    #[test]
    fn system_may_do_everything_installation_wide() {
        for action in Action::ALL {
            assert_eq!(
                authorize(&Actor::System, action, &Resource::Instance, now()),
                Ok(())
            );
        }
    }

    #[test]
    fn documented_matrix_matches_the_code() {
        let doc = include_str!("../../docs/ACCESS.md");
        assert!(
            doc.contains(&role_matrix_markdown()),
            "docs/ACCESS.md is stale; paste in:\n{}",
            role_matrix_markdown()
        );
    }
}

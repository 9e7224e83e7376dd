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

use crate::domain::{AccessMode, ActorKind, GrantLevel, Role, ShareScope, SubjectKind};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No valid credentials were presented.
    Anonymous,
    /// An internal member with a role (a person, or the service user of an
    /// API key, narrowed by the key's `scope`).
    Member {
        user_id: Uuid,
        role: Role,
        scope: KeyScope,
    },
    /// A user of a partner organisation; `org_allowlisted` is read at request time.
    Partner {
        user_id: Uuid,
        org_id: Uuid,
        org_allowlisted: bool,
        scope: KeyScope,
    },
    /// The holder of a share-link session.
    Visitor { share_link_id: Uuid },
    /// Vitrine itself (jobs, command-line administration).
    System,
}

/// What an API key may be used for, on top of what its principal (a role,
/// or a partner organisation) may do: a key can only narrow, never widen.
/// Sign-in sessions are [`KeyScope::FULL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyScope {
    /// Read metadata, renditions and downloads, and the audit log and
    /// statistics where the principal may.
    pub read: bool,
    /// Read metadata and get delivery URLs (renditions, downloads) only.
    pub deliver: bool,
    /// Everything the principal may do, changes included.
    pub write: bool,
}

impl KeyScope {
    /// No narrowing (sign-in sessions, and keys with the WRITE scope).
    pub const FULL: KeyScope = KeyScope {
        read: true,
        deliver: true,
        write: true,
    };

    /// Whether the scope lets its holder attempt `action` at all.
    pub fn permits(self, action: Action) -> bool {
        let delivery = matches!(
            action,
            Action::ViewMetadata
                | Action::ViewPreview
                | Action::DownloadLowres
                | Action::DownloadOriginal
        );
        match action {
            Action::ViewMetadata
            | Action::ViewPreview
            | Action::DownloadLowres
            | Action::DownloadOriginal => self.write || self.read || (self.deliver && delivery),
            Action::ViewAudit | Action::ViewStats => self.write || self.read,
            Action::Upload
            | Action::Edit
            | Action::Delete
            | Action::Share
            | Action::Moderate
            | Action::ManageAccess
            | Action::ManageLicenses
            | Action::Admin => self.write,
        }
    }
}

impl Actor {
    /// The same actor narrowed to `scope` (an API key's); other actors are
    /// unchanged.
    pub fn with_scope(self, scope: KeyScope) -> Actor {
        match self {
            Actor::Member { user_id, role, .. } => Actor::Member {
                user_id,
                role,
                scope,
            },
            Actor::Partner {
                user_id,
                org_id,
                org_allowlisted,
                ..
            } => Actor::Partner {
                user_id,
                org_id,
                org_allowlisted,
                scope,
            },
            other => other,
        }
    }

    /// The key scope narrowing this actor ([`KeyScope::FULL`] for all but
    /// API keys).
    pub fn scope(&self) -> KeyScope {
        match self {
            Actor::Member { scope, .. } | Actor::Partner { scope, .. } => *scope,
            Actor::Anonymous | Actor::Visitor { .. } | Actor::System => KeyScope::FULL,
        }
    }

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

/// Facts about a folder, as they concern the asking actor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderFacts {
    /// The folder, or one above it, is restricted (a pre-launch collection).
    pub restricted: bool,
    /// The strongest grant the actor (or its organisation) holds on the
    /// folder or one above it.
    pub grant: Option<GrantLevel>,
}

/// Facts about an asset, as they concern the asking actor. The default is
/// the most closed: RESTRICTED, no grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFacts {
    /// In the trash: only those who may restore it see it, and only there.
    pub deleted: bool,
    /// Filed in a restricted folder (or below one).
    pub restricted: bool,
    /// The strongest grant the actor holds on the asset's folder or above.
    pub grant: Option<GrantLevel>,
    pub access: AccessMode,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// For a visitor: the share link it came through, as it stands now
    /// relative to this asset. `None` for every other actor.
    pub link: Option<LinkFacts>,
    /// For partners and visitors: the licenses attached to the asset (what
    /// leaves the organisation must be licensed at that instant). `None`:
    /// not known, which denies them.
    pub licensing: Option<Licensing>,
    /// Its current version is PENDING or REJECTED moderation: nothing of it
    /// leaves the organisation (members still see it, marked).
    pub awaiting_moderation: bool,
}

/// The licenses of an asset, for deciding what may leave the organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Licensing {
    pub licenses: Vec<crate::license::Terms>,
    /// Whether an asset without any license may go to partners and visitors
    /// (a setting; default no).
    pub unlicensed_allowed: bool,
    /// The declared use (of a share link, of an issued URL), if any.
    pub usage: crate::license::Usage,
}

impl Licensing {
    /// Whether the asset may leave the organisation at `now` (for the
    /// declared use, if any).
    pub fn permits(&self, now: DateTime<Utc>) -> bool {
        if self.licenses.is_empty() {
            self.unlicensed_allowed
        } else {
            crate::license::covered(
                &self.licenses,
                now,
                self.usage.channel,
                self.usage.territory.as_deref(),
            )
        }
    }

    /// When the current coverage ends (for cache lifetimes), if licensed.
    pub fn covered_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (!self.licenses.is_empty()).then(|| crate::license::covered_until(&self.licenses, now))
    }
}

/// What a visitor's share link says about one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    pub scope: ShareScope,
    pub revoked: bool,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// Whether `maxViews` still allows opening the page.
    pub views_left: bool,
    /// Whether `maxDownloads` still allows a download.
    pub downloads_left: bool,
    /// Whether the asset is part of the link (listed, or in its folder now).
    pub includes: bool,
    /// What the link's creator may do with the asset at this moment: a link
    /// never gives more than its creator could see at the time of a request.
    pub creator: CreatorRights,
}

/// The creator's own rights on an asset, decided by this policy for the
/// creator as an actor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatorRights {
    pub share: bool,
    pub preview: bool,
    pub lowres: bool,
    pub original: bool,
}

/// Whether a share link can be used at `now`, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Active,
    NotStarted,
    Expired,
    Revoked,
    /// Its `maxViews` are used up.
    Exhausted,
}

impl LinkFacts {
    pub fn state(&self, now: DateTime<Utc>) -> LinkState {
        link_state(
            self.revoked,
            self.starts_at,
            self.expires_at,
            self.views_left,
            now,
        )
    }
}

/// A link's state from its own fields (the order is what a visitor is told:
/// revoked first, then the window, then the caps).
pub fn link_state(
    revoked: bool,
    starts_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    views_left: bool,
    now: DateTime<Utc>,
) -> LinkState {
    if revoked {
        LinkState::Revoked
    } else if now >= expires_at {
        LinkState::Expired
    } else if starts_at.is_some_and(|s| now < s) {
        LinkState::NotStarted
    } else if !views_left {
        LinkState::Exhausted
    } else {
        LinkState::Active
    }
}

/// What a share link's scope allows a visitor.
pub fn scope_permits(scope: ShareScope, action: Action) -> bool {
    use Action::*;
    match action {
        ViewMetadata | ViewPreview => true,
        DownloadLowres => scope >= ShareScope::LowresDownload,
        DownloadOriginal => scope == ShareScope::Download,
        Upload | Edit | Delete | Share | Moderate | ManageAccess | ManageLicenses | ViewAudit
        | ViewStats | Admin => false,
    }
}

impl CreatorRights {
    fn permits(&self, action: Action) -> bool {
        use Action::*;
        match action {
            ViewMetadata | ViewPreview => self.share && self.preview,
            DownloadLowres => self.share && self.lowres,
            DownloadOriginal => self.share && self.original,
            Upload | Edit | Delete | Share | Moderate | ManageAccess | ManageLicenses
            | ViewAudit | ViewStats | Admin => false,
        }
    }
}

impl Default for AssetFacts {
    fn default() -> Self {
        Self {
            deleted: false,
            restricted: false,
            grant: None,
            access: AccessMode::Restricted,
            starts_at: None,
            ends_at: None,
            link: None,
            licensing: None,
            awaiting_moderation: false,
        }
    }
}

impl AssetFacts {
    /// PUBLIC and inside its publication window at `now`.
    pub fn published(&self, now: DateTime<Utc>) -> bool {
        self.access == AccessMode::Public
            && self.starts_at.is_none_or(|s| now >= s)
            && self.ends_at.is_none_or(|e| now < e)
    }

    /// When the asset stops being deliverable outside (its window's end).
    pub fn published_until(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }
}

/// A holder of grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: Uuid,
}

/// The subjects whose grants apply to an actor: the user, and its
/// organisation for a partner.
pub fn subjects(actor: &Actor) -> Vec<Subject> {
    match actor {
        Actor::Member { user_id, .. } => vec![Subject {
            kind: SubjectKind::User,
            id: *user_id,
        }],
        Actor::Partner {
            user_id, org_id, ..
        } => vec![
            Subject {
                kind: SubjectKind::User,
                id: *user_id,
            },
            Subject {
                kind: SubjectKind::PartnerOrg,
                id: *org_id,
            },
        ],
        Actor::Anonymous | Actor::Visitor { .. } | Actor::System => Vec::new(),
    }
}

/// Whether the actor may see internal details of what it can see: who
/// uploaded, approved, created or deleted something, uploaded file names and
/// version notes. Partners and visitors see the work, not the people or the
/// workflow behind it.
pub fn sees_internal_details(actor: &Actor) -> bool {
    match actor {
        Actor::Member { .. } | Actor::System => true,
        Actor::Partner { .. } | Actor::Visitor { .. } | Actor::Anonymous => false,
    }
}

/// Which assets (and folders) an actor may list; services turn it into a SQL
/// condition in one place, so lists never load everything and filter in
/// memory. Trashed assets are never part of a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetScope {
    /// Everything (administrators, the system).
    All,
    /// Members: everything outside restricted folders, and the restricted
    /// folders granted to `subjects`.
    Members { subjects: Vec<Subject> },
    /// Partners: only folders granted to `subjects`, and of their assets
    /// only those published (PUBLIC, inside the window) at `at`.
    Granted {
        subjects: Vec<Subject>,
        at: DateTime<Utc>,
    },
    /// Nothing at all.
    Nothing,
}

/// The assets `actor` may see in lists at `now`.
pub fn visible_scope(actor: &Actor, now: DateTime<Utc>) -> AssetScope {
    match actor {
        Actor::System
        | Actor::Member {
            role: Role::Admin, ..
        } => AssetScope::All,
        Actor::Member { .. } => AssetScope::Members {
            subjects: subjects(actor),
        },
        Actor::Partner {
            org_allowlisted: true,
            ..
        } => AssetScope::Granted {
            subjects: subjects(actor),
            at: now,
        },
        // Visitors see assets through their share link only.
        Actor::Partner { .. } | Actor::Anonymous | Actor::Visitor { .. } => AssetScope::Nothing,
    }
}

/// The strongest of `grants` (each held by a subject on the folder in
/// question or one above it) that belongs to one of `subjects`.
pub fn strongest_grant(
    subjects: &[Subject],
    grants: &[(Subject, GrantLevel)],
) -> Option<GrantLevel> {
    grants
        .iter()
        .filter(|(holder, _)| subjects.contains(holder))
        .map(|(_, level)| *level)
        .max()
}

/// What a grant level permits.
pub fn grant_permits(level: GrantLevel, action: Action) -> bool {
    use Action::*;
    match action {
        ViewMetadata | ViewPreview => true,
        DownloadLowres | DownloadOriginal => level >= GrantLevel::Download,
        Upload | Edit => level >= GrantLevel::Edit,
        // What is uploaded below the folder (members only: partners never
        // moderate, whatever their grant).
        Moderate => level >= GrantLevel::Moderate,
        Share | Delete | ManageAccess => level >= GrantLevel::Manage,
        // Never through a folder grant.
        ManageLicenses | ViewAudit | ViewStats | Admin => false,
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
    /// In a restricted folder the actor holds no grant on.
    #[error("the folder is restricted")]
    Restricted,
    /// The actor holds no grant covering it.
    #[error("no grant covers it")]
    NoGrant,
    /// Not PUBLIC, or outside its publication window.
    #[error("not published")]
    NotPublished,
    /// The grant the actor holds does not allow the action.
    #[error("a {} grant does not allow {}", level_name(*level), action.as_str())]
    GrantLacksAction { level: GrantLevel, action: Action },
    /// The visitor's link is revoked, expired, not started or used up.
    #[error("the share link is unavailable")]
    LinkUnavailable,
    /// The asset is not part of the visitor's link.
    #[error("not part of the share link")]
    NotInLink,
    /// The link's scope does not allow it (a PREVIEW link and a download).
    #[error("the share link does not allow {}", action.as_str())]
    ScopeLacksAction { action: Action },
    /// The link's downloads are used up.
    #[error("the share link has no downloads left")]
    DownloadsExhausted,
    /// No license in force covers the asset now (it may not leave).
    #[error("not licensed now")]
    NotLicensed,
    /// The link's creator may no longer do this with the asset.
    #[error("the share link's creator may no longer {}", action.as_str())]
    CreatorLacksAction { action: Action },
    /// A member's URL declares a use (channel, territory) that no license in
    /// force covers.
    #[error("no license in force covers the declared use")]
    UseNotLicensed,
    /// The API key's scopes do not allow the action.
    #[error("this API key's scopes do not allow {}", action.as_str())]
    KeyScopeLacksAction { action: Action },
    /// Its current version waits for (or failed) moderation.
    #[error("awaiting moderation")]
    AwaitingModeration,
    /// A saved search neither owned by the actor nor shared with it.
    #[error("the smart folder is not shared with you")]
    NotShared,
    /// Only its owner (or an administrator) may change a saved search.
    #[error("only its owner may change a smart folder")]
    NotOwner,
    /// Partners keep their saved searches to themselves.
    #[error("partners may not share smart folders")]
    PartnerMayNotShare,
    /// The derivative profile is not offered to this actor (its audience,
    /// or the partner organisations entitled to it).
    #[error("no such derivative profile")]
    ProfileNotEntitled,
    /// Public delivery: the profile is not public, or the asset (and every
    /// folder above it) is not opted in.
    #[error("not offered publicly")]
    NotPublicDelivery,
}

fn level_name(level: GrantLevel) -> &'static str {
    match level {
        GrantLevel::View => "VIEW",
        GrantLevel::Download => "DOWNLOAD",
        GrantLevel::Edit => "EDIT",
        GrantLevel::Moderate => "MODERATE",
        GrantLevel::Manage => "MANAGE",
    }
}

impl Denial {
    /// Whether the refusal must not admit that the object exists (answered
    /// as NOT_FOUND: no existence oracle).
    pub fn hides_existence(&self) -> bool {
        match self {
            Denial::InTrash
            | Denial::Restricted
            | Denial::NoGrant
            | Denial::NotPublished
            | Denial::ActorKindLacksAction { .. }
            | Denial::PartnerNotAllowlisted
            | Denial::LinkUnavailable
            | Denial::NotInLink
            | Denial::CreatorLacksAction { .. }
            | Denial::NotLicensed
            | Denial::AwaitingModeration
            | Denial::NotShared
            | Denial::ProfileNotEntitled
            | Denial::NotPublicDelivery => true,
            Denial::Unauthenticated
            | Denial::RoleLacksAction { .. }
            | Denial::GrantLacksAction { .. }
            | Denial::ScopeLacksAction { .. }
            | Denial::DownloadsExhausted
            | Denial::UseNotLicensed
            | Denial::KeyScopeLacksAction { .. }
            | Denial::NotOwner
            | Denial::PartnerMayNotShare => false,
        }
    }
}

/// The decision.
pub fn authorize(
    actor: &Actor,
    action: Action,
    resource: &Resource,
    now: DateTime<Utc>,
) -> Result<(), Denial> {
    if !actor.scope().permits(action) {
        return Err(Denial::KeyScopeLacksAction { action });
    }
    match actor {
        Actor::Anonymous => Err(Denial::Unauthenticated),
        Actor::System => Ok(()),
        Actor::Member { role, .. } => member(*role, action, resource, now),
        Actor::Partner {
            org_allowlisted, ..
        } => {
            if !org_allowlisted {
                return Err(Denial::PartnerNotAllowlisted);
            }
            partner(action, resource, now)
        }
        Actor::Visitor { .. } => visitor(action, resource, now),
    }
}

/// Visitors: only through their link, only what it includes, only what is
/// published, only what its scope allows and its creator still may.
fn visitor(action: Action, resource: &Resource, now: DateTime<Utc>) -> Result<(), Denial> {
    let lacks = Denial::ActorKindLacksAction {
        kind: ActorKind::Visitor,
        action,
    };
    let Resource::Asset(a) = resource else {
        return Err(lacks);
    };
    let Some(link) = &a.link else {
        return Err(Denial::NotInLink);
    };
    if link.state(now) != LinkState::Active {
        return Err(Denial::LinkUnavailable);
    }
    if !link.includes {
        return Err(Denial::NotInLink);
    }
    if a.deleted {
        return Err(Denial::InTrash);
    }
    if !a.published(now) {
        return Err(Denial::NotPublished);
    }
    if a.awaiting_moderation {
        return Err(Denial::AwaitingModeration);
    }
    if !a.licensing.as_ref().is_some_and(|l| l.permits(now)) {
        return Err(Denial::NotLicensed);
    }
    if !link.creator.permits(action) {
        return Err(if scope_permits(ShareScope::Download, action) {
            Denial::CreatorLacksAction { action }
        } else {
            lacks
        });
    }
    if !scope_permits(link.scope, action) {
        return Err(Denial::ScopeLacksAction { action });
    }
    if matches!(action, Action::DownloadLowres | Action::DownloadOriginal) && !link.downloads_left {
        return Err(Denial::DownloadsExhausted);
    }
    Ok(())
}

/// Members: their role, widened by the grants they hold; restricted folders
/// only for administrators and the explicitly granted. Members work with
/// unlicensed and expired images, but a delivery for a declared use
/// (channel, territory) needs a license in force covering it.
fn member(
    role: Role,
    action: Action,
    resource: &Resource,
    now: DateTime<Utc>,
) -> Result<(), Denial> {
    let allows = |grant: Option<GrantLevel>, action: Action| {
        if role_permits(role, action) || grant.is_some_and(|g| grant_permits(g, action)) {
            Ok(())
        } else {
            Err(Denial::RoleLacksAction { role, action })
        }
    };
    let shut_out = |restricted: bool, grant: Option<GrantLevel>| {
        restricted && role != Role::Admin && grant.is_none()
    };
    match resource {
        Resource::Instance => allows(None, action),
        Resource::Folder(f) => {
            if shut_out(f.restricted, f.grant) {
                return Err(Denial::Restricted);
            }
            allows(f.grant, action)
        }
        Resource::Asset(a) => {
            if shut_out(a.restricted, a.grant) {
                return Err(Denial::Restricted);
            }
            if a.deleted {
                return trashed(action, |act| allows(a.grant, act));
            }
            allows(a.grant, action)?;
            let delivers = matches!(
                action,
                Action::ViewPreview | Action::DownloadLowres | Action::DownloadOriginal
            );
            match &a.licensing {
                Some(l) if delivers && l.usage.is_declared() && !l.permits(now) => {
                    Err(Denial::UseNotLicensed)
                }
                _ => Ok(()),
            }
        }
    }
}

/// Decides whether `actor` may manage webhook endpoints of `org` (`None`:
/// the brand's own endpoints, told about everything): administrators may
/// manage any; a partner user (or partner key) only its own organisation's,
/// which are told only what that organisation may see.
pub fn manage_webhooks(actor: &Actor, org: Option<Uuid>, now: DateTime<Utc>) -> Result<(), Denial> {
    if !actor.scope().permits(Action::Admin) {
        return Err(Denial::KeyScopeLacksAction {
            action: Action::Admin,
        });
    }
    match actor {
        Actor::Partner {
            org_id,
            org_allowlisted,
            ..
        } => {
            if !org_allowlisted {
                Err(Denial::PartnerNotAllowlisted)
            } else if org == Some(*org_id) {
                Ok(())
            } else {
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Partner,
                    action: Action::Admin,
                })
            }
        }
        _ => authorize(actor, Action::Admin, &Resource::Instance, now),
    }
}

/// Whose usage statistics an actor may read (always only about assets it
/// may see; the service narrows to those in SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsScope {
    /// The usage by everyone: members whose role has VIEW_STATS, the system.
    Everyone,
    /// Only the usage by this partner organisation: its users, and visitors
    /// of share links made for it. Never another organisation's.
    Organisation(Uuid),
}

/// Decides whether `actor` may read usage statistics, and whose.
pub fn stats_scope(actor: &Actor, now: DateTime<Utc>) -> Result<StatsScope, Denial> {
    if !actor.scope().permits(Action::ViewStats) {
        return Err(Denial::KeyScopeLacksAction {
            action: Action::ViewStats,
        });
    }
    match actor {
        Actor::Anonymous => Err(Denial::Unauthenticated),
        Actor::System => Ok(StatsScope::Everyone),
        Actor::Member { role, .. } => member(*role, Action::ViewStats, &Resource::Instance, now)
            .map(|()| StatsScope::Everyone),
        Actor::Partner {
            org_id,
            org_allowlisted,
            ..
        } => {
            if *org_allowlisted {
                Ok(StatsScope::Organisation(*org_id))
            } else {
                Err(Denial::PartnerNotAllowlisted)
            }
        }
        Actor::Visitor { .. } => Err(Denial::ActorKindLacksAction {
            kind: ActorKind::Visitor,
            action: Action::ViewStats,
        }),
    }
}

/// Partners: only through grants, only what is published, never the instance.
fn partner(action: Action, resource: &Resource, now: DateTime<Utc>) -> Result<(), Denial> {
    // The brand's own review: never a partner's, whatever its grant.
    if action == Action::Moderate {
        return Err(Denial::ActorKindLacksAction {
            kind: ActorKind::Partner,
            action,
        });
    }
    match resource {
        Resource::Instance => Err(Denial::ActorKindLacksAction {
            kind: ActorKind::Partner,
            action,
        }),
        Resource::Folder(f) => match f.grant {
            None => Err(Denial::NoGrant),
            Some(level) if grant_permits(level, action) => Ok(()),
            Some(level) => Err(Denial::GrantLacksAction { level, action }),
        },
        Resource::Asset(a) => {
            if a.deleted {
                return Err(Denial::InTrash);
            }
            let Some(level) = a.grant else {
                return Err(Denial::NoGrant);
            };
            if !a.published(now) {
                return Err(Denial::NotPublished);
            }
            if a.awaiting_moderation {
                return Err(Denial::AwaitingModeration);
            }
            if !a.licensing.as_ref().is_some_and(|l| l.permits(now)) {
                return Err(Denial::NotLicensed);
            }
            if grant_permits(level, action) {
                Ok(())
            } else {
                Err(Denial::GrantLacksAction { level, action })
            }
        }
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

/// A permission matrix as a Markdown table: one row per action, one column
/// per heading.
fn matrix_markdown<T: Copy>(columns: &[(T, &str)], permits: impl Fn(T, Action) -> bool) -> String {
    let mut out = String::from("| action |");
    for (_, heading) in columns {
        out.push_str(&format!(" {heading} |"));
    }
    out.push_str("\n|---|");
    for _ in columns {
        out.push_str("---|");
    }
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {} |", action.as_str()));
        for (column, _) in columns {
            out.push_str(if permits(*column, action) {
                " yes |"
            } else {
                " — |"
            });
        }
        out.push('\n');
    }
    out
}

/// The role matrix as a Markdown table (docs/ACCESS.md is tested against it).
pub fn role_matrix_markdown() -> String {
    use sea_orm::Iterable;
    let roles: Vec<(Role, &str)> = Role::iter().map(|r| (r, r.as_str())).collect();
    matrix_markdown(&roles, role_permits)
}

/// The grant matrix as a Markdown table (docs/ACCESS.md is tested against it).
pub fn grant_matrix_markdown() -> String {
    use sea_orm::Iterable;
    let levels: Vec<(GrantLevel, &str)> = GrantLevel::iter().map(|l| (l, level_name(l))).collect();
    matrix_markdown(&levels, grant_permits)
}

// ------------------------------------------------------------ smart folders

/// Who a smart folder (a saved search) is shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartFolderSharing {
    /// Its owner alone.
    Private,
    /// Every member of the organisation.
    Members,
    /// The users of one partner organisation.
    Partner(Uuid),
}

/// Facts about a smart folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmartFolderFacts {
    pub owner_id: Uuid,
    pub sharing: SmartFolderSharing,
}

/// What is done with a smart folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartFolderAction {
    /// Open it (its content is then the search, run as the viewer).
    View,
    /// Create, rename, change the search or the sharing, delete.
    Manage,
    /// Make a share link over it: visitors then see what its search finds,
    /// run as the link's creator, each asset still within what the creator
    /// may share at that moment (decided per asset by [`authorize`]).
    Share,
}

/// Whether `actor` may do `action` with a smart folder. What it then shows
/// is never decided here: the saved search runs as the viewer, inside the
/// viewer's own visible scope.
pub fn authorize_smart_folder(
    actor: &Actor,
    action: SmartFolderAction,
    folder: &SmartFolderFacts,
) -> Result<(), Denial> {
    let as_action = match action {
        SmartFolderAction::View => Action::ViewMetadata,
        SmartFolderAction::Manage => Action::Edit,
        SmartFolderAction::Share => Action::Share,
    };
    if !actor.scope().permits(as_action) {
        return Err(Denial::KeyScopeLacksAction { action: as_action });
    }
    let (user_id, org) = match actor {
        Actor::Anonymous => return Err(Denial::Unauthenticated),
        Actor::System => return Ok(()),
        Actor::Visitor { .. } => {
            return Err(Denial::ActorKindLacksAction {
                kind: ActorKind::Visitor,
                action: as_action,
            });
        }
        Actor::Partner {
            org_allowlisted: false,
            ..
        } => return Err(Denial::PartnerNotAllowlisted),
        Actor::Member {
            role: Role::Admin, ..
        } => return Ok(()),
        Actor::Member { user_id, .. } => (*user_id, None),
        Actor::Partner {
            user_id, org_id, ..
        } => (*user_id, Some(*org_id)),
    };
    if org.is_some() {
        // A partner's own folder is private; a folder shared with it is
        // someone else's; and partners make no share links.
        let sharing = folder.sharing != SmartFolderSharing::Private
            && (action == SmartFolderAction::Manage || folder.owner_id == user_id);
        if sharing || action == SmartFolderAction::Share {
            return Err(Denial::PartnerMayNotShare);
        }
    }
    if folder.owner_id == user_id {
        return Ok(());
    }
    let shared = match (folder.sharing, org) {
        (SmartFolderSharing::Members, None) => true,
        (SmartFolderSharing::Partner(with), Some(mine)) => with == mine,
        _ => false,
    };
    match (action, shared) {
        (SmartFolderAction::View | SmartFolderAction::Share, true) => Ok(()),
        (SmartFolderAction::Manage, true) => Err(Denial::NotOwner),
        (_, false) => Err(Denial::NotShared),
    }
}

// ------------------------------------------------------ derivative profiles

/// Who may receive a derivative profile's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ProfileAudience {
    /// Members only.
    Members,
    /// Members and partners (the entitled organisations, or all).
    Partners,
    /// Members, partners and share-link visitors.
    Visitors,
}

impl ProfileAudience {
    pub const ALL: [ProfileAudience; 3] = [
        ProfileAudience::Members,
        ProfileAudience::Partners,
        ProfileAudience::Visitors,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileAudience::Members => "MEMBERS",
            ProfileAudience::Partners => "PARTNERS",
            ProfileAudience::Visitors => "VISITORS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Facts about a derivative profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFacts {
    pub audience: ProfileAudience,
    /// The partner organisations entitled to it (empty: every one).
    pub partner_orgs: Vec<Uuid>,
}

/// Whether `actor` may receive images of a profile. Whether it may see the
/// asset at all is [`authorize`]'s decision (VIEW_PREVIEW), asked as well:
/// a profile never widens what an actor receives, it only narrows it. A
/// profile an actor is not entitled to is answered as not found (its name
/// and existence are the brand's business).
pub fn authorize_profile(actor: &Actor, profile: &ProfileFacts) -> Result<(), Denial> {
    match actor {
        Actor::Anonymous => Err(Denial::Unauthenticated),
        Actor::System | Actor::Member { .. } => Ok(()),
        Actor::Partner {
            org_allowlisted: false,
            ..
        } => Err(Denial::PartnerNotAllowlisted),
        Actor::Partner { org_id, .. } => {
            let entitled = profile.audience >= ProfileAudience::Partners
                && (profile.partner_orgs.is_empty() || profile.partner_orgs.contains(org_id));
            if entitled {
                Ok(())
            } else {
                Err(Denial::ProfileNotEntitled)
            }
        }
        Actor::Visitor { .. } => {
            if profile.audience == ProfileAudience::Visitors {
                Ok(())
            } else {
                Err(Denial::ProfileNotEntitled)
            }
        }
    }
}

// ---------------------------------------------------------- public delivery

/// The channel a public URL is a use of: a published product image on the
/// web. An asset is served publicly only while a license in force covers it.
pub const PUBLIC_CHANNEL: crate::license::Channel = crate::license::Channel::Ecommerce;

/// Facts about an asset served publicly through a profile
/// (`/p/{profile}/{asset}.{ext}`), to anyone, without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFacts {
    /// The profile is marked public.
    pub profile_public: bool,
    /// The asset, or a folder above it, is opted into public delivery.
    pub opted_in: bool,
    pub deleted: bool,
    /// Filed in a restricted folder (or below one).
    pub restricted: bool,
    pub access: AccessMode,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Its current version is PENDING or REJECTED moderation.
    pub awaiting_moderation: bool,
    /// Every license attached to the asset.
    pub licenses: Vec<crate::license::Terms>,
    /// The territory public URLs are declared for (`None`: any territory a
    /// license names); a setting of the installation.
    pub territory: Option<String>,
}

/// Whether an asset may be served publicly through a profile at `now`.
/// Stricter than any other audience, because what leaves here is cached by
/// others: both opt-ins, not in the trash nor a restricted folder, PUBLIC
/// inside its window, not awaiting moderation, and covered *now* by a
/// license for [`PUBLIC_CHANNEL`] (an asset without licenses is never
/// public, whatever the setting for partners and visitors says). Every
/// refusal hides existence (answered 404).
pub fn authorize_public(facts: &PublicFacts, now: DateTime<Utc>) -> Result<(), Denial> {
    if !facts.profile_public || !facts.opted_in {
        return Err(Denial::NotPublicDelivery);
    }
    if facts.deleted {
        return Err(Denial::InTrash);
    }
    if facts.restricted {
        return Err(Denial::Restricted);
    }
    let published = facts.access == AccessMode::Public
        && facts.starts_at.is_none_or(|s| now >= s)
        && facts.ends_at.is_none_or(|e| now < e);
    if !published {
        return Err(Denial::NotPublished);
    }
    if facts.awaiting_moderation {
        return Err(Denial::AwaitingModeration);
    }
    if !crate::license::covered(
        &facts.licenses,
        now,
        Some(PUBLIC_CHANNEL),
        facts.territory.as_deref(),
    ) {
        return Err(Denial::NotLicensed);
    }
    Ok(())
}

/// Until when a public answer may be cached: the first of the window's end
/// and the end of the current coverage by licenses for [`PUBLIC_CHANNEL`]
/// (`now` when not public).
pub fn public_until(facts: &PublicFacts, now: DateTime<Utc>) -> DateTime<Utc> {
    let relevant: Vec<crate::license::Terms> = facts
        .licenses
        .iter()
        .filter(|t| t.covers(Some(PUBLIC_CHANNEL), facts.territory.as_deref()))
        .cloned()
        .collect();
    let covered = crate::license::covered_until(&relevant, now);
    facts.ends_at.map_or(covered, |e| e.min(covered)).max(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sea_orm::Iterable;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn member(role: Role) -> Actor {
        Actor::Member {
            user_id: Uuid::nil(),
            role,
            scope: KeyScope::FULL,
        }
    }

    fn partner(allowlisted: bool) -> Actor {
        Actor::Partner {
            user_id: Uuid::from_u128(1),
            org_id: Uuid::from_u128(2),
            org_allowlisted: allowlisted,
            scope: KeyScope::FULL,
        }
    }

    fn scoped(actor: Actor, scope: KeyScope) -> Actor {
        actor.with_scope(scope)
    }

    #[test]
    fn smart_folders_open_for_their_owner_and_whom_they_are_shared_with() {
        let owner = Uuid::from_u128(7);
        let org = Uuid::from_u128(2);
        let other_org = Uuid::from_u128(3);
        let editor = Actor::Member {
            user_id: owner,
            role: Role::Editor,
            scope: KeyScope::FULL,
        };
        let colleague = member(Role::Viewer);
        let admin = member(Role::Admin);
        let partner_user = partner(true);
        let cut_off = partner(false);
        let visitor = Actor::Visitor {
            share_link_id: Uuid::nil(),
        };
        let facts = |sharing| SmartFolderFacts {
            owner_id: owner,
            sharing,
        };
        use SmartFolderAction::{Manage, Share, View};
        use SmartFolderSharing::{Members, Partner, Private};
        let cases: Vec<(
            &Actor,
            SmartFolderAction,
            SmartFolderSharing,
            Result<(), Denial>,
        )> = vec![
            (&editor, View, Private, Ok(())),
            (&editor, Manage, Private, Ok(())),
            (&colleague, View, Private, Err(Denial::NotShared)),
            (&colleague, View, Members, Ok(())),
            (&colleague, Manage, Members, Err(Denial::NotOwner)),
            (&admin, Manage, Private, Ok(())),
            (&partner_user, View, Members, Err(Denial::NotShared)),
            (&partner_user, View, Partner(org), Ok(())),
            (
                &partner_user,
                View,
                Partner(other_org),
                Err(Denial::NotShared),
            ),
            (
                &partner_user,
                Manage,
                Partner(org),
                Err(Denial::PartnerMayNotShare),
            ),
            (&colleague, View, Partner(org), Err(Denial::NotShared)),
            // A link over a folder: whoever may open it, partners never.
            (&editor, Share, Private, Ok(())),
            (&colleague, Share, Members, Ok(())),
            (&colleague, Share, Private, Err(Denial::NotShared)),
            (&admin, Share, Private, Ok(())),
            (
                &partner_user,
                Share,
                Partner(org),
                Err(Denial::PartnerMayNotShare),
            ),
            (
                &cut_off,
                View,
                Partner(org),
                Err(Denial::PartnerNotAllowlisted),
            ),
            (
                &Actor::Anonymous,
                View,
                Members,
                Err(Denial::Unauthenticated),
            ),
            (
                &visitor,
                View,
                Members,
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Visitor,
                    action: Action::ViewMetadata,
                }),
            ),
        ];
        for (actor, action, sharing, want) in cases {
            assert_eq!(
                authorize_smart_folder(actor, action, &facts(sharing)),
                want,
                "{actor:?} {action:?} {sharing:?}"
            );
        }
        // A partner's own folder stays private.
        let own = SmartFolderFacts {
            owner_id: Uuid::from_u128(1),
            sharing: Private,
        };
        assert_eq!(authorize_smart_folder(&partner_user, Manage, &own), Ok(()));
        assert_eq!(
            authorize_smart_folder(&partner_user, Share, &own),
            Err(Denial::PartnerMayNotShare)
        );
        let shared_own = SmartFolderFacts {
            owner_id: Uuid::from_u128(1),
            sharing: Members,
        };
        assert_eq!(
            authorize_smart_folder(&partner_user, Manage, &shared_own),
            Err(Denial::PartnerMayNotShare)
        );
        // A read-only key may open but not change.
        let read_only = scoped(
            editor.clone(),
            KeyScope {
                write: false,
                ..KeyScope::FULL
            },
        );
        assert!(authorize_smart_folder(&read_only, View, &facts(Private)).is_ok());
        assert!(matches!(
            authorize_smart_folder(&read_only, Manage, &facts(Private)),
            Err(Denial::KeyScopeLacksAction { .. })
        ));
        assert!(matches!(
            authorize_smart_folder(&read_only, Share, &facts(Private)),
            Err(Denial::KeyScopeLacksAction { .. })
        ));
    }

    /// Every combination of scopes, for every member role and a partner, on
    /// every action and resource kind: a key allows exactly what both its
    /// principal and its scopes allow, never more.
    #[test]
    fn a_keys_scopes_only_ever_narrow_its_principal() {
        let mut principals: Vec<Actor> = ROLES.iter().map(|r| member(*r)).collect();
        principals.push(partner(true));
        let folder = Resource::Folder(FolderFacts {
            restricted: false,
            grant: Some(GrantLevel::Manage),
        });
        let asset = Resource::Asset(AssetFacts {
            grant: Some(GrantLevel::Manage),
            ..published()
        });
        for bits in 0u8..8 {
            let scope = KeyScope {
                read: bits & 1 != 0,
                deliver: bits & 2 != 0,
                write: bits & 4 != 0,
            };
            for principal in &principals {
                let key = scoped(principal.clone(), scope);
                for action in Action::ALL {
                    for resource in [&Resource::Instance, &folder, &asset] {
                        let full = authorize(principal, action, resource, now());
                        let narrowed = authorize(&key, action, resource, now());
                        if scope.permits(action) {
                            assert_eq!(narrowed, full, "{scope:?} {action:?}");
                        } else {
                            assert_eq!(
                                narrowed,
                                Err(Denial::KeyScopeLacksAction { action }),
                                "{scope:?} {action:?}"
                            );
                        }
                    }
                }
            }
        }
        // What each scope means.
        let deliver = KeyScope {
            read: false,
            deliver: true,
            write: false,
        };
        let read = KeyScope {
            read: true,
            deliver: false,
            write: false,
        };
        for action in Action::ALL {
            let delivery = matches!(
                action,
                Action::ViewMetadata
                    | Action::ViewPreview
                    | Action::DownloadLowres
                    | Action::DownloadOriginal
            );
            assert_eq!(deliver.permits(action), delivery, "{action:?}");
            assert_eq!(
                read.permits(action),
                delivery || matches!(action, Action::ViewAudit | Action::ViewStats),
                "{action:?}"
            );
            assert!(KeyScope::FULL.permits(action));
        }
        let admin_key = scoped(member(Role::Admin), read);
        assert_eq!(stats_scope(&admin_key, now()), Ok(StatsScope::Everyone));
        assert_eq!(
            stats_scope(&scoped(member(Role::Admin), deliver), now()),
            Err(Denial::KeyScopeLacksAction {
                action: Action::ViewStats
            })
        );
    }

    /// A version awaiting (or refused by) moderation never leaves the
    /// organisation, whatever else holds; members see it as before.
    #[test]
    fn nothing_awaiting_moderation_leaves_the_organisation() {
        let held = AssetFacts {
            grant: Some(GrantLevel::Manage),
            awaiting_moderation: true,
            ..published()
        };
        for action in Action::ALL {
            assert!(
                matches!(
                    authorize(
                        &partner(true),
                        action,
                        &Resource::Asset(held.clone()),
                        now()
                    ),
                    Err(Denial::AwaitingModeration
                        | Denial::GrantLacksAction { .. }
                        | Denial::ActorKindLacksAction { .. })
                ),
                "{action:?}"
            );
            assert_eq!(
                authorize(
                    &member(Role::Admin),
                    action,
                    &Resource::Asset(held.clone()),
                    now()
                ),
                authorize(
                    &member(Role::Admin),
                    action,
                    &Resource::Asset(AssetFacts {
                        awaiting_moderation: false,
                        ..held.clone()
                    }),
                    now()
                ),
                "{action:?}"
            );
        }
        assert_eq!(
            authorize(
                &partner(true),
                Action::ViewMetadata,
                &Resource::Asset(held.clone()),
                now()
            ),
            Err(Denial::AwaitingModeration)
        );
        assert!(Denial::AwaitingModeration.hides_existence());
        let link = LinkFacts {
            scope: ShareScope::Download,
            revoked: false,
            starts_at: None,
            includes: true,
            expires_at: now() + chrono::Duration::days(1),
            downloads_left: true,
            views_left: true,
            creator: CreatorRights {
                share: true,
                preview: true,
                lowres: true,
                original: true,
            },
        };
        let visitor = Actor::Visitor {
            share_link_id: Uuid::nil(),
        };
        let via_link = |awaiting: bool| {
            Resource::Asset(AssetFacts {
                link: Some(link.clone()),
                awaiting_moderation: awaiting,
                ..published()
            })
        };
        assert_eq!(
            authorize(&visitor, Action::ViewPreview, &via_link(true), now()),
            Err(Denial::AwaitingModeration)
        );
        assert_eq!(
            authorize(&visitor, Action::ViewPreview, &via_link(false), now()),
            Ok(())
        );
    }

    #[test]
    fn webhooks_are_managed_by_admins_and_by_each_partner_for_its_own_organisation() {
        let own = Some(Uuid::from_u128(2));
        let other = Some(Uuid::from_u128(3));
        for role in ROLES {
            for org in [None, own, other] {
                let expected = if role == Role::Admin {
                    Ok(())
                } else {
                    Err(Denial::RoleLacksAction {
                        role,
                        action: Action::Admin,
                    })
                };
                assert_eq!(manage_webhooks(&member(role), org, now()), expected);
            }
        }
        assert_eq!(manage_webhooks(&partner(true), own, now()), Ok(()));
        for org in [None, other] {
            assert!(matches!(
                manage_webhooks(&partner(true), org, now()),
                Err(Denial::ActorKindLacksAction { .. })
            ));
        }
        assert_eq!(
            manage_webhooks(&partner(false), own, now()),
            Err(Denial::PartnerNotAllowlisted)
        );
        let read_only = KeyScope {
            read: true,
            deliver: true,
            write: false,
        };
        assert!(matches!(
            manage_webhooks(&scoped(partner(true), read_only), own, now()),
            Err(Denial::KeyScopeLacksAction { .. })
        ));
        assert!(manage_webhooks(&Actor::Anonymous, None, now()).is_err());
        assert!(
            manage_webhooks(
                &Actor::Visitor {
                    share_link_id: Uuid::nil()
                },
                own,
                now()
            )
            .is_err()
        );
    }

    #[test]
    fn statistics_are_for_stats_roles_and_each_partner_sees_only_its_own_organisation() {
        for role in ROLES {
            let expected = if matches!(role, Role::Admin | Role::Manager) {
                Ok(StatsScope::Everyone)
            } else {
                Err(Denial::RoleLacksAction {
                    role,
                    action: Action::ViewStats,
                })
            };
            assert_eq!(stats_scope(&member(role), now()), expected, "{role:?}");
        }
        assert_eq!(
            stats_scope(&partner(true), now()),
            Ok(StatsScope::Organisation(Uuid::from_u128(2)))
        );
        assert_eq!(
            stats_scope(&partner(false), now()),
            Err(Denial::PartnerNotAllowlisted)
        );
        assert_eq!(
            stats_scope(
                &Actor::Visitor {
                    share_link_id: Uuid::nil()
                },
                now()
            ),
            Err(Denial::ActorKindLacksAction {
                kind: ActorKind::Visitor,
                action: Action::ViewStats
            })
        );
        assert_eq!(
            stats_scope(&Actor::Anonymous, now()),
            Err(Denial::Unauthenticated)
        );
        assert_eq!(stats_scope(&Actor::System, now()), Ok(StatsScope::Everyone));
    }

    const ROLES: [Role; 5] = [
        Role::Admin,
        Role::Manager,
        Role::Editor,
        Role::Contributor,
        Role::Viewer,
    ];

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

    /// What each grant level allows, written out independently.
    const GRANTS: &[(Action, [bool; 5])] = &[
        //                              VIEW DOWNLOAD EDIT MODERATE MANAGE
        (Action::ViewMetadata, [true, true, true, true, true]),
        (Action::ViewPreview, [true, true, true, true, true]),
        (Action::DownloadLowres, [false, true, true, true, true]),
        (Action::DownloadOriginal, [false, true, true, true, true]),
        (Action::Upload, [false, false, true, true, true]),
        (Action::Edit, [false, false, true, true, true]),
        (Action::Delete, [false, false, false, false, true]),
        (Action::Share, [false, false, false, false, true]),
        (Action::Moderate, [false, false, false, true, true]),
        (Action::ManageAccess, [false, false, false, false, true]),
        (Action::ManageLicenses, [false, false, false, false, false]),
        (Action::ViewAudit, [false, false, false, false, false]),
        (Action::ViewStats, [false, false, false, false, false]),
        (Action::Admin, [false, false, false, false, false]),
    ];

    const LEVELS: [GrantLevel; 5] = [
        GrantLevel::View,
        GrantLevel::Download,
        GrantLevel::Edit,
        GrantLevel::Moderate,
        GrantLevel::Manage,
    ];

    fn published() -> AssetFacts {
        AssetFacts {
            access: AccessMode::Public,
            licensing: Some(Licensing {
                unlicensed_allowed: true,
                ..Licensing::default()
            }),
            ..AssetFacts::default()
        }
    }

    #[test]
    fn nothing_unlicensed_leaves_and_a_license_ends_at_its_instant() {
        use crate::license::{Channel, Terms};
        let ends = now() + chrono::Duration::days(1);
        let licensed = |licenses: Vec<Terms>, unlicensed_allowed: bool| AssetFacts {
            grant: Some(GrantLevel::Download),
            licensing: Some(Licensing {
                licenses,
                unlicensed_allowed,
                ..Licensing::default()
            }),
            ..published()
        };
        let terms = Terms {
            channels: [Channel::Ecommerce].into(),
            territories: ["FR".to_owned()].into(),
            starts_at: now() - chrono::Duration::days(30),
            ends_at: ends,
        };
        let partner = partner(true);
        for action in [
            Action::ViewMetadata,
            Action::ViewPreview,
            Action::DownloadOriginal,
        ] {
            let with = Resource::Asset(licensed(vec![terms.clone()], false));
            assert_eq!(
                authorize(&partner, action, &with, ends - chrono::Duration::seconds(1)),
                Ok(())
            );
            assert_eq!(
                authorize(
                    &partner,
                    action,
                    &with,
                    ends + chrono::Duration::milliseconds(1)
                ),
                Err(Denial::NotLicensed)
            );
            let via_link = Resource::Asset(AssetFacts {
                link: Some(link(ShareScope::Download)),
                ..licensed(vec![terms.clone()], false)
            });
            assert_eq!(
                authorize(
                    &VISITOR,
                    action,
                    &via_link,
                    ends - chrono::Duration::seconds(1)
                ),
                Ok(())
            );
            assert_eq!(
                authorize(&VISITOR, action, &via_link, ends),
                Err(Denial::NotLicensed)
            );
            // Unlicensed: only where the setting allows it; unknown: never.
            for (allowed, expected) in [(false, Err(Denial::NotLicensed)), (true, Ok(()))] {
                let r = Resource::Asset(licensed(Vec::new(), allowed));
                assert_eq!(authorize(&partner, action, &r, now()), expected);
            }
            let unknown = Resource::Asset(AssetFacts {
                licensing: None,
                ..licensed(Vec::new(), true)
            });
            assert_eq!(
                authorize(&partner, action, &unknown, now()),
                Err(Denial::NotLicensed)
            );
            // Members work with unlicensed and expired images alike.
            let expired = Resource::Asset(licensed(vec![terms.clone()], false));
            assert_eq!(
                authorize(
                    &member(Role::Editor),
                    action,
                    &expired,
                    ends + chrono::Duration::days(1)
                ),
                Ok(())
            );
        }
        assert!(Denial::NotLicensed.hides_existence());
    }

    #[test]
    fn a_declared_use_needs_a_license_covering_its_channel_and_territory() {
        use crate::license::{Channel, Terms, Usage};
        let ecommerce_fr = Terms {
            channels: [Channel::Ecommerce, Channel::Marketplace].into(),
            territories: ["FR".to_owned(), "BE".to_owned()].into(),
            starts_at: now() - chrono::Duration::days(1),
            ends_at: now() + chrono::Duration::days(1),
        };
        let world_press = Terms {
            channels: [Channel::Press].into(),
            territories: ["WORLD".to_owned()].into(),
            ..ecommerce_fr.clone()
        };
        let facts = |usage: Usage| AssetFacts {
            grant: Some(GrantLevel::Download),
            link: Some(link(ShareScope::Download)),
            licensing: Some(Licensing {
                licenses: vec![ecommerce_fr.clone(), world_press.clone()],
                unlicensed_allowed: false,
                usage,
            }),
            ..published()
        };
        let usage = |channel: Option<Channel>, territory: Option<&str>| Usage {
            channel,
            territory: territory.map(str::to_owned),
        };
        let cases = [
            (usage(None, None), true),
            (usage(Some(Channel::Marketplace), None), true),
            (usage(Some(Channel::Marketplace), Some("FR")), true),
            (usage(Some(Channel::Marketplace), Some("DE")), false),
            (usage(Some(Channel::Social), Some("FR")), false),
            (usage(Some(Channel::Social), None), false),
            (usage(None, Some("US")), true), // the worldwide PRESS license
            (usage(Some(Channel::Press), Some("US")), true),
            (usage(Some(Channel::Press), Some("WORLD")), true),
            (usage(Some(Channel::Marketplace), Some("WORLD")), false),
        ];
        for (usage, covered) in cases {
            let r = Resource::Asset(facts(usage.clone()));
            for action in [Action::ViewPreview, Action::DownloadOriginal] {
                let outside = if covered {
                    Ok(())
                } else {
                    Err(Denial::NotLicensed)
                };
                assert_eq!(
                    authorize(&partner(true), action, &r, now()),
                    outside,
                    "{usage:?}"
                );
                assert_eq!(authorize(&VISITOR, action, &r, now()), outside, "{usage:?}");
                let inside = if covered {
                    Ok(())
                } else {
                    Err(Denial::UseNotLicensed)
                };
                assert_eq!(authorize(&member(Role::Editor), action, &r, now()), inside);
            }
            // Members still see and manage what they cannot send out.
            assert_eq!(
                authorize(&member(Role::Editor), Action::ViewMetadata, &r, now()),
                Ok(())
            );
        }
        assert!(!Denial::UseNotLicensed.hides_existence());
    }

    #[test]
    fn every_action_appears_in_the_tables_once() {
        for action in Action::ALL {
            assert_eq!(
                EXPECTED.iter().filter(|(a, _)| *a == action).count(),
                1,
                "{action:?}"
            );
            assert_eq!(
                GRANTS.iter().filter(|(a, _)| *a == action).count(),
                1,
                "{action:?}"
            );
        }
        assert_eq!(EXPECTED.len(), Action::ALL.len());
        assert_eq!(GRANTS.len(), Action::ALL.len());
        assert_eq!(Role::iter().collect::<Vec<_>>(), ROLES);
        assert_eq!(GrantLevel::iter().collect::<Vec<_>>(), LEVELS);
    }

    #[test]
    fn members_get_their_role_matrix_on_the_instance_folders_and_open_assets() {
        for (action, row) in EXPECTED {
            for (role, allowed) in ROLES.iter().zip(row) {
                for resource in [
                    Resource::Instance,
                    Resource::Folder(FolderFacts::default()),
                    Resource::Asset(AssetFacts::default()),
                    Resource::Asset(published()),
                ] {
                    let decision = authorize(&member(*role), *action, &resource, now());
                    if *allowed {
                        assert_eq!(decision, Ok(()), "{role:?} {action:?} {resource:?}");
                    } else {
                        assert_eq!(
                            decision,
                            Err(Denial::RoleLacksAction {
                                role: *role,
                                action: *action
                            }),
                            "{role:?} {action:?} {resource:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn grants_widen_a_members_role_but_never_to_administration() {
        for (action, row) in GRANTS {
            for (level, by_grant) in LEVELS.iter().zip(row) {
                for (role_row_action, roles) in EXPECTED.iter().filter(|(a, _)| a == action) {
                    for (role, by_role) in ROLES.iter().zip(roles) {
                        let facts = AssetFacts {
                            grant: Some(*level),
                            ..AssetFacts::default()
                        };
                        let decision = authorize(
                            &member(*role),
                            *role_row_action,
                            &Resource::Asset(facts),
                            now(),
                        );
                        assert_eq!(
                            decision.is_ok(),
                            *by_role || *by_grant,
                            "{role:?} {level:?} {action:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn restricted_folders_are_for_administrators_and_the_explicitly_granted() {
        let restricted = AssetFacts {
            restricted: true,
            ..published()
        };
        let restricted_folder = FolderFacts {
            restricted: true,
            grant: None,
        };
        for role in ROLES {
            for action in Action::ALL {
                let asset = authorize(
                    &member(role),
                    action,
                    &Resource::Asset(restricted.clone()),
                    now(),
                );
                let folder = authorize(
                    &member(role),
                    action,
                    &Resource::Folder(restricted_folder.clone()),
                    now(),
                );
                if role == Role::Admin {
                    assert!(asset.is_ok() && folder.is_ok(), "{action:?}");
                } else {
                    assert_eq!(asset, Err(Denial::Restricted), "{role:?} {action:?}");
                    assert_eq!(folder, Err(Denial::Restricted), "{role:?} {action:?}");
                    assert!(Denial::Restricted.hides_existence());
                }
            }
            // With a grant, the role (widened by the grant) applies again.
            let granted = AssetFacts {
                grant: Some(GrantLevel::View),
                ..restricted.clone()
            };
            assert_eq!(
                authorize(
                    &member(role),
                    Action::ViewMetadata,
                    &Resource::Asset(granted.clone()),
                    now()
                ),
                Ok(())
            );
            assert_eq!(
                authorize(
                    &member(role),
                    Action::Edit,
                    &Resource::Asset(granted),
                    now()
                )
                .is_ok(),
                role_permits(role, Action::Edit)
            );
        }
        // A restricted asset in the trash stays hidden from the non-granted.
        let trashed_restricted = AssetFacts {
            deleted: true,
            ..restricted
        };
        assert_eq!(
            authorize(
                &member(Role::Editor),
                Action::Delete,
                &Resource::Asset(trashed_restricted),
                now()
            ),
            Err(Denial::Restricted)
        );
    }

    #[test]
    fn trashed_assets_are_seen_and_restored_by_deleters_and_purged_by_admins_only() {
        let trashed = Resource::Asset(AssetFacts {
            deleted: true,
            ..AssetFacts::default()
        });
        for role in ROLES {
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

    /// Partners: grant level × action × published × deleted × allowlisted.
    #[test]
    fn partners_act_only_through_grants_on_published_assets() {
        for (action, row) in GRANTS {
            for grant in [
                None,
                Some(GrantLevel::View),
                Some(GrantLevel::Download),
                Some(GrantLevel::Edit),
                Some(GrantLevel::Moderate),
                Some(GrantLevel::Manage),
            ] {
                for is_published in [true, false] {
                    for deleted in [false, true] {
                        for allowlisted in [true, false] {
                            let facts = AssetFacts {
                                deleted,
                                grant,
                                access: if is_published {
                                    AccessMode::Public
                                } else {
                                    AccessMode::Restricted
                                },
                                ..published()
                            };
                            let decision = authorize(
                                &partner(allowlisted),
                                *action,
                                &Resource::Asset(facts),
                                now(),
                            );
                            let expected = if !allowlisted {
                                Err(Denial::PartnerNotAllowlisted)
                            } else if *action == Action::Moderate {
                                Err(Denial::ActorKindLacksAction {
                                    kind: ActorKind::Partner,
                                    action: *action,
                                })
                            } else if deleted {
                                Err(Denial::InTrash)
                            } else if let Some(level) = grant {
                                if !is_published {
                                    Err(Denial::NotPublished)
                                } else {
                                    let i = LEVELS.iter().position(|l| *l == level).unwrap();
                                    if row[i] {
                                        Ok(())
                                    } else {
                                        Err(Denial::GrantLacksAction {
                                            level,
                                            action: *action,
                                        })
                                    }
                                }
                            } else {
                                Err(Denial::NoGrant)
                            };
                            assert_eq!(
                                decision, expected,
                                "{action:?} {grant:?} published={is_published} deleted={deleted} allowlisted={allowlisted}"
                            );
                        }
                    }
                }
            }
        }
        // Installation-wide: nothing, ever.
        for action in Action::ALL {
            assert_eq!(
                authorize(&partner(true), action, &Resource::Instance, now()),
                Err(Denial::ActorKindLacksAction {
                    kind: ActorKind::Partner,
                    action
                })
            );
        }
    }

    #[test]
    fn the_publication_window_opens_and_closes_for_partners_but_not_for_members() {
        let start = now();
        let end = start + chrono::Duration::days(30);
        let facts = AssetFacts {
            grant: Some(GrantLevel::Download),
            access: AccessMode::Public,
            starts_at: Some(start),
            ends_at: Some(end),
            ..published()
        };
        let at = |t: DateTime<Utc>, actor: &Actor| {
            authorize(
                actor,
                Action::ViewPreview,
                &Resource::Asset(facts.clone()),
                t,
            )
        };
        let p = partner(true);
        assert_eq!(
            at(start - chrono::Duration::milliseconds(1), &p),
            Err(Denial::NotPublished)
        );
        assert_eq!(at(start, &p), Ok(()));
        assert_eq!(at(end - chrono::Duration::milliseconds(1), &p), Ok(()));
        assert_eq!(at(end, &p), Err(Denial::NotPublished));
        for t in [
            start - chrono::Duration::days(1),
            start,
            end + chrono::Duration::days(1),
        ] {
            assert_eq!(at(t, &member(Role::Viewer)), Ok(()));
        }
    }

    #[test]
    fn anonymous_is_denied_everything_as_unauthenticated() {
        for action in Action::ALL {
            for resource in [Resource::Instance, Resource::Asset(published())] {
                assert_eq!(
                    authorize(&Actor::Anonymous, action, &resource, now()),
                    Err(Denial::Unauthenticated)
                );
            }
        }
    }

    #[test]
    fn visitors_without_a_link_have_nothing_and_the_system_has_everything() {
        let visitor = Actor::Visitor {
            share_link_id: Uuid::nil(),
        };
        for action in Action::ALL {
            let denial =
                authorize(&visitor, action, &Resource::Asset(published()), now()).unwrap_err();
            assert!(denial.hides_existence());
            assert_eq!(
                authorize(&Actor::System, action, &Resource::Instance, now()),
                Ok(())
            );
            assert_eq!(
                authorize(
                    &Actor::System,
                    action,
                    &Resource::Asset(AssetFacts {
                        deleted: true,
                        restricted: true,
                        ..AssetFacts::default()
                    }),
                    now()
                ),
                Ok(())
            );
        }
    }

    fn link(scope: ShareScope) -> LinkFacts {
        LinkFacts {
            scope,
            revoked: false,
            starts_at: None,
            expires_at: now() + chrono::Duration::days(7),
            views_left: true,
            downloads_left: true,
            includes: true,
            creator: CreatorRights {
                share: true,
                preview: true,
                lowres: true,
                original: true,
            },
        }
    }

    fn through(link: LinkFacts) -> Resource {
        Resource::Asset(AssetFacts {
            link: Some(link),
            ..published()
        })
    }

    const VISITOR: Actor = Actor::Visitor {
        share_link_id: Uuid::nil(),
    };

    #[test]
    fn a_link_gives_exactly_its_scope() {
        for scope in ShareScope::iter() {
            for action in Action::ALL {
                let expected = match action {
                    Action::ViewMetadata | Action::ViewPreview => true,
                    Action::DownloadLowres => scope != ShareScope::Preview,
                    Action::DownloadOriginal => scope == ShareScope::Download,
                    _ => false,
                };
                let got = authorize(&VISITOR, action, &through(link(scope)), now());
                assert_eq!(got.is_ok(), expected, "{scope:?} {action:?}: {got:?}");
                assert_eq!(scope_permits(scope, action), expected);
            }
            // Never the instance nor a folder.
            for action in Action::ALL {
                assert!(authorize(&VISITOR, action, &Resource::Instance, now()).is_err());
                assert!(
                    authorize(
                        &VISITOR,
                        action,
                        &Resource::Folder(FolderFacts::default()),
                        now()
                    )
                    .is_err()
                );
            }
        }
    }

    #[test]
    fn an_unusable_link_opens_nothing_and_admits_nothing() {
        let t = now();
        let cases: [(LinkFacts, LinkState); 5] = [
            (link(ShareScope::Download), LinkState::Active),
            (
                LinkFacts {
                    revoked: true,
                    ..link(ShareScope::Download)
                },
                LinkState::Revoked,
            ),
            (
                LinkFacts {
                    expires_at: t,
                    ..link(ShareScope::Download)
                },
                LinkState::Expired,
            ),
            (
                LinkFacts {
                    starts_at: Some(t + chrono::Duration::seconds(1)),
                    ..link(ShareScope::Download)
                },
                LinkState::NotStarted,
            ),
            (
                LinkFacts {
                    views_left: false,
                    ..link(ShareScope::Download)
                },
                LinkState::Exhausted,
            ),
        ];
        for (facts, state) in cases {
            assert_eq!(facts.state(t), state);
            for action in Action::ALL {
                let got = authorize(&VISITOR, action, &through(facts.clone()), t);
                if state == LinkState::Active {
                    continue;
                }
                assert_eq!(got, Err(Denial::LinkUnavailable), "{state:?} {action:?}");
                assert!(Denial::LinkUnavailable.hides_existence());
            }
        }
        // One microsecond before the expiry it still works; at it, not.
        let ends = link(ShareScope::Preview).expires_at;
        let r = through(link(ShareScope::Preview));
        assert!(
            authorize(
                &VISITOR,
                Action::ViewPreview,
                &r,
                ends - chrono::Duration::microseconds(1)
            )
            .is_ok()
        );
        assert_eq!(
            authorize(&VISITOR, Action::ViewPreview, &r, ends),
            Err(Denial::LinkUnavailable)
        );
    }

    #[test]
    fn a_link_never_gives_more_than_its_creator_has_now() {
        let rights = [
            (
                Action::ViewPreview,
                CreatorRights {
                    share: true,
                    preview: true,
                    ..Default::default()
                },
            ),
            (
                Action::DownloadLowres,
                CreatorRights {
                    share: true,
                    preview: true,
                    lowres: true,
                    ..Default::default()
                },
            ),
            (
                Action::DownloadOriginal,
                CreatorRights {
                    share: true,
                    preview: true,
                    lowres: true,
                    original: true,
                },
            ),
        ];
        for (action, enough) in rights {
            let ok = LinkFacts {
                creator: enough,
                ..link(ShareScope::Download)
            };
            assert_eq!(authorize(&VISITOR, action, &through(ok), now()), Ok(()));
            // Lose the right, or the right to share at all: refused.
            for lesser in [
                CreatorRights {
                    share: false,
                    ..enough
                },
                CreatorRights::default(),
            ] {
                let facts = LinkFacts {
                    creator: lesser,
                    ..link(ShareScope::Download)
                };
                let got = authorize(&VISITOR, action, &through(facts), now());
                assert_eq!(got, Err(Denial::CreatorLacksAction { action }));
                assert!(got.unwrap_err().hides_existence());
            }
        }
    }

    #[test]
    fn visitors_get_only_included_published_live_assets_and_capped_downloads() {
        let base = link(ShareScope::Download);
        let outside = LinkFacts {
            includes: false,
            ..base.clone()
        };
        assert_eq!(
            authorize(&VISITOR, Action::ViewPreview, &through(outside), now()),
            Err(Denial::NotInLink)
        );
        for facts in [
            AssetFacts {
                deleted: true,
                link: Some(base.clone()),
                ..published()
            },
            AssetFacts {
                access: AccessMode::Restricted,
                link: Some(base.clone()),
                ..published()
            },
            AssetFacts {
                ends_at: Some(now()),
                link: Some(base.clone()),
                ..published()
            },
        ] {
            let got = authorize(
                &VISITOR,
                Action::ViewMetadata,
                &Resource::Asset(facts),
                now(),
            );
            assert!(got.unwrap_err().hides_existence());
        }
        let used_up = LinkFacts {
            downloads_left: false,
            ..base
        };
        assert_eq!(
            authorize(
                &VISITOR,
                Action::ViewPreview,
                &through(used_up.clone()),
                now()
            ),
            Ok(())
        );
        for action in [Action::DownloadLowres, Action::DownloadOriginal] {
            assert_eq!(
                authorize(&VISITOR, action, &through(used_up.clone()), now()),
                Err(Denial::DownloadsExhausted)
            );
        }
        // A link is no key for anything else: no link facts, no access.
        assert_eq!(
            authorize(
                &VISITOR,
                Action::ViewPreview,
                &Resource::Asset(published()),
                now()
            ),
            Err(Denial::NotInLink)
        );
    }

    #[test]
    fn scopes_follow_the_actor() {
        assert_eq!(visible_scope(&member(Role::Admin), now()), AssetScope::All);
        assert_eq!(visible_scope(&Actor::System, now()), AssetScope::All);
        assert!(matches!(
            visible_scope(&member(Role::Viewer), now()),
            AssetScope::Members { .. }
        ));
        match visible_scope(&partner(true), now()) {
            AssetScope::Granted { subjects, at } => {
                assert_eq!(at, now());
                assert!(subjects.contains(&Subject {
                    kind: SubjectKind::PartnerOrg,
                    id: Uuid::from_u128(2)
                }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(visible_scope(&partner(false), now()), AssetScope::Nothing);
        assert_eq!(visible_scope(&Actor::Anonymous, now()), AssetScope::Nothing);
    }

    /// A tiny deterministic generator (xorshift) for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// Property: whatever grants exist, a partner never reaches an asset whose
    /// folder chain carries grants only for another organisation (or its users).
    #[test]
    fn a_partner_never_sees_another_organisations_assets() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let orgs: Vec<Uuid> = (10..15).map(Uuid::from_u128).collect();
        let users: Vec<(Uuid, Uuid)> = (0..20)
            .map(|i| (Uuid::from_u128(100 + i), orgs[(i % 5) as usize]))
            .collect();
        for _ in 0..20_000 {
            // Grants on the asset's folder chain, for random subjects.
            let mut grants = Vec::new();
            for _ in 0..(rng.next() % 4) {
                let subject = if rng.next().is_multiple_of(2) {
                    Subject {
                        kind: SubjectKind::PartnerOrg,
                        id: rng.pick(&orgs),
                    }
                } else {
                    Subject {
                        kind: SubjectKind::User,
                        id: rng.pick(&users).0,
                    }
                };
                grants.push((subject, rng.pick(&LEVELS)));
            }
            let (user_id, org_id) = rng.pick(&users);
            let actor = Actor::Partner {
                user_id,
                org_id,
                org_allowlisted: true,
                scope: KeyScope::FULL,
            };
            let mine = subjects(&actor);
            let facts = AssetFacts {
                grant: strongest_grant(&mine, &grants),
                access: AccessMode::Public,
                restricted: rng.next().is_multiple_of(2),
                ..AssetFacts::default()
            };
            let held_by_me = grants.iter().any(|(s, _)| mine.contains(s));
            for action in Action::ALL {
                if authorize(&actor, action, &Resource::Asset(facts.clone()), now()).is_ok() {
                    assert!(
                        held_by_me,
                        "{actor:?} reached an asset granted only to others: {grants:?}"
                    );
                }
            }
            // Another organisation's grant never leaks into this partner's facts.
            let others: Vec<_> = grants
                .iter()
                .filter(|(s, _)| !mine.contains(s))
                .cloned()
                .collect();
            assert_eq!(strongest_grant(&mine, &others), None);
        }
    }

    #[test]
    fn only_members_see_internal_details() {
        assert!(sees_internal_details(&member(Role::Viewer)));
        assert!(sees_internal_details(&Actor::System));
        assert!(!sees_internal_details(&partner(true)));
        assert!(!sees_internal_details(&Actor::Visitor {
            share_link_id: Uuid::nil()
        }));
        assert!(!sees_internal_details(&Actor::Anonymous));
    }

    #[test]
    fn documented_matrix_matches_the_code() {
        let doc = include_str!("../../docs/ACCESS.md");
        assert!(
            doc.contains(&role_matrix_markdown()),
            "docs/ACCESS.md is stale; paste in:\n{}",
            role_matrix_markdown()
        );
        assert!(
            doc.contains(&grant_matrix_markdown()),
            "docs/ACCESS.md is stale; paste in:\n{}",
            grant_matrix_markdown()
        );
    }

    #[test]
    fn derivative_profiles_reach_their_audience_and_entitled_partners_only() {
        let org = Uuid::from_u128(7);
        let other = Uuid::from_u128(8);
        let member = |role| Actor::Member {
            user_id: Uuid::from_u128(1),
            role,
            scope: KeyScope::FULL,
        };
        let partner = |org_id, org_allowlisted| Actor::Partner {
            user_id: Uuid::from_u128(2),
            org_id,
            org_allowlisted,
            scope: KeyScope::FULL,
        };
        let visitor = Actor::Visitor {
            share_link_id: Uuid::from_u128(3),
        };
        for audience in ProfileAudience::ALL {
            for orgs in [vec![], vec![org], vec![other]] {
                let facts = ProfileFacts {
                    audience,
                    partner_orgs: orgs.clone(),
                };
                use sea_orm::Iterable;
                for role in Role::iter() {
                    assert_eq!(authorize_profile(&member(role), &facts), Ok(()));
                }
                assert_eq!(authorize_profile(&Actor::System, &facts), Ok(()));
                assert_eq!(
                    authorize_profile(&Actor::Anonymous, &facts),
                    Err(Denial::Unauthenticated)
                );
                assert_eq!(
                    authorize_profile(&partner(org, false), &facts),
                    Err(Denial::PartnerNotAllowlisted)
                );
                let partner_ok = audience >= ProfileAudience::Partners
                    && (orgs.is_empty() || orgs.contains(&org));
                assert_eq!(
                    authorize_profile(&partner(org, true), &facts),
                    if partner_ok {
                        Ok(())
                    } else {
                        Err(Denial::ProfileNotEntitled)
                    },
                    "{audience:?} {orgs:?}"
                );
                assert_eq!(
                    authorize_profile(&visitor, &facts),
                    if audience == ProfileAudience::Visitors {
                        Ok(())
                    } else {
                        Err(Denial::ProfileNotEntitled)
                    }
                );
            }
        }
        assert!(Denial::ProfileNotEntitled.hides_existence());
    }

    fn public_facts() -> PublicFacts {
        use crate::license::{Channel, Terms};
        PublicFacts {
            profile_public: true,
            opted_in: true,
            deleted: false,
            restricted: false,
            access: AccessMode::Public,
            starts_at: None,
            ends_at: None,
            awaiting_moderation: false,
            licenses: vec![Terms {
                channels: [Channel::Ecommerce].into(),
                territories: ["DE".to_owned(), "FR".to_owned()].into(),
                starts_at: now() - chrono::Duration::days(10),
                ends_at: now() + chrono::Duration::days(10),
            }],
            territory: None,
        }
    }

    #[test]
    fn public_delivery_needs_every_condition_and_each_refusal_hides_existence() {
        let ok = public_facts();
        assert_eq!(authorize_public(&ok, now()), Ok(()));
        let cases: Vec<(PublicFacts, Denial)> = vec![
            (
                PublicFacts {
                    profile_public: false,
                    ..ok.clone()
                },
                Denial::NotPublicDelivery,
            ),
            (
                PublicFacts {
                    opted_in: false,
                    ..ok.clone()
                },
                Denial::NotPublicDelivery,
            ),
            (
                PublicFacts {
                    deleted: true,
                    ..ok.clone()
                },
                Denial::InTrash,
            ),
            (
                PublicFacts {
                    restricted: true,
                    ..ok.clone()
                },
                Denial::Restricted,
            ),
            (
                PublicFacts {
                    access: AccessMode::Restricted,
                    ..ok.clone()
                },
                Denial::NotPublished,
            ),
            (
                PublicFacts {
                    starts_at: Some(now() + chrono::Duration::seconds(1)),
                    ..ok.clone()
                },
                Denial::NotPublished,
            ),
            (
                PublicFacts {
                    ends_at: Some(now()),
                    ..ok.clone()
                },
                Denial::NotPublished,
            ),
            (
                PublicFacts {
                    awaiting_moderation: true,
                    ..ok.clone()
                },
                Denial::AwaitingModeration,
            ),
            (
                PublicFacts {
                    licenses: vec![],
                    ..ok.clone()
                },
                Denial::NotLicensed,
            ),
            (
                PublicFacts {
                    territory: Some("US".into()),
                    ..ok.clone()
                },
                Denial::NotLicensed,
            ),
        ];
        for (facts, denial) in cases {
            assert_eq!(authorize_public(&facts, now()), Err(denial), "{facts:?}");
            assert!(denial.hides_existence(), "{denial:?}");
        }
        assert_eq!(
            authorize_public(
                &PublicFacts {
                    territory: Some("DE".into()),
                    ..ok.clone()
                },
                now()
            ),
            Ok(())
        );
    }

    #[test]
    fn a_public_license_ends_at_its_instant_and_other_channels_do_not_count() {
        use crate::license::{Channel, Terms};
        let ok = public_facts();
        let end = ok.licenses[0].ends_at;
        assert_eq!(
            authorize_public(&ok, end - chrono::Duration::milliseconds(1)),
            Ok(())
        );
        assert_eq!(authorize_public(&ok, end), Err(Denial::NotLicensed));
        let print_only = PublicFacts {
            licenses: vec![Terms {
                channels: [Channel::Print, Channel::Social].into(),
                ..ok.licenses[0].clone()
            }],
            ..ok.clone()
        };
        assert_eq!(
            authorize_public(&print_only, now()),
            Err(Denial::NotLicensed)
        );
        // Caching stops at the first of the license's end and the window's.
        assert_eq!(public_until(&ok, now()), end);
        let window = now() + chrono::Duration::days(2);
        assert_eq!(
            public_until(
                &PublicFacts {
                    ends_at: Some(window),
                    ..ok.clone()
                },
                now()
            ),
            window
        );
        assert_eq!(public_until(&print_only, now()), now());
    }
}

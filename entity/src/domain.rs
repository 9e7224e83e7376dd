//! Domain enumerations shared by the database, the policy and the API.
//!
//! Each is stored as its SCREAMING_SNAKE_CASE name, which is also its GraphQL
//! name, so a value reads the same in SQL, in GraphQL and in the audit log.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What kind of account a user is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserKind {
    /// A member of the brand's own organisation.
    #[sea_orm(string_value = "MEMBER")]
    Member,
    /// A user of an allowlisted partner organisation.
    #[sea_orm(string_value = "PARTNER")]
    Partner,
}

/// A member's role. Partners have no role: what they see comes from grants.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "MANAGER")]
    Manager,
    #[sea_orm(string_value = "EDITOR")]
    Editor,
    #[sea_orm(string_value = "CONTRIBUTOR")]
    Contributor,
    #[sea_orm(string_value = "VIEWER")]
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Manager => "MANAGER",
            Role::Editor => "EDITOR",
            Role::Contributor => "CONTRIBUTOR",
            Role::Viewer => "VIEWER",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ADMIN" => Ok(Role::Admin),
            "MANAGER" => Ok(Role::Manager),
            "EDITOR" => Ok(Role::Editor),
            "CONTRIBUTOR" => Ok(Role::Contributor),
            "VIEWER" => Ok(Role::Viewer),
            other => Err(format!(
                "unknown role {other:?} (expected ADMIN, MANAGER, EDITOR, CONTRIBUTOR or VIEWER)"
            )),
        }
    }
}

/// Who performed an audited action. Every accessor is exactly one of these.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorKind {
    /// An internal member of the brand.
    #[sea_orm(string_value = "MEMBER")]
    Member,
    /// A user of an allowlisted partner organisation.
    #[sea_orm(string_value = "PARTNER")]
    Partner,
    /// An external or not (yet) authenticated visitor.
    #[sea_orm(string_value = "VISITOR")]
    Visitor,
    /// Vitrine itself: scheduled jobs, command-line administration.
    #[sea_orm(string_value = "SYSTEM")]
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Member => "MEMBER",
            ActorKind::Partner => "PARTNER",
            ActorKind::Visitor => "VISITOR",
            ActorKind::System => "SYSTEM",
        }
    }
}

impl From<UserKind> for ActorKind {
    fn from(kind: UserKind) -> Self {
        match kind {
            UserKind::Member => ActorKind::Member,
            UserKind::Partner => ActorKind::Partner,
        }
    }
}

/// Where a version stands in the production of an image.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    /// Straight from the shoot.
    #[sea_orm(string_value = "RAW")]
    Raw,
    /// Retouched, not yet final.
    #[sea_orm(string_value = "RETOUCHED")]
    Retouched,
    /// The final image (which can then be approved).
    #[sea_orm(string_value = "FINAL")]
    Final,
}

/// What a share link lets its visitors do with the assets it includes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShareScope {
    /// Look at the previews only.
    #[sea_orm(string_value = "PREVIEW")]
    Preview,
    /// And download the low-resolution rendition.
    #[sea_orm(string_value = "LOWRES_DOWNLOAD")]
    LowresDownload,
    /// And download the original (with the ownership statement written in).
    #[sea_orm(string_value = "DOWNLOAD")]
    Download,
}

/// What a folder grant allows, each level including the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantLevel {
    /// See metadata and previews.
    #[sea_orm(string_value = "VIEW")]
    View,
    /// And download (low resolution and originals).
    #[sea_orm(string_value = "DOWNLOAD")]
    Download,
    /// And upload and edit.
    #[sea_orm(string_value = "EDIT")]
    Edit,
    /// And moderate what is uploaded below the folder (members only).
    #[sea_orm(string_value = "MODERATE")]
    Moderate,
    /// And share, delete, moderate, and manage access below the folder.
    #[sea_orm(string_value = "MANAGE")]
    Manage,
}

/// Who holds a grant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubjectKind {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "PARTNER_ORG")]
    PartnerOrg,
}

/// Whether an asset may leave the organisation (after Cloudinary's access_control).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessMode {
    /// Deliverable to partners (with a grant) and through share links, inside
    /// its publication window.
    #[sea_orm(string_value = "PUBLIC")]
    Public,
    /// Internal: members only.
    #[sea_orm(string_value = "RESTRICTED")]
    Restricted,
}

/// Whether a version may leave the organisation as far as moderation goes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModerationState {
    /// Uploaded where no moderation is required.
    #[sea_orm(string_value = "NOT_REQUIRED")]
    NotRequired,
    /// Waiting for a moderator: never delivered to partners or visitors.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    /// Refused: stays invisible outside the organisation.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

impl ModerationState {
    /// Whether a version in this state holds its asset back from partners
    /// and visitors.
    pub fn holds_back(self) -> bool {
        matches!(self, ModerationState::Pending | ModerationState::Rejected)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModerationState::NotRequired => "NOT_REQUIRED",
            ModerationState::Pending => "PENDING",
            ModerationState::Approved => "APPROVED",
            ModerationState::Rejected => "REJECTED",
        }
    }
}

/// Where the processing of a version stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingState {
    /// Waiting for a worker.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// A worker is on it.
    #[sea_orm(string_value = "PROCESSING")]
    Processing,
    /// Metadata extracted, renditions made.
    #[sea_orm(string_value = "READY")]
    Ready,
    /// Given up: the reason is recorded.
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

/// The derived images made of every version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RenditionKind {
    /// 256 px on the long edge.
    #[sea_orm(string_value = "THUMBNAIL")]
    Thumbnail,
    /// 1024 px on the long edge.
    #[sea_orm(string_value = "PREVIEW")]
    Preview,
    /// Configurable (640 px by default), lower quality: the "low resolution download".
    #[sea_orm(string_value = "LOWRES")]
    Lowres,
}

impl RenditionKind {
    pub const ALL: [RenditionKind; 3] = [
        RenditionKind::Thumbnail,
        RenditionKind::Preview,
        RenditionKind::Lowres,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RenditionKind::Thumbnail => "THUMBNAIL",
            RenditionKind::Preview => "PREVIEW",
            RenditionKind::Lowres => "LOWRES",
        }
    }

    /// The lower-case name used in storage keys.
    pub fn slug(self) -> &'static str {
        match self {
            RenditionKind::Thumbnail => "thumbnail",
            RenditionKind::Preview => "preview",
            RenditionKind::Lowres => "lowres",
        }
    }
}

macro_rules! audit_actions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )+) => {
        /// Every kind of audited event. Later features add variants; a stored
        /// name is never renamed or reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(64))")]
        pub enum AuditAction {
            $( $(#[$doc])* #[sea_orm(string_value = $name)] #[serde(rename = $name)] $variant, )+
        }

        impl AuditAction {
            /// The stored (and GraphQL) name of the action.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( AuditAction::$variant => $name, )+
                }
            }

            /// The action with this stored name, if any.
            pub fn from_str_opt(name: &str) -> Option<Self> {
                match name {
                    $( $name => Some(AuditAction::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    /// A user signed in.
    LoginSucceeded = "LOGIN_SUCCEEDED",
    /// A sign-in was refused (unknown email, wrong password, disabled account).
    LoginFailed = "LOGIN_FAILED",
    /// A sign-in was refused unchecked because of too many recent failures.
    LoginThrottled = "LOGIN_THROTTLED",
    /// A user signed out (its token was revoked by its own request).
    Logout = "LOGOUT",
    /// A session token was revoked by an administrator or by disabling its user.
    TokenRevoked = "TOKEN_REVOKED",
    /// A user account was created.
    UserCreated = "USER_CREATED",
    /// A user account was changed (name, email, role, password).
    UserUpdated = "USER_UPDATED",
    /// A user account was disabled; its tokens stopped working.
    UserDisabled = "USER_DISABLED",
    /// A disabled user account was enabled again.
    UserEnabled = "USER_ENABLED",
    /// A partner organisation was created.
    PartnerOrgCreated = "PARTNER_ORG_CREATED",
    /// A partner organisation was changed (name, email domains).
    PartnerOrgUpdated = "PARTNER_ORG_UPDATED",
    /// A partner organisation was put on the allowlist.
    PartnerOrgAllowlisted = "PARTNER_ORG_ALLOWLISTED",
    /// A partner organisation was removed from the allowlist.
    PartnerOrgRemovedFromAllowlist = "PARTNER_ORG_REMOVED_FROM_ALLOWLIST",
    /// The audit hash chain was verified.
    AuditChainVerified = "AUDIT_CHAIN_VERIFIED",
    /// Sessions that ended long ago were deleted by the housekeeping job.
    SessionsPurged = "SESSIONS_PURGED",
    /// A folder was created.
    FolderCreated = "FOLDER_CREATED",
    /// A folder was renamed.
    FolderRenamed = "FOLDER_RENAMED",
    /// A folder (with its subtree) was moved under another parent.
    FolderMoved = "FOLDER_MOVED",
    /// An empty folder was deleted.
    FolderDeleted = "FOLDER_DELETED",
    /// A smart folder (saved search) was created.
    SmartFolderCreated = "SMART_FOLDER_CREATED",
    /// A smart folder's name, search or sharing changed.
    SmartFolderUpdated = "SMART_FOLDER_UPDATED",
    /// A smart folder was deleted.
    SmartFolderDeleted = "SMART_FOLDER_DELETED",
    /// A run recomputing the library's automatic tags started (or resumed).
    RetagRunStarted = "RETAG_RUN_STARTED",
    /// An asset was created by its first upload.
    AssetCreated = "ASSET_CREATED",
    /// A new version of an asset was uploaded.
    VersionUploaded = "VERSION_UPLOADED",
    /// A FINAL version was approved.
    VersionApproved = "VERSION_APPROVED",
    /// An earlier version was made current again (as a new version).
    VersionRestored = "VERSION_RESTORED",
    /// An asset's title changed.
    AssetRenamed = "ASSET_RENAMED",
    /// An asset moved to another folder.
    AssetMoved = "ASSET_MOVED",
    /// An asset's tags changed.
    AssetRetagged = "ASSET_RETAGGED",
    /// An asset's description changed.
    AssetDescribed = "ASSET_DESCRIBED",
    /// An asset was moved to the trash.
    AssetDeleted = "ASSET_DELETED",
    /// An asset came back from the trash.
    AssetRestored = "ASSET_RESTORED",
    /// An asset was removed for good, with the blobs nothing else uses.
    AssetPurged = "ASSET_PURGED",
    /// An upload was refused (wrong type, too large, corrupt, ...); nothing was kept.
    UploadRejected = "UPLOAD_REJECTED",
    /// Stored blobs that nothing referenced were deleted by the cleanup job.
    BlobsCollected = "BLOBS_COLLECTED",
    /// A version's metadata was extracted and its renditions made.
    VersionProcessed = "VERSION_PROCESSED",
    /// A version could not be processed (the reason is recorded).
    VersionProcessingFailed = "VERSION_PROCESSING_FAILED",
    /// The organisation's ownership profile changed.
    OwnershipProfileUpdated = "OWNERSHIP_PROFILE_UPDATED",
    /// An asset's ownership override changed.
    AssetOwnershipUpdated = "ASSET_OWNERSHIP_UPDATED",
    /// Stored renditions were re-tagged with the current ownership profile.
    RenditionsRetagged = "RENDITIONS_RETAGGED",
    /// A grant on a folder was given (or changed).
    AccessGranted = "ACCESS_GRANTED",
    /// A grant on a folder was taken away.
    AccessRevoked = "ACCESS_REVOKED",
    /// A folder became restricted (a pre-launch collection).
    FolderRestricted = "FOLDER_RESTRICTED",
    /// A folder stopped being restricted.
    FolderUnrestricted = "FOLDER_UNRESTRICTED",
    /// An asset's access mode or publication window changed.
    AssetAccessChanged = "ASSET_ACCESS_CHANGED",
    /// A rendition (thumbnail, preview) was served.
    RenditionViewed = "RENDITION_VIEWED",
    /// A low-resolution rendition was downloaded.
    LowresDownloaded = "LOWRES_DOWNLOADED",
    /// An original was downloaded (stamped with the ownership statement).
    OriginalDownloaded = "ORIGINAL_DOWNLOADED",
    /// A validly signed delivery URL was refused (expired, or the policy
    /// said no at request time). Forged URLs are only logged: recording them
    /// would let anyone fill the audit log.
    DeliveryRefused = "DELIVERY_REFUSED",
    /// A share link was created.
    ShareLinkCreated = "SHARE_LINK_CREATED",
    /// A share link was changed (label, window, caps, password).
    ShareLinkUpdated = "SHARE_LINK_UPDATED",
    /// A share link was revoked; its page and image URLs stop at once.
    ShareLinkRevoked = "SHARE_LINK_REVOKED",
    /// A visitor opened a share link's page (after its password, if any).
    ShareLinkOpened = "SHARE_LINK_OPENED",
    /// A wrong password was typed on a share link's page.
    SharePasswordFailed = "SHARE_PASSWORD_FAILED",
    /// Too many wrong passwords: the link refuses attempts for a while.
    ShareLockedOut = "SHARE_LOCKED_OUT",
    /// A license was created.
    LicenseCreated = "LICENSE_CREATED",
    /// A license's terms changed.
    LicenseUpdated = "LICENSE_UPDATED",
    /// A license was attached to assets.
    LicenseAttached = "LICENSE_ATTACHED",
    /// A license was detached from assets.
    LicenseDetached = "LICENSE_DETACHED",
    /// A license's end passed; recorded by the takedown sweep (SYSTEM).
    LicenseExpired = "LICENSE_EXPIRED",
    /// A license entered its notice period ("expiring soon"), once per end date.
    LicenseExpiring = "LICENSE_EXPIRING",
    /// An asset was left with no license in force and taken down (SYSTEM).
    AssetTakenDown = "ASSET_TAKEN_DOWN",
    /// A taken-down asset is licensed again (SYSTEM).
    AssetReinstated = "ASSET_REINSTATED",
    /// Usage crossed an anomaly threshold (bulk downloading); recorded by the
    /// anomaly watcher (SYSTEM) within seconds of the burst.
    AnomalyDetected = "ANOMALY_DETECTED",
    /// An API key was created (its secret shown once).
    ApiKeyCreated = "API_KEY_CREATED",
    /// An API key got a new secret; the old one works until the overlap ends.
    ApiKeyRotated = "API_KEY_ROTATED",
    /// An API key was revoked.
    ApiKeyRevoked = "API_KEY_REVOKED",
    /// A webhook endpoint was registered.
    WebhookEndpointCreated = "WEBHOOK_ENDPOINT_CREATED",
    /// A webhook endpoint's URL, events or state changed.
    WebhookEndpointUpdated = "WEBHOOK_ENDPOINT_UPDATED",
    /// A webhook endpoint was removed.
    WebhookEndpointDeleted = "WEBHOOK_ENDPOINT_DELETED",
    /// A webhook endpoint was disabled after sustained failure (SYSTEM).
    WebhookEndpointDisabled = "WEBHOOK_ENDPOINT_DISABLED",
    /// A moderator (or the automatic rules) approved a version: it may now
    /// leave the organisation.
    ModerationApproved = "MODERATION_APPROVED",
    /// A moderator (or the automatic rules) rejected a version.
    ModerationRejected = "MODERATION_REJECTED",
    /// A person reversed an earlier decision (automatic or not); the
    /// details carry the new decision, the old one and the rules' results.
    ModerationOverridden = "MODERATION_OVERRIDDEN",
    /// A folder began or stopped requiring moderation of what is uploaded.
    FolderModerationChanged = "FOLDER_MODERATION_CHANGED",
    /// An administrator queued a live version for moderation (backfill).
    ModerationRequired = "MODERATION_REQUIRED",
    /// An upload preset was created, changed or deleted.
    UploadPresetChanged = "UPLOAD_PRESET_CHANGED",
    /// A derivative profile was created, changed or deleted.
    DerivativeProfileChanged = "DERIVATIVE_PROFILE_CHANGED",
    /// An asset's focal point was set or cleared.
    FocalPointChanged = "FOCAL_POINT_CHANGED",
    /// An asset or a folder was opted into public delivery, or out of it.
    PublicDeliveryChanged = "PUBLIC_DELIVERY_CHANGED",
    /// A CDN purge was sent and acknowledged.
    CdnPurgeSent = "CDN_PURGE_SENT",
    /// A CDN purge attempt failed (retried with backoff, or given up).
    CdnPurgeFailed = "CDN_PURGE_FAILED",
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn audit_action_names_are_unique_and_match_serde() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::iter() {
            assert!(seen.insert(action.as_str()), "duplicate {action}");
            let json = serde_json::to_string(&action).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(action.to_value(), action.as_str());
        }
    }

    #[test]
    fn roles_parse_case_insensitively_and_reject_unknown_names() {
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
        assert_eq!(" ADMIN ".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
        for role in Role::iter() {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }
}

/// Where a tag came from: typed by a person, or added by the worker.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TagSource {
    /// Typed by a person (or given at upload).
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    /// From the file's EXIF: orientation, resolution, camera, lens, date.
    #[sea_orm(string_value = "AUTO_EXIF")]
    AutoExif,
    /// From the file's IPTC or XMP keywords.
    #[sea_orm(string_value = "AUTO_IPTC")]
    AutoIptc,
    /// The image's dominant colours.
    #[sea_orm(string_value = "AUTO_COLOR")]
    AutoColor,
    /// A rule of the upload preset (its filename pattern, its tags).
    #[sea_orm(string_value = "AUTO_RULE")]
    AutoRule,
}

impl TagSource {
    pub fn is_auto(self) -> bool {
        self != TagSource::Manual
    }
}

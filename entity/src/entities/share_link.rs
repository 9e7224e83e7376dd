use sea_orm::entity::prelude::*;

use crate::domain::ShareScope;

/// A share link. The token in its URL is never stored: only its SHA-256
/// (`token_hash`); the password only as an argon2id hash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "share_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_by: Uuid,
    /// A folder link shows the folder's deliverable content at each request.
    pub folder_id: Option<Uuid>,
    pub scope: ShareScope,
    pub password_hash: Option<String>,
    pub starts_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub max_views: Option<i32>,
    pub max_downloads: Option<i32>,
    pub label: Option<String>,
    pub recipient_email: Option<String>,
    pub partner_org_id: Option<Uuid>,
    /// The use the link is for (a channel, e.g. MARKETPLACE): visitors then
    /// get only assets with a license in force covering it.
    pub channel: Option<String>,
    /// The territory the link is for (ISO 3166-1 alpha-2 or WORLD).
    pub territory: Option<String>,
    /// Visits started (page shown after the password, if any).
    pub opens: i32,
    /// Previews delivered.
    pub views: i32,
    /// Downloads delivered.
    pub downloads: i32,
    pub failed_passwords: i32,
    pub last_access_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// The use the link is for.
    pub fn usage(&self) -> crate::license::Usage {
        crate::license::Usage {
            channel: self
                .channel
                .as_deref()
                .and_then(crate::license::Channel::parse),
            territory: self.territory.clone(),
        }
    }

    /// Whether `maxViews` still allows a new visit.
    pub fn views_left(&self) -> bool {
        self.max_views.is_none_or(|m| self.opens < m)
    }

    /// Whether `maxDownloads` still allows a download.
    pub fn downloads_left(&self) -> bool {
        self.max_downloads.is_none_or(|m| self.downloads < m)
    }

    pub fn state(&self, now: DateTimeUtc) -> crate::policy::LinkState {
        crate::policy::link_state(
            self.revoked_at.is_some(),
            self.starts_at,
            self.expires_at,
            self.views_left(),
            now,
        )
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

use crate::domain::ShareScope;

/// Download units of one whole file (see `Model::download_units`): far more
/// than any file has bytes, so every byte is worth at least one unit.
pub const UNITS_PER_DOWNLOAD: i64 = 1_000_000_000_000;

/// What serving `served` bytes of a `len`-byte file costs against a link's
/// download cap: ⌊served·10¹²/len⌋ units, so a whole file costs exactly one
/// download, a download resumed in pieces costs no more than one, and since
/// a unit is less than a byte of any file under a terabyte, no cutting of
/// ranges gets a byte for nothing (the rounding leaves a caller at most one
/// unit per request: a whole extra file would take 10¹² requests).
pub fn download_units(served: u64, len: u64) -> i64 {
    if served == 0 {
        return 0;
    }
    let len = u128::from(len.max(served));
    let units = (u128::from(served) * UNITS_PER_DOWNLOAD as u128 / len).max(1);
    i64::try_from(units).unwrap_or(UNITS_PER_DOWNLOAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_is_one_download_and_pieces_add_up_to_no_more() {
        assert_eq!(download_units(1234, 1234), UNITS_PER_DOWNLOAD);
        assert_eq!(download_units(0, 1234), 0);
        let len = 987_654_321;
        for cut in [1, 10_000, len / 3, len - 1] {
            let pieces = download_units(cut, len) + download_units(len - cut, len);
            assert!(pieces <= UNITS_PER_DOWNLOAD, "{cut}");
            assert!(pieces >= UNITS_PER_DOWNLOAD - 2, "{cut}");
        }
        // A byte of a terabyte file still costs something.
        assert!(download_units(1, 1 << 40) >= 1);
    }
}

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
    /// A smart-folder link shows what the saved search finds, run as the
    /// link's creator, at each request.
    pub smart_folder_id: Option<Uuid>,
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
    /// The derivative profile (audience VISITORS) its page shows images in;
    /// `None`, or a profile since deleted or narrowed: THUMBNAIL renditions.
    pub profile_id: Option<Uuid>,
    /// Visits started (page shown after the password, if any).
    pub opens: i32,
    /// Previews delivered.
    pub views: i32,
    /// Downloads delivered (whole files' worth, rounded up).
    pub downloads: i32,
    /// What downloads delivered, in 10⁻¹²ths of a file ([`download_units`]).
    pub download_units: i64,
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

    /// Whether `maxDownloads` still allows some bytes to be downloaded
    /// (a whole file needs [`UNITS_PER_DOWNLOAD`] units left).
    pub fn downloads_left(&self) -> bool {
        self.max_downloads
            .is_none_or(|m| self.download_units < i64::from(m) * UNITS_PER_DOWNLOAD)
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

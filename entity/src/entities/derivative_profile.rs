use sea_orm::entity::prelude::*;

/// A named derivative (size, crop, format) defined by administrators:
/// `pdp-square` is 800×800 COVER at the focal point, AUTO format, 1× and 2×.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "derivative_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lower-case letters, digits and hyphens (it appears in URLs).
    #[sea_orm(unique)]
    pub name: String,
    /// The box at 1× (CSS pixels).
    pub width: i32,
    pub height: i32,
    /// INSIDE, COVER or CONTAIN.
    pub fit: String,
    /// CENTER, FOCAL_POINT or ENTROPY (where a COVER crop centres).
    pub anchor: String,
    /// JPEG, WEBP, AVIF, PNG or AUTO (the best the client's `Accept` takes).
    pub format: String,
    pub quality: i32,
    /// The pixel densities offered, comma-separated (`1,2`).
    pub dprs: String,
    /// `#rrggbb`: CONTAIN's padding and what transparency is flattened on.
    pub background: String,
    pub sharpen: bool,
    /// Whether a smaller original is enlarged to the box (never by default).
    pub upscale: bool,
    /// Made by the worker when a version is processed (else on first request).
    pub eager: bool,
    /// Whether published assets may be served publicly in it (`/p/`).
    pub public: bool,
    /// Who may receive it: MEMBERS, PARTNERS (and members) or VISITORS (and
    /// partners and members).
    pub audience: String,
    /// For PARTNERS and VISITORS: the partner organisations entitled to it,
    /// comma-separated ids (empty: every partner organisation).
    #[sea_orm(column_type = "Text")]
    pub partner_org_ids: String,
    /// Bumped by every change: derivatives made under an older revision are
    /// superseded (their URLs answer 410).
    pub revision: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// The offered pixel densities.
    pub fn dpr_list(&self) -> Vec<u8> {
        self.dprs
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect()
    }

    /// The policy's facts about it.
    pub fn facts(&self) -> crate::policy::ProfileFacts {
        use crate::policy::{ProfileAudience, ProfileFacts};
        ProfileFacts {
            // An unreadable audience offers the profile to members only.
            audience: ProfileAudience::parse(&self.audience).unwrap_or(ProfileAudience::Members),
            partner_orgs: self.partner_orgs(),
        }
    }

    /// The entitled partner organisations (empty: all).
    pub fn partner_orgs(&self) -> Vec<Uuid> {
        self.partner_org_ids
            .split(',')
            .filter_map(|id| Uuid::parse_str(id.trim()).ok())
            .collect()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

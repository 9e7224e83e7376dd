use sea_orm::entity::prelude::*;

use crate::domain::{Role, UserKind};

/// An argon2id PHC string. Its `Debug` is redacted so a model never prints it.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Normalised (trimmed, lower-case); unique.
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    pub password_hash: PasswordHash,
    pub kind: UserKind,
    /// Set for members, `None` for partners.
    pub role: Option<Role>,
    /// Set for partners, `None` for members.
    pub partner_org_id: Option<Uuid>,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// The principal of an API key: never signs in, not listed as a user.
    pub service: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::partner_org::Entity",
        from = "Column::PartnerOrgId",
        to = "super::partner_org::Column::Id"
    )]
    PartnerOrg,
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::partner_org::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PartnerOrg.def()
    }
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

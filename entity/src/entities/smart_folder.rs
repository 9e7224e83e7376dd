//! A smart folder: a saved search with a name, an owner and a sharing.

use sea_orm::entity::prelude::*;

use crate::policy::{SmartFolderFacts, SmartFolderSharing};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "smart_folders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    /// The words, in the search language.
    #[sea_orm(column_type = "Text")]
    pub query: String,
    /// The structured filter, as JSON.
    #[sea_orm(column_type = "Text")]
    pub filter: String,
    /// PRIVATE, MEMBERS or PARTNER (then `partner_org_id`).
    pub sharing: String,
    pub partner_org_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn sharing(&self) -> SmartFolderSharing {
        match (self.sharing.as_str(), self.partner_org_id) {
            ("MEMBERS", _) => SmartFolderSharing::Members,
            ("PARTNER", Some(org)) => SmartFolderSharing::Partner(org),
            _ => SmartFolderSharing::Private,
        }
    }

    pub fn facts(&self) -> SmartFolderFacts {
        SmartFolderFacts {
            owner_id: self.owner_id,
            sharing: self.sharing(),
        }
    }
}

/// The stored form of a sharing: its name and the partner organisation.
pub fn sharing_columns(sharing: SmartFolderSharing) -> (&'static str, Option<Uuid>) {
    match sharing {
        SmartFolderSharing::Private => ("PRIVATE", None),
        SmartFolderSharing::Members => ("MEMBERS", None),
        SmartFolderSharing::Partner(org) => ("PARTNER", Some(org)),
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

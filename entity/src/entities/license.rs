use std::collections::BTreeSet;

use sea_orm::entity::prelude::*;

use crate::license::{Channel, Terms};

/// A license: who granted which uses of the images, where and when.
/// Channels and territories are stored comma-separated and sorted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licenses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub licensor: String,
    pub reference: Option<String>,
    pub channels: String,
    pub territories: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub notes: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn channel_set(&self) -> BTreeSet<Channel> {
        self.channels
            .split(',')
            .filter_map(Channel::parse)
            .collect()
    }

    pub fn territory_set(&self) -> BTreeSet<String> {
        self.territories
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn terms(&self) -> Terms {
        Terms {
            channels: self.channel_set(),
            territories: self.territory_set(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

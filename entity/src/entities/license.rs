use std::collections::BTreeSet;

use sea_orm::entity::prelude::*;

use chrono::{DateTime, Utc};
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};

use crate::entities::{asset, asset_license};
use crate::license::{Channel, Terms, Usage, WORLD};

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
    /// When the takedown sweep handled this license's end (null: not yet,
    /// or the end moved since).
    pub expiry_processed_at: Option<DateTimeUtc>,
    /// The end an "expiring soon" notice was raised for.
    pub expiring_notice_for: Option<DateTimeUtc>,
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

/// The assets with a license in force at `at` covering `usage`, as a
/// subquery of asset ids.
pub fn in_force_at(at: DateTime<Utc>, usage: &Usage) -> SelectStatement {
    let mut query = Query::select()
        .column((asset_license::Entity, asset_license::Column::AssetId))
        .from(asset_license::Entity)
        .inner_join(
            Entity,
            Expr::col((Entity, Column::Id))
                .equals((asset_license::Entity, asset_license::Column::LicenseId)),
        )
        .and_where(Expr::col((Entity, Column::StartsAt)).lte(at))
        .and_where(Expr::col((Entity, Column::EndsAt)).gt(at))
        .to_owned();
    // Lists are stored comma-separated: match whole items.
    let item = |column: Column, value: &str| {
        let col = || Expr::col((Entity, column));
        col()
            .eq(value)
            .or(col().like(format!("{value},%")))
            .or(col().like(format!("%,{value}")))
            .or(col().like(format!("%,{value},%")))
    };
    if let Some(channel) = usage.channel {
        query.and_where(item(Column::Channels, channel.as_str()));
    }
    if let Some(territory) = &usage.territory {
        query.and_where(
            Expr::col((Entity, Column::Territories))
                .eq(WORLD)
                .or(item(Column::Territories, territory)),
        );
    }
    query
}

/// Assets that may leave the organisation at `at` for `usage`: with a
/// license in force covering it, or without any license when that is
/// allowed — the SQL twin of [`crate::policy::Licensing::permits`].
///
/// Written as correlated `EXISTS`: the database may then probe each
/// candidate's own license links (a search's few thousand matches) instead
/// of hashing every link in the library, and still hash them for a scan.
pub fn licensed_at(at: DateTime<Utc>, usage: &Usage, unlicensed_allowed: bool) -> Condition {
    let of_asset = || {
        Expr::col((asset_license::Entity, asset_license::Column::AssetId))
            .equals((asset::Entity, asset::Column::Id))
    };
    let mut in_force = in_force_at(at, usage);
    in_force.and_where(of_asset());
    let mut cond = Condition::any().add(Expr::exists(in_force));
    if unlicensed_allowed {
        cond = cond.add(
            Expr::exists(
                Query::select()
                    .expr(Expr::cust("1"))
                    .from(asset_license::Entity)
                    .and_where(of_asset())
                    .to_owned(),
            )
            .not(),
        );
    }
    cond
}

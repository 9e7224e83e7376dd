//! Cheaper bulk writes for the takedown sweep (tens of thousands of rows and
//! audit events a minute at the worst):
//!
//! - the audit log's actor and share-link indexes cover only the events that
//!   have one: events recorded by SYSTEM and members' deliveries (no link)
//!   no longer add a NULL entry to them. Lookups by a given actor or link
//!   (`= x` implies `IS NOT NULL`) use them as before, on PostgreSQL and
//!   SQLite alike;
//! - `asset_takedowns` loses its foreign key to `assets`: PostgreSQL checked
//!   it row by row with a share lock on each asset row (a third of a sweep's
//!   marking time). Purging an asset deletes its takedown row itself. A row
//!   left by a sweep racing a purge names no asset and is never read (every
//!   reader joins assets).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetTakedowns {
    Table,
    AssetId,
    TakenDownAt,
}

#[derive(DeriveIden)]
enum AssetTakedownsNew {
    Table,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
}

const INDEXES: [(&str, &str); 2] = [
    ("ix_audit_events_actor", "actor_id"),
    ("ix_audit_events_share_link", "share_link_id"),
];

const FOREIGN_KEY: &str = "fk_asset_takedowns_asset";

/// SQLite cannot drop or add a table's foreign key: the table is rebuilt
/// (same columns and rows) with or without it.
async fn rebuild_takedowns(manager: &SchemaManager<'_>, with_key: bool) -> Result<(), DbErr> {
    let mut table = Table::create();
    table
        .table(AssetTakedownsNew::Table)
        .col(uuid(AssetTakedowns::AssetId).primary_key())
        .col(timestamp_with_time_zone(AssetTakedowns::TakenDownAt));
    if with_key {
        table.foreign_key(
            ForeignKey::create()
                .name(FOREIGN_KEY)
                .from(AssetTakedownsNew::Table, AssetTakedowns::AssetId)
                .to(Assets::Table, Assets::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    }
    manager.create_table(table.to_owned()).await?;
    let db = manager.get_connection();
    let copy = if with_key {
        // Rows of purged assets cannot go back under the key.
        "INSERT INTO asset_takedowns_new (asset_id, taken_down_at) \
         SELECT asset_id, taken_down_at FROM asset_takedowns \
         WHERE asset_id IN (SELECT id FROM assets)"
    } else {
        "INSERT INTO asset_takedowns_new (asset_id, taken_down_at) \
         SELECT asset_id, taken_down_at FROM asset_takedowns"
    };
    db.execute_unprepared(copy).await?;
    manager
        .drop_table(Table::drop().table(AssetTakedowns::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(AssetTakedownsNew::Table, AssetTakedowns::Table)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the statements must run on one
    /// connection (the pool's others would not see a dropped index yet), and
    /// the table rebuild must be all or nothing.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, column) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON audit_events ({column}) WHERE {column} IS NOT NULL"
            ))
            .await?;
        }
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Sqlite {
            rebuild_takedowns(manager, false).await
        } else {
            db.execute_unprepared(&format!(
                "ALTER TABLE asset_takedowns DROP CONSTRAINT {FOREIGN_KEY}"
            ))
            .await
            .map(|_| ())
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, column) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
            db.execute_unprepared(&format!("CREATE INDEX {name} ON audit_events ({column})"))
                .await?;
        }
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Sqlite {
            rebuild_takedowns(manager, true).await
        } else {
            db.execute_unprepared(
                "DELETE FROM asset_takedowns WHERE asset_id NOT IN (SELECT id FROM assets)",
            )
            .await?;
            db.execute_unprepared(&format!(
                "ALTER TABLE asset_takedowns ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (asset_id) \
                 REFERENCES assets (id) ON DELETE CASCADE"
            ))
            .await
            .map(|_| ())
        }
    }
}

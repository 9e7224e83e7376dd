//! Processing leases with a heartbeat: the worker holding a version renews
//! `processing_heartbeat_at` while it works, so the lease can be short (a
//! dead worker's versions are taken over within tens of seconds, not ten
//! minutes), and records which worker process holds it
//! (`processing_owner`), so a restarted worker reclaims at once what its
//! dead predecessor held. Versions in flight keep their start as their last
//! heartbeat.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    ProcessingHeartbeatAt,
    ProcessingOwner,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AssetVersions::Table)
                    .add_column(timestamp_with_time_zone_null(
                        AssetVersions::ProcessingHeartbeatAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AssetVersions::Table)
                    .add_column(string_len_null(AssetVersions::ProcessingOwner, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE asset_versions SET processing_heartbeat_at = processing_started_at",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            AssetVersions::ProcessingHeartbeatAt,
            AssetVersions::ProcessingOwner,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetVersions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

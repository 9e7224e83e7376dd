//! License enforcement: the use a share link is for, the takedown marks
//! (on licenses and assets), versions' authorization records, and the
//! leases that keep a periodic job to one runner at a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShareLinks {
    Table,
    Channel,
    Territory,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    ExpiryProcessedAt,
    ExpiringNoticeFor,
    EndsAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AssetTakedowns {
    Table,
    AssetId,
    TakenDownAt,
}

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    Authorization,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
    DoneUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .add_column(string_len_null(ShareLinks::Channel, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .add_column(string_len_null(ShareLinks::Territory, 8))
                    .to_owned(),
            )
            .await?;
        // When the takedown sweep handled the license's end (null: not yet,
        // or its end moved since).
        manager
            .alter_table(
                Table::alter()
                    .table(Licenses::Table)
                    .add_column(timestamp_with_time_zone_null(Licenses::ExpiryProcessedAt))
                    .to_owned(),
            )
            .await?;
        // The end date an "expiring soon" notice was sent for.
        manager
            .alter_table(
                Table::alter()
                    .table(Licenses::Table)
                    .add_column(timestamp_with_time_zone_null(Licenses::ExpiringNoticeFor))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_licenses_pending_expiry")
                    .table(Licenses::Table)
                    .col(Licenses::ExpiryProcessedAt)
                    .col(Licenses::EndsAt)
                    .to_owned(),
            )
            .await?;
        // The assets the takedown sweep found left with no license in force
        // (a row while down). A narrow table of its own: a sweep writes
        // thousands at once, which would rewrite wide, much-indexed asset rows.
        manager
            .create_table(
                Table::create()
                    .table(AssetTakedowns::Table)
                    .col(uuid(AssetTakedowns::AssetId).primary_key())
                    .col(timestamp_with_time_zone(AssetTakedowns::TakenDownAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_takedowns_asset")
                            .from(AssetTakedowns::Table, AssetTakedowns::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // JSON: the license state and licenses in force when it was approved.
        manager
            .alter_table(
                Table::alter()
                    .table(AssetVersions::Table)
                    .add_column(text_null(AssetVersions::Authorization))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .col(string_len(JobLeases::Name, 64).primary_key())
                    .col(string_len(JobLeases::Holder, 64))
                    .col(timestamp_with_time_zone(JobLeases::ExpiresAt))
                    // The instant (business clock) up to which the job's
                    // work is done: where the next run may start looking.
                    .col(timestamp_with_time_zone_null(JobLeases::DoneUntil))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobLeases::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AssetVersions::Table)
                    .drop_column(AssetVersions::Authorization)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AssetTakedowns::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_licenses_pending_expiry")
                    .table(Licenses::Table)
                    .to_owned(),
            )
            .await?;
        for col in [Licenses::ExpiringNoticeFor, Licenses::ExpiryProcessedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Licenses::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [ShareLinks::Territory, ShareLinks::Channel] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ShareLinks::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

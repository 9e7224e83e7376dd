//! Smart folders: saved searches (words and a filter) with a name, an owner
//! and a sharing (private, every member, or one partner organisation). They
//! hold no assets: their content is the search, run as whoever opens them.
//! And retag runs: the library's automatic tags recomputed in batches after
//! the rules changed, with their progress (resumable: the cursor moves in the
//! same transaction as each batch).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SmartFolders {
    Table,
    Id,
    Name,
    OwnerId,
    Query,
    Filter,
    Sharing,
    PartnerOrgId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RetagRuns {
    Table,
    Id,
    RequestedBy,
    State,
    Cursor,
    Processed,
    Changed,
    Total,
    Error,
    StartedAt,
    UpdatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SmartFolders::Table)
                    .col(uuid(SmartFolders::Id).primary_key())
                    .col(string_len(SmartFolders::Name, 200))
                    .col(uuid(SmartFolders::OwnerId))
                    .col(text(SmartFolders::Query))
                    .col(text(SmartFolders::Filter))
                    .col(string_len(SmartFolders::Sharing, 16))
                    .col(uuid_null(SmartFolders::PartnerOrgId))
                    .col(timestamp_with_time_zone(SmartFolders::CreatedAt))
                    .col(timestamp_with_time_zone(SmartFolders::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_smart_folders_owner", SmartFolders::OwnerId),
            ("idx_smart_folders_partner", SmartFolders::PartnerOrgId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SmartFolders::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RetagRuns::Table)
                    .col(uuid(RetagRuns::Id).primary_key())
                    .col(uuid_null(RetagRuns::RequestedBy))
                    .col(string_len(RetagRuns::State, 16))
                    .col(uuid_null(RetagRuns::Cursor))
                    .col(big_integer(RetagRuns::Processed).default(0))
                    .col(big_integer(RetagRuns::Changed).default(0))
                    .col(big_integer(RetagRuns::Total).default(0))
                    .col(text_null(RetagRuns::Error))
                    .col(timestamp_with_time_zone(RetagRuns::StartedAt))
                    .col(timestamp_with_time_zone(RetagRuns::UpdatedAt))
                    .col(timestamp_with_time_zone_null(RetagRuns::FinishedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RetagRuns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SmartFolders::Table).to_owned())
            .await
    }
}

//! Moderation: each version's moderation state (NOT_REQUIRED, PENDING,
//! APPROVED, REJECTED) with who decided, when, how (MANUAL, AUTOMATIC,
//! OVERRIDE) and why; folders that require it for what is uploaded into
//! them (and below); and, on each asset, whether its current version is
//! still held back (`awaiting_moderation`), so that listings filter on one
//! column and the policy reads it from the asset like its access window.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    ModerationState,
    ModerationKind,
    ModeratedBy,
    ModeratedAt,
    ModerationReason,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    AwaitingModeration,
}

#[derive(DeriveIden)]
enum Folders {
    Table,
    RequiresModeration,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            {
                let mut state = string_len(AssetVersions::ModerationState, 16);
                state.default("NOT_REQUIRED");
                state
            },
            string_len_null(AssetVersions::ModerationKind, 16),
            uuid_null(AssetVersions::ModeratedBy),
            timestamp_with_time_zone_null(AssetVersions::ModeratedAt),
            string_len_null(AssetVersions::ModerationReason, 2000),
        ];
        for column in columns {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetVersions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .add_column(boolean(Assets::AwaitingModeration).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Folders::Table)
                    .add_column(boolean(Folders::RequiresModeration).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_asset_versions_moderation")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::ModerationState)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_asset_versions_moderation")
                    .table(AssetVersions::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            AssetVersions::ModerationState,
            AssetVersions::ModerationKind,
            AssetVersions::ModeratedBy,
            AssetVersions::ModeratedAt,
            AssetVersions::ModerationReason,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Assets::Table)
                    .drop_column(Assets::AwaitingModeration)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Folders::Table)
                    .drop_column(Folders::RequiresModeration)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

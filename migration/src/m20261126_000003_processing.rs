//! Processing of versions (state, metadata, perceptual hash), renditions, and
//! the ownership profile written into every delivered file.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    ProcessingState,
    ProcessingError,
    ProcessingAttempts,
    ProcessingStartedAt,
    ProcessedAt,
    Metadata,
    PerceptualHash,
    GpsLatitude,
    GpsLongitude,
}

#[derive(DeriveIden)]
enum Renditions {
    Table,
    Id,
    VersionId,
    Kind,
    State,
    Width,
    Height,
    Bytes,
    StorageKey,
    TaggedWith,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OwnershipProfiles {
    Table,
    /// `NULL` for the organisation's profile, else the asset it overrides.
    Id,
    AssetId,
    Copyright,
    Creator,
    Credit,
    Source,
    UsageTerms,
    WebStatement,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            string_len(AssetVersions::ProcessingState, 16)
                .default("PENDING")
                .to_owned(),
            text_null(AssetVersions::ProcessingError),
            integer(AssetVersions::ProcessingAttempts)
                .default(0)
                .to_owned(),
            timestamp_with_time_zone_null(AssetVersions::ProcessingStartedAt),
            timestamp_with_time_zone_null(AssetVersions::ProcessedAt),
            text_null(AssetVersions::Metadata),
            string_len_null(AssetVersions::PerceptualHash, 16),
            double_null(AssetVersions::GpsLatitude),
            double_null(AssetVersions::GpsLongitude),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetVersions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_asset_versions_processing")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::ProcessingState)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_asset_versions_phash")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::PerceptualHash)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Renditions::Table)
                    .col(pk_uuid(Renditions::Id))
                    .col(uuid(Renditions::VersionId))
                    .col(string_len(Renditions::Kind, 16))
                    .col(string_len(Renditions::State, 16))
                    .col(integer(Renditions::Width))
                    .col(integer(Renditions::Height))
                    .col(big_integer(Renditions::Bytes))
                    .col(string_len(Renditions::StorageKey, 300))
                    // Hash of the ownership fields the stored file carries.
                    .col(string_len(Renditions::TaggedWith, 64))
                    .col(timestamp_with_time_zone(Renditions::CreatedAt))
                    .col(timestamp_with_time_zone(Renditions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_renditions_version")
                            .from(Renditions::Table, Renditions::VersionId)
                            .to(AssetVersions::Table, Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_renditions_version_kind")
                    .table(Renditions::Table)
                    .col(Renditions::VersionId)
                    .col(Renditions::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OwnershipProfiles::Table)
                    .col(pk_uuid(OwnershipProfiles::Id))
                    .col(uuid_null(OwnershipProfiles::AssetId))
                    .col(text_null(OwnershipProfiles::Copyright))
                    .col(text_null(OwnershipProfiles::Creator))
                    .col(text_null(OwnershipProfiles::Credit))
                    .col(text_null(OwnershipProfiles::Source))
                    .col(text_null(OwnershipProfiles::UsageTerms))
                    .col(text_null(OwnershipProfiles::WebStatement))
                    .col(uuid_null(OwnershipProfiles::UpdatedBy))
                    .col(timestamp_with_time_zone(OwnershipProfiles::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ownership_asset")
                            .from(OwnershipProfiles::Table, OwnershipProfiles::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ownership_asset")
                    .table(OwnershipProfiles::Table)
                    .col(OwnershipProfiles::AssetId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OwnershipProfiles::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Renditions::Table).to_owned())
            .await?;
        Ok(())
    }
}

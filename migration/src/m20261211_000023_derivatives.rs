//! Derivatives made of a version under one revision of a profile, in one
//! format at one pixel density: where the file is, and what it carries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Derivatives {
    Table,
    Id,
    VersionId,
    ProfileId,
    Revision,
    Format,
    Dpr,
    Width,
    Height,
    Bytes,
    MediaType,
    StorageKey,
    TaggedWith,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DerivativeProfiles {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Derivatives::Table)
                    .col(uuid(Derivatives::Id).primary_key())
                    .col(uuid(Derivatives::VersionId))
                    .col(uuid(Derivatives::ProfileId))
                    .col(integer(Derivatives::Revision))
                    .col(string_len(Derivatives::Format, 8))
                    .col(small_integer(Derivatives::Dpr))
                    .col(integer(Derivatives::Width))
                    .col(integer(Derivatives::Height))
                    .col(big_integer(Derivatives::Bytes))
                    .col(string_len(Derivatives::MediaType, 32))
                    .col(string(Derivatives::StorageKey))
                    .col(string_len(Derivatives::TaggedWith, 64))
                    .col(timestamp_with_time_zone(Derivatives::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Derivatives::Table, Derivatives::VersionId)
                            .to(AssetVersions::Table, AssetVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Derivatives::Table, Derivatives::ProfileId)
                            .to(DerivativeProfiles::Table, DerivativeProfiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("derivatives_one_per_variant")
                    .table(Derivatives::Table)
                    .col(Derivatives::VersionId)
                    .col(Derivatives::ProfileId)
                    .col(Derivatives::Revision)
                    .col(Derivatives::Format)
                    .col(Derivatives::Dpr)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("derivatives_by_profile")
                    .table(Derivatives::Table)
                    .col(Derivatives::ProfileId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Derivatives::Table).to_owned())
            .await
    }
}

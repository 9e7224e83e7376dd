//! Public delivery of published images (`/p/{profile}/{asset}.{ext}`): the
//! profiles that may be served publicly, the assets and folders opted in
//! (with an asset's stable, SEO-friendly slug), the CDN purges sent when
//! something served publicly changes or stops being public, and the
//! derivative profile a share link's page shows its images in.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DerivativeProfiles {
    Table,
    Public,
}

#[derive(DeriveIden)]
enum ShareLinks {
    Table,
    ProfileId,
}

#[derive(DeriveIden)]
enum PublicAssets {
    Table,
    AssetId,
    Slug,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PublicFolders {
    Table,
    FolderId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CdnPurges {
    Table,
    Id,
    Tags,
    Cause,
    SourceSeq,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Folders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DerivativeProfiles::Table)
                    .add_column(boolean(DerivativeProfiles::Public).default(false))
                    .to_owned(),
            )
            .await?;
        // The derivative profile a share link's page shows its images in
        // (a VISITORS profile; none: the THUMBNAIL rendition). No foreign
        // key (SQLite cannot add one to a table): a deleted profile is
        // ignored where it is read.
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .add_column(uuid_null(ShareLinks::ProfileId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PublicAssets::Table)
                    .col(uuid(PublicAssets::AssetId).primary_key())
                    .col(string_len(PublicAssets::Slug, 120).unique_key())
                    .col(uuid_null(PublicAssets::CreatedBy))
                    .col(timestamp_with_time_zone(PublicAssets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PublicAssets::Table, PublicAssets::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PublicFolders::Table)
                    .col(uuid(PublicFolders::FolderId).primary_key())
                    .col(uuid_null(PublicFolders::CreatedBy))
                    .col(timestamp_with_time_zone(PublicFolders::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PublicFolders::Table, PublicFolders::FolderId)
                            .to(Folders::Table, Folders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CdnPurges::Table)
                    .col(uuid(CdnPurges::Id).primary_key())
                    .col(text(CdnPurges::Tags))
                    .col(string_len(CdnPurges::Cause, 64))
                    .col(big_integer_null(CdnPurges::SourceSeq))
                    .col(string_len(CdnPurges::Status, 16))
                    .col(integer(CdnPurges::Attempts).default(0))
                    .col(timestamp_with_time_zone(CdnPurges::NextAttemptAt))
                    .col(text_null(CdnPurges::LastError))
                    .col(timestamp_with_time_zone(CdnPurges::CreatedAt))
                    .col(timestamp_with_time_zone(CdnPurges::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cdn_purges_due")
                    .table(CdnPurges::Table)
                    .col(CdnPurges::Status)
                    .col(CdnPurges::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CdnPurges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PublicFolders::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PublicAssets::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .drop_column(ShareLinks::ProfileId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DerivativeProfiles::Table)
                    .drop_column(DerivativeProfiles::Public)
                    .to_owned(),
            )
            .await
    }
}

//! Upload presets: where a batch of uploads goes and how it is handled —
//! target folder, publication, moderation, tags, licenses, and a filename
//! rule turning names like `RING-0042_front.jpg` into tags. At most one is
//! the default (applied when an upload names none).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UploadPresets {
    Table,
    Id,
    Name,
    FolderId,
    AccessMode,
    AccessStartsAt,
    AccessEndsAt,
    Moderation,
    Tags,
    LicenseIds,
    FilenamePattern,
    IsDefault,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UploadPresets::Table)
                    .col(uuid(UploadPresets::Id).primary_key())
                    .col(string_len_uniq(UploadPresets::Name, 200))
                    .col(uuid_null(UploadPresets::FolderId))
                    .col(string_len(UploadPresets::AccessMode, 16))
                    .col(timestamp_with_time_zone_null(UploadPresets::AccessStartsAt))
                    .col(timestamp_with_time_zone_null(UploadPresets::AccessEndsAt))
                    .col(string_len(UploadPresets::Moderation, 32))
                    .col(text(UploadPresets::Tags))
                    .col(text(UploadPresets::LicenseIds))
                    .col(string_len_null(UploadPresets::FilenamePattern, 500))
                    .col(boolean(UploadPresets::IsDefault).default(false))
                    .col(uuid_null(UploadPresets::CreatedBy))
                    .col(timestamp_with_time_zone(UploadPresets::CreatedAt))
                    .col(timestamp_with_time_zone(UploadPresets::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UploadPresets::Table).to_owned())
            .await
    }
}

//! Derivative profiles (named sizes, crops and formats defined by
//! administrators) and per-asset focal points (where a COVER crop centres).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DerivativeProfiles {
    Table,
    Id,
    Name,
    Width,
    Height,
    Fit,
    Anchor,
    Format,
    Quality,
    Dprs,
    Background,
    Sharpen,
    Upscale,
    Eager,
    Audience,
    PartnerOrgIds,
    Revision,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AssetFocalPoints {
    Table,
    AssetId,
    X,
    Y,
    SetBy,
    SetAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DerivativeProfiles::Table)
                    .col(uuid(DerivativeProfiles::Id).primary_key())
                    .col(string_len_uniq(DerivativeProfiles::Name, 64))
                    .col(integer(DerivativeProfiles::Width))
                    .col(integer(DerivativeProfiles::Height))
                    .col(string_len(DerivativeProfiles::Fit, 16))
                    .col(string_len(DerivativeProfiles::Anchor, 16))
                    .col(string_len(DerivativeProfiles::Format, 16))
                    .col(integer(DerivativeProfiles::Quality))
                    .col(string_len(DerivativeProfiles::Dprs, 32))
                    .col(string_len(DerivativeProfiles::Background, 16))
                    .col(boolean(DerivativeProfiles::Sharpen))
                    .col(boolean(DerivativeProfiles::Upscale))
                    .col(boolean(DerivativeProfiles::Eager))
                    .col(string_len(DerivativeProfiles::Audience, 16))
                    .col(text(DerivativeProfiles::PartnerOrgIds))
                    .col(integer(DerivativeProfiles::Revision))
                    .col(uuid_null(DerivativeProfiles::CreatedBy))
                    .col(timestamp_with_time_zone(DerivativeProfiles::CreatedAt))
                    .col(timestamp_with_time_zone(DerivativeProfiles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetFocalPoints::Table)
                    .col(uuid(AssetFocalPoints::AssetId).primary_key())
                    .col(double(AssetFocalPoints::X))
                    .col(double(AssetFocalPoints::Y))
                    .col(uuid_null(AssetFocalPoints::SetBy))
                    .col(timestamp_with_time_zone(AssetFocalPoints::SetAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AssetFocalPoints::Table, AssetFocalPoints::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssetFocalPoints::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DerivativeProfiles::Table).to_owned())
            .await
    }
}

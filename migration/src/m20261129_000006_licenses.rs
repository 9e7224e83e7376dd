//! Licenses and the assets they cover.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
    Name,
    Licensor,
    Reference,
    Channels,
    Territories,
    StartsAt,
    EndsAt,
    Notes,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AssetLicenses {
    Table,
    LicenseId,
    AssetId,
    AttachedBy,
    AttachedAt,
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
                    .table(Licenses::Table)
                    .col(pk_uuid(Licenses::Id))
                    .col(string_len(Licenses::Name, 200))
                    .col(string_len(Licenses::Licensor, 200))
                    .col(string_len_null(Licenses::Reference, 200))
                    // Comma-separated, sorted: "ECOMMERCE,SOCIAL".
                    .col(string_len(Licenses::Channels, 200))
                    // Comma-separated, sorted: "BE,FR" or "WORLD".
                    .col(text(Licenses::Territories))
                    .col(timestamp_with_time_zone(Licenses::StartsAt))
                    .col(timestamp_with_time_zone(Licenses::EndsAt))
                    .col(text_null(Licenses::Notes))
                    .col(uuid_null(Licenses::CreatedBy))
                    .col(timestamp_with_time_zone(Licenses::CreatedAt))
                    .col(timestamp_with_time_zone(Licenses::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_licenses_ends_at")
                    .table(Licenses::Table)
                    .col(Licenses::EndsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssetLicenses::Table)
                    .col(uuid(AssetLicenses::LicenseId))
                    .col(uuid(AssetLicenses::AssetId))
                    .col(uuid_null(AssetLicenses::AttachedBy))
                    .col(timestamp_with_time_zone(AssetLicenses::AttachedAt))
                    .primary_key(
                        Index::create()
                            .col(AssetLicenses::LicenseId)
                            .col(AssetLicenses::AssetId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_licenses_license")
                            .from(AssetLicenses::Table, AssetLicenses::LicenseId)
                            .to(Licenses::Table, Licenses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_licenses_asset")
                            .from(AssetLicenses::Table, AssetLicenses::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_asset_licenses_asset")
                    .table(AssetLicenses::Table)
                    .col(AssetLicenses::AssetId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssetLicenses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Licenses::Table).to_owned())
            .await?;
        Ok(())
    }
}

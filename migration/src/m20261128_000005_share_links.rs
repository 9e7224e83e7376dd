//! Share links, the assets they list, and their visitors' sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShareLinks {
    Table,
    Id,
    TokenHash,
    CreatedBy,
    FolderId,
    Scope,
    PasswordHash,
    StartsAt,
    ExpiresAt,
    MaxViews,
    MaxDownloads,
    Label,
    RecipientEmail,
    PartnerOrgId,
    Opens,
    Views,
    Downloads,
    FailedPasswords,
    LastAccessAt,
    RevokedAt,
    RevokedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ShareLinkAssets {
    Table,
    LinkId,
    AssetId,
}

#[derive(DeriveIden)]
enum ShareVisits {
    Table,
    Id,
    LinkId,
    SecretHash,
    CreatedAt,
    ExpiresAt,
    Ip,
    UserAgent,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
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
                    .table(ShareLinks::Table)
                    .col(pk_uuid(ShareLinks::Id))
                    .col(char_len(ShareLinks::TokenHash, 64).unique_key())
                    .col(uuid(ShareLinks::CreatedBy))
                    .col(uuid_null(ShareLinks::FolderId))
                    .col(string_len(ShareLinks::Scope, 24))
                    .col(text_null(ShareLinks::PasswordHash))
                    .col(timestamp_with_time_zone_null(ShareLinks::StartsAt))
                    .col(timestamp_with_time_zone(ShareLinks::ExpiresAt))
                    .col(integer_null(ShareLinks::MaxViews))
                    .col(integer_null(ShareLinks::MaxDownloads))
                    .col(string_len_null(ShareLinks::Label, 200))
                    .col(string_len_null(ShareLinks::RecipientEmail, 320))
                    .col(uuid_null(ShareLinks::PartnerOrgId))
                    .col(integer(ShareLinks::Opens).default(0))
                    .col(integer(ShareLinks::Views).default(0))
                    .col(integer(ShareLinks::Downloads).default(0))
                    .col(integer(ShareLinks::FailedPasswords).default(0))
                    .col(timestamp_with_time_zone_null(ShareLinks::LastAccessAt))
                    .col(timestamp_with_time_zone_null(ShareLinks::RevokedAt))
                    .col(uuid_null(ShareLinks::RevokedBy))
                    .col(timestamp_with_time_zone(ShareLinks::CreatedAt))
                    .col(timestamp_with_time_zone(ShareLinks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_links_creator")
                            .from(ShareLinks::Table, ShareLinks::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_share_links_creator")
                    .table(ShareLinks::Table)
                    .col(ShareLinks::CreatedBy)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ShareLinkAssets::Table)
                    .col(uuid(ShareLinkAssets::LinkId))
                    .col(uuid(ShareLinkAssets::AssetId))
                    .primary_key(
                        Index::create()
                            .col(ShareLinkAssets::LinkId)
                            .col(ShareLinkAssets::AssetId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_link_assets_link")
                            .from(ShareLinkAssets::Table, ShareLinkAssets::LinkId)
                            .to(ShareLinks::Table, ShareLinks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_link_assets_asset")
                            .from(ShareLinkAssets::Table, ShareLinkAssets::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_share_link_assets_asset")
                    .table(ShareLinkAssets::Table)
                    .col(ShareLinkAssets::AssetId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ShareVisits::Table)
                    .col(pk_uuid(ShareVisits::Id))
                    .col(uuid(ShareVisits::LinkId))
                    .col(char_len(ShareVisits::SecretHash, 64).unique_key())
                    .col(timestamp_with_time_zone(ShareVisits::CreatedAt))
                    .col(timestamp_with_time_zone(ShareVisits::ExpiresAt))
                    .col(string_len_null(ShareVisits::Ip, 64))
                    .col(string_len_null(ShareVisits::UserAgent, 512))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_share_visits_link")
                            .from(ShareVisits::Table, ShareVisits::LinkId)
                            .to(ShareLinks::Table, ShareLinks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ShareVisits::Table.into_iden(),
            ShareLinkAssets::Table.into_iden(),
            ShareLinks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Folders, assets, versions, tags and content-addressed blobs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Folders {
    Table,
    Id,
    ParentId,
    Name,
    Ancestry,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
    FolderId,
    Title,
    CurrentVersionId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    DeletedBy,
}

#[derive(DeriveIden)]
enum AssetTags {
    Table,
    AssetId,
    Tag,
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha256,
    Bytes,
    MediaType,
    Width,
    Height,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    Id,
    AssetId,
    Number,
    Stage,
    BlobSha256,
    Bytes,
    MediaType,
    Width,
    Height,
    Filename,
    Note,
    UploadedBy,
    CreatedAt,
    ApprovedBy,
    ApprovedAt,
    RestoredFrom,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Folders::Table)
                    .col(pk_uuid(Folders::Id))
                    .col(uuid_null(Folders::ParentId))
                    .col(string_len(Folders::Name, 200))
                    // "/<root id>/.../<own id>/": a subtree is one prefix match.
                    .col(text(Folders::Ancestry))
                    .col(uuid_null(Folders::CreatedBy))
                    .col(timestamp_with_time_zone(Folders::CreatedAt))
                    .col(timestamp_with_time_zone(Folders::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_folders_parent")
                            .from(Folders::Table, Folders::ParentId)
                            .to(Folders::Table, Folders::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Sibling names are unique; root folders (no parent) among themselves too.
        manager
            .create_index(
                Index::create()
                    .name("ux_folders_parent_name")
                    .table(Folders::Table)
                    .col(Folders::ParentId)
                    .col(Folders::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_folders_root_name")
                    .table(Folders::Table)
                    .col(Folders::Name)
                    .unique()
                    .cond_where(Expr::col(Folders::ParentId).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_folders_ancestry")
                    .table(Folders::Table)
                    .col(Folders::Ancestry)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .col(pk_uuid(Assets::Id))
                    .col(uuid_null(Assets::FolderId))
                    .col(string_len(Assets::Title, 300))
                    .col(uuid_null(Assets::CurrentVersionId))
                    .col(uuid_null(Assets::CreatedBy))
                    .col(timestamp_with_time_zone(Assets::CreatedAt))
                    .col(timestamp_with_time_zone(Assets::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Assets::DeletedAt))
                    .col(uuid_null(Assets::DeletedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assets_folder")
                            .from(Assets::Table, Assets::FolderId)
                            .to(Folders::Table, Folders::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_assets_folder", vec![Assets::FolderId]),
            ("ix_assets_created", vec![Assets::CreatedAt, Assets::Id]),
            ("ix_assets_updated", vec![Assets::UpdatedAt, Assets::Id]),
            ("ix_assets_title", vec![Assets::Title, Assets::Id]),
            ("ix_assets_deleted", vec![Assets::DeletedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Assets::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AssetTags::Table)
                    .col(uuid(AssetTags::AssetId))
                    .col(string_len(AssetTags::Tag, 64))
                    .primary_key(Index::create().col(AssetTags::AssetId).col(AssetTags::Tag))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_tags_asset")
                            .from(AssetTags::Table, AssetTags::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_asset_tags_tag")
                    .table(AssetTags::Table)
                    .col(AssetTags::Tag)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Blobs::Table)
                    .col(char_len(Blobs::Sha256, 64).primary_key())
                    .col(big_integer(Blobs::Bytes))
                    .col(string_len(Blobs::MediaType, 64))
                    .col(integer(Blobs::Width))
                    .col(integer(Blobs::Height))
                    .col(timestamp_with_time_zone(Blobs::CreatedAt))
                    .col(timestamp_with_time_zone(Blobs::LastUsedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AssetVersions::Table)
                    .col(pk_uuid(AssetVersions::Id))
                    .col(uuid(AssetVersions::AssetId))
                    .col(integer(AssetVersions::Number))
                    .col(string_len(AssetVersions::Stage, 16))
                    .col(char_len(AssetVersions::BlobSha256, 64))
                    .col(big_integer(AssetVersions::Bytes))
                    .col(string_len(AssetVersions::MediaType, 64))
                    .col(integer(AssetVersions::Width))
                    .col(integer(AssetVersions::Height))
                    .col(string_len_null(AssetVersions::Filename, 255))
                    .col(text_null(AssetVersions::Note))
                    .col(uuid_null(AssetVersions::UploadedBy))
                    .col(timestamp_with_time_zone(AssetVersions::CreatedAt))
                    .col(uuid_null(AssetVersions::ApprovedBy))
                    .col(timestamp_with_time_zone_null(AssetVersions::ApprovedAt))
                    .col(integer_null(AssetVersions::RestoredFrom))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_versions_asset")
                            .from(AssetVersions::Table, AssetVersions::AssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_asset_versions_blob")
                            .from(AssetVersions::Table, AssetVersions::BlobSha256)
                            .to(Blobs::Table, Blobs::Sha256)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_asset_versions_number")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::AssetId)
                    .col(AssetVersions::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_asset_versions_blob")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::BlobSha256)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AssetVersions::Table.into_iden(),
            Blobs::Table.into_iden(),
            AssetTags::Table.into_iden(),
            Assets::Table.into_iden(),
            Folders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

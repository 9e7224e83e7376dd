//! Automatic moderation: on each version, the preset it came through, the
//! moderation mode and rule thresholds in force at upload (a snapshot: a
//! changed preset affects later uploads only), the rules' results and the
//! names of those that failed (for the queue's filter); on presets, their
//! rule thresholds and ownership override; and the blocklist of perceptual
//! hashes that every rejected or taken-down version joins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssetVersions {
    Table,
    PresetId,
    ModerationMode,
    ModerationRules,
    RuleResults,
    FailedRules,
    PhashB0,
    PhashB1,
    PhashB2,
    PhashB3,
    ModerationState,
    Id,
}

#[derive(DeriveIden)]
enum UploadPresets {
    Table,
    Rules,
    Ownership,
}

#[derive(DeriveIden)]
enum ModerationBlocklist {
    Table,
    Id,
    PerceptualHash,
    AssetId,
    VersionId,
    Reason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            uuid_null(AssetVersions::PresetId),
            string_len_null(AssetVersions::ModerationMode, 32),
            text_null(AssetVersions::ModerationRules),
            text_null(AssetVersions::RuleResults),
            string_len_null(AssetVersions::FailedRules, 400),
            integer_null(AssetVersions::PhashB0),
            integer_null(AssetVersions::PhashB1),
            integer_null(AssetVersions::PhashB2),
            integer_null(AssetVersions::PhashB3),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AssetVersions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for mut column in [
            text_null(UploadPresets::Rules),
            text_null(UploadPresets::Ownership),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UploadPresets::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // The queue reads the PENDING versions in id (time) order: a partial
        // index holds just those (PostgreSQL otherwise walks the primary key
        // past the whole decided library before the first pending version).
        manager
            .create_index(
                Index::create()
                    .name("idx_asset_versions_pending")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::Id)
                    .and_where(Expr::col(AssetVersions::ModerationState).eq("PENDING"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_asset_versions_preset")
                    .table(AssetVersions::Table)
                    .col(AssetVersions::PresetId)
                    .to_owned(),
            )
            .await?;
        // The perceptual hash in four 16-bit bands, each indexed: two hashes
        // within 3 bits of each other share at least one band exactly, so a
        // near-duplicate lookup reads a few rows instead of the library.
        for (name, band) in [
            ("idx_asset_versions_phash_b0", AssetVersions::PhashB0),
            ("idx_asset_versions_phash_b1", AssetVersions::PhashB1),
            ("idx_asset_versions_phash_b2", AssetVersions::PhashB2),
            ("idx_asset_versions_phash_b3", AssetVersions::PhashB3),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AssetVersions::Table)
                        .col(band)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ModerationBlocklist::Table)
                    .if_not_exists()
                    .col(uuid(ModerationBlocklist::Id).primary_key())
                    .col(string_len(ModerationBlocklist::PerceptualHash, 16))
                    .col(uuid(ModerationBlocklist::AssetId))
                    .col(uuid_uniq(ModerationBlocklist::VersionId))
                    .col(string_len(ModerationBlocklist::Reason, 32))
                    .col(timestamp_with_time_zone(ModerationBlocklist::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ModerationBlocklist::Table).to_owned())
            .await?;
        for name in [
            "idx_asset_versions_phash_b0",
            "idx_asset_versions_phash_b1",
            "idx_asset_versions_phash_b2",
            "idx_asset_versions_phash_b3",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(AssetVersions::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_asset_versions_preset")
                    .table(AssetVersions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_asset_versions_pending")
                    .table(AssetVersions::Table)
                    .to_owned(),
            )
            .await?;
        for column in [UploadPresets::Rules, UploadPresets::Ownership] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UploadPresets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            AssetVersions::PresetId,
            AssetVersions::ModerationMode,
            AssetVersions::ModerationRules,
            AssetVersions::RuleResults,
            AssetVersions::FailedRules,
            AssetVersions::PhashB0,
            AssetVersions::PhashB1,
            AssetVersions::PhashB2,
            AssetVersions::PhashB3,
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
        Ok(())
    }
}

//! Access control: restricted folders, folder grants, and each asset's access
//! mode and publication window.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Folders {
    Table,
    Id,
    Restricted,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    AccessMode,
    AccessStartsAt,
    AccessEndsAt,
}

#[derive(DeriveIden)]
enum AccessGrants {
    Table,
    Id,
    FolderId,
    SubjectKind,
    SubjectId,
    Level,
    GrantedBy,
    CreatedAt,
}

/// One row whose value moves on every committed write: what delivery caches
/// compare against (see `vitrine_entity::store::bump_epoch`).
#[derive(DeriveIden)]
enum AccessEpoch {
    Table,
    Id,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Folders::Table)
                    .add_column(boolean(Folders::Restricted).default(false))
                    .to_owned(),
            )
            .await?;
        for column in [
            string_len(Assets::AccessMode, 16)
                .default("RESTRICTED")
                .to_owned(),
            timestamp_with_time_zone_null(Assets::AccessStartsAt),
            timestamp_with_time_zone_null(Assets::AccessEndsAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Assets::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AccessGrants::Table)
                    .col(pk_uuid(AccessGrants::Id))
                    .col(uuid(AccessGrants::FolderId))
                    .col(string_len(AccessGrants::SubjectKind, 16))
                    .col(uuid(AccessGrants::SubjectId))
                    .col(string_len(AccessGrants::Level, 16))
                    .col(uuid_null(AccessGrants::GrantedBy))
                    .col(timestamp_with_time_zone(AccessGrants::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_access_grants_folder")
                            .from(AccessGrants::Table, AccessGrants::FolderId)
                            .to(Folders::Table, Folders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_access_grants_subject")
                    .table(AccessGrants::Table)
                    .col(AccessGrants::FolderId)
                    .col(AccessGrants::SubjectKind)
                    .col(AccessGrants::SubjectId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_grants_subject")
                    .table(AccessGrants::Table)
                    .col(AccessGrants::SubjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessEpoch::Table)
                    .col(integer(AccessEpoch::Id).primary_key())
                    .col(big_integer(AccessEpoch::Value).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AccessEpoch::Table)
                    .columns([AccessEpoch::Id, AccessEpoch::Value])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessEpoch::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AccessGrants::Table).to_owned())
            .await
    }
}

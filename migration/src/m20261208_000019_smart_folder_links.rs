//! Share links over a smart folder: what a visitor sees is the folder's
//! search, run at each request as the link's creator (no membership is
//! stored). The column stays when the smart folder is deleted: the link then
//! shows nothing rather than turning into something else.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShareLinks {
    Table,
    SmartFolderId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .add_column(uuid_null(ShareLinks::SmartFolderId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .drop_column(ShareLinks::SmartFolderId)
                    .to_owned(),
            )
            .await
    }
}

//! Share-link download caps count bytes, not requests: `download_units` holds
//! what a link has delivered in 10⁻¹²ths of a file (a served range of n bytes
//! of an l-byte file costs ⌊n·10¹²/l⌋; a whole file 10¹²), so a cap of N lets
//! out at most N files' worth of bytes however the ranges are cut, and a
//! download resumed with a range costs only the rest. `downloads` stays as
//! the count shown (⌈units/10¹²⌉).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShareLinks {
    Table,
    DownloadUnits,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .add_column(big_integer(ShareLinks::DownloadUnits).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE share_links SET download_units = CAST(downloads AS BIGINT) * 1000000000000",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ShareLinks::Table)
                    .drop_column(ShareLinks::DownloadUnits)
                    .to_owned(),
            )
            .await
    }
}

//! Usage statistics: daily counts per asset × accessor type × action ×
//! partner organisation × share link, monthly totals per asset (for "top
//! assets"), and the watermarks of the jobs that read the audit log
//! incrementally.
//!
//! "None" in the partner and link dimensions is the nil UUID, not NULL: the
//! dimensions form the primary key the rollup adds into, and NULLs are never
//! equal in a key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageDaily {
    Table,
    Day,
    AssetId,
    Accessor,
    Action,
    PartnerOrgId,
    ShareLinkId,
    Count,
    LastAt,
}

#[derive(DeriveIden)]
enum UsageMonthly {
    Table,
    Month,
    AssetId,
    Views,
    Downloads,
    Shares,
    ShareOpens,
    LastAt,
}

#[derive(DeriveIden)]
enum Watermarks {
    Table,
    Name,
    LastSeq,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageDaily::Table)
                    // UTC calendar day.
                    .col(date(UsageDaily::Day))
                    .col(uuid(UsageDaily::AssetId))
                    // MEMBER, PARTNER, VISITOR.
                    .col(string_len(UsageDaily::Accessor, 16))
                    // VIEW, DOWNLOAD, SHARE_CREATED, SHARE_OPENED.
                    .col(string_len(UsageDaily::Action, 16))
                    .col(uuid(UsageDaily::PartnerOrgId))
                    .col(uuid(UsageDaily::ShareLinkId))
                    .col(big_integer(UsageDaily::Count))
                    .col(timestamp_with_time_zone(UsageDaily::LastAt))
                    // Asset first: one asset's usage is a range of the key.
                    .primary_key(
                        Index::create()
                            .col(UsageDaily::AssetId)
                            .col(UsageDaily::Day)
                            .col(UsageDaily::Accessor)
                            .col(UsageDaily::Action)
                            .col(UsageDaily::PartnerOrgId)
                            .col(UsageDaily::ShareLinkId),
                    )
                    .to_owned(),
            )
            .await?;
        // Days across all assets: on PostgreSQL a BRIN index (rows arrive in
        // day order; a B-tree would cost the rollup an insert per row).
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX ix_usage_daily_day ON usage_daily USING brin (day)",
                )
                .await?;
        } else {
            manager
                .create_index(
                    Index::create()
                        .name("ix_usage_daily_day")
                        .table(UsageDaily::Table)
                        .col(UsageDaily::Day)
                        .to_owned(),
                )
                .await?;
        }
        // One organisation's or link's usage.
        for (name, first) in [
            ("ix_usage_daily_partner", UsageDaily::PartnerOrgId),
            ("ix_usage_daily_link", UsageDaily::ShareLinkId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(UsageDaily::Table)
                        .col(first)
                        .col(UsageDaily::Day)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(UsageMonthly::Table)
                    // The first day of the (UTC) month.
                    .col(date(UsageMonthly::Month))
                    .col(uuid(UsageMonthly::AssetId))
                    .col(big_integer(UsageMonthly::Views))
                    .col(big_integer(UsageMonthly::Downloads))
                    .col(big_integer(UsageMonthly::Shares))
                    .col(big_integer(UsageMonthly::ShareOpens))
                    .col(timestamp_with_time_zone(UsageMonthly::LastAt))
                    .primary_key(
                        Index::create()
                            .col(UsageMonthly::Month)
                            .col(UsageMonthly::AssetId),
                    )
                    .to_owned(),
            )
            .await?;
        // The most viewed of a month are read in this order (the other
        // metrics sort a month's rows: an index each would cost the rollup).
        manager
            .create_index(
                Index::create()
                    .name("ix_usage_monthly_views")
                    .table(UsageMonthly::Table)
                    .col(UsageMonthly::Month)
                    .col(UsageMonthly::Views)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Watermarks::Table)
                    .col(string_len(Watermarks::Name, 64).primary_key())
                    // The last audit sequence number the job has taken in.
                    .col(big_integer(Watermarks::LastSeq))
                    .col(timestamp_with_time_zone(Watermarks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Watermarks::Table.into_iden(),
            UsageMonthly::Table.into_iden(),
            UsageDaily::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! API keys for machines. A key is a long-lived session of a *service user*
//! (a user row that cannot sign in: `users.service`), so everything that
//! holds for sessions holds for keys — delivery URLs bound to it, WebSocket
//! re-authentication, revocation acting at the next request. The extra
//! columns: the key's name and scopes, when and from where it was last used,
//! who made it, and a second, older secret still accepted until
//! `previous_expires_at` (rotation without downtime).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ApiKeyName,
    Scopes,
    LastUsedAt,
    LastUsedIp,
    PreviousTokenHash,
    PreviousExpiresAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Service,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            string_len_null(Sessions::ApiKeyName, 200),
            string_len_null(Sessions::Scopes, 64),
            timestamp_with_time_zone_null(Sessions::LastUsedAt),
            string_len_null(Sessions::LastUsedIp, 64),
            string_len_null(Sessions::PreviousTokenHash, 64),
            timestamp_with_time_zone_null(Sessions::PreviousExpiresAt),
            uuid_null(Sessions::CreatedBy),
        ];
        for column in columns {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_previous_token_hash")
                    .table(Sessions::Table)
                    .col(Sessions::PreviousTokenHash)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::Service).default(false))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sessions_previous_token_hash")
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Sessions::ApiKeyName,
            Sessions::Scopes,
            Sessions::LastUsedAt,
            Sessions::LastUsedIp,
            Sessions::PreviousTokenHash,
            Sessions::PreviousExpiresAt,
            Sessions::CreatedBy,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::Service)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

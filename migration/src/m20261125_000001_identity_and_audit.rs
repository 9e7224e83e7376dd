//! Identity (partner organisations, users, sessions) and the audit spine.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PartnerOrgs {
    Table,
    Id,
    Name,
    Allowlisted,
    EmailDomains,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Kind,
    Role,
    PartnerOrgId,
    Disabled,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    Ip,
    UserAgent,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Seq,
    OccurredAt,
    ActorKind,
    ActorId,
    PartnerOrgId,
    Action,
    TargetType,
    TargetId,
    ShareLinkId,
    Ip,
    UserAgent,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditChainHead {
    Table,
    Id,
    LastSeq,
    LastHash,
}

/// The hash that precedes the first event of the chain.
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PartnerOrgs::Table)
                    .col(pk_uuid(PartnerOrgs::Id))
                    .col(string_len(PartnerOrgs::Name, 200))
                    .col(boolean(PartnerOrgs::Allowlisted))
                    .col(text(PartnerOrgs::EmailDomains))
                    .col(timestamp_with_time_zone(PartnerOrgs::CreatedAt))
                    .col(timestamp_with_time_zone(PartnerOrgs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_partner_orgs_name")
                    .table(PartnerOrgs::Table)
                    .col(PartnerOrgs::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Email, 320))
                    .col(string_len(Users::DisplayName, 200))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(string_len(Users::Kind, 16))
                    .col(string_len_null(Users::Role, 16))
                    .col(uuid_null(Users::PartnerOrgId))
                    .col(boolean(Users::Disabled))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_partner_org")
                            .from(Users::Table, Users::PartnerOrgId)
                            .to(PartnerOrgs::Table, PartnerOrgs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Emails are stored normalised (trimmed, lower-case), so a plain unique
        // index is the case-insensitive uniqueness the product promises.
        manager
            .create_index(
                Index::create()
                    .name("ux_users_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_users_partner_org")
                    .table(Users::Table)
                    .col(Users::PartnerOrgId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(string_len(Sessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::Ip, 64))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sessions_token_hash")
                    .table(Sessions::Table)
                    .col(Sessions::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        // The audit log is append-only: no foreign keys, so deleting a user can
        // never cascade into (or be blocked by) the history of what it did.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Seq).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::ActorKind, 16))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(uuid_null(AuditEvents::PartnerOrgId))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len_null(AuditEvents::TargetType, 32))
                    .col(string_len_null(AuditEvents::TargetId, 64))
                    .col(uuid_null(AuditEvents::ShareLinkId))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(string_len_null(AuditEvents::UserAgent, 512))
                    .col(text(AuditEvents::Details))
                    .col(char_len(AuditEvents::PrevHash, 64))
                    .col(char_len(AuditEvents::Hash, 64))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_events_occurred_at", AuditEvents::OccurredAt),
            ("ix_audit_events_actor", AuditEvents::ActorId),
            ("ix_audit_events_action", AuditEvents::Action),
            ("ix_audit_events_target", AuditEvents::TargetId),
            ("ix_audit_events_share_link", AuditEvents::ShareLinkId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        // One row: the tip of the hash chain. Appending an event locks and
        // advances it in the same transaction, which serialises writers.
        manager
            .create_table(
                Table::create()
                    .table(AuditChainHead::Table)
                    .col(integer(AuditChainHead::Id).primary_key())
                    .col(big_integer(AuditChainHead::LastSeq))
                    .col(char_len(AuditChainHead::LastHash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChainHead::Table)
                    .columns([
                        AuditChainHead::Id,
                        AuditChainHead::LastSeq,
                        AuditChainHead::LastHash,
                    ])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditChainHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            PartnerOrgs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

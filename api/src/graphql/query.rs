use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};

use super::types::{AuditChainReport, AuditEvent, AuditEventFilter, PartnerOrg, User, UserFilter};
use super::{auth, meta, page_size, parse_id, require_auth, state};
use crate::error::ApiError;
use crate::services::{audit, partners, users};

#[derive(Default)]
pub struct IdentityQuery;

fn parse_cursor<T: std::str::FromStr>(after: Option<String>) -> Result<Option<T>, ApiError> {
    after
        .map(|c| {
            c.parse::<T>()
                .map_err(|_| ApiError::BadUserInput("after is not a valid cursor".into()))
        })
        .transpose()
}

#[Object]
impl IdentityQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let auth = require_auth(ctx)?;
        Ok(users::me(state(ctx)?, &auth.actor).await?.into())
    }

    /// One user (admins).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        let id = parse_id(&id, "id")?;
        Ok(users::get(state(ctx)?, &auth(ctx)?.actor, id).await?.into())
    }

    /// Users in creation order (admins).
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, User>> {
        let filter = filter.unwrap_or_default();
        let service_filter = users::UserFilter {
            kind: filter.kind,
            role: filter.role,
            partner_org_id: filter
                .partner_org_id
                .as_ref()
                .map(|id| parse_id(id, "partnerOrgId"))
                .transpose()?,
            disabled: filter.disabled,
            search: filter.search,
        };
        let after = parse_cursor::<uuid::Uuid>(after)?;
        let (rows, has_next) = users::list(
            state(ctx)?,
            &auth(ctx)?.actor,
            &service_filter,
            after,
            page_size(first)?,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|u| Edge::new(u.id.to_string(), User::from(u))),
        );
        Ok(connection)
    }

    /// Partner organisations by name (admins).
    #[graphql(complexity = "super::cost::list(super::cost::SHORT_LIST, child_complexity)")]
    async fn partner_orgs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PartnerOrg>> {
        Ok(partners::list(state(ctx)?, &auth(ctx)?.actor)
            .await?
            .into_iter()
            .map(PartnerOrg::from)
            .collect())
    }

    /// The audit log, newest first (admins). The cursor is the sequence number.
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEvent>> {
        let filter = filter.unwrap_or_default();
        let service_filter = audit::EventFilter {
            action: filter.action,
            actor_id: filter
                .actor_id
                .as_ref()
                .map(|id| parse_id(id, "actorId"))
                .transpose()?,
            actor_kind: filter.actor_kind,
            target_id: filter.target_id,
            share_link_id: filter
                .share_link_id
                .as_ref()
                .map(|id| parse_id(id, "shareLinkId"))
                .transpose()?,
            from: filter.from,
            to: filter.to,
        };
        let before = parse_cursor::<i64>(after)?;
        let (rows, has_next) = audit::list(
            state(ctx)?,
            &auth(ctx)?.actor,
            &service_filter,
            before,
            page_size(first)?,
        )
        .await?;
        let mut connection = Connection::new(before.is_some(), has_next);
        for row in rows {
            let seq = row.seq;
            connection
                .edges
                .push(Edge::new(seq.to_string(), AuditEvent::try_from(row)?));
        }
        Ok(connection)
    }

    /// Walks the whole audit hash chain (admins) and reports the first broken link.
    async fn verify_audit_chain(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<AuditChainReport> {
        let report = audit::verify_as(state(ctx)?, &auth(ctx)?.actor, &meta(ctx)).await?;
        Ok(AuditChainReport {
            ok: report.ok,
            checked: report.checked,
            first_bad_seq: report.first_bad_seq,
        })
    }
}

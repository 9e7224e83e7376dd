use async_graphql::{Context, ID, Object};

use super::types::{
    CreatePartnerOrgInput, CreateUserInput, LoginPayload, PartnerOrg, UpdatePartnerOrgInput,
    UpdateUserInput, User,
};
use super::{auth, meta, parse_id, state};
use crate::services::{auth as auth_service, partners, users};

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Signs in. Wrong email or password: UNAUTHENTICATED; too many recent
    /// failures for the email or the client address: TOO_MANY_REQUESTS with
    /// `extensions.retryAfter` (seconds).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<LoginPayload> {
        let outcome = auth_service::login(state(ctx)?, &email, &password, &meta(ctx)).await?;
        Ok(LoginPayload {
            token: outcome.token,
            expires_at: outcome.expires_at,
            user: outcome.user.into(),
        })
    }

    /// Signs out: the token used for this request stops working.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(auth_service::logout(state(ctx)?, auth(ctx)?, &meta(ctx)).await?)
    }

    /// Creates a user (admins).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        let new = users::NewUser {
            email: input.email,
            display_name: input.display_name,
            password: input.password,
            kind: input.kind,
            role: input.role,
            partner_org_id: input
                .partner_org_id
                .as_ref()
                .map(|id| parse_id(id, "partnerOrgId"))
                .transpose()?,
        };
        Ok(
            users::create(state(ctx)?, &auth(ctx)?.actor, new, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Changes a user's email, name, role or password (admins).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> async_graphql::Result<User> {
        let patch = users::UserPatch {
            email: input.email,
            display_name: input.display_name,
            role: input.role,
            password: input.password,
        };
        let id = parse_id(&id, "id")?;
        Ok(
            users::update(state(ctx)?, &auth(ctx)?.actor, id, patch, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Disables a user: every token it holds stops working at once (admins).
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        let id = parse_id(&id, "id")?;
        Ok(
            users::set_disabled(state(ctx)?, &auth(ctx)?.actor, id, true, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Enables a disabled user again (admins).
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<User> {
        let id = parse_id(&id, "id")?;
        Ok(
            users::set_disabled(state(ctx)?, &auth(ctx)?.actor, id, false, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Ends every session of a user; returns how many were live (admins).
    async fn revoke_sessions(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<u64> {
        let id = parse_id(&user_id, "userId")?;
        Ok(users::revoke_sessions(state(ctx)?, &auth(ctx)?.actor, id, &meta(ctx)).await?)
    }

    /// Creates a partner organisation (admins).
    async fn create_partner_org(
        &self,
        ctx: &Context<'_>,
        input: CreatePartnerOrgInput,
    ) -> async_graphql::Result<PartnerOrg> {
        let new = partners::NewPartnerOrg {
            name: input.name,
            email_domains: input.email_domains,
            allowlisted: input.allowlisted,
        };
        Ok(
            partners::create(state(ctx)?, &auth(ctx)?.actor, new, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Renames a partner organisation or changes its email domains (admins).
    async fn update_partner_org(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePartnerOrgInput,
    ) -> async_graphql::Result<PartnerOrg> {
        let id = parse_id(&id, "id")?;
        Ok(partners::update(
            state(ctx)?,
            &auth(ctx)?.actor,
            id,
            input.name,
            input.email_domains,
            &meta(ctx),
        )
        .await?
        .into())
    }

    /// Puts a partner organisation on the allowlist or removes it; removal
    /// cuts its users off at their next request (admins).
    async fn set_partner_allowlisted(
        &self,
        ctx: &Context<'_>,
        id: ID,
        allowlisted: bool,
    ) -> async_graphql::Result<PartnerOrg> {
        let id = parse_id(&id, "id")?;
        Ok(
            partners::set_allowlisted(state(ctx)?, &auth(ctx)?.actor, id, allowlisted, &meta(ctx))
                .await?
                .into(),
        )
    }
}

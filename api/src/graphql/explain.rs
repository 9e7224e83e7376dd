//! `explainAccess` in the GraphQL API (administrators).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::{auth, parse_id, state};
use crate::error::ApiError;
use crate::services::explain::{self, Subject};

/// Whose access to explain: exactly one of these.
#[derive(InputObject, Debug)]
pub struct AccessSubjectInput {
    pub user_id: Option<ID>,
    pub partner_org_id: Option<ID>,
    pub share_link_id: Option<ID>,
}

/// The policy's decision for one action.
#[derive(SimpleObject, Debug)]
pub struct AccessDecision {
    /// VIEW_METADATA, VIEW_PREVIEW, DOWNLOAD_LOWRES, DOWNLOAD_ORIGINAL,
    /// SHARE, EDIT, DELETE, MANAGE_ACCESS.
    pub action: String,
    pub allowed: bool,
    /// Why not, as a stable code: NO_GRANT, NOT_PUBLISHED,
    /// PARTNER_NOT_ALLOWLISTED, NOT_LICENSED, RESTRICTED_FOLDER, …
    pub code: Option<String>,
    /// The fact that decided it ("embargoed until 2027-03-01T09:00:00Z…").
    pub reason: Option<String>,
}

/// Why a subject can or cannot see or download an asset.
#[derive(SimpleObject, Debug)]
pub struct AccessExplanation {
    /// Who, in words.
    pub subject: String,
    pub decisions: Vec<AccessDecision>,
}

#[derive(Default)]
pub struct ExplainQuery;

#[Object]
impl ExplainQuery {
    /// Why a user, a partner organisation or a share link's visitors can or
    /// cannot see, download, share or change an asset: the one policy's
    /// decision per action and the fact that decided it (administrators).
    async fn explain_access(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        subject: AccessSubjectInput,
    ) -> async_graphql::Result<AccessExplanation> {
        let asset_id = parse_id(&asset_id, "assetId")?;
        let subject = match (
            &subject.user_id,
            &subject.partner_org_id,
            &subject.share_link_id,
        ) {
            (Some(id), None, None) => Subject::User(parse_id(id, "userId")?),
            (None, Some(id), None) => Subject::PartnerOrg(parse_id(id, "partnerOrgId")?),
            (None, None, Some(id)) => Subject::ShareLink(parse_id(id, "shareLinkId")?),
            _ => {
                return Err(ApiError::BadUserInput(
                    "give exactly one of userId, partnerOrgId and shareLinkId".into(),
                )
                .into());
            }
        };
        let answer = explain::explain(state(ctx)?, &auth(ctx)?.actor, asset_id, subject).await?;
        Ok(AccessExplanation {
            subject: answer.subject,
            decisions: answer
                .decisions
                .into_iter()
                .map(|d| AccessDecision {
                    action: d.action.as_str().to_owned(),
                    allowed: d.allowed,
                    code: d.code.map(str::to_owned),
                    reason: d.reason,
                })
                .collect(),
        })
    }
}

//! `explainAccess`: why a user, a partner organisation or a share link can or
//! cannot see or download an asset — the policy's own decision for each
//! action, with the fact that decided it. The facts are gathered exactly as
//! for a real request by that subject ([`access::asset_facts`]) and the
//! decision is [`authorize`]'s: nothing here decides on its own.

use sea_orm::EntityTrait;
use uuid::Uuid;
use vitrine_entity::UserKind;
use vitrine_entity::entities::{asset, partner_org, share_link, user};
use vitrine_entity::explain::{code, sentence};
use vitrine_entity::policy::{Action, Actor, KeyScope, Resource, authorize};

use crate::error::{ApiError, ApiResult};
use crate::services::{access, authorize_instance};
use crate::state::AppState;

/// Whose access is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User(Uuid),
    PartnerOrg(Uuid),
    ShareLink(Uuid),
}

/// The decision for one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub allowed: bool,
    /// The denial's stable code (`NOT_PUBLISHED`, `NO_GRANT`, …).
    pub code: Option<&'static str>,
    /// The fact that decided it, in words.
    pub reason: Option<String>,
}

/// The whole answer.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Who, in words ("partner organisation Maison A").
    pub subject: String,
    pub decisions: Vec<Decision>,
}

/// The actions explained, in order.
pub const ACTIONS: [Action; 8] = [
    Action::ViewMetadata,
    Action::ViewPreview,
    Action::DownloadLowres,
    Action::DownloadOriginal,
    Action::Share,
    Action::Edit,
    Action::Delete,
    Action::ManageAccess,
];

/// Explains (administrators).
pub async fn explain(
    state: &AppState,
    actor: &Actor,
    asset_id: Uuid,
    subject: Subject,
) -> ApiResult<Explanation> {
    authorize_instance(state, actor, Action::Admin)?;
    let db = &state.db;
    let asset = asset::Entity::find_by_id(asset_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    let (who, describe, blocked): (Actor, String, Option<(&'static str, String)>) = match subject {
        Subject::User(id) => {
            let u = user::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
            let describe = format!("user {}", u.email);
            match crate::services::auth::actor_of_user(db, &u).await? {
                Ok(actor) => (actor, describe, None),
                Err(_) if u.disabled => (
                    Actor::Anonymous,
                    describe,
                    Some(("ACCOUNT_DISABLED", "the account is disabled".to_owned())),
                ),
                Err(_) if u.kind == UserKind::Partner => (
                    // The policy itself says why: not allowlisted.
                    Actor::Partner {
                        user_id: u.id,
                        org_id: u.partner_org_id.unwrap_or_default(),
                        org_allowlisted: false,
                        scope: KeyScope::FULL,
                    },
                    describe,
                    None,
                ),
                Err(reason) => (
                    Actor::Anonymous,
                    describe,
                    Some(("ACCOUNT_NOT_USABLE", reason.to_owned())),
                ),
            }
        }
        Subject::PartnerOrg(id) => {
            let org = partner_org::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such partner organisation".into()))?;
            (
                // The organisation as such: its grants, nobody's personal ones.
                Actor::Partner {
                    user_id: Uuid::nil(),
                    org_id: org.id,
                    org_allowlisted: org.allowlisted,
                    scope: KeyScope::FULL,
                },
                format!("partner organisation {}", org.name),
                None,
            )
        }
        Subject::ShareLink(id) => {
            let link = share_link::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such share link".into()))?;
            (
                Actor::Visitor {
                    share_link_id: link.id,
                },
                format!(
                    "visitors of share link {}",
                    link.label.as_deref().unwrap_or(&link.id.to_string())
                ),
                None,
            )
        }
    };
    let now = state.clock.now();
    if let Some((code, reason)) = blocked {
        return Ok(Explanation {
            subject: describe,
            decisions: ACTIONS
                .iter()
                .map(|&action| Decision {
                    action,
                    allowed: false,
                    code: Some(code),
                    reason: Some(reason.clone()),
                })
                .collect(),
        });
    }
    let facts = access::asset_facts(
        state,
        db,
        &who,
        &asset,
        now,
        state.config.license_unlicensed_deliverable,
        Default::default(),
    )
    .await?;
    let resource = Resource::Asset(facts.clone());
    let decisions = ACTIONS
        .iter()
        .map(|&action| {
            // As every request does: first whether it may see the asset at all.
            let decided = authorize(&who, Action::ViewMetadata, &resource, now)
                .and_then(|()| authorize(&who, action, &resource, now));
            match decided {
                Ok(()) => Decision {
                    action,
                    allowed: true,
                    code: None,
                    reason: None,
                },
                Err(denial) => Decision {
                    action,
                    allowed: false,
                    code: Some(code(&denial)),
                    reason: Some(sentence(&denial, &facts, now)),
                },
            }
        })
        .collect();
    Ok(Explanation {
        subject: describe,
        decisions,
    })
}

use async_graphql::{Context, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use vitrine_entity::policy::{Action, Resource, authorize};

use super::types::AuditEvent;
use super::{require_auth, state};
use crate::services::auth::authenticate_session;
use vitrine_worker::BusEvent;

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every audit event as it is committed (admins). The subscriber's
    /// session and role are checked again before each event is delivered: a
    /// revoked, expired or demoted subscriber's stream ends.
    async fn audit_feed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>>> {
        let state = state(ctx)?.clone();
        let auth = require_auth(ctx)?.clone();
        authorize(
            &auth.actor,
            Action::ViewAudit,
            &Resource::Instance,
            state.clock.now(),
        )
        .map_err(crate::error::ApiError::from)?;
        let session_id = auth.session_id;
        let mut receiver = state.bus.subscribe();
        Ok(async_stream::stream! {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "audit feed subscriber fell behind");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                let BusEvent::Audit(model) = event.as_ref();
                // Re-check the subscriber at delivery time.
                let still_allowed = match authenticate_session(&state, session_id).await {
                    Ok(Some(actor)) => authorize(&actor, Action::ViewAudit, &Resource::Instance, state.clock.now()).is_ok(),
                    _ => false,
                };
                if !still_allowed {
                    yield Err(crate::error::ApiError::Unauthenticated("session ended".into()).into());
                    break;
                }
                yield AuditEvent::try_from(model.clone()).map_err(async_graphql::Error::from);
            }
        })
    }
}

use async_graphql::{Context, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use vitrine_entity::policy::{Action, Resource, authorize};

use super::asset_types::Asset;
use super::types::AuditEvent;
use super::{require_auth, state};
use crate::services::asset_events::{self, AssetEventKind, Delivery};
use crate::services::auth::authenticate_session;
use crate::services::smart_folders;
use vitrine_worker::BusEvent;

/// The subscription root: the streams of each module, merged.
#[derive(async_graphql::MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(CoreSubscription, super::moderation::ModerationSubscription);

#[derive(Default)]
pub struct CoreSubscription;

#[Subscription]
impl CoreSubscription {
    /// Every audit event as it is committed (admins). The subscriber's
    /// session and role are checked again before each event is delivered: a
    /// revoked, expired or demoted subscriber's stream ends.
    async fn audit_feed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>>> {
        admin_stream(ctx, "audit feed", |model| {
            Some(AuditEvent::try_from(model.clone()).map_err(async_graphql::Error::from))
        })
    }

    /// Anomaly alerts (bulk downloading) as the watcher raises them, within
    /// seconds of the burst (administrators: VIEW_AUDIT). The subscriber's
    /// session and role are checked again before each alert.
    async fn anomalies(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<super::usage::Anomaly>>>
    {
        admin_stream(ctx, "anomalies", |model| {
            (model.action == vitrine_entity::AuditAction::AnomalyDetected.as_str())
                .then(|| super::usage::Anomaly::of_event(model))
                .flatten()
                .map(Ok)
        })
    }

    /// Changes to assets, for partner portals and live views: each event is
    /// delivered only if the subscriber may see the asset at that moment
    /// (checked again at every event with the subscriber's current session,
    /// organisation allowlist and grants). An event about an asset the
    /// subscriber saw until this very change (trashed, withdrawn, moved away)
    /// comes without the asset. A revoked or expired session ends the stream.
    ///
    /// With `smartFolderId`, only events about assets in that smart folder
    /// after the change (its search, run as the subscriber), and events about
    /// assets this stream delivered as in it that have just left it.
    async fn asset_events(
        &self,
        ctx: &Context<'_>,
        smart_folder_id: Option<async_graphql::ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
        let state = state(ctx)?.clone();
        let auth = require_auth(ctx)?.clone();
        let session_id = auth.session_id;
        let smart_folder = match &smart_folder_id {
            Some(id) => {
                let id = super::parse_id(id, "smartFolderId")?;
                smart_folders::get(&state, &auth.actor, id).await?;
                Some(id)
            }
            None => None,
        };
        let mut inside: std::collections::HashSet<uuid::Uuid> = std::collections::HashSet::new();
        let mut receiver = state.bus.subscribe();
        Ok(async_stream::stream! {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "asset events subscriber fell behind");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                let BusEvent::Audit(model) = event.as_ref();
                let Some((asset_id, kind)) = asset_events::classify(model, state.clock.now()) else {
                    continue;
                };
                let actor = match authenticate_session(&state, session_id).await {
                    Ok(Some(actor)) => actor,
                    _ => {
                        yield Err(crate::error::ApiError::Unauthenticated("session ended".into()).into());
                        break;
                    }
                };
                let delivery = match asset_events::for_subscriber(&state, &actor, model, asset_id).await {
                    Ok(d) => d,
                    Err(e) => {
                        yield Err(e.into());
                        continue;
                    }
                };
                if matches!(delivery, Delivery::Nothing) {
                    continue;
                }
                if let Some(folder_id) = smart_folder {
                    // The folder is read again: renamed, re-searched or no
                    // longer shared, the stream follows (or ends, at the first
                    // event it would have delivered).
                    let folder = match smart_folders::get(&state, &actor, folder_id).await {
                        Ok(f) => f,
                        Err(e) => {
                            yield Err(e.into());
                            break;
                        }
                    };
                    let now_inside = match &delivery {
                        Delivery::With(_) => {
                            match smart_folders::contains(&state, &actor, &folder, asset_id).await {
                                Ok(b) => b,
                                Err(e) => {
                                    yield Err(e.into());
                                    continue;
                                }
                            }
                        }
                        _ => false,
                    };
                    let was_inside = if now_inside {
                        !inside.insert(asset_id)
                    } else {
                        inside.remove(&asset_id)
                    };
                    if !now_inside && !was_inside {
                        continue;
                    }
                }
                let asset = match delivery {
                    Delivery::Nothing => continue,
                    Delivery::With(a) => Some(Asset::from(a)),
                    Delivery::Without => None,
                };
                yield Ok(AssetEvent {
                    kind,
                    asset_id: async_graphql::ID(asset_id.to_string()),
                    occurred_at: model.occurred_at,
                    asset,
                });
            }
        })
    }
}

/// A stream of committed audit events for administrators (VIEW_AUDIT),
/// mapped by `pick` (`None`: not for this stream). The subscriber's session
/// and role are checked again before each item: a revoked, expired or
/// demoted subscriber's stream ends.
fn admin_stream<T, F>(
    ctx: &Context<'_>,
    name: &'static str,
    pick: F,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<T>> + use<T, F>>
where
    T: Send + 'static,
    F: Fn(&vitrine_entity::entities::audit_event::Model) -> Option<async_graphql::Result<T>>
        + Send
        + 'static,
{
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
                    tracing::warn!(missed, stream = name, "subscriber fell behind");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let BusEvent::Audit(model) = event.as_ref();
            let Some(item) = pick(model) else { continue };
            let still_allowed = match authenticate_session(&state, session_id).await {
                Ok(Some(actor)) => authorize(&actor, Action::ViewAudit, &Resource::Instance, state.clock.now()).is_ok(),
                _ => false,
            };
            if !still_allowed {
                yield Err(crate::error::ApiError::Unauthenticated("session ended".into()).into());
                break;
            }
            yield item;
        }
    })
}

/// A change to an asset.
#[derive(async_graphql::SimpleObject, Clone, Debug)]
pub struct AssetEvent {
    pub kind: AssetEventKind,
    pub asset_id: async_graphql::ID,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// The asset as it is now; null when the subscriber no longer sees it
    /// (trashed, withdrawn, moved out of its reach).
    pub asset: Option<Asset>,
}

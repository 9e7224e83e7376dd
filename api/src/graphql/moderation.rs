//! Moderation in the GraphQL API: a version's moderation, folders that
//! require it, the queue, and decisions.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::ModerationState;
use vitrine_entity::entities::asset_version;
use vitrine_entity::moderation_rules::{self as rules, ModerationMode, Rule, Verdict};

use super::asset_types::{Asset, AssetVersion, Folder};
use super::{auth, meta, page_size, parse_id, state};
use crate::services::moderation::{self, Decision, QueueChange, QueueKind};

/// Where a version stands with moderation (members only).
#[derive(SimpleObject, Clone, Debug)]
pub struct VersionModeration {
    /// NOT_REQUIRED (uploaded where none is needed), PENDING (never leaves
    /// the organisation until approved), APPROVED, REJECTED.
    pub state: ModerationState,
    /// MANUAL, OVERRIDE (a person reversing an earlier decision) or AUTOMATIC.
    pub kind: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by_id: Option<ID>,
    pub reason: Option<String>,
    /// How the rules' results are used (fixed at upload): MANUAL, AUTOMATIC
    /// or AUTOMATIC_THEN_MANUAL. Null when no moderation was required.
    pub mode: Option<ModerationMode>,
    /// The upload preset the version came through.
    pub preset_id: Option<ID>,
    /// The automatic rules' results with what was measured (empty until the
    /// worker has processed the version).
    pub rule_results: Vec<RuleResult>,
    /// The rules that failed.
    pub failed_rules: Vec<Rule>,
}

/// One automatic rule's result.
#[derive(SimpleObject, Clone, Debug)]
pub struct RuleResult {
    pub rule: Rule,
    pub verdict: Verdict,
    /// What was measured ("31.2", "120x90", "2", …).
    pub measured: String,
    /// The threshold it was held to.
    pub limit: String,
    /// In a sentence: "sharpness 31.2 < 40".
    pub message: String,
    /// For the duplicate rules: the assets found, nearest first.
    pub neighbours: Vec<Neighbour>,
}

/// An asset close to a version by perceptual hash.
#[derive(SimpleObject, Clone, Debug)]
pub struct Neighbour {
    pub asset_id: ID,
    pub version_id: ID,
    /// Hamming distance of the 64-bit hashes (0: the same picture).
    pub distance: u32,
}

impl From<rules::RuleResult> for RuleResult {
    fn from(r: rules::RuleResult) -> Self {
        Self {
            rule: r.rule,
            verdict: r.verdict,
            measured: r.measured,
            limit: r.limit,
            message: r.message,
            neighbours: r
                .assets
                .into_iter()
                .map(|n| Neighbour {
                    asset_id: ID(n.asset_id.to_string()),
                    version_id: ID(n.version_id.to_string()),
                    distance: n.distance,
                })
                .collect(),
        }
    }
}

impl From<&asset_version::Model> for VersionModeration {
    fn from(m: &asset_version::Model) -> Self {
        let results = m.results();
        Self {
            state: m.moderation_state,
            kind: m.moderation_kind.clone(),
            decided_at: m.moderated_at,
            decided_by_id: m.moderated_by.map(|id| ID(id.to_string())),
            reason: m.moderation_reason.clone(),
            mode: m.moderation_mode.as_deref().and_then(ModerationMode::parse),
            preset_id: m.preset_id.map(|id| ID(id.to_string())),
            failed_rules: results
                .iter()
                .filter(|r| r.verdict == Verdict::Failed)
                .map(|r| r.rule)
                .collect(),
            rule_results: results.into_iter().map(Into::into).collect(),
        }
    }
}

/// Narrows the moderation queue.
#[derive(InputObject, Debug, Default)]
pub struct ModerationQueueFilter {
    /// Only assets in this folder…
    pub folder_id: Option<ID>,
    /// …and below it (default).
    #[graphql(default = true)]
    pub recursive: bool,
    /// Only versions this user uploaded.
    pub uploaded_by: Option<ID>,
    /// Uploaded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Uploaded before this instant.
    pub to: Option<DateTime<Utc>>,
    /// PENDING (default), APPROVED or REJECTED: past decisions to review.
    pub state: Option<ModerationState>,
    /// MANUAL (a person decides every version) or AUTOMATIC (the rules
    /// decide first).
    pub kind: Option<QueueKind>,
    /// Only versions uploaded through this preset.
    pub preset_id: Option<ID>,
    /// Only versions that failed this rule.
    pub rule_failed: Option<Rule>,
    /// Newest first instead of oldest first.
    #[graphql(default)]
    pub newest_first: bool,
}

/// What a queue entry carries besides the version: its asset.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModerationEdgeFields {
    /// The asset the version belongs to (title, folder, tags, thumbnail).
    pub asset: Asset,
}

/// The versions in the queue, oldest first.
pub type ModerationConnection = Connection<String, AssetVersion, EmptyFields, ModerationEdgeFields>;

#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Versions waiting for a moderator, oldest first (ADMIN and MANAGER).
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn moderation_queue(
        &self,
        ctx: &Context<'_>,
        filter: Option<ModerationQueueFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ModerationConnection> {
        let filter = filter.unwrap_or_default();
        let filter = moderation::QueueFilter {
            folder_id: filter
                .folder_id
                .as_ref()
                .map(|id| parse_id(id, "folderId"))
                .transpose()?,
            recursive: filter.recursive,
            uploaded_by: filter
                .uploaded_by
                .as_ref()
                .map(|id| parse_id(id, "uploadedBy"))
                .transpose()?,
            from: filter.from,
            to: filter.to,
            state: filter.state,
            kind: filter.kind,
            preset_id: filter
                .preset_id
                .as_ref()
                .map(|id| parse_id(id, "presetId"))
                .transpose()?,
            rule_failed: filter.rule_failed,
            newest_first: filter.newest_first,
        };
        let after_id = after
            .as_deref()
            .map(|c| parse_id(&ID(c.to_owned()), "after"))
            .transpose()?;
        let (rows, more) = moderation::queue(
            state(ctx)?,
            &auth(ctx)?.actor,
            &filter,
            after_id,
            page_size(first)?,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(rows.into_iter().map(|(v, a)| {
            Edge::with_additional_fields(
                v.id.to_string(),
                AssetVersion::from(v),
                ModerationEdgeFields { asset: a.into() },
            )
        }));
        Ok(connection)
    }
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Approves or rejects up to 500 versions, all or nothing (MODERATE on
    /// each: ADMIN and MANAGER). Deciding again is an override, recorded.
    async fn moderate(
        &self,
        ctx: &Context<'_>,
        version_ids: Vec<ID>,
        decision: Decision,
        reason: Option<String>,
    ) -> async_graphql::Result<Vec<AssetVersion>> {
        let ids = version_ids
            .iter()
            .map(|id| parse_id(id, "versionIds"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(moderation::moderate(
            state(ctx)?,
            &auth(ctx)?.actor,
            &ids,
            decision,
            reason,
            &meta(ctx),
        )
        .await?
        .into_iter()
        .map(AssetVersion::from)
        .collect())
    }

    /// Queues the live versions in a folder (and below, with `recursive`)
    /// for moderation (administrators): each asset whose current version
    /// needed none stops leaving the organisation until approved. Returns
    /// how many versions were queued. Turning moderation on for a folder
    /// never does this by itself.
    async fn require_moderation(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        #[graphql(default = true)] recursive: bool,
    ) -> async_graphql::Result<u64> {
        let id = parse_id(&folder_id, "folderId")?;
        Ok(moderation::require_for_folder(
            state(ctx)?,
            &auth(ctx)?.actor,
            id,
            recursive,
            &meta(ctx),
        )
        .await?)
    }

    /// Whether versions uploaded into this folder (and below) from now on
    /// wait for a moderator (MANAGE_ACCESS on the folder). Versions already
    /// there are not affected.
    async fn set_folder_moderation(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        required: bool,
    ) -> async_graphql::Result<Folder> {
        let id = parse_id(&folder_id, "folderId")?;
        Ok(moderation::set_folder_requirement(
            state(ctx)?,
            &auth(ctx)?.actor,
            id,
            required,
            &meta(ctx),
        )
        .await?
        .into())
    }
}

/// A change to the moderation queue.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModerationQueueEvent {
    pub change: QueueChange,
    pub occurred_at: DateTime<Utc>,
    /// The version as it is now…
    pub version: AssetVersion,
    /// …and its asset.
    pub asset: Asset,
}

#[derive(Default)]
pub struct ModerationSubscription;

#[async_graphql::Subscription]
impl ModerationSubscription {
    /// Changes to the caller's moderation queue, so a moderation page stays
    /// live: versions entering it, their rule results arriving, decisions.
    /// Only versions the subscriber may moderate; the session and its rights
    /// are checked again at each event (a revoked session ends the stream).
    async fn moderation_queue_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<
        impl futures_util::Stream<Item = async_graphql::Result<ModerationQueueEvent>> + use<>,
    > {
        use tokio::sync::broadcast::error::RecvError;
        let state = state(ctx)?.clone();
        let auth = auth(ctx)?.clone();
        // Refuse at once a caller who may moderate nothing.
        moderation::queue(
            &state,
            &auth.actor,
            &moderation::QueueFilter::default(),
            None,
            1,
        )
        .await?;
        let session_id = auth.session_id;
        let mut receiver = state.bus.subscribe();
        Ok(async_stream::stream! {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "moderation queue subscriber fell behind");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                let vitrine_worker::BusEvent::Audit(model) = event.as_ref();
                // Most events (every delivery's) are not about the queue:
                // skip them before reading anything for this subscriber.
                if moderation::queue_change_of(&model.action).is_none() {
                    continue;
                }
                let actor = match crate::services::auth::authenticate_session(&state, session_id).await {
                    Ok(Some(actor)) => actor,
                    _ => {
                        yield Err(crate::error::ApiError::Unauthenticated("session ended".into()).into());
                        break;
                    }
                };
                match moderation::queue_change(&state, &actor, model).await {
                    Ok(Some((change, version, asset))) => yield Ok(ModerationQueueEvent {
                        change,
                        occurred_at: model.occurred_at,
                        version: AssetVersion::from(version),
                        asset: asset.into(),
                    }),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = ?e, "moderation queue event not delivered"),
                }
            }
        })
    }
}

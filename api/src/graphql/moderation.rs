//! Moderation in the GraphQL API: a version's moderation, folders that
//! require it, the queue, and decisions.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::ModerationState;
use vitrine_entity::entities::asset_version;

use super::asset_types::{AssetVersion, Folder};
use super::{auth, meta, page_size, parse_id, state};
use crate::services::moderation::{self, Decision};

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
}

impl From<&asset_version::Model> for VersionModeration {
    fn from(m: &asset_version::Model) -> Self {
        Self {
            state: m.moderation_state,
            kind: m.moderation_kind.clone(),
            decided_at: m.moderated_at,
            decided_by_id: m.moderated_by.map(|id| ID(id.to_string())),
            reason: m.moderation_reason.clone(),
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
}

/// The PENDING versions, oldest first.
pub type ModerationConnection = Connection<String, AssetVersion, EmptyFields, EmptyFields>;

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
        connection.edges.extend(
            rows.into_iter()
                .map(|v| Edge::new(v.id.to_string(), AssetVersion::from(v))),
        );
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

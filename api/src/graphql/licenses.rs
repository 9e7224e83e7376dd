//! Licenses in the GraphQL API.

use async_graphql::{
    ComplexObject, Context, ID, InputObject, MaybeUndefined, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::license;
use vitrine_entity::license::{Channel, LicenseState};

use super::{auth, maybe, meta, parse_id, state};
use crate::error::ApiError;
use crate::services::licenses::{self, LicenseFilter, LicenseInput};

/// A license: which uses of the images a licensor granted, where, and when.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct License {
    pub id: ID,
    pub name: String,
    pub licensor: String,
    pub reference: Option<String>,
    pub channels: Vec<Channel>,
    /// ISO 3166-1 alpha-2 codes, or WORLD.
    pub territories: Vec<String>,
    pub starts_at: DateTime<Utc>,
    /// Exclusive: at this instant the license no longer covers anything.
    pub ends_at: DateTime<Utc>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub model: license::Model,
}

impl From<license::Model> for License {
    fn from(m: license::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            licensor: m.licensor.clone(),
            reference: m.reference.clone(),
            channels: m.channel_set().into_iter().collect(),
            territories: m.territory_set().into_iter().collect(),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            notes: m.notes.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            model: m,
        }
    }
}

#[ComplexObject]
impl License {
    /// The license's own state now (SCHEDULED, ACTIVE, EXPIRING, EXPIRED).
    async fn state(&self, ctx: &Context<'_>) -> async_graphql::Result<LicenseState> {
        let state = state(ctx)?;
        Ok(licenses::license_state(
            &self.model,
            state.clock.now(),
            licenses::notice(state),
        ))
    }

    /// How many assets it is attached to.
    async fn asset_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let n = licenses::asset_count(&state(ctx)?.db, self.model.id).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Licenses per state (of those matching the filter's licensor and channel).
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct LicenseCounts {
    pub scheduled: i32,
    pub active: i32,
    pub expiring: i32,
    pub expired: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct LicenseList {
    /// By end date, soonest first (at most 1,000).
    #[graphql(complexity = "super::cost::list(super::cost::REPORT_ROWS, child_complexity)")]
    pub items: Vec<License>,
    pub counts: LicenseCounts,
}

#[derive(InputObject, Debug)]
pub struct CreateLicenseInput {
    pub name: String,
    pub licensor: String,
    pub reference: Option<String>,
    pub channels: Vec<Channel>,
    /// ISO 3166-1 alpha-2 codes (e.g. FR, BE), or WORLD.
    pub territories: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub notes: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct UpdateLicenseInput {
    pub name: Option<String>,
    pub licensor: Option<String>,
    pub reference: MaybeUndefined<String>,
    pub channels: Option<Vec<Channel>>,
    pub territories: Option<Vec<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub notes: MaybeUndefined<String>,
}

#[derive(InputObject, Debug, Default)]
pub struct LicenseFilterInput {
    pub state: Option<LicenseState>,
    /// Ending within this many days from now (and not ended yet).
    pub expiring_within_days: Option<i32>,
    pub licensor: Option<String>,
    pub channel: Option<Channel>,
}

fn ids(raw: &[ID], what: &str) -> Result<Vec<uuid::Uuid>, ApiError> {
    raw.iter().map(|i| parse_id(i, what)).collect()
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[derive(Default)]
pub struct LicenseQuery;

#[Object]
impl LicenseQuery {
    /// The license dashboard (MANAGE_LICENSES).
    async fn licenses(
        &self,
        ctx: &Context<'_>,
        filter: Option<LicenseFilterInput>,
    ) -> async_graphql::Result<LicenseList> {
        let f = filter.unwrap_or_default();
        let (items, counts) = licenses::list(
            state(ctx)?,
            &auth(ctx)?.actor,
            LicenseFilter {
                state: f.state,
                expiring_within_days: f.expiring_within_days.map(i64::from),
                licensor: f.licensor,
                channel: f.channel,
            },
        )
        .await?;
        Ok(LicenseList {
            items: items.into_iter().map(Into::into).collect(),
            counts: LicenseCounts {
                scheduled: count(counts.scheduled),
                active: count(counts.active),
                expiring: count(counts.expiring),
                expired: count(counts.expired),
            },
        })
    }

    /// One license (MANAGE_LICENSES).
    async fn license(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<License> {
        let id = parse_id(&id, "id")?;
        Ok(licenses::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct LicenseMutation;

#[Object]
impl LicenseMutation {
    /// Creates a license (MANAGE_LICENSES).
    async fn create_license(
        &self,
        ctx: &Context<'_>,
        input: CreateLicenseInput,
    ) -> async_graphql::Result<License> {
        Ok(licenses::create(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            LicenseInput {
                name: Some(input.name),
                licensor: Some(input.licensor),
                reference: Some(input.reference),
                channels: Some(input.channels),
                territories: Some(input.territories),
                starts_at: Some(input.starts_at),
                ends_at: Some(input.ends_at),
                notes: Some(input.notes),
            },
        )
        .await?
        .into())
    }

    /// Changes a license's terms (MANAGE_LICENSES).
    async fn update_license(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLicenseInput,
    ) -> async_graphql::Result<License> {
        let id = parse_id(&id, "id")?;
        Ok(licenses::update(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            id,
            LicenseInput {
                name: input.name,
                licensor: input.licensor,
                reference: maybe(input.reference),
                channels: input.channels,
                territories: input.territories,
                starts_at: input.starts_at,
                ends_at: input.ends_at,
                notes: maybe(input.notes),
            },
        )
        .await?
        .into())
    }

    /// Attaches a license to assets, or to every asset under a folder (up
    /// to 10,000 at once; MANAGE_LICENSES on each; all or nothing). Returns
    /// how many were newly attached.
    async fn attach_license(
        &self,
        ctx: &Context<'_>,
        license_id: ID,
        #[graphql(default)] asset_ids: Vec<ID>,
        folder_id: Option<ID>,
    ) -> async_graphql::Result<i32> {
        let license_id = parse_id(&license_id, "licenseId")?;
        let folder_id = folder_id
            .as_ref()
            .map(|i| parse_id(i, "folderId"))
            .transpose()?;
        let n = licenses::attach(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            license_id,
            &ids(&asset_ids, "assetIds")?,
            folder_id,
        )
        .await?;
        Ok(count(n))
    }

    /// Detaches a license from assets, or from every asset under a folder.
    /// Returns how many were detached.
    async fn detach_license(
        &self,
        ctx: &Context<'_>,
        license_id: ID,
        #[graphql(default)] asset_ids: Vec<ID>,
        folder_id: Option<ID>,
    ) -> async_graphql::Result<i32> {
        let license_id = parse_id(&license_id, "licenseId")?;
        let folder_id = folder_id
            .as_ref()
            .map(|i| parse_id(i, "folderId"))
            .transpose()?;
        let n = licenses::detach(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            license_id,
            &ids(&asset_ids, "assetIds")?,
            folder_id,
        )
        .await?;
        Ok(count(n))
    }
}

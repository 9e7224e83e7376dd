//! GraphQL types of the asset library: folders, assets, versions.

use async_graphql::{ComplexObject, Context, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use vitrine_entity::entities::{access_grant, asset, folder, user};
use vitrine_entity::{AccessMode, GrantLevel, SubjectKind};

use crate::delivery::DeliveryKind;
use vitrine_worker::tagging::Ownership;

use async_graphql::dataloader::DataLoader;

use super::loaders::{
    AssetLicenses, FolderId, Loaders, RenditionsOf, TagsOf, TakenDown, UserId, VersionId,
    VersionsOf,
};
use super::types::load;
use crate::error::ApiError;
use crate::services::folders::display_path;

pub use super::asset_inputs::*;
pub use super::version_types::*;

/// A member as others see it.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserSummary {
    pub id: ID,
    pub display_name: String,
    pub email: String,
}

impl From<user::Model> for UserSummary {
    fn from(m: user::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            display_name: m.display_name,
            email: m.email,
        }
    }
}

/// Who did something, for those who may see internal details (members);
/// null for partners and visitors.
pub(crate) async fn internal_user(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<UserSummary>> {
    if !internal(ctx)? {
        return Ok(None);
    }
    user_summary(ctx, id).await
}

pub(super) fn internal(ctx: &Context<'_>) -> async_graphql::Result<bool> {
    Ok(vitrine_entity::policy::sees_internal_details(
        &super::auth(ctx)?.actor,
    ))
}

async fn user_summary(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> async_graphql::Result<Option<UserSummary>> {
    match id {
        Some(id) => Ok(load(ctx, UserId(id)).await?.map(UserSummary::from)),
        None => Ok(None),
    }
}

/// A folder of the library tree.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Folder {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A pre-launch collection: only administrators and explicitly granted
    /// subjects see it and anything below.
    pub restricted: bool,
    #[graphql(skip)]
    pub model: folder::Model,
}

impl From<folder::Model> for Folder {
    fn from(m: folder::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            restricted: m.restricted,
            model: m,
        }
    }
}

#[ComplexObject]
impl Folder {
    /// Whether versions uploaded here (or below) wait for a moderator; null
    /// for partners.
    async fn requires_moderation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        Ok(internal(ctx)?.then_some(self.model.requires_moderation))
    }

    /// The names from the top of what the caller sees down to this folder,
    /// e.g. `/Campaigns/SS27` (folders above a partner's grant, or a
    /// restricted folder the caller may not see, are left out).
    async fn path(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let ids: Vec<FolderId> = self.model.lineage().into_iter().map(FolderId).collect();
        let loader = ctx.data::<RequestLoader>()?;
        let found = loader
            .load_many(ids.iter().copied())
            .await
            .map_err(|e| ApiError::Internal(e.to_string().into()))?;
        let lineage: Vec<folder::Model> =
            ids.iter().filter_map(|id| found.get(id).cloned()).collect();
        let mut visible = Vec::new();
        for f in lineage.into_iter().rev() {
            if !super::sees_folder(ctx, Some(&f.ancestry)).await? {
                break;
            }
            visible.push(f);
        }
        visible.reverse();
        Ok(display_path(&visible))
    }

    /// The parent folder; null at the root, and where the caller may not see it.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Folder>> {
        let Some(id) = self.model.parent_id else {
            return Ok(None);
        };
        let Some(parent) = load(ctx, FolderId(id)).await? else {
            return Ok(None);
        };
        Ok(super::sees_folder(ctx, Some(&parent.ancestry))
            .await?
            .then(|| Folder::from(parent)))
    }

    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.created_by).await
    }

    /// The grants given on this folder itself (MANAGE_ACCESS).
    #[graphql(complexity = "super::cost::list(super::cost::GRANTS, child_complexity)")]
    async fn grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AccessGrant>> {
        let state = super::state(ctx)?;
        let actor = &super::auth(ctx)?.actor;
        Ok(
            crate::services::access::grants_on(state, actor, self.model.id)
                .await?
                .into_iter()
                .map(AccessGrant::from)
                .collect(),
        )
    }
}

/// A grant on a folder, inherited by everything below it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct AccessGrant {
    pub id: ID,
    pub subject_kind: SubjectKind,
    /// The user's or the partner organisation's id.
    pub subject_id: ID,
    pub level: GrantLevel,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub model: access_grant::Model,
}

impl From<access_grant::Model> for AccessGrant {
    fn from(m: access_grant::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            subject_kind: m.subject_kind,
            subject_id: ID(m.subject_id.to_string()),
            level: m.level,
            created_at: m.created_at,
            model: m,
        }
    }
}

#[ComplexObject]
impl AccessGrant {
    async fn granted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.granted_by).await
    }
}

/// A tag and where it came from.
#[derive(SimpleObject, Clone, Debug)]
pub struct AssetTag {
    pub name: String,
    pub source: vitrine_entity::TagSource,
}

/// A product image with its version history.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Asset {
    pub id: ID,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the asset is in the trash.
    pub deleted_at: Option<DateTime<Utc>>,
    /// PUBLIC assets may leave the organisation (partners, share links)
    /// inside their window; RESTRICTED ones never do.
    pub access_mode: AccessMode,
    /// Embargo: before this instant only members see the asset.
    pub access_starts_at: Option<DateTime<Utc>>,
    /// After this instant the asset is RESTRICTED again.
    pub access_ends_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub model: asset::Model,
}

impl From<asset::Model> for Asset {
    fn from(m: asset::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            title: m.title.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
            access_mode: m.access_mode,
            access_starts_at: m.access_starts_at,
            access_ends_at: m.access_ends_at,
            model: m,
        }
    }
}

impl Asset {
    /// The asset's policy facts for a delivery URL declaring `channel` and
    /// `territory` (licensing included), and that declared use.
    async fn delivery_facts(
        &self,
        ctx: &Context<'_>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<(
        vitrine_entity::policy::AssetFacts,
        vitrine_entity::license::Usage,
    )> {
        let usage = vitrine_entity::license::Usage {
            channel,
            territory: territory
                .map(|t| {
                    vitrine_entity::license::normalize_territory(&t).ok_or_else(|| {
                        crate::error::ApiError::BadUserInput(format!(
                            "territory {t:?} is not an ISO 3166-1 alpha-2 code or WORLD"
                        ))
                    })
                })
                .transpose()?,
        };
        let state = super::state(ctx)?;
        let auth = super::auth(ctx)?;
        let map = super::access_map(ctx).await?;
        let ancestry = match self.model.folder_id {
            Some(id) => load(ctx, FolderId(id)).await?.map(|f| f.ancestry),
            None => None,
        };
        let mut facts = map.asset_facts(ancestry.as_deref(), &self.model);
        crate::services::access::add_licensing(
            &state.db,
            &auth.actor,
            &mut facts,
            self.model.id,
            state.config.license_unlicensed_deliverable,
            usage.clone(),
        )
        .await?;
        Ok((facts, usage))
    }
}

#[ComplexObject]
impl Asset {
    /// Whether it is opted into public delivery (`/p/`), its slug, public
    /// URLs and why they answer 404 now (members only; null for others).
    async fn public_delivery(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::public_delivery::PublicDelivery>> {
        super::public_delivery::of_asset(ctx, &self.model).await
    }

    /// Where the subject is (COVER crops anchored at the focal point keep
    /// it); null when none is set.
    async fn focal_point(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::derivatives::FocalPoint>> {
        super::derivatives::focal_point_of(ctx, self.model.id).await
    }

    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(load(ctx, TagsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }

    /// The tags with where each came from (typed by a person, or added by
    /// the worker from the file, its colours or the upload preset's rules).
    async fn tag_details(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AssetTag>> {
        Ok(load(ctx, TagsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|(name, source)| AssetTag { name, source })
            .collect())
    }

    /// Free text describing the asset (searchable).
    async fn description(&self) -> &str {
        &self.model.description
    }

    /// The folder it is filed in; null at the root.
    async fn folder(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Folder>> {
        match self.model.folder_id {
            Some(id) => Ok(load(ctx, FolderId(id)).await?.map(Folder::from)),
            None => Ok(None),
        }
    }

    /// The latest version.
    async fn current_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AssetVersion>> {
        match self.model.current_version_id {
            Some(id) => Ok(load(ctx, VersionId(id)).await?.map(AssetVersion::from)),
            None => Ok(None),
        }
    }

    /// Every version, oldest first.
    #[graphql(complexity = "super::cost::list(super::cost::VERSIONS, child_complexity)")]
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AssetVersion>> {
        Ok(load(ctx, VersionsOf(self.model.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(AssetVersion::from)
            .collect())
    }

    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.created_by).await
    }

    async fn deleted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        internal_user(ctx, self.model.deleted_by).await
    }

    /// A signed URL for the current version's rendition or original, valid
    /// for `ttlSeconds` (default and maximum set by the server; rounded up to
    /// the minute) and only for the caller. Every request to it asks the
    /// access policy again. THUMBNAIL and PREVIEW need VIEW_PREVIEW, LOWRES
    /// DOWNLOAD_LOWRES, ORIGINAL DOWNLOAD_ORIGINAL (served stamped with the
    /// ownership statement). With a `channel` and/or a `territory` (the use
    /// the URL is for: a marketplace feed is MARKETPLACE), every request
    /// also needs a license in force covering that use, for members too.
    #[graphql(complexity = 2)]
    async fn url(
        &self,
        ctx: &Context<'_>,
        kind: DeliveryKind,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<String> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        Ok(crate::delivery::issue(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            kind,
            None,
            ttl_seconds,
            &usage,
        )?)
    }

    /// A signed URL for the current version made by a derivative profile
    /// (by name) at pixel density `dpr` (default 1, one the profile
    /// offers), in `format` (default: the profile's; AUTO answers each
    /// request with the best format its `Accept` header names, AVIF, then
    /// WebP, else JPEG). Needs VIEW_PREVIEW on the asset and the profile's
    /// entitlement (a profile the caller is not entitled to is NOT_FOUND);
    /// both are asked again at every request. The URL stops working (410)
    /// when the profile changes or a new version becomes current.
    #[graphql(complexity = 2)]
    #[allow(clippy::too_many_arguments)]
    async fn derivative_url(
        &self,
        ctx: &Context<'_>,
        profile: String,
        format: Option<crate::services::derivatives::Format>,
        #[graphql(default = 1)] dpr: i32,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<String> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        let links = crate::delivery::issue_derivative(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            &profile,
            format,
            Some(dpr),
            ttl_seconds,
            &usage,
        )
        .await?;
        Ok(links.into_iter().next().map(|l| l.url).unwrap_or_default())
    }

    /// Every pixel density a derivative profile offers, as signed URLs and
    /// as a ready `srcset` attribute (`url 1x, url 2x`); see `derivativeUrl`.
    #[graphql(complexity = 4)]
    async fn derivative_srcset(
        &self,
        ctx: &Context<'_>,
        profile: String,
        format: Option<crate::services::derivatives::Format>,
        ttl_seconds: Option<i64>,
        channel: Option<vitrine_entity::license::Channel>,
        territory: Option<String>,
    ) -> async_graphql::Result<super::derivatives::DerivativeSrcset> {
        let (facts, usage) = self.delivery_facts(ctx, channel, territory).await?;
        let links = crate::delivery::issue_derivative(
            super::state(ctx)?,
            super::auth(ctx)?,
            &self.model,
            facts,
            &profile,
            format,
            None,
            ttl_seconds,
            &usage,
        )
        .await?;
        Ok(super::derivatives::DerivativeSrcset::from(links))
    }

    /// The ownership statement written into this asset's files (its
    /// override over the organisation's profile).
    async fn ownership(&self, ctx: &Context<'_>) -> async_graphql::Result<OwnershipProfile> {
        let state = super::state(ctx)?;
        Ok(crate::services::ownership::effective(state, self.model.id)
            .await?
            .into())
    }

    /// The licenses attached to it (members only; others get an empty list).
    #[graphql(complexity = "super::cost::list(super::cost::LICENSES, child_complexity)")]
    async fn licenses(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::licenses::License>> {
        if !internal(ctx)? {
            return Ok(Vec::new());
        }
        let mut list = load(ctx, AssetLicenses(self.model.id))
            .await?
            .unwrap_or_default();
        list.sort_by_key(|l| (l.ends_at, l.id));
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// When the takedown sweep found it left without a license in force;
    /// null if never, or licensed again since. (Delivery stops at the
    /// license's end whether or not the sweep has run.)
    async fn taken_down_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        load(ctx, TakenDown(self.model.id)).await
    }

    /// Its usage over the UTC days `from`..=`to` (default: from the start
    /// of records to today), live to the last few seconds. Needs VIEW_STATS;
    /// a partner sees only its own organisation's usage.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> async_graphql::Result<super::usage::AssetUsage> {
        let state = super::state(ctx)?;
        let to = to.unwrap_or_else(|| state.clock.now().date_naive());
        let from = from.unwrap_or_else(|| to - chrono::Duration::days(3650));
        let usage = ctx
            .data::<DataLoader<super::usage::UsageLoader>>()?
            .load_one(super::usage::UsageOf {
                asset_id: self.model.id,
                from,
                to,
            })
            .await?;
        Ok(usage.unwrap_or_else(|| super::usage::AssetUsage::from_rows(Vec::new())))
    }

    /// Its license state now, from every license attached to it.
    async fn license_state(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<vitrine_entity::license::LicenseState> {
        let state = super::state(ctx)?;
        let licenses = load(ctx, AssetLicenses(self.model.id))
            .await?
            .unwrap_or_default();
        let terms: Vec<_> = licenses.iter().map(|l| l.terms()).collect();
        Ok(vitrine_entity::license::state(
            &terms,
            state.clock.now(),
            crate::services::licenses::notice(state),
        ))
    }

    /// This asset's own override, if it has one.
    async fn ownership_override(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OwnershipProfile>> {
        if !internal(ctx)? {
            return Ok(None);
        }
        let state = super::state(ctx)?;
        Ok(
            crate::services::ownership::asset_override(state, self.model.id)
                .await?
                .map(Into::into),
        )
    }
}

/// The ownership statement stamped into every delivered file (EXIF, IPTC, XMP).
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct OwnershipProfile {
    pub copyright: Option<String>,
    pub creator: Option<String>,
    pub credit: Option<String>,
    pub source: Option<String>,
    pub usage_terms: Option<String>,
    pub web_statement: Option<String>,
}

impl From<Ownership> for OwnershipProfile {
    fn from(o: Ownership) -> Self {
        Self {
            copyright: o.copyright,
            creator: o.creator,
            credit: o.credit,
            source: o.source,
            usage_terms: o.usage_terms,
            web_statement: o.web_statement,
        }
    }
}

/// Ownership fields; an empty or absent field is unset.
#[derive(InputObject, Debug, Default)]
pub struct OwnershipInput {
    /// EXIF Copyright, IPTC 2:116, XMP dc:rights.
    pub copyright: Option<String>,
    /// EXIF Artist, IPTC 2:80 By-line, XMP dc:creator.
    pub creator: Option<String>,
    /// IPTC 2:110, XMP photoshop:Credit.
    pub credit: Option<String>,
    /// IPTC 2:115, XMP photoshop:Source.
    pub source: Option<String>,
    /// XMP xmpRights:UsageTerms.
    pub usage_terms: Option<String>,
    /// XMP xmpRights:WebStatement (an http(s) URL).
    pub web_statement: Option<String>,
}

impl From<OwnershipInput> for Ownership {
    fn from(i: OwnershipInput) -> Self {
        Ownership {
            copyright: i.copyright,
            creator: i.creator,
            credit: i.credit,
            source: i.source,
            usage_terms: i.usage_terms,
            web_statement: i.web_statement,
        }
    }
}

/// The per-request loader (cached for a request; not across the events of a
/// subscription, which must see the data as it is at each event).
pub type RequestLoader = DataLoader<Loaders, super::loaders::RequestCache>;

fn loader_error(e: std::sync::Arc<sea_orm::DbErr>) -> async_graphql::Error {
    ApiError::Internal(e.to_string().into()).into()
}

/// Loads, in one query per kind, everything the selection under
/// `edges.node` will ask of a page of assets, so that resolving the page
/// costs the same number of statements whatever its size. (Leaving it to the
/// field resolvers would batch too, but a batch can split when resolving a
/// long list yields midway.)
pub async fn prefetch(ctx: &Context<'_>, assets: &[asset::Model]) -> async_graphql::Result<()> {
    if assets.is_empty() {
        return Ok(());
    }
    let loader = ctx.data::<RequestLoader>()?;
    let wants = |path: &[&str]| {
        let mut l = ctx.look_ahead().field("edges").field("node");
        for p in path {
            l = l.field(p);
        }
        l.exists()
    };
    let tags = async {
        if wants(&["tags"]) {
            loader
                .load_many(assets.iter().map(|a| TagsOf(a.id)))
                .await
                .map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let current = async {
        if wants(&["currentVersion"]) {
            let found = loader
                .load_many(
                    assets
                        .iter()
                        .filter_map(|a| a.current_version_id)
                        .map(VersionId),
                )
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let all_versions = async {
        if wants(&["versions"]) {
            let found = loader
                .load_many(assets.iter().map(|a| VersionsOf(a.id)))
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().flatten().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let folders = async {
        if wants(&["folder"]) {
            let found = loader
                .load_many(assets.iter().filter_map(|a| a.folder_id).map(FolderId))
                .await
                .map_err(loader_error)?;
            return Ok(found.into_values().collect::<Vec<_>>());
        }
        Ok::<_, async_graphql::Error>(Vec::new())
    };
    let ((), current, all_versions, folders) =
        futures_util::try_join!(tags, current, all_versions, folders)?;

    let ancestors = async {
        if wants(&["folder", "path"]) || wants(&["folder", "parent"]) {
            let ids: Vec<FolderId> = folders
                .iter()
                .flat_map(|f| f.lineage())
                .map(FolderId)
                .collect();
            loader.load_many(ids).await.map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let users = async {
        let mut ids = Vec::new();
        if wants(&["createdBy"]) {
            ids.extend(assets.iter().filter_map(|a| a.created_by));
        }
        if wants(&["deletedBy"]) {
            ids.extend(assets.iter().filter_map(|a| a.deleted_by));
        }
        for (field, versions) in [("currentVersion", &current), ("versions", &all_versions)] {
            if wants(&[field, "uploadedBy"]) {
                ids.extend(versions.iter().filter_map(|v| v.uploaded_by));
            }
            if wants(&[field, "approvedBy"]) {
                ids.extend(versions.iter().filter_map(|v| v.approved_by));
            }
        }
        if !ids.is_empty() {
            loader
                .load_many(ids.into_iter().map(UserId))
                .await
                .map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let renditions = async {
        let mut ids = Vec::new();
        for (field, versions) in [("currentVersion", &current), ("versions", &all_versions)] {
            if wants(&[field, "renditions"]) {
                ids.extend(versions.iter().map(|v| RenditionsOf(v.id)));
            }
        }
        if !ids.is_empty() {
            loader.load_many(ids).await.map_err(loader_error)?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    futures_util::try_join!(ancestors, users, renditions)?;
    Ok(())
}

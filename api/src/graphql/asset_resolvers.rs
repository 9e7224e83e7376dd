//! Queries and mutations of the asset library.

use async_graphql::{Context, ID, Object, Upload};

use super::asset_types::{
    AccessGrant, Asset, AssetConnection, AssetFilter, AssetOrder, AssetVersion, CreateFolderInput,
    Folder, GrantSubjectInput, OwnershipInput, OwnershipProfile, Paging, SetAccessInput,
    UpdateAssetInput, UploadAssetInput, UploadVersionInput, asset_connection, page_request,
    prefetch,
};
use super::{auth, meta, parse_id, state};
use crate::error::ApiError;
use crate::http::upload::ReceivedFiles;
use crate::services::assets::{self, AssetPatch, IncomingFile, NewAsset, Order};
use crate::services::{access, folders, ownership};
use vitrine_entity::GrantLevel;
use vitrine_entity::policy::Subject;

#[derive(Default)]
pub struct AssetQuery;

#[Object]
impl AssetQuery {
    /// One folder.
    async fn folder(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Folder> {
        let id = parse_id(&id, "id")?;
        Ok(folders::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }

    /// The folders directly under `parentId`, or the root folders, by name.
    #[graphql(complexity = "super::cost::list(super::cost::SHORT_LIST, child_complexity)")]
    async fn folders(
        &self,
        ctx: &Context<'_>,
        parent_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Folder>> {
        let parent = parent_id
            .as_ref()
            .map(|id| parse_id(id, "parentId"))
            .transpose()?;
        Ok(folders::children(state(ctx)?, &auth(ctx)?.actor, parent)
            .await?
            .into_iter()
            .map(Folder::from)
            .collect())
    }

    /// One asset (not in the trash).
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Asset> {
        let id = parse_id(&id, "id")?;
        Ok(assets::get(state(ctx)?, &auth(ctx)?.actor, id)
            .await?
            .into())
    }

    /// Assets, filtered and ordered (newest first by default), as a cursor
    /// connection. Pages stay stable while assets are added.
    /// Page forwards with `first`/`after`, or backwards with `last`/`before`
    /// (the page ends just before `before`, or at the end of the listing).
    #[graphql(complexity = "super::cost::page(first.or(last), child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        filter: Option<AssetFilter>,
        order_by: Option<AssetOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<AssetConnection> {
        let filter = filter.unwrap_or_default();
        let service_filter = filter.to_service()?;
        let order = Order::from(order_by);
        let paging = Paging {
            first,
            after,
            last,
            before,
        };
        let request = page_request(ctx, &paging)?;
        let page = assets::list(
            state(ctx)?,
            &auth(ctx)?.actor,
            &service_filter,
            order,
            request,
        )
        .await?;
        prefetch(ctx, &page.rows).await?;
        Ok(asset_connection(page, order))
    }

    /// The organisation's ownership statement, written into every delivered file.
    async fn ownership_profile(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<OwnershipProfile> {
        Ok(ownership::organisation(state(ctx)?, &auth(ctx)?.actor)
            .await?
            .into())
    }

    /// Deleted assets, most recently deleted first (for those who may restore them).
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn trash(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AssetConnection> {
        let paging = Paging {
            first,
            after,
            ..Paging::default()
        };
        let request = page_request(ctx, &paging)?;
        let page = assets::trash(state(ctx)?, &auth(ctx)?.actor, request).await?;
        let order = Order {
            field: assets::OrderField::DeletedAt,
            descending: true,
        };
        prefetch(ctx, &page.rows).await?;
        Ok(asset_connection(page, order))
    }
}

/// The received file behind an `Upload` argument.
fn incoming<'a>(ctx: &'a Context<'_>, file: &Upload) -> Result<IncomingFile<'a>, ApiError> {
    let files = ctx
        .data::<ReceivedFiles>()
        .map_err(|_| ApiError::BadUserInput("send files as a multipart request".into()))?;
    let received = files.get(file).ok_or_else(|| {
        ApiError::BadUserInput("the file is missing from the multipart request".into())
    })?;
    Ok(IncomingFile {
        path: &received.path,
        sha256: &received.sha256,
        size: received.size,
        filename: received.filename.as_deref(),
    })
}

#[derive(Default)]
pub struct AssetMutation;

#[Object]
impl AssetMutation {
    async fn create_folder(
        &self,
        ctx: &Context<'_>,
        input: CreateFolderInput,
    ) -> async_graphql::Result<Folder> {
        let parent = input
            .parent_id
            .as_ref()
            .map(|id| parse_id(id, "parentId"))
            .transpose()?;
        Ok(folders::create(
            state(ctx)?,
            &auth(ctx)?.actor,
            parent,
            &input.name,
            &meta(ctx),
        )
        .await?
        .into())
    }

    async fn rename_folder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
    ) -> async_graphql::Result<Folder> {
        let id = parse_id(&id, "id")?;
        Ok(
            folders::rename(state(ctx)?, &auth(ctx)?.actor, id, &name, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Moves a folder with everything below it; a null parent moves it to
    /// the root. Moving a folder into its own subtree is refused.
    async fn move_folder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        parent_id: Option<ID>,
    ) -> async_graphql::Result<Folder> {
        let id = parse_id(&id, "id")?;
        let parent = parent_id
            .as_ref()
            .map(|p| parse_id(p, "parentId"))
            .transpose()?;
        Ok(
            folders::move_to(state(ctx)?, &auth(ctx)?.actor, id, parent, &meta(ctx))
                .await?
                .into(),
        )
    }

    /// Deletes an empty folder (no subfolder, no asset, not even in the trash).
    async fn delete_folder(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let id = parse_id(&id, "id")?;
        Ok(folders::delete(state(ctx)?, &auth(ctx)?.actor, id, &meta(ctx)).await?)
    }

    /// Creates an asset from a file (JPEG, PNG, WebP or TIFF), sent as a
    /// GraphQL multipart request. The file is checked completely before
    /// anything is kept; a refused file gets BAD_USER_INPUT naming what it is.
    async fn upload_asset(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        input: Option<UploadAssetInput>,
    ) -> async_graphql::Result<Asset> {
        let input = input.unwrap_or_default();
        let new = NewAsset {
            preset_id: input
                .preset_id
                .as_ref()
                .map(|id| parse_id(id, "presetId"))
                .transpose()?,
            folder_id: input
                .folder_id
                .as_ref()
                .map(|id| parse_id(id, "folderId"))
                .transpose()?,
            title: input.title,
            description: input.description,
            tags: input.tags,
            stage: input.stage,
            note: input.note,
        };
        let file = incoming(ctx, &file)?;
        let (asset, _) =
            assets::upload_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), file, new).await?;
        Ok(asset.into())
    }

    /// Adds a version to an asset; it becomes the current version.
    async fn upload_version(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        file: Upload,
        input: Option<UploadVersionInput>,
    ) -> async_graphql::Result<AssetVersion> {
        let asset_id = parse_id(&asset_id, "assetId")?;
        let input = input.unwrap_or_default();
        let file = incoming(ctx, &file)?;
        Ok(assets::upload_version(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            asset_id,
            file,
            input.stage,
            input.note,
        )
        .await?
        .into())
    }

    /// Records who approved a FINAL version and when (managers and admins).
    async fn approve_version(
        &self,
        ctx: &Context<'_>,
        version_id: ID,
    ) -> async_graphql::Result<AssetVersion> {
        let id = parse_id(&version_id, "versionId")?;
        Ok(
            assets::approve_version(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id)
                .await?
                .into(),
        )
    }

    /// Makes an earlier version current by adding a new version with its
    /// bytes; history is never rewritten.
    async fn restore_version(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        number: i32,
    ) -> async_graphql::Result<AssetVersion> {
        let id = parse_id(&asset_id, "assetId")?;
        Ok(
            assets::restore_version(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id, number)
                .await?
                .into(),
        )
    }

    /// Renames, retags or moves an asset.
    async fn update_asset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAssetInput,
    ) -> async_graphql::Result<Asset> {
        let id = parse_id(&id, "id")?;
        let folder_id = match input.folder_id {
            async_graphql::MaybeUndefined::Undefined => None,
            async_graphql::MaybeUndefined::Null => Some(None),
            async_graphql::MaybeUndefined::Value(f) => Some(Some(parse_id(&f, "folderId")?)),
        };
        let patch = AssetPatch {
            title: input.title,
            description: input.description,
            tags: input.tags,
            folder_id,
        };
        Ok(
            assets::update_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id, patch)
                .await?
                .into(),
        )
    }

    /// Moves an asset to the trash.
    async fn delete_asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Asset> {
        let id = parse_id(&id, "id")?;
        Ok(
            assets::delete_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id)
                .await?
                .into(),
        )
    }

    /// Brings an asset back from the trash.
    async fn restore_asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Asset> {
        let id = parse_id(&id, "id")?;
        Ok(
            assets::restore_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id)
                .await?
                .into(),
        )
    }

    /// Replaces the organisation's ownership statement (admins); stored
    /// renditions are re-tagged in the background.
    async fn update_ownership_profile(
        &self,
        ctx: &Context<'_>,
        input: OwnershipInput,
    ) -> async_graphql::Result<OwnershipProfile> {
        Ok(
            ownership::update_organisation(
                state(ctx)?,
                &auth(ctx)?.actor,
                &meta(ctx),
                input.into(),
            )
            .await?
            .into(),
        )
    }

    /// Sets an asset's own ownership statement (fields left empty fall back to
    /// the organisation's; all empty removes the override). Needs
    /// MANAGE_LICENSES.
    async fn set_asset_ownership(
        &self,
        ctx: &Context<'_>,
        asset_id: ID,
        input: OwnershipInput,
    ) -> async_graphql::Result<Asset> {
        let id = parse_id(&asset_id, "assetId")?;
        let state = state(ctx)?;
        let actor = &auth(ctx)?.actor;
        ownership::set_asset_override(state, actor, &meta(ctx), id, input.into()).await?;
        Ok(assets::get(state, actor, id).await?.into())
    }

    /// Gives a user or a partner organisation a level on a folder and
    /// everything below it (or changes the level it has there). Needs
    /// MANAGE_ACCESS on the folder.
    async fn grant_access(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        subject: GrantSubjectInput,
        level: GrantLevel,
    ) -> async_graphql::Result<AccessGrant> {
        let folder_id = parse_id(&folder_id, "folderId")?;
        let subject = Subject {
            kind: subject.kind,
            id: parse_id(&subject.id, "subject.id")?,
        };
        Ok(access::grant(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            folder_id,
            subject,
            level,
        )
        .await?
        .into())
    }

    /// Takes a grant away; already-issued delivery URLs stop working at their
    /// next request. Says whether there was a grant.
    async fn revoke_access(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        subject: GrantSubjectInput,
    ) -> async_graphql::Result<bool> {
        let folder_id = parse_id(&folder_id, "folderId")?;
        let subject = Subject {
            kind: subject.kind,
            id: parse_id(&subject.id, "subject.id")?,
        };
        Ok(access::revoke(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            folder_id,
            subject,
        )
        .await?)
    }

    /// Makes a folder a restricted (pre-launch) collection, or an ordinary
    /// one again. Needs MANAGE_ACCESS on it.
    async fn set_folder_restricted(
        &self,
        ctx: &Context<'_>,
        folder_id: ID,
        restricted: bool,
    ) -> async_graphql::Result<Folder> {
        let folder_id = parse_id(&folder_id, "folderId")?;
        Ok(access::set_restricted(
            state(ctx)?,
            &auth(ctx)?.actor,
            &meta(ctx),
            folder_id,
            restricted,
        )
        .await?
        .into())
    }

    /// Sets the access mode and publication window of up to 500 assets at
    /// once (MANAGE_ACCESS on every one; all or nothing).
    #[graphql(complexity = "super::cost::list(super::cost::SET_ACCESS, child_complexity)")]
    async fn set_access(
        &self,
        ctx: &Context<'_>,
        input: SetAccessInput,
    ) -> async_graphql::Result<Vec<Asset>> {
        let ids = input
            .asset_ids
            .iter()
            .map(|id| parse_id(id, "assetIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let setting = access::AccessSetting {
            mode: input.mode,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
        };
        Ok(
            access::set_access(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), &ids, setting)
                .await?
                .into_iter()
                .map(Asset::from)
                .collect(),
        )
    }

    /// Removes a trashed asset for good, with the stored originals no other
    /// version uses (admins). Returns how many originals were deleted.
    async fn purge_asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<u64> {
        let id = parse_id(&id, "id")?;
        Ok(assets::purge_asset(state(ctx)?, &auth(ctx)?.actor, &meta(ctx), id).await?)
    }
}

//! What a share link shows its visitors, decided at each request: the
//! assets it lists, what its folder holds, or what its smart folder's search
//! finds (run as the link's creator) — each asset then still decided by the
//! policy with the link's facts, including what the creator may share now.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;
use vitrine_entity::entities::{asset, folder, share_link, share_link_asset, smart_folder, user};
use vitrine_entity::license::Usage;
use vitrine_entity::policy::{
    Action, Actor, CreatorRights, LinkFacts, Resource, SmartFolderAction, authorize,
    authorize_smart_folder,
};

use crate::error::{ApiError, ApiResult};
use crate::services::search::{SearchOrder, SearchOrderField};
use crate::services::share_links::MAX_PAGE_ASSETS;
use crate::services::{access, smart_folders};
use crate::state::AppState;

/// What a link selects, before the policy decides each asset.
enum Selection {
    /// The assets it lists.
    Listed,
    /// What the folder with this ancestry holds (`None`: the folder is gone).
    Folder(Option<String>),
    /// What this smart folder's search finds, run as the creator (`None`:
    /// the folder is gone, or its creator may no longer share it).
    Search(Option<smart_folder::Model>),
}

/// What is needed to decide many assets for one link's visitors: the link,
/// what it selects, and its creator as an actor with its grants (read once,
/// then every asset is decided in memory).
struct LinkContext {
    link: share_link::Model,
    selection: Selection,
    creator: Option<(Actor, vitrine_entity::access::AccessMap)>,
}

impl LinkContext {
    async fn load<C: ConnectionTrait>(conn: &C, link: share_link::Model) -> ApiResult<Self> {
        let creator = match user::Entity::find_by_id(link.created_by).one(conn).await? {
            Some(u) => match crate::services::auth::actor_of_user(conn, &u).await? {
                Ok(actor) => {
                    let map = access::load_map(conn, &actor).await?;
                    Some((actor, map))
                }
                Err(_) => None,
            },
            None => None,
        };
        let selection = match (link.folder_id, link.smart_folder_id) {
            (Some(id), _) => Selection::Folder(
                folder::Entity::find_by_id(id)
                    .one(conn)
                    .await?
                    .map(|f| f.ancestry),
            ),
            (None, Some(id)) => {
                let found = smart_folder::Entity::find_by_id(id).one(conn).await?;
                // The creator must still be allowed to share the folder
                // (it may have been unshared from them since).
                Selection::Search(found.filter(|f| {
                    creator.as_ref().is_some_and(|(actor, _)| {
                        authorize_smart_folder(actor, SmartFolderAction::Share, &f.facts()).is_ok()
                    })
                }))
            }
            (None, None) => Selection::Listed,
        };
        Ok(Self {
            link,
            selection,
            creator,
        })
    }

    /// Whether the link lists `asset_id` or its search finds it (see
    /// [`Self::facts`]; folder links decide by ancestry there).
    async fn selected<C: ConnectionTrait>(
        &self,
        state: &AppState,
        conn: &C,
        asset_id: Uuid,
    ) -> ApiResult<bool> {
        match self.selection {
            Selection::Listed => Ok(
                share_link_asset::Entity::find_by_id((self.link.id, asset_id))
                    .one(conn)
                    .await?
                    .is_some(),
            ),
            Selection::Search(Some(_)) => self.search_finds(state, asset_id).await,
            Selection::Folder(_) | Selection::Search(None) => Ok(false),
        }
    }

    /// Whether the smart folder's search, run as the creator, finds
    /// `asset_id` now. A search that no longer runs for the creator (a
    /// folder of its filter gone from their view) finds nothing.
    async fn search_finds(&self, state: &AppState, asset_id: Uuid) -> ApiResult<bool> {
        let (Selection::Search(Some(folder)), Some((creator, _))) =
            (&self.selection, &self.creator)
        else {
            return Ok(false);
        };
        // Boxed: the search may decide a reference asset (`similarTo`) with
        // the same policy code that called here (for the creator, never a
        // visitor, so the recursion stops at one level).
        match Box::pin(smart_folders::contains(state, creator, folder, asset_id)).await {
            Ok(found) => Ok(found),
            Err(e) if refused(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The link facts of `asset` (filed under `ancestry`); `selected`:
    /// whether the link lists it, or its search finds it (links of assets
    /// and of smart folders).
    fn facts(
        &self,
        asset: &asset::Model,
        ancestry: Option<&str>,
        selected: bool,
        now: DateTime<Utc>,
    ) -> LinkFacts {
        let includes = match &self.selection {
            Selection::Folder(Some(prefix)) => {
                ancestry.is_some_and(|a| a.starts_with(prefix.as_str()))
            }
            Selection::Folder(None) | Selection::Search(None) => false,
            Selection::Listed | Selection::Search(Some(_)) => selected,
        };
        let creator = match &self.creator {
            Some((actor, map)) => {
                // The visitor's own decision checks the licenses; the
                // creator's rights are about access alone.
                let mut facts = map.asset_facts(ancestry, asset);
                facts.licensing = Some(vitrine_entity::policy::Licensing {
                    unlicensed_allowed: true,
                    ..Default::default()
                });
                let resource = Resource::Asset(facts);
                let may = |action| authorize(actor, action, &resource, now).is_ok();
                CreatorRights {
                    share: may(Action::Share),
                    preview: may(Action::ViewPreview),
                    lowres: may(Action::DownloadLowres),
                    original: may(Action::DownloadOriginal),
                }
            }
            None => CreatorRights::default(),
        };
        LinkFacts {
            scope: self.link.scope,
            revoked: self.link.revoked_at.is_some(),
            starts_at: self.link.starts_at,
            expires_at: self.link.expires_at,
            // A visit already admitted was counted when it opened.
            views_left: true,
            downloads_left: self.link.downloads_left(),
            includes,
            creator,
        }
    }
}

/// A refusal of the creator's search (what it names is out of their view
/// now, say): the link then shows nothing, and the visitor learns no more.
fn refused(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::NotFound(_) | ApiError::Forbidden(_) | ApiError::BadUserInput(_)
    )
}

/// The link facts of `asset` for a visitor of `link_id` (see the policy),
/// and the use the link is for.
pub async fn link_facts<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    link_id: Uuid,
    asset: &asset::Model,
    ancestry: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<Option<(LinkFacts, Usage)>> {
    let Some(link) = share_link::Entity::find_by_id(link_id).one(conn).await? else {
        return Ok(None);
    };
    let usage = link.usage();
    let context = LinkContext::load(conn, link).await?;
    let selected = context.selected(state, conn, asset.id).await?;
    Ok(Some((context.facts(asset, ancestry, selected, now), usage)))
}

/// Whether `link` selects `asset` now (lists it, holds it in its folder, or
/// its search finds it), before any other decision.
pub async fn selects<C: ConnectionTrait>(
    state: &AppState,
    conn: &C,
    link: share_link::Model,
    asset: &asset::Model,
) -> ApiResult<bool> {
    let ancestry = access::folder_ancestry(conn, asset.folder_id).await?;
    let context = LinkContext::load(conn, link).await?;
    let selected = context.selected(state, conn, asset.id).await?;
    Ok(context
        .facts(asset, ancestry.as_deref(), selected, state.clock.now())
        .includes)
}

/// The first [`MAX_PAGE_ASSETS`] of `query`, newest first.
async fn newest_first<C: ConnectionTrait>(
    conn: &C,
    query: sea_orm::Select<asset::Entity>,
) -> ApiResult<Vec<asset::Model>> {
    Ok(query
        .order_by_desc(asset::Column::CreatedAt)
        .order_by_desc(asset::Column::Id)
        .limit(MAX_PAGE_ASSETS)
        .all(conn)
        .await?)
}

/// The assets a visitor of `link` may see now, newest first (at most
/// [`MAX_PAGE_ASSETS`]): listed, in the folder or found by the smart
/// folder's search; not trashed, published, and still within what the
/// creator may share. A fixed number of queries, whatever the number of
/// assets.
pub async fn deliverable(
    state: &AppState,
    link: &share_link::Model,
) -> ApiResult<Vec<asset::Model>> {
    let db = &state.db;
    let now = state.clock.now();
    let context = LinkContext::load(db, link.clone()).await?;
    let unlicensed_allowed = state.config.license_unlicensed_deliverable;
    let narrowing = sea_orm::Condition::all()
        .add(asset::Column::DeletedAt.is_null())
        .add(access::published_at(now))
        .add(vitrine_entity::entities::license::licensed_at(
            now,
            &link.usage(),
            unlicensed_allowed,
        ));
    let query = asset::Entity::find().filter(narrowing.clone());
    let candidates = match (&context.selection, &context.creator) {
        (Selection::Folder(None) | Selection::Search(None), _) | (Selection::Search(_), None) => {
            return Ok(Vec::new());
        }
        (Selection::Search(Some(folder)), Some((creator, _))) => {
            let page = match smart_folders::plan(state, creator, folder).await {
                Ok(plan) => {
                    plan.narrowed(narrowing)
                        .page(
                            state,
                            SearchOrder {
                                field: SearchOrderField::CreatedAt,
                                descending: true,
                            },
                            None,
                            MAX_PAGE_ASSETS,
                        )
                        .await?
                }
                Err(e) if refused(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            page.hits.into_iter().map(|h| h.asset).collect()
        }
        (Selection::Folder(Some(prefix)), _) => {
            newest_first(
                db,
                query.filter(
                    asset::Column::FolderId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(folder::Column::Id)
                            .from(folder::Entity)
                            .and_where(access::like_prefix(prefix))
                            .to_owned(),
                    ),
                ),
            )
            .await?
        }
        (Selection::Listed, _) => {
            newest_first(
                db,
                query.filter(
                    asset::Column::Id.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(share_link_asset::Column::AssetId)
                            .from(share_link_asset::Entity)
                            .and_where(share_link_asset::Column::LinkId.eq(link.id))
                            .to_owned(),
                    ),
                ),
            )
            .await?
        }
    };
    let folder_ids: Vec<Uuid> = candidates.iter().filter_map(|a| a.folder_id).collect();
    let ancestries: std::collections::HashMap<Uuid, String> = folder::Entity::find()
        .select_only()
        .column(folder::Column::Id)
        .column(folder::Column::Ancestry)
        .filter(folder::Column::Id.is_in(folder_ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let visitor = Actor::Visitor {
        share_link_id: link.id,
    };
    let visitor_map = access::load_map(db, &visitor).await?;
    let ids: Vec<Uuid> = candidates.iter().map(|a| a.id).collect();
    let mut licenses = crate::services::licenses::of_assets(db, &ids).await?;
    Ok(candidates
        .into_iter()
        .filter(|a| {
            let ancestry = a
                .folder_id
                .and_then(|f| ancestries.get(&f))
                .map(String::as_str);
            let mut facts = visitor_map.asset_facts(ancestry, a);
            facts.licensing = Some(access::licensing_of(
                licenses.remove(&a.id).unwrap_or_default(),
                unlicensed_allowed,
                link.usage(),
            ));
            // The candidates are what the link lists or its search found.
            facts.link = Some(context.facts(a, ancestry, true, now));
            authorize(&visitor, Action::ViewPreview, &Resource::Asset(facts), now).is_ok()
        })
        .collect())
}

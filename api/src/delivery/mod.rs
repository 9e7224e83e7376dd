//! Protected delivery: signed URLs under `/r/`, decided again at every
//! request.
//!
//! A URL carries the asset, version, rendition and the holder it was issued
//! to, and an expiry, signed with HMAC-SHA256 ([`signing`]). At each request
//! the route verifies the signature, then asks the policy again with the
//! holder's current state (session alive, account enabled, organisation
//! allowlisted) and the asset's current facts (grants, restricted folders,
//! access mode and window, trash). Those facts are cached per URL, stamped
//! with the access epoch they were read at; the group commit that records the
//! delivery ([`batcher`]) confirms that epoch is still the database's before
//! the bytes go out.

pub mod batcher;
pub mod derivative;
pub mod negotiate;
pub mod payload;
pub mod public;
pub mod signing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use vitrine_entity::license::Usage;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, asset_focal_point, asset_version, derivative_profile, rendition,
};
use vitrine_entity::policy::{
    Action, Actor, AssetFacts, Denial, Resource, authorize, authorize_profile,
};
use vitrine_entity::{AuditAction, RenditionKind};
use vitrine_worker::derived::{etag_of, original_etag};
use vitrine_worker::tagging::Ownership;

use crate::error::{ApiError, ApiResult};
use crate::services::access;
use crate::state::AppState;
use signing::{Claims, Holder, Keyring};

/// What a delivery URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryKind {
    /// The small square-ish rendition for grids (VIEW_PREVIEW).
    Thumbnail,
    /// The screen-size rendition (VIEW_PREVIEW).
    Preview,
    /// The low-resolution download (DOWNLOAD_LOWRES).
    Lowres,
    /// The original file, stamped with the ownership statement (DOWNLOAD_ORIGINAL).
    Original,
    /// A derivative profile's image (VIEW_PREVIEW and the profile's
    /// entitlement): issued by `Asset.derivativeUrl`, not by `Asset.url`.
    #[graphql(visible = false)]
    Derivative,
}

impl DeliveryKind {
    fn code(self) -> u8 {
        match self {
            DeliveryKind::Thumbnail => 1,
            DeliveryKind::Preview => 2,
            DeliveryKind::Lowres => 3,
            DeliveryKind::Original => 4,
            DeliveryKind::Derivative => 5,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => DeliveryKind::Thumbnail,
            2 => DeliveryKind::Preview,
            3 => DeliveryKind::Lowres,
            4 => DeliveryKind::Original,
            5 => DeliveryKind::Derivative,
            _ => return None,
        })
    }

    /// What the policy must allow.
    pub fn action(self) -> Action {
        match self {
            DeliveryKind::Thumbnail | DeliveryKind::Preview | DeliveryKind::Derivative => {
                Action::ViewPreview
            }
            DeliveryKind::Lowres => Action::DownloadLowres,
            DeliveryKind::Original => Action::DownloadOriginal,
        }
    }

    pub fn rendition(self) -> Option<RenditionKind> {
        match self {
            DeliveryKind::Thumbnail => Some(RenditionKind::Thumbnail),
            DeliveryKind::Preview => Some(RenditionKind::Preview),
            DeliveryKind::Lowres => Some(RenditionKind::Lowres),
            DeliveryKind::Original | DeliveryKind::Derivative => None,
        }
    }

    /// How a served request is recorded.
    pub fn audit_action(self) -> AuditAction {
        match self {
            DeliveryKind::Thumbnail | DeliveryKind::Preview | DeliveryKind::Derivative => {
                AuditAction::RenditionViewed
            }
            DeliveryKind::Lowres => AuditAction::LowresDownloaded,
            DeliveryKind::Original => AuditAction::OriginalDownloaded,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            DeliveryKind::Thumbnail => "thumbnail",
            DeliveryKind::Preview => "preview",
            DeliveryKind::Lowres => "lowres",
            DeliveryKind::Original => "original",
            DeliveryKind::Derivative => "derivative",
        }
    }

    /// Downloads are attachments; previews display inline.
    pub fn is_download(self) -> bool {
        matches!(self, DeliveryKind::Lowres | DeliveryKind::Original)
    }
}

/// The file behind a URL, as far as the database says.
#[derive(Debug, Clone)]
pub enum Served {
    Rendition {
        key: String,
        bytes: u64,
        etag: String,
        filename: String,
    },
    Original {
        sha256: String,
        media_type: String,
        etag: String,
        filename: String,
        ownership: Ownership,
        asset_id: Uuid,
        version_number: i32,
        orientation: u16,
    },
    /// A derivative (made on first request if need be).
    Derivative(Arc<derivative::Source>),
    /// The rendition is not made yet.
    NotReady,
    /// The URL's version is no longer the asset's current one.
    Superseded,
}

/// Everything a decision needs, read at `epoch`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub epoch: i64,
    pub actor: Actor,
    /// `None`: the asset is gone.
    pub facts: Option<AssetFacts>,
    pub served: Served,
}

/// Why a request gets no bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Bad or unknown signature, malformed token.
    Forged,
    Expired,
    /// The policy said no (or the asset is gone).
    Denied(Option<Denial>),
    Superseded,
    NotReady,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Forged => "invalid signature",
            Refusal::Expired => "expired",
            Refusal::Denied(_) => "not permitted",
            Refusal::Superseded => "superseded by a newer version",
            Refusal::NotReady => "not ready yet",
        }
    }
}

impl Resolved {
    /// The decision at `now`: what to serve, or why not.
    pub fn decide(&self, kind: DeliveryKind, now: DateTime<Utc>) -> Result<&Served, Refusal> {
        let Some(facts) = &self.facts else {
            return Err(Refusal::Denied(None));
        };
        let resource = Resource::Asset(facts.clone());
        authorize(&self.actor, Action::ViewMetadata, &resource, now)
            .and_then(|()| authorize(&self.actor, kind.action(), &resource, now))
            .map_err(|d| Refusal::Denied(Some(d)))?;
        // A derivative also needs the holder entitled to its profile.
        if let Served::Derivative(source) = &self.served {
            authorize_profile(
                &self.actor,
                &crate::services::derivatives::facts(&source.profile),
            )
            .map_err(|d| Refusal::Denied(Some(d)))?;
        }
        match &self.served {
            Served::NotReady => Err(Refusal::NotReady),
            Served::Superseded => Err(Refusal::Superseded),
            served => Ok(served),
        }
    }

    /// How long a client may keep the response: never past the URL's expiry
    /// nor the end of the asset's publication window.
    pub fn max_age(&self, claims: &Claims, now: DateTime<Utc>) -> i64 {
        let mut until = claims.expires_at;
        if let Some(end) = self.facts.as_ref().and_then(|f| f.ends_at) {
            until = until.min(end.timestamp());
        }
        // Partners and visitors: never past the end of the license coverage.
        if let Some(end) = self
            .facts
            .as_ref()
            .and_then(|f| f.licensing.as_ref())
            .and_then(|l| l.covered_until(now))
        {
            until = until.min(end.timestamp());
        }
        (until - now.timestamp()).max(0)
    }
}

/// Small files kept in memory, up to a total size.
#[derive(Debug, Default)]
struct BytesCache {
    entries: HashMap<String, Bytes>,
    total: usize,
}

impl BytesCache {
    fn insert(&mut self, key: String, value: Bytes, limit: usize) {
        if value.len() > limit / 16 {
            return;
        }
        if self.total + value.len() > limit {
            // Forget about a quarter: cheap, and hot entries come back at once.
            let target = limit * 3 / 4;
            let victims: Vec<String> = self.entries.keys().cloned().collect();
            for k in victims {
                if self.total <= target {
                    break;
                }
                if let Some(v) = self.entries.remove(&k) {
                    self.total -= v.len();
                }
            }
        }
        self.total += value.len();
        if let Some(old) = self.entries.insert(key, value) {
            self.total -= old.len();
        }
    }
}

/// URLs that differ only by expiry share their decision inputs.
fn cache_key(claims: &Claims) -> Claims {
    Claims {
        expires_at: 0,
        ..*claims
    }
}

/// The most decisions kept; beyond it the cache starts over.
const MAX_DECISIONS: usize = 100_000;

/// Delivery state shared by the GraphQL resolvers (which issue URLs) and the
/// `/r/` route (which serves them).
pub struct Delivery {
    pub keys: Keyring,
    pub batcher: batcher::Batcher,
    decisions: RwLock<HashMap<Claims, Arc<Resolved>>>,
    files: Mutex<BytesCache>,
    /// When each URL's last refusal was recorded (minute), so that one
    /// refused URL asked again and again records one event a minute.
    refusals: Mutex<HashMap<Claims, i64>>,
    cache_bytes: usize,
    /// Stamped originals being made.
    pub stamping: payload::Stamping,
    /// Derivatives being made.
    pub rendering: derivative::InFlight,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("keys", &self.keys)
            .field("batcher", &self.batcher)
            .finish()
    }
}

impl Delivery {
    pub fn new(keys: Keyring, batcher: batcher::Batcher, cache_bytes: usize) -> Self {
        Self {
            keys,
            batcher,
            decisions: RwLock::new(HashMap::new()),
            files: Mutex::new(BytesCache::default()),
            refusals: Mutex::new(HashMap::new()),
            cache_bytes,
            stamping: payload::Stamping::default(),
            rendering: derivative::InFlight::default(),
        }
    }

    /// The cached decision inputs for a URL, unless known to be stale.
    pub fn cached(&self, claims: &Claims) -> Option<Arc<Resolved>> {
        let known = self.batcher.known_epoch();
        let map = self.decisions.read().ok()?;
        map.get(&cache_key(claims))
            .filter(|r| r.epoch >= known)
            .cloned()
    }

    pub fn remember(&self, claims: &Claims, resolved: Arc<Resolved>) {
        if let Ok(mut map) = self.decisions.write() {
            if map.len() >= MAX_DECISIONS {
                map.clear();
            }
            map.insert(cache_key(claims), resolved);
        }
    }

    pub fn forget(&self, claims: &Claims) {
        if let Ok(mut map) = self.decisions.write() {
            map.remove(&cache_key(claims));
        }
    }

    /// Whether to record this refusal (at most one a minute per URL).
    pub fn should_record_refusal(&self, claims: &Claims, now: DateTime<Utc>) -> bool {
        let minute = now.timestamp().div_euclid(60);
        let Ok(mut seen) = self.refusals.lock() else {
            return true;
        };
        if seen.len() >= MAX_DECISIONS {
            seen.clear();
        }
        seen.insert(*claims, minute) != Some(minute)
    }

    /// The largest file kept in memory.
    pub fn small_file_limit(&self) -> usize {
        self.cache_bytes / 16
    }

    pub fn cached_file(&self, key: &str) -> Option<Bytes> {
        self.files.lock().ok()?.entries.get(key).cloned()
    }

    pub fn remember_file(&self, key: String, bytes: Bytes) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(key, bytes, self.cache_bytes);
        }
    }
}

/// The holder `actor` gets URLs as, given its session.
pub fn holder_of(actor: &Actor, session_id: Option<Uuid>) -> Option<Holder> {
    match (actor, session_id) {
        (Actor::Member { user_id, .. } | Actor::Partner { user_id, .. }, Some(session_id)) => {
            Some(Holder::User {
                user_id: *user_id,
                session_id,
            })
        }
        _ => None,
    }
}

/// Issues a delivery URL for the current version of `asset`, whose policy
/// facts for the asking actor are `facts`. The expiry is rounded up to the
/// minute, so that a page asked again within the minute gets the same URLs
/// (and the browser's cached copies).
#[allow(clippy::too_many_arguments)]
pub fn issue(
    state: &AppState,
    auth: &crate::state::Auth,
    asset: &asset::Model,
    facts: AssetFacts,
    kind: DeliveryKind,
    variant: Option<signing::Variant>,
    ttl_seconds: Option<i64>,
    usage: &Usage,
) -> ApiResult<String> {
    if variant.is_some() != (kind == DeliveryKind::Derivative) {
        return Err(ApiError::BadUserInput(
            "derivative URLs come from Asset.derivativeUrl".into(),
        ));
    }
    let now = state.clock.now();
    let not_found = || ApiError::NotFound("no such asset".into());
    let resource = Resource::Asset(facts);
    authorize(&auth.actor, Action::ViewMetadata, &resource, now)
        .map_err(|d| access::denied(d, not_found))?;
    authorize(&auth.actor, kind.action(), &resource, now)
        .map_err(|d| access::denied(d, not_found))?;
    let holder = holder_of(&auth.actor, auth.session_id)
        .ok_or_else(|| ApiError::Unauthenticated("authentication required".into()))?;
    let version_id = asset.current_version_id.ok_or_else(not_found)?;
    let config = &state.config.delivery;
    let max = i64::try_from(config.max_ttl.as_secs()).unwrap_or(i64::MAX);
    let ttl = match ttl_seconds {
        None => i64::try_from(config.default_ttl.as_secs()).unwrap_or(max),
        Some(t) if (1..=max).contains(&t) => t,
        Some(_) => {
            return Err(ApiError::BadUserInput(format!(
                "ttlSeconds must be between 1 and {max}"
            )));
        }
    };
    let expires_at = (now.timestamp() + ttl + 59).div_euclid(60) * 60;
    let token = state.delivery.keys.sign(&Claims {
        asset_id: asset.id,
        version_id,
        kind,
        holder,
        expires_at,
        channel: usage.channel,
        territory: usage.territory.as_deref().and_then(Claims::territory_code),
        variant,
    });
    Ok(format!(
        "{}/r/{token}",
        config.public_url.as_deref().unwrap_or_default()
    ))
}

/// One derivative URL at one pixel density.
#[derive(Debug, Clone)]
pub struct DerivativeLink {
    pub dpr: u8,
    pub url: String,
}

/// Issues derivative URLs of `asset` for the profile named `profile`: at
/// `dpr`, or at every density the profile offers. The profile must be one
/// the holder is entitled to (else NOT_FOUND, like a profile that does not
/// exist); the asset's decision is [`issue`]'s.
#[allow(clippy::too_many_arguments)]
pub async fn issue_derivative(
    state: &AppState,
    auth: &crate::state::Auth,
    asset: &asset::Model,
    facts: AssetFacts,
    profile: &str,
    format: Option<crate::services::derivatives::Format>,
    dpr: Option<i32>,
    ttl_seconds: Option<i64>,
    usage: &Usage,
) -> ApiResult<Vec<DerivativeLink>> {
    use crate::services::derivatives::Format;
    use signing::{Variant, VariantFormat};
    let profile = crate::services::derivatives::profile_for(state, &auth.actor, profile).await?;
    let offered = profile.dpr_list();
    let dprs = match dpr {
        None => offered,
        Some(d) => match u8::try_from(d).ok().filter(|d| offered.contains(d)) {
            Some(d) => vec![d],
            None => {
                return Err(ApiError::BadUserInput(format!(
                    "profile {} offers densities {}",
                    profile.name, profile.dprs
                )));
            }
        },
    };
    let format = format
        .or_else(|| Format::parse(&profile.format))
        .unwrap_or(Format::Auto);
    let format = match format {
        Format::Auto => VariantFormat::Auto,
        Format::Jpeg => VariantFormat::Jpeg,
        Format::Webp => VariantFormat::Webp,
        Format::Avif => VariantFormat::Avif,
        Format::Png => VariantFormat::Png,
    };
    dprs.into_iter()
        .map(|dpr| {
            let variant = Variant {
                profile_id: profile.id,
                revision: profile.revision,
                format,
                dpr,
            };
            issue(
                state,
                auth,
                asset,
                facts.clone(),
                DeliveryKind::Derivative,
                Some(variant),
                ttl_seconds,
                usage,
            )
            .map(|url| DerivativeLink { dpr, url })
        })
        .collect()
}

/// Issues a delivery URL to a share-link visitor (its page's images and
/// download buttons). The URL never outlives the visit.
pub fn issue_for_visit(
    state: &AppState,
    visit: &vitrine_entity::entities::share_visit::Model,
    asset: &asset::Model,
    kind: DeliveryKind,
) -> ApiResult<String> {
    issue_variant_for_visit(state, visit, asset, kind, None)
}

/// A share link page's images in its derivative profile, at every density
/// the profile offers (the visitor's entitlement to the profile and the
/// asset are asked again at every request).
pub fn issue_derivative_for_visit(
    state: &AppState,
    visit: &vitrine_entity::entities::share_visit::Model,
    asset: &asset::Model,
    profile: &derivative_profile::Model,
) -> ApiResult<Vec<DerivativeLink>> {
    profile
        .dpr_list()
        .into_iter()
        .map(|dpr| {
            let variant = signing::Variant {
                profile_id: profile.id,
                revision: profile.revision,
                format: signing::VariantFormat::parse_stored(&profile.format),
                dpr,
            };
            issue_variant_for_visit(state, visit, asset, DeliveryKind::Derivative, Some(variant))
                .map(|url| DerivativeLink { dpr, url })
        })
        .collect()
}

fn issue_variant_for_visit(
    state: &AppState,
    visit: &vitrine_entity::entities::share_visit::Model,
    asset: &asset::Model,
    kind: DeliveryKind,
    variant: Option<signing::Variant>,
) -> ApiResult<String> {
    let version_id = asset
        .current_version_id
        .ok_or_else(|| ApiError::NotFound("no such asset".into()))?;
    let config = &state.config.delivery;
    let now = state.clock.now().timestamp();
    let ttl = i64::try_from(config.default_ttl.as_secs()).unwrap_or(900);
    let expires_at = ((now + ttl + 59).div_euclid(60) * 60).min(visit.expires_at.timestamp());
    let token = state.delivery.keys.sign(&Claims {
        asset_id: asset.id,
        version_id,
        kind,
        holder: Holder::Visitor {
            share_link_id: visit.link_id,
            visit_id: visit.id,
        },
        expires_at,
        // The link's use is read from the link at each request.
        channel: None,
        territory: None,
        variant,
    });
    Ok(format!(
        "{}/r/{token}",
        config.public_url.as_deref().unwrap_or_default()
    ))
}

/// The holder's actor as it stands now: a user whose session was revoked or
/// expired, who was disabled, or whose organisation left the allowlist, is
/// anonymous (and refused).
async fn current_actor(state: &AppState, holder: Holder) -> ApiResult<Actor> {
    Ok(match holder {
        Holder::User {
            user_id,
            session_id,
        } => match crate::services::auth::authenticate_session(state, Some(session_id)).await? {
            Some(actor) if actor.user_id() == Some(user_id) => actor,
            _ => Actor::Anonymous,
        },
        Holder::Visitor {
            share_link_id,
            visit_id,
        } => {
            let live = crate::services::share_links::visit_is_live(
                &state.db,
                share_link_id,
                visit_id,
                state.clock.now(),
            )
            .await?;
            if live {
                Actor::Visitor { share_link_id }
            } else {
                Actor::Anonymous
            }
        }
    })
}

/// A file name of our making: never the uploader's.
fn filename(asset_id: Uuid, version: i32, kind: DeliveryKind, extension: &str) -> String {
    let id = asset_id.simple().to_string();
    format!(
        "vitrine-{}-v{version}-{}.{extension}",
        &id[id.len() - 12..],
        kind.slug()
    )
}

fn extension_of(media_type: &str) -> &'static str {
    match media_type {
        "image/png" => "png",
        "image/webp" => "webp",
        "image/tiff" => "tif",
        _ => "jpg",
    }
}

/// Reads what a decision about `claims` needs, at the current epoch.
pub async fn resolve(state: &AppState, claims: &Claims) -> ApiResult<Resolved> {
    let db = &state.db;
    // The epoch first: whatever is read after it is at least that new.
    let epoch = vitrine_entity::store::epoch(db).await?;
    let actor = current_actor(state, claims.holder).await?;
    let Some(asset) = asset::Entity::find_by_id(claims.asset_id).one(db).await? else {
        return Ok(Resolved {
            epoch,
            actor,
            facts: None,
            served: Served::Superseded,
        });
    };
    let facts = access::asset_facts(
        state,
        db,
        &actor,
        &asset,
        state.clock.now(),
        state.config.license_unlicensed_deliverable,
        claims.usage(),
    )
    .await?;
    let served = if asset.current_version_id != Some(claims.version_id) {
        Served::Superseded
    } else {
        let version = asset_version::Entity::find_by_id(claims.version_id)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::Internal("the current version is missing".into()))?;
        match (claims.kind.rendition(), claims.variant) {
            (_, Some(variant)) => derivative_source(state, &asset, &version, variant)
                .await?
                .map_or(Served::Superseded, |s| Served::Derivative(Arc::new(s))),
            (Some(kind), None) => {
                let made = rendition::Entity::find()
                    .filter(rendition::Column::VersionId.eq(version.id))
                    .filter(rendition::Column::Kind.eq(kind))
                    .one(db)
                    .await?;
                match made {
                    Some(r) => Served::Rendition {
                        etag: etag_of(&[&r.storage_key, &r.tagged_with, &r.bytes.to_string()]),
                        bytes: u64::try_from(r.bytes).unwrap_or_default(),
                        key: r.storage_key,
                        filename: filename(asset.id, version.number, claims.kind, "jpg"),
                    },
                    None => Served::NotReady,
                }
            }
            (None, None) => {
                let ownership = vitrine_worker::ownership::effective(db, asset.id).await?;
                let orientation = version
                    .metadata
                    .as_deref()
                    .and_then(|m| {
                        serde_json::from_str::<vitrine_worker::render::ImageMetadata>(m).ok()
                    })
                    .map_or(1, |m| m.orientation);
                Served::Original {
                    etag: original_etag(
                        &version.blob_sha256,
                        &ownership.fingerprint(),
                        version.number,
                        asset.id,
                    ),
                    filename: filename(
                        asset.id,
                        version.number,
                        claims.kind,
                        extension_of(&version.media_type),
                    ),
                    sha256: version.blob_sha256,
                    media_type: version.media_type,
                    ownership,
                    asset_id: asset.id,
                    version_number: version.number,
                    orientation,
                }
            }
        }
    };
    Ok(Resolved {
        epoch,
        actor,
        facts: Some(facts),
        served,
    })
}

/// What a derivative URL's variant is made from, or `None` when the URL is
/// superseded: its profile deleted, changed since (revision) or no longer
/// offering its density.
pub(crate) async fn derivative_source(
    state: &AppState,
    asset: &asset::Model,
    version: &asset_version::Model,
    variant: signing::Variant,
) -> ApiResult<Option<derivative::Source>> {
    let db = &state.db;
    let Some(profile) = derivative_profile::Entity::find_by_id(variant.profile_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if profile.revision != variant.revision || !profile.dpr_list().contains(&variant.dpr) {
        return Ok(None);
    }
    let focal = asset_focal_point::Entity::find_by_id(asset.id)
        .one(db)
        .await?
        .map(|f| (f.x, f.y));
    let ownership = vitrine_worker::ownership::effective(db, asset.id).await?;
    let inputs = vitrine_worker::derivatives::inputs(&ownership, &profile, focal);
    Ok(Some(derivative::Source {
        profile,
        asset_id: asset.id,
        version_id: version.id,
        version_number: version.number,
        sha256: version.blob_sha256.clone(),
        ownership,
        focal,
        dpr: variant.dpr,
        inputs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_codes() {
        for kind in [
            DeliveryKind::Thumbnail,
            DeliveryKind::Preview,
            DeliveryKind::Lowres,
            DeliveryKind::Original,
            DeliveryKind::Derivative,
        ] {
            assert_eq!(DeliveryKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(DeliveryKind::from_code(0), None);
    }

    #[test]
    fn file_names_are_ours() {
        let id = Uuid::now_v7();
        let name = filename(id, 3, DeliveryKind::Original, "png");
        assert!(name.starts_with("vitrine-") && name.ends_with("-v3-original.png"));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        );
    }

    #[test]
    fn the_bytes_cache_stays_under_its_limit() {
        let mut cache = BytesCache::default();
        for i in 0..1000 {
            cache.insert(format!("k{i}"), Bytes::from(vec![0u8; 1000]), 64_000);
            assert!(cache.total <= 64_000);
        }
        cache.insert("big".into(), Bytes::from(vec![0u8; 10_000]), 64_000);
        assert!(!cache.entries.contains_key("big"));
    }
}

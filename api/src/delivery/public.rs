//! Public delivery of published images: `/p/{profile}/{slug-or-id}[@{n}x][.{ext}]`.
//!
//! Anyone may ask, without credentials, and a CDN may cache the answer; so
//! every request that reaches Vitrine asks the policy again
//! ([`authorize_public`], at the current access epoch: decisions are cached
//! only while no write happened), and what it may no longer serve is 404 at
//! once, whatever a CDN still holds (the purge job asks it to drop that).
//!
//! Public deliveries are **counted, not logged**: one audit event per
//! request would let anyone on the internet write to the tamper-evident log
//! at will, and behind a CDN the origin sees only misses anyway. Each
//! process adds them up in memory per asset and day and adds the counts to
//! the usage statistics (accessor PUBLIC, action VIEW) every
//! `VITRINE_PUBLIC_USAGE_FLUSH` (5 s) and at shutdown. A process that is
//! killed loses at most its last interval's counts; that is the promise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;
use vitrine_entity::entities::{
    asset, asset_version, derivative_profile, folder, public_asset, public_folder,
};
use vitrine_entity::policy::{PublicFacts, authorize_public, public_until};
use vitrine_entity::usage::{AccessorType, Tally, UsageAction, UsageKey};
use vitrine_worker::derivatives::Encoding;

use super::derivative::Source;
use super::signing::{Variant, VariantFormat};
use crate::error::ApiResult;
use crate::state::AppState;

/// The most decisions kept (cleared when full).
const CACHE_ENTRIES: usize = 10_000;

/// A parsed public path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicPath {
    pub profile: String,
    /// An asset id or slug.
    pub key: String,
    pub dpr: u8,
    /// `None`: the profile's own format (AUTO: chosen from `Accept`).
    pub format: Option<VariantFormat>,
}

impl PublicPath {
    /// Parses `{key}[@{n}x][.{ext}]` under a profile name; `None`: not a
    /// public path (answered 404).
    pub fn parse(profile: &str, file: &str) -> Option<Self> {
        let (stem, format) = match file.rsplit_once('.') {
            Some((stem, ext)) => (
                stem,
                Some(match ext.to_ascii_lowercase().as_str() {
                    "jpg" | "jpeg" => VariantFormat::Jpeg,
                    "webp" => VariantFormat::Webp,
                    "avif" => VariantFormat::Avif,
                    "png" => VariantFormat::Png,
                    _ => return None,
                }),
            ),
            None => (file, None),
        };
        let (key, dpr) = match stem.rsplit_once('@') {
            Some((key, density)) => {
                let n: u8 = density.strip_suffix('x')?.parse().ok()?;
                (key, n)
            }
            None => (stem, 1),
        };
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 120
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !name_ok(profile) || !name_ok(key) || !(1..=4).contains(&dpr) {
            return None;
        }
        Some(Self {
            profile: profile.to_owned(),
            key: key.to_owned(),
            dpr,
            format,
        })
    }
}

/// What a public path stands for, read at `epoch`.
#[derive(Debug)]
pub struct PublicResolved {
    pub epoch: i64,
    pub facts: PublicFacts,
    pub asset_id: Uuid,
    /// The profile's own format (for a path without an extension).
    pub profile_format: VariantFormat,
    /// What the image is made from (`None`: no current version).
    pub source: Option<Arc<Source>>,
}

impl PublicResolved {
    /// Whether it may be served at `now`, and until when it may be cached.
    pub fn decide(&self, now: DateTime<Utc>) -> Option<(Arc<Source>, DateTime<Utc>)> {
        authorize_public(&self.facts, now).ok()?;
        let source = self.source.clone()?;
        Some((source, public_until(&self.facts, now)))
    }
}

/// Public deliveries by asset and day: how many, and the latest.
type Counts = HashMap<(Uuid, NaiveDate), (i64, DateTime<Utc>)>;

/// This process's public delivery state: decisions and counts.
#[derive(Debug, Default)]
pub struct Public {
    decisions: Mutex<HashMap<PublicPath, Arc<PublicResolved>>>,
    counts: Mutex<Counts>,
}

impl Public {
    /// The decision about `path` read at `epoch`, if kept.
    pub fn cached(&self, path: &PublicPath, epoch: i64) -> Option<Arc<PublicResolved>> {
        let map = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        map.get(path).filter(|r| r.epoch == epoch).cloned()
    }

    pub fn remember(&self, path: PublicPath, resolved: Arc<PublicResolved>) {
        let mut map = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(path, resolved);
    }

    /// Counts one public delivery of `asset` at `now`.
    pub fn count(&self, asset: Uuid, now: DateTime<Utc>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counts.entry((asset, now.date_naive())).or_insert((0, now));
        entry.0 += 1;
        entry.1 = entry.1.max(now);
    }

    /// Adds the counts so far to the usage statistics (kept for the next
    /// flush when the database refuses). Returns how many were added.
    pub async fn flush(&self, db: &sea_orm::DatabaseConnection) -> Result<i64, DbErr> {
        let taken = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut tally = Tally::default();
        let mut total = 0;
        for (&(asset_id, day), &(count, at)) in &taken {
            total += count;
            tally.add(
                UsageKey {
                    day,
                    asset_id,
                    accessor: AccessorType::Public,
                    action: UsageAction::View,
                    partner_org_id: Uuid::nil(),
                    share_link_id: Uuid::nil(),
                },
                count,
                at,
            );
        }
        let stored = async {
            let txn = vitrine_entity::store::begin_write(db).await?;
            vitrine_worker::usage::store_tally(&txn, &tally).await?;
            txn.commit().await
        }
        .await;
        if let Err(e) = stored {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            for (key, (count, at)) in taken {
                let entry = counts.entry(key).or_insert((0, at));
                entry.0 += count;
                entry.1 = entry.1.max(at);
            }
            return Err(e);
        }
        Ok(total)
    }
}

/// Flushes `public`'s counts every `every` until `stop`, then once more.
pub async fn flush_counts(
    public: Arc<Public>,
    db: sea_orm::DatabaseConnection,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut ticks = tokio::time::interval(every.max(std::time::Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.cancelled() => break,
        }
        if let Err(e) = public.flush(&db).await {
            tracing::warn!(error = %e, "could not add public delivery counts; kept for the next try");
        }
    }
    if let Err(e) = public.flush(&db).await {
        tracing::warn!(error = %e, "public delivery counts lost at shutdown");
    }
}

/// Reads what deciding `path` needs (`None`: no such public profile or
/// asset).
pub async fn resolve(
    state: &AppState,
    path: &PublicPath,
    epoch: i64,
) -> ApiResult<Option<PublicResolved>> {
    let db = &state.db;
    let Some(profile) = derivative_profile::Entity::find()
        .filter(derivative_profile::Column::Name.eq(&path.profile))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if !profile.dpr_list().contains(&path.dpr) {
        return Ok(None);
    }
    let (found, direct) = match Uuid::parse_str(&path.key) {
        Ok(id) => (
            asset::Entity::find_by_id(id).one(db).await?,
            public_asset::Entity::find_by_id(id)
                .one(db)
                .await?
                .is_some(),
        ),
        Err(_) => {
            match public_asset::Entity::find()
                .filter(public_asset::Column::Slug.eq(&path.key))
                .one(db)
                .await?
            {
                Some(p) => (asset::Entity::find_by_id(p.asset_id).one(db).await?, true),
                None => (None, false),
            }
        }
    };
    let Some(found) = found else {
        return Ok(None);
    };
    let mut facts = public_facts(state, &found, direct).await?;
    facts.profile_public = profile.public;
    let profile_format = VariantFormat::parse_stored(&profile.format);
    let variant = Variant {
        profile_id: profile.id,
        revision: profile.revision,
        format: profile_format,
        dpr: path.dpr,
    };
    let source = match found.current_version_id {
        Some(version_id) => match asset_version::Entity::find_by_id(version_id)
            .one(db)
            .await?
        {
            Some(version) => super::derivative_source(state, &found, &version, variant)
                .await?
                .map(Arc::new),
            None => None,
        },
        None => None,
    };
    Ok(Some(PublicResolved {
        epoch,
        facts,
        asset_id: found.id,
        profile_format,
        source,
    }))
}

/// The policy's facts about serving `found` publicly (`direct`: opted in
/// by itself), for a public profile.
pub async fn public_facts(
    state: &AppState,
    found: &asset::Model,
    direct: bool,
) -> ApiResult<PublicFacts> {
    let db = &state.db;
    let lineage = folder_lineage(db, found.folder_id).await?;
    let restricted = !lineage.is_empty()
        && folder::Entity::find()
            .filter(folder::Column::Id.is_in(lineage.clone()))
            .filter(folder::Column::Restricted.eq(true))
            .one(db)
            .await?
            .is_some();
    let via_folder = !lineage.is_empty()
        && public_folder::Entity::find()
            .filter(public_folder::Column::FolderId.is_in(lineage))
            .one(db)
            .await?
            .is_some();
    let licenses = crate::services::licenses::of_assets(db, &[found.id])
        .await?
        .remove(&found.id)
        .unwrap_or_default();
    Ok(PublicFacts {
        profile_public: true,
        opted_in: direct || via_folder,
        deleted: found.deleted_at.is_some(),
        restricted,
        access: found.access_mode,
        starts_at: found.access_starts_at,
        ends_at: found.access_ends_at,
        awaiting_moderation: found.awaiting_moderation,
        licenses: licenses.iter().map(|l| l.terms()).collect(),
        territory: state.config.public.territory.clone(),
    })
}

/// The ids from the root down to `folder` (empty at the root).
async fn folder_lineage<C: ConnectionTrait>(
    conn: &C,
    folder: Option<Uuid>,
) -> Result<Vec<Uuid>, DbErr> {
    let Some(id) = folder else {
        return Ok(Vec::new());
    };
    Ok(folder::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|f| f.lineage())
        .unwrap_or_default())
}

/// The encoding a public path is served in.
pub fn encoding(path: &PublicPath, resolved: &PublicResolved, accept: Option<&str>) -> Encoding {
    crate::http::delivery::encoding_for(path.format.unwrap_or(resolved.profile_format), accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_parse_and_hostile_ones_do_not() {
        let p = PublicPath::parse("pdp-square", "ring-0042-rose-gold@2x.webp").unwrap();
        assert_eq!(p.key, "ring-0042-rose-gold");
        assert_eq!(p.dpr, 2);
        assert_eq!(p.format, Some(VariantFormat::Webp));
        let p = PublicPath::parse("pdp-square", "ring-0042").unwrap();
        assert_eq!((p.dpr, p.format), (1, None));
        let id = Uuid::now_v7().to_string();
        assert_eq!(
            PublicPath::parse("grid", &format!("{id}.JPG")).unwrap().key,
            id
        );
        for bad in [
            "ring.gif",
            "../secret.jpg",
            "Ring.jpg",
            "ring@9x.jpg",
            "ring@x.jpg",
            "ring@2.jpg",
            ".jpg",
            "ring%2f.jpg",
        ] {
            assert_eq!(PublicPath::parse("grid", bad), None, "{bad}");
        }
        assert_eq!(PublicPath::parse("Grid", "ring.jpg"), None);
        assert_eq!(PublicPath::parse("", "ring.jpg"), None);
    }
}

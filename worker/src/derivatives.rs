//! Derivatives of a version under a profile: the recipe a profile gives
//! (its box at a pixel density, fit, anchor, format), making one from the
//! original's bytes (stamped with the ownership statement like the
//! renditions) and recording it. Shared by the processing job (eager
//! profiles, from the one decode of processing) and the API (lazy ones, on
//! first request).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use vitrine_entity::entities::{derivative, derivative_profile};

use crate::render::derive::{self, Anchor, DerivativeSpec, Fit, Output};
use crate::render::{RenderError, RenderLimits};
use crate::tagging::{Camera, Ownership, Stamp, tag_original};

/// A derivative's encoded format (AUTO is decided per request before this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Jpeg,
    Webp,
    Avif,
    Png,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Jpeg => "JPEG",
            Encoding::Webp => "WEBP",
            Encoding::Avif => "AVIF",
            Encoding::Png => "PNG",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "JPEG" => Encoding::Jpeg,
            "WEBP" => Encoding::Webp,
            "AVIF" => Encoding::Avif,
            "PNG" => Encoding::Png,
            _ => return None,
        })
    }

    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Jpeg => "jpg",
            Encoding::Webp => "webp",
            Encoding::Avif => "avif",
            Encoding::Png => "png",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Jpeg => "image/jpeg",
            Encoding::Webp => "image/webp",
            Encoding::Avif => "image/avif",
            Encoding::Png => "image/png",
        }
    }
}

/// `#rrggbb` as RGB (white when unreadable: profiles are validated).
fn colour(hex: &str) -> [u8; 3] {
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|c| u8::from_str_radix(c, 16).ok())
            .unwrap_or(255)
    };
    [channel(1), channel(3), channel(5)]
}

/// What `profile` makes at `dpr` in `encoding`, given the asset's focal
/// point (fractions of the upright image).
pub fn spec(
    profile: &derivative_profile::Model,
    encoding: Encoding,
    dpr: u8,
    focal: Option<(f64, f64)>,
) -> DerivativeSpec {
    let scale = u32::from(dpr.max(1));
    let side = |v: i32| u32::try_from(v).unwrap_or(1).max(1) * scale;
    let anchor = match profile.anchor.as_str() {
        "FOCAL_POINT" => focal.map_or(Anchor::Center, |(x, y)| Anchor::Point { x, y }),
        "ENTROPY" => Anchor::Entropy,
        _ => Anchor::Center,
    };
    let fit = match profile.fit.as_str() {
        "COVER" => Fit::Cover(anchor),
        "CONTAIN" => Fit::Contain,
        _ => Fit::Inside,
    };
    let quality = profile.quality.clamp(1, 100);
    DerivativeSpec {
        width: side(profile.width),
        height: side(profile.height),
        fit,
        background: colour(&profile.background),
        sharpen: profile.sharpen,
        upscale: profile.upscale,
        output: match encoding {
            Encoding::Jpeg => Output::Jpeg { quality },
            Encoding::Webp => Output::Webp { quality },
            Encoding::Avif => Output::Avif { quality },
            Encoding::Png => Output::Png,
        },
    }
}

/// A fingerprint of what a derivative depends on besides its key (version,
/// profile revision, format, density): the ownership statement it carries,
/// and the focal point when the profile crops at it.
pub fn inputs(
    ownership: &Ownership,
    profile: &derivative_profile::Model,
    focal: Option<(f64, f64)>,
) -> String {
    let mut hash = Sha256::new();
    hash.update(ownership.fingerprint().as_bytes());
    if profile.anchor == "FOCAL_POINT"
        && let Some((x, y)) = focal
    {
        hash.update(x.to_be_bytes());
        hash.update(y.to_be_bytes());
    }
    vitrine_entity::audit_chain::hex(&hash.finalize())
}

/// Who and what a derivative is stamped for.
#[derive(Debug, Clone, Copy)]
pub struct StampFor<'a> {
    pub ownership: &'a Ownership,
    pub asset_id: Uuid,
    pub version_number: i32,
}

/// One derivative, made and stamped.
#[derive(Debug, Clone)]
pub struct Made {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Makes a derivative of an original's bytes and stamps it: the ownership
/// statement in, every private field of the original (GPS, serial numbers,
/// its own XMP and IPTC) out, as for renditions.
pub fn make(
    original: &[u8],
    spec: &DerivativeSpec,
    limits: RenderLimits,
    stamp: StampFor<'_>,
) -> Result<Made, RenderError> {
    let derived = derive::derive(original, spec, limits)?;
    let camera = Camera::from_file(original);
    let stamp = Stamp {
        ownership: stamp.ownership,
        asset_id: stamp.asset_id,
        version_number: stamp.version_number,
        // The pixels are upright.
        orientation: 1,
        camera: &camera,
    };
    let bytes =
        tag_original(&derived.bytes, &stamp).map_err(|e| RenderError::Encode(e.to_string()))?;
    Ok(Made {
        width: derived.width,
        height: derived.height,
        bytes,
    })
}

/// An eager derivative to make while processing a version.
#[derive(Debug, Clone)]
pub struct EagerVariant {
    pub key: Key,
    pub spec: DerivativeSpec,
    pub inputs: String,
}

/// The formats an eager profile is made in: its own, or for AUTO every
/// format `Accept` can choose (JPEG, WebP, AVIF; libaom encodes AVIF at
/// about 0.2 s a megapixel, docs/BENCHMARKS.md).
fn eager_encodings(format: &str) -> Vec<Encoding> {
    match Encoding::parse(format) {
        Some(e) => vec![e],
        None => vec![Encoding::Jpeg, Encoding::Webp, Encoding::Avif],
    }
}

/// The eager profiles' derivatives of `version` (the current version of
/// `asset`), at every density and in their eager formats.
pub async fn eager_variants<C: ConnectionTrait>(
    db: &C,
    asset: &vitrine_entity::entities::asset::Model,
    version_id: Uuid,
    ownership: &Ownership,
) -> Result<Vec<EagerVariant>, DbErr> {
    let profiles = derivative_profile::Entity::find()
        .filter(derivative_profile::Column::Eager.eq(true))
        .all(db)
        .await?;
    if profiles.is_empty() {
        return Ok(Vec::new());
    }
    let focal = vitrine_entity::entities::asset_focal_point::Entity::find_by_id(asset.id)
        .one(db)
        .await?
        .map(|f| (f.x, f.y));
    let mut variants = Vec::new();
    for profile in &profiles {
        let inputs = inputs(ownership, profile, focal);
        for encoding in eager_encodings(&profile.format) {
            for dpr in profile.dpr_list() {
                variants.push(EagerVariant {
                    key: Key {
                        version_id,
                        profile_id: profile.id,
                        revision: profile.revision,
                        encoding,
                        dpr,
                    },
                    spec: spec(profile, encoding, dpr, focal),
                    inputs: inputs.clone(),
                });
            }
        }
    }
    Ok(variants)
}

/// Stamps, stores and records an eager derivative made by processing.
pub async fn store_made(
    deps: &crate::runner::WorkerDeps,
    variant: &EagerVariant,
    derived: &derive::Derived,
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> Result<(), crate::processing::ProcessError> {
    let bytes = tag_original(&derived.bytes, stamp)?;
    let storage_key = variant.key.storage_key(&variant.inputs);
    let made = Made {
        width: derived.width,
        height: derived.height,
        bytes,
    };
    deps.store
        .put_bytes(&storage_key, made.bytes.clone())
        .await?;
    record(
        &deps.db,
        &variant.key,
        &variant.inputs,
        &storage_key,
        &made,
        now,
    )
    .await?;
    Ok(())
}

/// The identity of a derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub version_id: Uuid,
    pub profile_id: Uuid,
    pub revision: i32,
    pub encoding: Encoding,
    pub dpr: u8,
}

impl Key {
    /// Where its file goes, for `inputs`.
    pub fn storage_key(&self, inputs: &str) -> String {
        derivative::storage_key(
            self.version_id,
            self.profile_id,
            self.revision,
            self.dpr,
            inputs,
            self.encoding.extension(),
        )
    }
}

/// The recorded derivative of `key`, if made.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    key: &Key,
) -> Result<Option<derivative::Model>, DbErr> {
    derivative::Entity::find()
        .filter(derivative::Column::VersionId.eq(key.version_id))
        .filter(derivative::Column::ProfileId.eq(key.profile_id))
        .filter(derivative::Column::Revision.eq(key.revision))
        .filter(derivative::Column::Format.eq(key.encoding.as_str()))
        .filter(derivative::Column::Dpr.eq(i16::from(key.dpr)))
        .one(db)
        .await
}

/// Records a derivative stored under `storage_key` (replacing the record of
/// one made from other inputs).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    key: &Key,
    inputs: &str,
    storage_key: &str,
    made: &Made,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = derivative::ActiveModel {
        id: Set(Uuid::now_v7()),
        version_id: Set(key.version_id),
        profile_id: Set(key.profile_id),
        revision: Set(key.revision),
        format: Set(key.encoding.as_str().to_owned()),
        dpr: Set(i16::from(key.dpr)),
        width: Set(i32::try_from(made.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(made.height).unwrap_or(i32::MAX)),
        bytes: Set(i64::try_from(made.bytes.len()).unwrap_or(i64::MAX)),
        media_type: Set(key.encoding.media_type().to_owned()),
        storage_key: Set(storage_key.to_owned()),
        tagged_with: Set(inputs.to_owned()),
        created_at: Set(now),
    };
    derivative::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                derivative::Column::VersionId,
                derivative::Column::ProfileId,
                derivative::Column::Revision,
                derivative::Column::Format,
                derivative::Column::Dpr,
            ])
            .update_columns([
                derivative::Column::Width,
                derivative::Column::Height,
                derivative::Column::Bytes,
                derivative::Column::StorageKey,
                derivative::Column::TaggedWith,
                derivative::Column::CreatedAt,
            ])
            .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Removes what no derivative URL can serve any more: rows made under an
/// older revision of their profile or of a version that is no longer
/// current, then the files under `derivatives/` older than `cutoff` that no
/// row names (a row replaced for new inputs leaves its old file behind; a
/// render stores its file before its row, and the grace spares it).
/// Returns how many files were deleted.
pub async fn collect(
    db: &sea_orm::DatabaseConnection,
    store: &crate::storage::BlobStore,
    cutoff: DateTime<Utc>,
) -> Result<u64, crate::blobs::BlobError> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    use vitrine_entity::entities::asset;
    // Stale rows: an older revision, or a version no asset has as current.
    let older_revision =
        Expr::col((derivative::Entity, derivative::Column::Revision)).lt(Expr::col((
            derivative_profile::Entity,
            derivative_profile::Column::Revision,
        )));
    let stale: Vec<Uuid> = derivative::Entity::find()
        .select_only()
        .column(derivative::Column::Id)
        .join(
            sea_orm::JoinType::InnerJoin,
            derivative::Entity::belongs_to(derivative_profile::Entity)
                .from(derivative::Column::ProfileId)
                .to(derivative_profile::Column::Id)
                .into(),
        )
        .filter(
            sea_orm::Condition::any().add(older_revision).add(
                derivative::Column::VersionId.not_in_subquery(
                    Query::select()
                        .column(asset::Column::CurrentVersionId)
                        .from(asset::Entity)
                        .and_where(asset::Column::CurrentVersionId.is_not_null())
                        .to_owned(),
                ),
            ),
        )
        .filter(derivative::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in stale.chunks(500) {
        derivative::Entity::delete_many()
            .filter(derivative::Column::Id.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    let files: Vec<String> = store
        .list("derivatives/")
        .await?
        .into_iter()
        .filter(|o| o.modified < cutoff)
        .map(|o| o.key)
        .collect();
    let mut deleted = 0;
    for chunk in files.chunks(500) {
        let named: std::collections::HashSet<String> = derivative::Entity::find()
            .select_only()
            .column(derivative::Column::StorageKey)
            .filter(derivative::Column::StorageKey.is_in(chunk.to_vec()))
            .into_tuple::<String>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for key in chunk {
            if !named.contains(key) {
                store.delete(key).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> derivative_profile::Model {
        let now = Utc::now();
        derivative_profile::Model {
            id: Uuid::now_v7(),
            name: "pdp-square".into(),
            width: 800,
            height: 800,
            fit: "COVER".into(),
            anchor: "FOCAL_POINT".into(),
            format: "AUTO".into(),
            quality: 80,
            dprs: "1,2".into(),
            background: "#f0e0d0".into(),
            sharpen: true,
            upscale: false,
            eager: false,
            public: false,
            audience: "MEMBERS".into(),
            partner_org_ids: String::new(),
            revision: 1,
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_profile_gives_its_box_at_each_density() {
        let p = profile();
        let s = spec(&p, Encoding::Webp, 2, Some((0.25, 0.75)));
        assert_eq!((s.width, s.height), (1600, 1600));
        assert_eq!(s.fit, Fit::Cover(Anchor::Point { x: 0.25, y: 0.75 }));
        assert_eq!(s.background, [0xf0, 0xe0, 0xd0]);
        assert_eq!(s.output, Output::Webp { quality: 80 });
        // No focal point: the centre.
        assert_eq!(
            spec(&p, Encoding::Jpeg, 1, None).fit,
            Fit::Cover(Anchor::Center)
        );
    }

    #[test]
    fn the_focal_point_counts_only_where_the_crop_uses_it() {
        let owner = Ownership::default();
        let mut p = profile();
        let a = inputs(&owner, &p, Some((0.1, 0.1)));
        assert_ne!(a, inputs(&owner, &p, Some((0.9, 0.1))));
        p.anchor = "CENTER".into();
        assert_eq!(
            inputs(&owner, &p, Some((0.1, 0.1))),
            inputs(&owner, &p, Some((0.9, 0.1)))
        );
    }
}

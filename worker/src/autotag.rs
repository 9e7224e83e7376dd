//! Automatic tags: derived from what processing already read (the EXIF, the
//! IPTC/XMP keywords, the dominant colours of the thumbnail) and from the
//! upload preset's rules, each recorded with its source. Manual tags are
//! never touched; an automatic tag a person removed is remembered (a
//! suppression) and never added back, by processing or by a retag run.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use regex::Regex;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use vitrine_entity::audit::{NewEvent, SYSTEM};
use vitrine_entity::entities::{asset, asset_tag, asset_tag_suppression, retag_run, upload_preset};
use vitrine_entity::{AuditAction, TagSource};

use crate::render::ImageMetadata;
use crate::runner::WorkerDeps;
use crate::search_index::Current;
use crate::tx::Tx;

/// Most automatic tags an asset gets.
pub const MAX_AUTO_TAGS: usize = 40;

/// The tags a filename rule captures: `name:value` per named capture (a
/// capture named `tag` gives the bare value).
pub fn captured_tags(re: &Regex, filename: &str) -> Vec<String> {
    let Some(caps) = re.captures(filename) else {
        return Vec::new();
    };
    re.capture_names()
        .flatten()
        .filter_map(|name| {
            let value = caps.name(name)?.as_str().trim();
            (!value.is_empty()).then(|| {
                if name == "tag" {
                    value.to_owned()
                } else {
                    format!("{name}:{value}")
                }
            })
        })
        .collect()
}

/// A preset's filename pattern, compiled with the same limits as when it
/// was saved.
pub fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
}

/// The tags a preset's rules give a file: its fixed tags and what its
/// filename pattern captures.
pub fn rule_tags(preset: &upload_preset::Model, filename: Option<&str>) -> Vec<String> {
    let mut tags = preset.tag_list();
    if let (Some(pattern), Some(name)) = (&preset.filename_pattern, filename)
        && let Ok(re) = compile_pattern(pattern)
    {
        tags.extend(captured_tags(&re, name));
    }
    tags
}

/// A tag as stored: trimmed, lower-cased, at most 64 characters, no
/// control characters (empty when nothing is left).
pub fn normalize(tag: &str) -> String {
    tag.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .to_lowercase()
}

/// Landscape, portrait or square (within 2 %), of the image as seen.
pub fn orientation(width: i32, height: i32, exif_orientation: u16) -> Option<&'static str> {
    let (w, h) = if matches!(exif_orientation, 5..=8) {
        (height, width)
    } else {
        (width, height)
    };
    if w <= 0 || h <= 0 {
        return None;
    }
    let (long, short) = (w.max(h), w.min(h));
    Some(if f64::from(long - short) <= 0.02 * f64::from(long) {
        "square"
    } else if w > h {
        "landscape"
    } else {
        "portrait"
    })
}

/// The resolution class of an image of `megapixels`.
pub fn resolution_class(megapixels: f64) -> &'static str {
    match megapixels {
        m if m < 1.0 => "low-res",
        m if m < 4.0 => "web-res",
        m if m < 16.0 => "high-res",
        _ => "print-res",
    }
}

/// The (northern-hemisphere, meteorological) season of a month, 1–12.
pub fn season(month: u32) -> Option<&'static str> {
    Some(match month {
        12 | 1 | 2 => "winter",
        3..=5 => "spring",
        6..=8 => "summer",
        9..=11 => "autumn",
        _ => return None,
    })
}

/// What the automatic tags are derived from.
pub struct Inputs<'a> {
    pub width: i32,
    pub height: i32,
    pub metadata: &'a ImageMetadata,
    /// The preset's rule tags (see [`rule_tags`]).
    pub rules: Vec<String>,
}

/// The automatic tags of a version, each with its source (a tag two
/// sources give keeps the first: rules, then EXIF, IPTC, colours).
pub fn derive(inputs: &Inputs<'_>) -> Vec<(String, TagSource)> {
    let m = inputs.metadata;
    let mut out: Vec<(String, TagSource)> = Vec::new();
    let mut push = |tag: &str, source: TagSource| {
        let tag = normalize(tag);
        if !tag.is_empty() && !out.iter().any(|(t, _)| *t == tag) && out.len() < MAX_AUTO_TAGS {
            out.push((tag, source));
        }
    };
    for t in &inputs.rules {
        push(t, TagSource::AutoRule);
    }
    if let Some(o) = orientation(inputs.width, inputs.height, m.orientation) {
        push(o, TagSource::AutoExif);
    }
    if inputs.width > 0 && inputs.height > 0 {
        let mp = f64::from(inputs.width) * f64::from(inputs.height) / 1e6;
        push(resolution_class(mp), TagSource::AutoExif);
    }
    if let Some(make) = &m.camera_make {
        push(make, TagSource::AutoExif);
    }
    if let Some(model) = &m.camera_model {
        push(model, TagSource::AutoExif);
    }
    if let Some(lens) = &m.lens {
        push(lens, TagSource::AutoExif);
    }
    if let Some(at) = &m.captured_at {
        let year = at
            .get(0..4)
            .filter(|y| y.chars().all(|c| c.is_ascii_digit()));
        if let Some(y) = year {
            push(y, TagSource::AutoExif);
        }
        if let Some(s) = at
            .get(5..7)
            .and_then(|mo| mo.parse::<u32>().ok())
            .and_then(season)
        {
            push(s, TagSource::AutoExif);
        }
    }
    for k in &m.descriptive.keywords {
        push(k, TagSource::AutoIptc);
    }
    for c in &m.colors {
        push(&c.name, TagSource::AutoColor);
    }
    out
}

/// Whether a retag re-reads the upload preset's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// Apply the preset's rules as they are now (a new current version, a
    /// retag run after the rules changed).
    Current,
    /// Keep the rule tags the asset has (processing: a preset changed since
    /// the upload affects later uploads only).
    Kept,
}

/// The automatic tags of an asset's current version, from what is stored
/// (no file is read): its recorded metadata and its preset's rules.
pub async fn derive_for<C: ConnectionTrait>(
    conn: &C,
    asset: &asset::Model,
    current: &Current,
    rules: Rules,
) -> Result<Vec<(String, TagSource)>, DbErr> {
    let Some(version) = &current.version else {
        return Ok(Vec::new());
    };
    let unread = ImageMetadata {
        orientation: 1,
        ..ImageMetadata::default()
    };
    let metadata = current.metadata.as_ref().unwrap_or(&unread);
    let rules = match (rules, version.preset_id) {
        (Rules::Kept, _) => asset_tag::Entity::find()
            .filter(asset_tag::Column::AssetId.eq(asset.id))
            .filter(asset_tag::Column::Source.eq(TagSource::AutoRule))
            .all(conn)
            .await?
            .into_iter()
            .map(|t| t.tag)
            .collect(),
        (Rules::Current, Some(p)) => upload_preset::Entity::find_by_id(p)
            .one(conn)
            .await?
            .map(|p| rule_tags(&p, version.filename.as_deref()))
            .unwrap_or_default(),
        (Rules::Current, None) => Vec::new(),
    };
    Ok(derive(&Inputs {
        width: version.width,
        height: version.height,
        metadata,
        rules,
    }))
}

/// What [`apply`] left: the asset's tags, sorted, and whether they changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub tags: Vec<String>,
    pub changed: bool,
}

/// Makes an asset's automatic tags exactly `wanted` (less the suppressed
/// ones); manual tags stay as they are.
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    asset_id: Uuid,
    wanted: &[(String, TagSource)],
) -> Result<Applied, DbErr> {
    let existing: BTreeMap<String, TagSource> = asset_tag::Entity::find()
        .filter(asset_tag::Column::AssetId.eq(asset_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.tag, t.source))
        .collect();
    let suppressed: HashSet<String> = asset_tag_suppression::Entity::find()
        .filter(asset_tag_suppression::Column::AssetId.eq(asset_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.tag)
        .collect();
    let wanted: BTreeMap<&str, TagSource> = wanted
        .iter()
        .filter(|(t, _)| !suppressed.contains(t))
        .map(|(t, s)| (t.as_str(), *s))
        .collect();
    let stale: Vec<String> = existing
        .iter()
        .filter(|(t, s)| s.is_auto() && !wanted.contains_key(t.as_str()))
        .map(|(t, _)| t.clone())
        .collect();
    let new: Vec<asset_tag::ActiveModel> = wanted
        .iter()
        .filter(|(t, _)| !existing.contains_key(**t))
        .map(|(t, s)| asset_tag::ActiveModel {
            asset_id: Set(asset_id),
            tag: Set((*t).to_owned()),
            source: Set(*s),
        })
        .collect();
    let changed = !stale.is_empty() || !new.is_empty();
    let mut tags: Vec<String> = existing
        .keys()
        .filter(|t| !stale.contains(t))
        .cloned()
        .chain(new.iter().filter_map(|m| match &m.tag {
            Set(t) => Some(t.clone()),
            _ => None,
        }))
        .collect();
    tags.sort();
    if !stale.is_empty() {
        asset_tag::Entity::delete_many()
            .filter(asset_tag::Column::AssetId.eq(asset_id))
            .filter(asset_tag::Column::Tag.is_in(stale))
            .exec(conn)
            .await?;
    }
    if !new.is_empty() {
        asset_tag::Entity::insert_many(new)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(Applied { tags, changed })
}

/// Re-derives and applies an asset's automatic tags, then refreshes its
/// search document. Returns whether its tags changed.
pub async fn retag<C: ConnectionTrait>(
    conn: &C,
    asset: &asset::Model,
    rules: Rules,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let current = Current::of(conn, asset).await?;
    retag_current(conn, asset, &current, rules, now).await
}

/// [`retag`], for a caller that has the current version at hand.
pub async fn retag_current<C: ConnectionTrait>(
    conn: &C,
    asset: &asset::Model,
    current: &Current,
    rules: Rules,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let wanted = derive_for(conn, asset, current, rules).await?;
    let applied = apply(conn, asset.id, &wanted).await?;
    crate::search_index::write(conn, asset, current, Some(&applied.tags), None, now).await?;
    Ok(applied.changed)
}

/// What one batch of a retag run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub processed: u64,
    /// Another batch follows.
    pub more: bool,
}

/// Retags the next `batch` assets of a run (by id, after its cursor) in one
/// transaction that also moves the cursor and the counts, and records an
/// ASSET_RETAGGED event per asset whose tags changed (live feeds and smart
/// folders follow): a crash loses at most the batch in flight, which the
/// retried job does again. A run that is not RUNNING does nothing.
pub async fn run_batch(deps: &WorkerDeps, run_id: Uuid, batch: u64) -> Result<Step, DbErr> {
    let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
    let now = tx.now();
    let idle = Step {
        processed: 0,
        more: false,
    };
    let Some(run) = retag_run::Entity::find_by_id(run_id).one(tx.conn()).await? else {
        return Ok(idle);
    };
    if run.state != retag_run::RUNNING {
        return Ok(idle);
    }
    let mut query = asset::Entity::find()
        .filter(asset::Column::DeletedAt.is_null())
        .order_by_asc(asset::Column::Id)
        .limit(batch);
    if let Some(cursor) = run.cursor {
        query = query.filter(asset::Column::Id.gt(cursor));
    }
    let assets = query.all(tx.conn()).await?;
    let mut changed = 0;
    for a in &assets {
        if retag(tx.conn(), a, Rules::Current, now).await? {
            changed += 1;
            tx.audit(
                NewEvent::new(AuditAction::AssetRetagged, SYSTEM)
                    .target("asset", a.id)
                    .details(json!({ "retagRun": run_id, "automatic": true })),
            )
            .await?;
        }
    }
    let processed = assets.len() as u64;
    let more = processed == batch;
    let mut active: retag_run::ActiveModel = run.clone().into();
    active.cursor = Set(assets.last().map(|a| a.id).or(run.cursor));
    active.processed = Set(run.processed + processed as i64);
    active.changed = Set(run.changed + changed);
    active.updated_at = Set(now);
    if !more {
        active.state = Set(retag_run::DONE.into());
        active.finished_at = Set(Some(now));
    }
    active.update(tx.conn()).await?;
    tx.commit().await?;
    Ok(Step { processed, more })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{ColorShare, Descriptive};

    #[test]
    fn shape_resolution_camera_date_keywords_colours_and_rules() {
        let metadata = ImageMetadata {
            orientation: 6,
            camera_make: Some("Canon".into()),
            camera_model: Some("Canon EOS 5D Mark III".into()),
            lens: Some("EF100mm f/2.8L Macro IS USM".into()),
            captured_at: Some("2019-07-04T12:30:00".into()),
            descriptive: Descriptive {
                keywords: vec!["Ring".into(), "rose gold".into()],
                ..Descriptive::default()
            },
            colors: vec![ColorShare {
                name: "beige".into(),
                share: 0.4,
            }],
            ..ImageMetadata::default()
        };
        let tags = derive(&Inputs {
            width: 6000,
            height: 4000,
            metadata: &metadata,
            rules: vec!["sku:RING-0042".into(), "ring".into()],
        });
        let expect = [
            ("sku:ring-0042", TagSource::AutoRule),
            ("ring", TagSource::AutoRule),
            // Orientation 6 turns the 6000x4000 file upright: portrait.
            ("portrait", TagSource::AutoExif),
            ("print-res", TagSource::AutoExif),
            ("canon", TagSource::AutoExif),
            ("canon eos 5d mark iii", TagSource::AutoExif),
            ("ef100mm f/2.8l macro is usm", TagSource::AutoExif),
            ("2019", TagSource::AutoExif),
            ("summer", TagSource::AutoExif),
            ("rose gold", TagSource::AutoIptc),
            ("beige", TagSource::AutoColor),
        ];
        let got: Vec<(&str, TagSource)> = tags.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn classes() {
        assert_eq!(orientation(100, 100, 1), Some("square"));
        assert_eq!(orientation(1000, 990, 1), Some("square"));
        assert_eq!(orientation(1000, 900, 1), Some("landscape"));
        assert_eq!(orientation(1000, 900, 8), Some("portrait"));
        assert_eq!(orientation(0, 900, 1), None);
        assert_eq!(resolution_class(0.3), "low-res");
        assert_eq!(resolution_class(2.0), "web-res");
        assert_eq!(resolution_class(12.0), "high-res");
        assert_eq!(resolution_class(24.0), "print-res");
        assert_eq!(season(12), Some("winter"));
        assert_eq!(season(13), None);
    }
}

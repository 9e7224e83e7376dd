//! Automatic moderation rules: what a preset (or the organisation's
//! defaults) asks of an upload, what the worker measured on it from the
//! decode that made its renditions, and the verdict — pure functions, so the
//! thresholds and their combination are tested without a database or image.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::ModerationState;

/// How a preset's uploads are moderated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModerationMode {
    /// Always queued for a person (the rules' results are shown to them).
    #[default]
    Manual,
    /// Approved when every rule passes, rejected otherwise.
    Automatic,
    /// Approved when every rule passes, queued for a person otherwise.
    AutomaticThenManual,
}

impl ModerationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationMode::Manual => "MANUAL",
            ModerationMode::Automatic => "AUTOMATIC",
            ModerationMode::AutomaticThenManual => "AUTOMATIC_THEN_MANUAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MANUAL" => Some(ModerationMode::Manual),
            "AUTOMATIC" => Some(ModerationMode::Automatic),
            "AUTOMATIC_THEN_MANUAL" => Some(ModerationMode::AutomaticThenManual),
            _ => None,
        }
    }
}

/// The thresholds of the automatic rules. `None` (or an empty list) turns a
/// rule off. Serialised as JSON on presets and, at upload, on each version
/// (so changing a preset affects later uploads only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleSet {
    /// Smallest width and height in pixels (of the upright image).
    pub min_width: Option<u32>,
    pub min_height: Option<u32>,
    pub min_megapixels: Option<f64>,
    /// Bounds of width / height.
    pub min_aspect_ratio: Option<f64>,
    pub max_aspect_ratio: Option<f64>,
    /// Media types allowed (`image/jpeg`, …); empty allows every type
    /// uploads accept.
    pub formats: Vec<String>,
    /// Smallest variance of the Laplacian of the preview-sized luma.
    pub min_sharpness: Option<f64>,
    /// Largest share of pixels clipped to black, or to white.
    pub max_clipped: Option<f64>,
    /// Largest perceptual-hash Hamming distance (of 64 bits) at which an
    /// upload is a near-duplicate of a live asset or of a blocked image.
    pub duplicate_distance: Option<u32>,
    /// The original must carry a copyright or creator field.
    pub require_ownership_metadata: bool,
    /// Warn when the original names a copyright holder other than ours.
    pub warn_third_party_copyright: bool,
}

/// The defaults of the organisation (for uploads into a folder that requires
/// moderation without a preset, and for fields a preset leaves out).
/// Chosen so that none fires on the real-photo corpus (`docs/ACCESS.md`).
impl Default for RuleSet {
    fn default() -> Self {
        Self {
            min_width: Some(200),
            min_height: Some(200),
            min_megapixels: None,
            min_aspect_ratio: Some(0.2),
            max_aspect_ratio: Some(5.0),
            formats: Vec::new(),
            min_sharpness: Some(DEFAULT_MIN_SHARPNESS),
            max_clipped: Some(0.35),
            duplicate_distance: Some(DEFAULT_DUPLICATE_DISTANCE),
            require_ownership_metadata: false,
            warn_third_party_copyright: true,
        }
    }
}

/// Calibrated on the real-photo corpus (`docs/ACCESS.md`): its smoothest
/// image measures 8.5 (a dusk gradient), a photograph blurred by a Gaussian
/// of σ ≥ 2.5 preview pixels measures under 5.
pub const DEFAULT_MIN_SHARPNESS: f64 = 5.0;
/// Resized, recompressed or blurred copies measured 0–2 on the corpus;
/// the two closest distinct pictures 5.
pub const DEFAULT_DUPLICATE_DISTANCE: u32 = 3;

impl RuleSet {
    /// Refuses thresholds that make no sense (a reason for the user).
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: Option<f64>| match v {
            Some(v) if !v.is_finite() || v < 0.0 => Err(format!("{name} must be 0 or more")),
            _ => Ok(()),
        };
        positive("minMegapixels", self.min_megapixels)?;
        positive("minAspectRatio", self.min_aspect_ratio)?;
        positive("maxAspectRatio", self.max_aspect_ratio)?;
        positive("minSharpness", self.min_sharpness)?;
        if let (Some(lo), Some(hi)) = (self.min_aspect_ratio, self.max_aspect_ratio)
            && lo > hi
        {
            return Err("minAspectRatio is above maxAspectRatio".into());
        }
        if let Some(c) = self.max_clipped
            && !(0.0..=1.0).contains(&c)
        {
            return Err("maxClipped is a share between 0 and 1".into());
        }
        if let Some(d) = self.duplicate_distance
            && d > 32
        {
            return Err("duplicateDistance is at most 32 (of 64 bits)".into());
        }
        if self.formats.len() > 20
            || self
                .formats
                .iter()
                .any(|f| !f.starts_with("image/") || f.len() > 100)
        {
            return Err("formats are media types such as image/jpeg".into());
        }
        Ok(())
    }
}

/// An asset close to the upload (by perceptual hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Neighbour {
    pub asset_id: Uuid,
    pub version_id: Uuid,
    pub distance: u32,
}

/// What the worker measured on a version.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measures {
    /// Upright size of the full image.
    pub width: u32,
    pub height: u32,
    pub media_type: String,
    pub sharpness: f64,
    /// Shares of pixels clipped to black and to white.
    pub shadows: f64,
    pub highlights: f64,
    /// The nearest live assets (other than this one), nearest first.
    pub nearest: Vec<Neighbour>,
    /// The nearest blocked images, nearest first.
    pub blocked: Vec<Neighbour>,
    /// The original's copyright and creator fields.
    pub copyright: Option<String>,
    pub creator: Option<String>,
    /// Our own copyright holder (from the ownership statement in force).
    pub our_copyright: Option<String>,
}

/// Each rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rule {
    MinSize,
    Megapixels,
    AspectRatio,
    Format,
    Sharpness,
    Exposure,
    NearDuplicate,
    Blocklisted,
    OwnershipMetadata,
    ThirdPartyCopyright,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::MinSize => "MIN_SIZE",
            Rule::Megapixels => "MEGAPIXELS",
            Rule::AspectRatio => "ASPECT_RATIO",
            Rule::Format => "FORMAT",
            Rule::Sharpness => "SHARPNESS",
            Rule::Exposure => "EXPOSURE",
            Rule::NearDuplicate => "NEAR_DUPLICATE",
            Rule::Blocklisted => "BLOCKLISTED",
            Rule::OwnershipMetadata => "OWNERSHIP_METADATA",
            Rule::ThirdPartyCopyright => "THIRD_PARTY_COPYRIGHT",
        }
    }
}

/// How a rule came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Passed,
    Failed,
    /// Shown to the moderator; never decides.
    Warning,
}

/// One rule's result, with what was measured and the limit, so the
/// moderator sees why ("sharpness 31.2 < 50").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    pub rule: Rule,
    pub verdict: Verdict,
    pub measured: String,
    pub limit: String,
    pub message: String,
    /// The assets a duplicate rule found, nearest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<Neighbour>,
}

fn result(
    rule: Rule,
    passed: bool,
    measured: String,
    limit: String,
    message: String,
) -> RuleResult {
    RuleResult {
        rule,
        verdict: if passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        measured,
        limit,
        message,
        assets: Vec::new(),
    }
}

fn round(v: f64) -> String {
    format!("{:.1}", (v * 10.0).round() / 10.0)
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Evaluates every rule that is on.
pub fn evaluate(rules: &RuleSet, m: &Measures) -> Vec<RuleResult> {
    let mut out = Vec::new();
    if rules.min_width.is_some() || rules.min_height.is_some() {
        let (w, h) = (rules.min_width.unwrap_or(0), rules.min_height.unwrap_or(0));
        let passed = m.width >= w && m.height >= h;
        let size = format!("{}x{}", m.width, m.height);
        let message = if passed {
            format!("size {size}")
        } else {
            format!("size {size} is below {w}x{h}")
        };
        out.push(result(
            Rule::MinSize,
            passed,
            size,
            format!("{w}x{h}"),
            message,
        ));
    }
    if let Some(min) = rules.min_megapixels {
        let mp = f64::from(m.width) * f64::from(m.height) / 1e6;
        let passed = mp >= min;
        let op = if passed { ">=" } else { "<" };
        out.push(result(
            Rule::Megapixels,
            passed,
            format!("{mp:.2}"),
            format!("{min}"),
            format!("megapixels {mp:.2} {op} {min}"),
        ));
    }
    if rules.min_aspect_ratio.is_some() || rules.max_aspect_ratio.is_some() {
        let ratio = f64::from(m.width) / f64::from(m.height.max(1));
        let lo = rules.min_aspect_ratio.unwrap_or(0.0);
        let hi = rules.max_aspect_ratio.unwrap_or(f64::INFINITY);
        let passed = ratio >= lo && ratio <= hi;
        let limit = format!("{lo}..{hi}");
        let message = if passed {
            format!("aspect ratio {ratio:.2} within {limit}")
        } else {
            format!("aspect ratio {ratio:.2} outside {limit}")
        };
        out.push(result(
            Rule::AspectRatio,
            passed,
            format!("{ratio:.2}"),
            limit,
            message,
        ));
    }
    if !rules.formats.is_empty() {
        let passed = rules.formats.iter().any(|f| f == &m.media_type);
        let limit = rules.formats.join(", ");
        let message = if passed {
            format!("format {}", m.media_type)
        } else {
            format!("format {} is not one of {limit}", m.media_type)
        };
        out.push(result(
            Rule::Format,
            passed,
            m.media_type.clone(),
            limit,
            message,
        ));
    }
    if let Some(min) = rules.min_sharpness {
        let passed = m.sharpness >= min;
        let op = if passed { ">=" } else { "<" };
        out.push(result(
            Rule::Sharpness,
            passed,
            round(m.sharpness),
            format!("{min}"),
            format!("sharpness {} {op} {min}", round(m.sharpness)),
        ));
    }
    if let Some(max) = rules.max_clipped {
        let worst = m.shadows.max(m.highlights);
        let passed = worst <= max;
        let which = if m.highlights >= m.shadows {
            "highlights"
        } else {
            "shadows"
        };
        let op = if passed { "<=" } else { ">" };
        out.push(result(
            Rule::Exposure,
            passed,
            percent(worst),
            percent(max),
            format!("clipped {which} {} {op} {}", percent(worst), percent(max)),
        ));
    }
    if let Some(t) = rules.duplicate_distance {
        for (rule, found, what) in [
            (Rule::NearDuplicate, &m.nearest, "a live asset"),
            (
                Rule::Blocklisted,
                &m.blocked,
                "a rejected or taken-down image",
            ),
        ] {
            let close: Vec<Neighbour> = found.iter().filter(|n| n.distance <= t).cloned().collect();
            let nearest = found.first().map(|n| n.distance);
            let measured = nearest.map_or_else(|| "none".to_owned(), |d| d.to_string());
            let message = match close.first() {
                Some(n) => format!(
                    "near-duplicate of {what} (asset {}, distance {} <= {t})",
                    n.asset_id, n.distance
                ),
                None => format!("no near-duplicate of {what} within distance {t}"),
            };
            let mut r = result(rule, close.is_empty(), measured, format!("{t}"), message);
            r.assets = close;
            out.push(r);
        }
    }
    if rules.require_ownership_metadata {
        let present = m.copyright.is_some() || m.creator.is_some();
        let measured = m
            .copyright
            .clone()
            .or_else(|| m.creator.clone())
            .unwrap_or_else(|| "none".into());
        let message = if present {
            format!("ownership metadata present ({measured})")
        } else {
            "the original carries no copyright or creator".into()
        };
        out.push(result(
            Rule::OwnershipMetadata,
            present,
            measured,
            "copyright or creator".into(),
            message,
        ));
    }
    if rules.warn_third_party_copyright
        && let Some(holder) = m.copyright.as_deref()
        && !is_ours(holder, m.our_copyright.as_deref())
    {
        out.push(RuleResult {
            rule: Rule::ThirdPartyCopyright,
            verdict: Verdict::Warning,
            measured: holder.to_owned(),
            limit: m.our_copyright.clone().unwrap_or_default(),
            message: format!("the original's copyright names another holder: {holder}"),
            assets: Vec::new(),
        });
    }
    out
}

/// Whether a copyright field names our holder (case-insensitively, either
/// containing the other, so "© 2026 Maison Aurel" matches "Maison Aurel").
fn is_ours(holder: &str, ours: Option<&str>) -> bool {
    let Some(ours) = ours.map(str::trim).filter(|o| !o.is_empty()) else {
        return false;
    };
    let (h, o) = (holder.to_lowercase(), ours.to_lowercase());
    h.contains(&o) || o.contains(&h)
}

/// The rules that failed, as stored for filtering (`,A,B,`).
pub fn failed_list(results: &[RuleResult]) -> String {
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Failed)
        .map(|r| r.rule.as_str())
        .collect();
    if failed.is_empty() {
        String::new()
    } else {
        format!(",{},", failed.join(","))
    }
}

/// What the rules decide under `mode`: `Some(APPROVED | REJECTED)`, or
/// `None` when the version stays PENDING for a person.
pub fn outcome(mode: ModerationMode, results: &[RuleResult]) -> Option<ModerationState> {
    let passed = results.iter().all(|r| r.verdict != Verdict::Failed);
    match (mode, passed) {
        (ModerationMode::Manual, _) => None,
        (ModerationMode::Automatic | ModerationMode::AutomaticThenManual, true) => {
            Some(ModerationState::Approved)
        }
        (ModerationMode::Automatic, false) => Some(ModerationState::Rejected),
        (ModerationMode::AutomaticThenManual, false) => None,
    }
}

/// The largest distance at which band lookups find every near-duplicate
/// (pigeonhole: 4 bits spread over 4 bands leave one band equal).
pub const BAND_EXACT_UP_TO: u32 = 3;

/// A 64-bit hash's four 16-bit bands, most significant first.
pub fn bands(hash: u64) -> [i32; 4] {
    [48, 32, 16, 0].map(|shift| i32::from((hash >> shift) as u16))
}

/// Hamming distance of two 64-bit perceptual hashes written in hex.
pub fn distance(a: &str, b: &str) -> Option<u32> {
    let a = u64::from_str_radix(a, 16).ok()?;
    let b = u64::from_str_radix(b, 16).ok()?;
    Some((a ^ b).count_ones())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Measures {
        Measures {
            width: 2560,
            height: 1600,
            media_type: "image/jpeg".into(),
            sharpness: 250.0,
            shadows: 0.01,
            highlights: 0.02,
            our_copyright: Some("Maison Aurel".into()),
            ..Measures::default()
        }
    }

    fn failed(rules: &RuleSet, m: &Measures) -> Vec<Rule> {
        evaluate(rules, m)
            .into_iter()
            .filter(|r| r.verdict == Verdict::Failed)
            .map(|r| r.rule)
            .collect()
    }

    #[test]
    fn a_good_photograph_passes_every_default_rule() {
        let results = evaluate(&RuleSet::default(), &good());
        assert!(results.iter().all(|r| r.verdict == Verdict::Passed));
        assert_eq!(
            outcome(ModerationMode::Automatic, &results),
            Some(ModerationState::Approved)
        );
        assert_eq!(failed_list(&results), "");
    }

    #[test]
    fn each_rule_fails_on_its_own_measure_and_says_why() {
        let rules = RuleSet {
            min_megapixels: Some(2.0),
            min_sharpness: Some(50.0),
            formats: vec!["image/jpeg".into()],
            require_ownership_metadata: true,
            ..RuleSet::default()
        };
        let cases: Vec<(Rule, Measures, &str)> = vec![
            (
                Rule::MinSize,
                Measures {
                    width: 120,
                    height: 90,
                    ..good()
                },
                "size 120x90 is below 200x200",
            ),
            (
                Rule::Megapixels,
                Measures {
                    width: 1200,
                    height: 1000,
                    ..good()
                },
                "megapixels 1.20 < 2",
            ),
            (
                Rule::AspectRatio,
                Measures {
                    width: 6000,
                    height: 600,
                    ..good()
                },
                "aspect ratio 10.00 outside 0.2..5",
            ),
            (
                Rule::Format,
                Measures {
                    media_type: "image/png".into(),
                    ..good()
                },
                "format image/png is not one of image/jpeg",
            ),
            (
                Rule::Sharpness,
                Measures {
                    sharpness: 31.24,
                    ..good()
                },
                "sharpness 31.2 < 50",
            ),
            (
                Rule::Exposure,
                Measures {
                    highlights: 0.6,
                    ..good()
                },
                "clipped highlights 60.0% > 35.0%",
            ),
        ];
        for (rule, mut measures, message) in cases {
            measures.creator = Some("Studio".into());
            let results = evaluate(&rules, &measures);
            let failing: Vec<&RuleResult> = results
                .iter()
                .filter(|r| r.verdict == Verdict::Failed)
                .collect();
            // A tiny image is also short of megapixels; nothing else
            // fails alongside its own rule.
            let expected = if rule == Rule::MinSize { 2 } else { 1 };
            assert_eq!(failing.len(), expected, "{rule:?}: {results:?}");
            assert_eq!(failing[0].rule, rule);
            assert_eq!(failing[0].message, message);
        }
        // No ownership metadata at all.
        assert_eq!(failed(&rules, &good()), vec![Rule::OwnershipMetadata]);
    }

    #[test]
    fn near_duplicates_fail_within_the_distance_and_name_the_assets() {
        let near = |d| Neighbour {
            asset_id: Uuid::nil(),
            version_id: Uuid::nil(),
            distance: d,
        };
        let mut m = good();
        m.nearest = vec![near(4), near(20)];
        assert!(failed(&RuleSet::default(), &m).is_empty());
        m.nearest = vec![near(2), near(3), near(7)];
        let results = evaluate(&RuleSet::default(), &m);
        let dup = results
            .iter()
            .find(|r| r.rule == Rule::NearDuplicate)
            .unwrap();
        assert_eq!(dup.verdict, Verdict::Failed);
        assert_eq!(dup.assets.len(), 2);
        assert_eq!(dup.measured, "2");
        m.nearest.clear();
        m.blocked = vec![near(2)];
        assert_eq!(failed(&RuleSet::default(), &m), vec![Rule::Blocklisted]);
        let off = RuleSet {
            duplicate_distance: None,
            ..RuleSet::default()
        };
        assert!(failed(&off, &m).is_empty());
    }

    #[test]
    fn a_third_party_copyright_warns_and_never_decides() {
        let mut m = good();
        m.copyright = Some("(c) Someone Else, all rights reserved".into());
        let results = evaluate(&RuleSet::default(), &m);
        let warning = results
            .iter()
            .find(|r| r.rule == Rule::ThirdPartyCopyright)
            .unwrap();
        assert_eq!(warning.verdict, Verdict::Warning);
        assert!(warning.message.contains("Someone Else"));
        assert_eq!(
            outcome(ModerationMode::Automatic, &results),
            Some(ModerationState::Approved)
        );
        m.copyright = Some("© 2026 MAISON AUREL".into());
        assert!(
            evaluate(&RuleSet::default(), &m)
                .iter()
                .all(|r| r.rule != Rule::ThirdPartyCopyright)
        );
    }

    #[test]
    fn modes_combine_the_results() {
        let pass = evaluate(&RuleSet::default(), &good());
        let fail = evaluate(
            &RuleSet::default(),
            &Measures {
                sharpness: 1.0,
                ..good()
            },
        );
        use ModerationMode::*;
        assert_eq!(outcome(Manual, &pass), None);
        assert_eq!(outcome(Manual, &fail), None);
        assert_eq!(outcome(Automatic, &pass), Some(ModerationState::Approved));
        assert_eq!(outcome(Automatic, &fail), Some(ModerationState::Rejected));
        assert_eq!(
            outcome(AutomaticThenManual, &pass),
            Some(ModerationState::Approved)
        );
        assert_eq!(outcome(AutomaticThenManual, &fail), None);
        assert_eq!(failed_list(&fail), ",SHARPNESS,");
        for mode in [Manual, Automatic, AutomaticThenManual] {
            assert_eq!(ModerationMode::parse(mode.as_str()), Some(mode));
        }
    }

    #[test]
    fn thresholds_are_validated() {
        let bad = [
            RuleSet {
                min_aspect_ratio: Some(3.0),
                max_aspect_ratio: Some(1.0),
                ..RuleSet::default()
            },
            RuleSet {
                max_clipped: Some(1.5),
                ..RuleSet::default()
            },
            RuleSet {
                duplicate_distance: Some(40),
                ..RuleSet::default()
            },
            RuleSet {
                min_sharpness: Some(f64::NAN),
                ..RuleSet::default()
            },
            RuleSet {
                formats: vec!["jpeg".into()],
                ..RuleSet::default()
            },
            RuleSet {
                formats: vec![format!("image/{}", "x".repeat(200))],
                ..RuleSet::default()
            },
        ];
        for rules in bad {
            assert!(rules.validate().is_err(), "{rules:?}");
        }
        assert!(RuleSet::default().validate().is_ok());
    }

    #[test]
    fn hashes_within_three_bits_share_a_band() {
        let a: u64 = 0x0123_4567_89ab_cdef;
        assert_eq!(bands(a), [0x0123, 0x4567, 0x89ab, 0xcdef]);
        // Three bits flipped, one in each of three bands: the fourth is equal.
        let b = a ^ (1 << 63) ^ (1 << 40) ^ (1 << 20);
        let same = bands(a)
            .iter()
            .zip(bands(b))
            .filter(|(x, y)| **x == *y)
            .count();
        assert_eq!(same, 1);
    }

    #[test]
    fn hashes_compare_by_hamming_distance() {
        assert_eq!(distance("ff00000000000000", "0f00000000000001"), Some(5));
        assert_eq!(distance("zz", "00"), None);
    }
}

//! Makes the rendition set (thumbnail 256, low-res 640, preview 1024) of
//! every file given, one after the other on one thread, as the worker does,
//! and prints the time taken. Used by `bench/renditions.py`.
//!
//!     cargo run --release -p vitrine-worker --example renditions -- [--out DIR] [--tag] FILES...

use std::path::PathBuf;
use std::time::Instant;

use vitrine_entity::RenditionKind;
use vitrine_worker::render::{RenderLimits, RenditionSpec, process};
use vitrine_worker::tagging::{Camera, Ownership, Stamp, tag_jpeg};

fn main() {
    let mut out: Option<PathBuf> = None;
    let mut tag = false;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--tag" => tag = true,
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let specs = [
        RenditionSpec {
            kind: RenditionKind::Thumbnail,
            long_edge: 256,
            quality: 80,
        },
        RenditionSpec {
            kind: RenditionKind::Lowres,
            long_edge: 640,
            quality: 70,
        },
        RenditionSpec {
            kind: RenditionKind::Preview,
            long_edge: 1024,
            quality: 85,
        },
    ];
    let limits = RenderLimits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
        jpeg_scan_limit: 500,
    };
    let ownership = Ownership {
        copyright: Some("© 2026 Vitrine Bench".into()),
        creator: Some("Bench Studio".into()),
        credit: Some("Vitrine".into()),
        source: Some("Vitrine".into()),
        usage_terms: Some("Benchmark output".into()),
        web_statement: Some("https://example.com/rights".into()),
    };
    let started = Instant::now();
    let mut failures = 0;
    // The automatic moderation rules on each file, from the same decode:
    // the quality measures `process` takes on the preview, then every rule
    // with the near-duplicate comparison against the files before it.
    let rules = vitrine_entity::moderation_rules::RuleSet::default();
    let mut library: Vec<(uuid::Uuid, uuid::Uuid, String)> = Vec::new();
    let mut rules_time = std::time::Duration::ZERO;
    let mut failed_rules = 0;
    for file in &files {
        let t0 = Instant::now();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failures += 1;
                continue;
            }
        };
        match process(&bytes, &specs, limits) {
            Ok(processed) => {
                let t_rules = Instant::now();
                let hash = format!("{:016x}", processed.perceptual_hash);
                let mut nearest: Vec<vitrine_entity::moderation_rules::Neighbour> = library
                    .iter()
                    .filter_map(|(a, v, h)| {
                        Some(vitrine_entity::moderation_rules::Neighbour {
                            asset_id: *a,
                            version_id: *v,
                            distance: vitrine_entity::moderation_rules::distance(&hash, h)?,
                        })
                    })
                    .collect();
                nearest.sort_by_key(|n| n.distance);
                nearest.truncate(5);
                let (w, h) = processed
                    .renditions
                    .iter()
                    .map(|r| (r.width, r.height))
                    .max()
                    .unwrap_or((0, 0));
                let measures = vitrine_entity::moderation_rules::Measures {
                    width: w,
                    height: h,
                    media_type: "image/jpeg".into(),
                    sharpness: processed.quality.sharpness,
                    shadows: processed.quality.shadows,
                    highlights: processed.quality.highlights,
                    nearest,
                    copyright: processed.metadata.copyright.clone(),
                    creator: processed.metadata.artist.clone(),
                    ..Default::default()
                };
                let results = vitrine_entity::moderation_rules::evaluate(&rules, &measures);
                if !vitrine_entity::moderation_rules::failed_list(&results).is_empty() {
                    failed_rules += 1;
                }
                library.push((uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), hash));
                rules_time += t_rules.elapsed() + processed.quality_time;
                let camera = Camera::from_file(&bytes);
                for r in &processed.renditions {
                    let jpeg = if tag {
                        let stamp = Stamp {
                            ownership: &ownership,
                            asset_id: uuid::Uuid::nil(),
                            version_number: 1,
                            orientation: 1,
                            camera: &camera,
                        };
                        match tag_jpeg(&r.jpeg, &stamp, processed.icc.as_deref()) {
                            Ok(j) => j,
                            Err(e) => {
                                eprintln!("{}: {e}", file.display());
                                failures += 1;
                                continue;
                            }
                        }
                    } else {
                        r.jpeg.clone()
                    };
                    if let Some(dir) = &out {
                        let stem = file
                            .file_stem()
                            .map(|s| s.to_string_lossy().to_string())
                            .unwrap_or_default();
                        let path = dir.join(format!("{stem}.{}.jpg", r.kind.slug()));
                        if let Err(e) = std::fs::write(&path, &jpeg) {
                            eprintln!("{}: {e}", path.display());
                        }
                    }
                }
                let sizes: Vec<String> = processed
                    .renditions
                    .iter()
                    .map(|r| format!("{}x{}", r.width, r.height))
                    .collect();
                println!(
                    "{}\t{:.1} ms\t{}\t{}",
                    file.display(),
                    t0.elapsed().as_secs_f64() * 1000.0,
                    processed.decoder,
                    sizes.join(" ")
                );
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failures += 1;
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "rules\t{:.1} ms\t{:.2}% of the total\tfiles failing a rule {failed_rules}",
        rules_time.as_secs_f64() * 1000.0,
        rules_time.as_secs_f64() / total * 100.0
    );
    println!(
        "total\t{:.3} s\t{} files\t{:.2} files/s\tfailures {failures}",
        total,
        files.len(),
        files.len() as f64 / total
    );
}

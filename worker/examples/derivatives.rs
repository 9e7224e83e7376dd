//! Makes one derivative of every file given, one after the other on one
//! thread, as a lazy request or the processing job does (decode at the
//! size the plan needs, resize, crop, sRGB, sharpen, encode, stamp), and
//! prints the time taken. Used by `bench/derivatives.py`.
//!
//!     cargo run --release -p vitrine-worker --example derivatives -- \
//!         --fit inside|cover --size 1600 --format webp|jpeg|avif|png \
//!         [--quality 80] [--out DIR] FILES...

use std::path::PathBuf;
use std::time::Instant;

use vitrine_worker::render::RenderLimits;
use vitrine_worker::render::derive::{Anchor, DerivativeSpec, Fit, Output, derive};
use vitrine_worker::tagging::{Camera, Ownership, Stamp, tag_original};

fn main() {
    let mut out: Option<PathBuf> = None;
    let (mut fit, mut size, mut format, mut quality) =
        ("inside".to_owned(), 1600, "webp".to_owned(), 80);
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--fit" => fit = args.next().unwrap_or_default(),
            "--size" => size = args.next().and_then(|s| s.parse().ok()).unwrap_or(size),
            "--format" => format = args.next().unwrap_or_default(),
            "--quality" => quality = args.next().and_then(|s| s.parse().ok()).unwrap_or(quality),
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let output = match format.as_str() {
        "jpeg" | "jpg" => Output::Jpeg { quality },
        "avif" => Output::Avif { quality },
        "png" => Output::Png,
        _ => Output::Webp { quality },
    };
    let spec = DerivativeSpec {
        width: size,
        height: size,
        fit: if fit == "cover" {
            Fit::Cover(Anchor::Center)
        } else {
            Fit::Inside
        },
        background: [255, 255, 255],
        sharpen: true,
        upscale: false,
        output,
    };
    let limits = RenderLimits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
        jpeg_scan_limit: 500,
    };
    let ownership = Ownership {
        copyright: Some("© 2026 Vitrine Bench".into()),
        creator: Some("Bench Studio".into()),
        ..Default::default()
    };
    let started = Instant::now();
    let (mut failures, mut bytes_out, mut pixels_out) = (0, 0usize, 0u64);
    for file in &files {
        let one = Instant::now();
        let result = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let made = derive(&bytes, &spec, limits).map_err(|e| e.to_string())?;
                let camera = Camera::from_file(&bytes);
                let stamp = Stamp {
                    ownership: &ownership,
                    asset_id: uuid::Uuid::nil(),
                    version_number: 1,
                    orientation: 1,
                    camera: &camera,
                };
                let tagged = tag_original(&made.bytes, &stamp).map_err(|e| e.to_string())?;
                Ok((made.width, made.height, tagged))
            });
        match result {
            Ok((w, h, tagged)) => {
                bytes_out += tagged.len();
                pixels_out += u64::from(w) * u64::from(h);
                if let Some(dir) = &out {
                    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                    let ext = match format.as_str() {
                        "jpeg" => "jpg",
                        other => other,
                    };
                    std::fs::write(dir.join(format!("{stem}.{ext}")), &tagged).ok();
                }
                println!(
                    "{}\t{w}x{h}\t{} bytes\t{:.1} ms",
                    file.display(),
                    tagged.len(),
                    one.elapsed().as_secs_f64() * 1e3
                );
            }
            Err(e) => {
                failures += 1;
                eprintln!("{}: {e}", file.display());
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "total\t{} files\t{total:.3} s\t{bytes_out} bytes\t{:.2} output megapixels\tfailures {failures}",
        files.len(),
        pixels_out as f64 / 1e6
    );
}

//! Derivatives: a profile's box, fit and anchor applied to one decode of an
//! original. The geometry is planned in the upright frame (EXIF orientation
//! applied) from the header alone, so the decoder can shrink on load to
//! what the plan needs; the image is resized in its stored frame, oriented
//! once it is small, then cropped (COVER) or padded (CONTAIN).
//!
//! Never enlarged unless the profile asks: a COVER crop of a smaller image
//! keeps the box's aspect ratio at the image's own resolution, an INSIDE
//! fit stays at its size, CONTAIN pads it onto the full box.

use super::pixels::{self, Rgb};
use super::{RenderError, RenderLimits, decode, read_metadata};

/// How the image meets the box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// Inside the box, aspect kept.
    Inside,
    /// Covering the box, cropped to it at the anchor.
    Cover(Anchor),
    /// Inside the box, padded to it with the background.
    Contain,
}

/// Where a COVER crop centres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    Center,
    /// Fractions (0–1) of the upright image from its top-left corner.
    Point {
        x: f64,
        y: f64,
    },
    /// The window with the most detail (grey-level entropy).
    Entropy,
}

/// The encoding of a derivative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Jpeg {
        quality: i32,
    },
    /// Lossy WebP (libwebp, method 4: its default balance of speed and size).
    Webp {
        quality: i32,
    },
    /// AVIF (libaom, 8-bit 4:2:0, all-intra, speed [`super::avif::AVIF_SPEED`]).
    Avif {
        quality: i32,
    },
    Png,
}

/// What to make (the box already multiplied by the pixel density).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivativeSpec {
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub background: [u8; 3],
    pub sharpen: bool,
    pub upscale: bool,
    pub output: Output,
}

/// One derivative, encoded (not yet tagged with the ownership statement).
#[derive(Debug, Clone)]
pub struct Derived {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
}

/// The plan, in the upright frame: the image is scaled to `scaled`, the
/// window `crop` (x, y, w, h) of it is kept and placed at `offset` on a
/// canvas of `canvas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub scaled: (u32, u32),
    pub crop: (u32, u32, u32, u32),
    pub canvas: (u32, u32),
    pub offset: (u32, u32),
}

fn scaled(v: u32, s: f64) -> u32 {
    ((f64::from(v) * s).round() as u32).max(1)
}

/// Plans a derivative of an upright `w`×`h` image. COVER's window is
/// centred (moved later by the anchor, see [`place`]).
pub fn plan(w: u32, h: u32, spec: &DerivativeSpec) -> Geometry {
    let (bw, bh) = (spec.width.max(1), spec.height.max(1));
    let (fw, fh) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let cap = |s: f64| if spec.upscale { s } else { s.min(1.0) };
    match spec.fit {
        Fit::Inside | Fit::Contain => {
            let s = cap((f64::from(bw) / fw).min(f64::from(bh) / fh));
            let (sw, sh) = (scaled(w, s).min(bw), scaled(h, s).min(bh));
            let (canvas, offset) = if spec.fit == Fit::Contain {
                ((bw, bh), ((bw - sw) / 2, (bh - sh) / 2))
            } else {
                ((sw, sh), (0, 0))
            };
            Geometry {
                scaled: (sw, sh),
                crop: (0, 0, sw, sh),
                canvas,
                offset,
            }
        }
        Fit::Cover(_) => {
            let s = cap((f64::from(bw) / fw).max(f64::from(bh) / fh));
            let (sw, sh) = (scaled(w, s), scaled(h, s));
            // The largest window of the box's aspect ratio inside the scaled
            // image (the box itself unless a small image was not enlarged).
            let aspect = f64::from(bw) / f64::from(bh);
            let (mut cw, mut ch) = (sw, scaled(sw, 1.0 / aspect));
            if ch > sh {
                (cw, ch) = (scaled(sh, aspect), sh);
            }
            let (cw, ch) = (cw.min(sw).min(bw), ch.min(sh).min(bh));
            Geometry {
                scaled: (sw, sh),
                crop: ((sw - cw) / 2, (sh - ch) / 2, cw, ch),
                canvas: (cw, ch),
                offset: (0, 0),
            }
        }
    }
}

/// Moves a window of `len` inside `0..total` to centre on `at` (a fraction).
fn centred(total: u32, len: u32, at: f64) -> u32 {
    let free = total.saturating_sub(len);
    let want = at.clamp(0.0, 1.0) * f64::from(total) - f64::from(len) / 2.0;
    (want.round().max(0.0) as u32).min(free)
}

/// The crop window's origin for `anchor` on the scaled upright image.
fn place(image: &Rgb, g: &Geometry, anchor: Anchor) -> (u32, u32) {
    let (sw, sh) = g.scaled;
    let (_, _, cw, ch) = g.crop;
    match anchor {
        Anchor::Center => (g.crop.0, g.crop.1),
        Anchor::Point { x, y } => (centred(sw, cw, x), centred(sh, ch, y)),
        Anchor::Entropy => most_detailed(image, cw, ch),
    }
}

/// Grey-level entropy of a window (every other pixel, every other row).
fn entropy(image: &Rgb, x0: u32, y0: u32, w: u32, h: u32) -> f64 {
    let mut hist = [0u32; 64];
    let mut n = 0u32;
    let stride = image.width as usize * 3;
    for y in (y0..y0 + h).step_by(2) {
        let row = y as usize * stride;
        for x in (x0..x0 + w).step_by(2) {
            let i = row + x as usize * 3;
            let (r, g, b) = (image.data[i], image.data[i + 1], image.data[i + 2]);
            let grey = (u32::from(r) * 77 + u32::from(g) * 150 + u32::from(b) * 29) >> 8;
            hist[(grey >> 2) as usize] += 1;
            n += 1;
        }
    }
    let n = f64::from(n.max(1));
    hist.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The origin of the `w`×`h` window with the most detail, slid along the
/// axis the crop leaves free (17 positions at most).
fn most_detailed(image: &Rgb, w: u32, h: u32) -> (u32, u32) {
    let (free_x, free_y) = (image.width - w, image.height - h);
    let steps = 16u32;
    let mut best = ((free_x / 2, free_y / 2), f64::MIN);
    for i in 0..=steps {
        let at = (free_x * i / steps, free_y * i / steps);
        let e = entropy(image, at.0, at.1, w, h);
        if e > best.1 + 1e-9 {
            best = (at, e);
        }
    }
    best.0
}

fn crop(image: Rgb, x0: u32, y0: u32, w: u32, h: u32) -> Rgb {
    if (x0, y0, w, h) == (0, 0, image.width, image.height) {
        return image;
    }
    let stride = image.width as usize * 3;
    let mut data = Vec::with_capacity(w as usize * h as usize * 3);
    for y in y0..y0 + h {
        let start = y as usize * stride + x0 as usize * 3;
        data.extend_from_slice(&image.data[start..start + w as usize * 3]);
    }
    Rgb {
        width: w,
        height: h,
        data,
    }
}

fn pad(image: Rgb, g: &Geometry, background: [u8; 3]) -> Rgb {
    let (cw, ch) = g.canvas;
    if (cw, ch) == (image.width, image.height) {
        return image;
    }
    let mut data: Vec<u8> = background
        .iter()
        .copied()
        .cycle()
        .take(cw as usize * ch as usize * 3)
        .collect();
    let row = image.width as usize * 3;
    for y in 0..image.height as usize {
        let to = ((g.offset.1 as usize + y) * cw as usize + g.offset.0 as usize) * 3;
        data[to..to + row].copy_from_slice(&image.data[y * row..(y + 1) * row]);
    }
    Rgb {
        width: cw,
        height: ch,
        data,
    }
}

/// A light unsharp mask (amount 0.5 over a 3×3 box blur): downscaling with
/// Lanczos3 softens edges a little, web profiles usually restore them.
/// In place, a row at a time (the original of the row above and of the
/// row itself kept aside), with column sums the compiler vectorises.
fn sharpen(mut image: Rgb) -> Rgb {
    let (w, h) = (image.width as usize, image.height as usize);
    if w < 3 || h < 3 {
        return image;
    }
    let stride = w * 3;
    let data = &mut image.data;
    let mut above = data[..stride].to_vec();
    let mut row = vec![0u8; stride];
    let mut columns = vec![0u16; stride];
    for y in 1..h - 1 {
        let (head, tail) = data.split_at_mut((y + 1) * stride);
        let out = &mut head[y * stride..];
        let below = &tail[..stride];
        row.copy_from_slice(out);
        for (((c, &a), &r), &b) in columns.iter_mut().zip(&above).zip(&row).zip(below) {
            *c = u16::from(a) + u16::from(r) + u16::from(b);
        }
        for i in 3..stride - 3 {
            let sum = i32::from(columns[i - 3]) + i32::from(columns[i]) + i32::from(columns[i + 3]);
            let p = i32::from(row[i]);
            out[i] = (p + (p - sum / 9) / 2).clamp(0, 255) as u8;
        }
        std::mem::swap(&mut above, &mut row);
    }
    image
}

fn encode_webp(image: &Rgb, quality: i32) -> Result<Vec<u8>, RenderError> {
    let failed = |what: &str| RenderError::Encode(format!("WebP: {what}"));
    let mut config = webp::WebPConfig::new().map_err(|()| failed("no configuration"))?;
    config.lossless = 0;
    config.quality = quality.clamp(1, 100) as f32;
    config.method = 4;
    let encoded = webp::Encoder::from_rgb(&image.data, image.width, image.height)
        .encode_advanced(&config)
        .map_err(|e| failed(&format!("{e:?}")))?;
    Ok(encoded.to_vec())
}

fn encode_png(image: &Rgb) -> Result<Vec<u8>, RenderError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            &image.data,
            image.width,
            image.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    Ok(out)
}

/// The upright dimensions of an image, from its header.
fn upright_size(bytes: &[u8], limits: RenderLimits) -> Result<(u32, u32, u16), RenderError> {
    let orientation = read_metadata(bytes).orientation;
    let (w, h) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RenderError::Decode(e.to_string()))?
        .into_dimensions()
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    decode::check_pixels(u64::from(w), u64::from(h), limits)?;
    Ok(if pixels::swaps_axes(orientation) {
        (h, w, orientation)
    } else {
        (w, h, orientation)
    })
}

/// What making `spec` of `bytes` holds in memory at most besides the file
/// (from its header): the shrunk decode, the resized image and its
/// oriented, cropped or padded copies, and the encoder's buffers. Refused
/// above `max_decode_bytes`.
pub fn estimate(
    bytes: &[u8],
    spec: &DerivativeSpec,
    limits: RenderLimits,
) -> Result<u64, RenderError> {
    let (w, h, _) = upright_size(bytes, limits)?;
    let g = plan(w, h, spec);
    let scaled = u64::from(g.scaled.0) * u64::from(g.scaled.1) * 3;
    let canvas = u64::from(g.canvas.0) * u64::from(g.canvas.1) * 3;
    // libaom's own frame buffers: ~8.7 bytes an output pixel measured (a
    // 5.76 MP AVIF peaked 50 MB above the same PNG), counted as 10.
    let encoder = match spec.output {
        Output::Avif { .. } => canvas / 3 * 10,
        _ => 0,
    };
    let needed = decode::estimate(bytes, g.scaled.0.max(g.scaled.1))?
        + 3 * scaled
        + 3 * canvas
        + encoder
        + (1 << 20);
    if needed > limits.max_decode_bytes {
        return Err(RenderError::TooLarge(format!(
            "{needed} bytes needed to decode, {} allowed",
            limits.max_decode_bytes
        )));
    }
    Ok(needed)
}

/// The long edge the decode must reach for `spec` of an upright `w`×`h`
/// image (what processing decodes at when it makes eager derivatives).
pub fn needed_edge(w: u32, h: u32, spec: &DerivativeSpec) -> u32 {
    let g = plan(w, h, spec);
    g.scaled.0.max(g.scaled.1)
}

/// The upright size of an image from its header (EXIF orientation applied).
pub fn upright_dimensions(bytes: &[u8], limits: RenderLimits) -> Result<(u32, u32), RenderError> {
    upright_size(bytes, limits).map(|(w, h, _)| (w, h))
}

/// Makes one derivative of an original's bytes.
pub fn derive(
    bytes: &[u8],
    spec: &DerivativeSpec,
    limits: RenderLimits,
) -> Result<Derived, RenderError> {
    let (w, h, orientation) = upright_size(bytes, limits)?;
    let decoded = decode::decode(bytes, needed_edge(w, h, spec), limits)?;
    derive_decoded(&decoded, orientation, spec)
}

/// Makes one derivative from an image already decoded (at least at the
/// size [`needed_edge`] asks; processing decodes once for its renditions
/// and the eager derivatives).
pub(crate) fn derive_decoded(
    decoded: &decode::Decoded,
    orientation: u16,
    spec: &DerivativeSpec,
) -> Result<Derived, RenderError> {
    let swaps = pixels::swaps_axes(orientation);
    let (w, h) = if swaps {
        (decoded.full_height, decoded.full_width)
    } else {
        (decoded.full_width, decoded.full_height)
    };
    let g = plan(w, h, spec);
    let (sw, sh) = g.scaled;
    // Resized in the stored frame, oriented once small.
    let (tw, th) = if swaps { (sh, sw) } else { (sw, sh) };
    let resized = pixels::resize(&decoded.image, tw, th)?;
    let upright = pixels::orient(resized, orientation);
    let anchor = match spec.fit {
        Fit::Cover(anchor) => anchor,
        _ => Anchor::Center,
    };
    let (x0, y0) = place(&upright, &g, anchor);
    let mut image = crop(upright, x0, y0, g.crop.2, g.crop.3);
    super::srgb::to_srgb(&mut image, decoded.icc.as_deref());
    if spec.sharpen && u64::from(sw) * u64::from(sh) < u64::from(w) * u64::from(h) {
        image = sharpen(image);
    }
    let image = pad(image, &g, spec.background);
    let (bytes, media_type) = match spec.output {
        Output::Jpeg { quality } => (
            pixels::encode_jpeg_with(&image, quality, true)?,
            "image/jpeg",
        ),
        Output::Webp { quality } => (encode_webp(&image, quality)?, "image/webp"),
        Output::Avif { quality } => (super::avif::encode(&image, quality)?, "image/avif"),
        Output::Png => (encode_png(&image)?, "image/png"),
    };
    Ok(Derived {
        width: image.width,
        height: image.height,
        bytes,
        media_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: u32, height: u32, fit: Fit) -> DerivativeSpec {
        DerivativeSpec {
            width,
            height,
            fit,
            background: [255, 255, 255],
            sharpen: true,
            upscale: false,
            output: Output::Jpeg { quality: 80 },
        }
    }

    #[test]
    fn plans_each_fit_without_enlarging() {
        // 2560×1600 into 800×800.
        let g = plan(2560, 1600, &spec(800, 800, Fit::Inside));
        assert_eq!((g.scaled, g.canvas), ((800, 500), (800, 500)));
        let g = plan(2560, 1600, &spec(800, 800, Fit::Cover(Anchor::Center)));
        assert_eq!(g.scaled, (1280, 800));
        assert_eq!(g.crop, (240, 0, 800, 800));
        let g = plan(2560, 1600, &spec(800, 800, Fit::Contain));
        assert_eq!(
            (g.scaled, g.canvas, g.offset),
            ((800, 500), (800, 800), (0, 150))
        );
        // A smaller image is not enlarged: INSIDE keeps its size, COVER
        // keeps the box's aspect at the image's resolution, CONTAIN pads.
        let g = plan(400, 300, &spec(800, 800, Fit::Inside));
        assert_eq!(g.canvas, (400, 300));
        let g = plan(400, 300, &spec(800, 800, Fit::Cover(Anchor::Center)));
        assert_eq!((g.scaled, g.crop), ((400, 300), (50, 0, 300, 300)));
        let g = plan(400, 300, &spec(800, 800, Fit::Contain));
        assert_eq!((g.canvas, g.offset), ((800, 800), (200, 250)));
        // Unless asked.
        let mut up = spec(800, 800, Fit::Cover(Anchor::Center));
        up.upscale = true;
        let g = plan(400, 300, &up);
        assert_eq!((g.scaled, g.canvas), ((1067, 800), (800, 800)));
        // Portrait boxes on landscape images, and the reverse.
        let g = plan(2560, 1600, &spec(400, 500, Fit::Cover(Anchor::Center)));
        assert_eq!((g.scaled, g.canvas), ((800, 500), (400, 500)));
        let g = plan(1600, 2560, &spec(1080, 1350, Fit::Cover(Anchor::Center)));
        assert_eq!((g.scaled, g.canvas), ((1080, 1728), (1080, 1350)));
    }

    /// The unsharp mask written plainly, pixel by pixel.
    fn sharpen_reference(image: &Rgb) -> Vec<u8> {
        let (w, h) = (image.width as usize, image.height as usize);
        let mut out = image.data.clone();
        let at = |x: usize, y: usize, c: usize| i32::from(image.data[(y * w + x) * 3 + c]);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                for c in 0..3 {
                    let mut sum = 0;
                    for dy in 0..3 {
                        for dx in 0..3 {
                            sum += at(x + dx - 1, y + dy - 1, c);
                        }
                    }
                    let p = at(x, y, c);
                    out[(y * w + x) * 3 + c] = (p + (p - sum / 9) / 2).clamp(0, 255) as u8;
                }
            }
        }
        out
    }

    #[test]
    fn the_in_place_sharpen_matches_the_plain_one() {
        let mut seed = 11u32;
        for (w, h) in [(3, 3), (4, 7), (37, 23), (64, 2)] {
            let data = (0..w * h * 3)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Noise over steps, so both clamps are reached.
                    if i % 17 < 8 {
                        (seed >> 16) as u8
                    } else {
                        255 * (i % 2) as u8
                    }
                })
                .collect();
            let image = Rgb {
                width: w,
                height: h,
                data,
            };
            let expected = if w < 3 || h < 3 {
                image.data.clone()
            } else {
                sharpen_reference(&image)
            };
            assert_eq!(sharpen(image).data, expected, "{w}×{h}");
        }
    }

    #[test]
    fn a_focal_point_stays_inside_the_crop_even_near_an_edge() {
        let g = plan(2560, 1600, &spec(800, 800, Fit::Cover(Anchor::Center)));
        let image = Rgb {
            width: 1280,
            height: 800,
            data: vec![0; 1280 * 800 * 3],
        };
        for fx in [0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0] {
            let (x, y) = place(&image, &g, Anchor::Point { x: fx, y: 0.5 });
            let focal = (fx * 1280.0).round() as u32;
            assert!(x <= focal && focal <= x + 800, "{fx}: window at {x}");
            assert!(x + 800 <= 1280 && y == 0);
        }
        assert_eq!(place(&image, &g, Anchor::Point { x: 0.5, y: 0.5 }).0, 240);
    }

    #[test]
    fn the_entropy_anchor_finds_the_detailed_side() {
        // Flat grey on the left, noise on the right.
        let (w, h) = (300u32, 100u32);
        let mut data = vec![128u8; (w * h * 3) as usize];
        let mut seed = 7u32;
        for y in 0..h {
            for x in 200..w {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = ((y * w + x) * 3) as usize;
                data[i..i + 3].fill((seed >> 16) as u8);
            }
        }
        let image = Rgb {
            width: w,
            height: h,
            data,
        };
        let (x, _) = most_detailed(&image, 100, 100);
        assert_eq!(x, 200);
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures")
                .join(name),
        )
        .unwrap_or_default()
    }

    const LIMITS: RenderLimits = RenderLimits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
        jpeg_scan_limit: 100,
    };

    #[test]
    fn renders_real_photographs_upright_at_the_planned_size() {
        // garden.jpg is 2560×1600; storm-orient6 is stored sideways.
        let garden = fixture("garden.jpg");
        let d = derive(
            &garden,
            &spec(800, 800, Fit::Cover(Anchor::Entropy)),
            LIMITS,
        )
        .unwrap();
        assert_eq!((d.width, d.height, d.media_type), (800, 800, "image/jpeg"));
        let img = image::load_from_memory(&d.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (800, 800));

        let mut contain = spec(400, 400, Fit::Contain);
        contain.output = Output::Png;
        contain.background = [255, 0, 0];
        let d = derive(&garden, &contain, LIMITS).unwrap();
        let img = image::load_from_memory(&d.bytes).unwrap().to_rgb8();
        assert_eq!(
            (img.width(), img.height(), d.media_type),
            (400, 400, "image/png")
        );
        assert_eq!(
            img.get_pixel(200, 5).0,
            [255, 0, 0],
            "padded with the background"
        );

        let mut webp = spec(1600, 1600, Fit::Inside);
        webp.output = Output::Webp { quality: 80 };
        let d = derive(&garden, &webp, LIMITS).unwrap();
        assert_eq!(
            (d.width, d.height, d.media_type),
            (1600, 1000, "image/webp")
        );
        assert_eq!(&d.bytes[..4], b"RIFF");
        assert_eq!(&d.bytes[8..12], b"WEBP");
        let img = image::load_from_memory(&d.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (1600, 1000));
        assert!(
            d.bytes.len() < garden.len(),
            "lossy: {} bytes",
            d.bytes.len()
        );

        let storm = fixture("storm-orient6-gps.jpg");
        let (sw, sh) = image::load_from_memory(&storm)
            .map(|i| (i.width(), i.height()))
            .unwrap();
        assert!(sw > sh, "stored sideways");
        let d = derive(&storm, &spec(300, 300, Fit::Inside), LIMITS).unwrap();
        assert!(
            d.height > d.width,
            "displayed upright: {}×{}",
            d.width,
            d.height
        );
        assert_eq!(d.height, 300);
    }

    #[test]
    fn an_original_in_another_colour_space_comes_out_in_srgb() {
        use crate::tagging::{Camera, Ownership, Stamp, tag_jpeg};
        // A mid grey whose profile says its values are linear light.
        let grey = pixels::Rgb {
            width: 64,
            height: 64,
            data: vec![128; 64 * 64 * 3],
        };
        let plain = pixels::encode_jpeg(&grey, 95).unwrap();
        let (ownership, camera) = (Ownership::default(), Camera::default());
        let stamp = Stamp {
            ownership: &ownership,
            asset_id: uuid::Uuid::nil(),
            version_number: 1,
            orientation: 1,
            camera: &camera,
        };
        let icc = crate::render::srgb::tests::rgb_profile(1.0);
        let linear = tag_jpeg(&plain, &stamp, Some(&icc)).unwrap();
        let centre = |bytes: &[u8]| {
            let img = image::load_from_memory(bytes).unwrap().to_rgb8();
            img.get_pixel(16, 16).0
        };
        let mut s = spec(32, 32, Fit::Inside);
        s.sharpen = false;
        let untagged = derive(&plain, &s, LIMITS).unwrap();
        assert!(centre(&untagged.bytes)[1].abs_diff(128) <= 3);
        let converted = derive(&linear, &s, LIMITS).unwrap();
        let [r, g, b] = centre(&converted.bytes);
        assert!((181..=195).contains(&g), "~188 in sRGB, got {r} {g} {b}");
    }
}

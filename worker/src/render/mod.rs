//! Renditions and metadata of a version, from one decode.
//!
//! JPEG takes the fast path: libjpeg-turbo decodes at the DCT scale the
//! largest rendition allows (shrink-on-load, chosen like libvips: the decoded
//! image keeps at least twice the largest rendition's size), SIMD Lanczos3
//! resizes it, libjpeg-turbo encodes. Other formats (PNG, WebP, TIFF, and
//! JPEGs libjpeg-turbo cannot convert, such as CMYK) decode with the pure-Rust
//! `image` crate under the same limits. The EXIF orientation is applied to
//! each (small) rendition; an embedded ICC profile is carried over so colours
//! are never silently shifted.

pub(crate) mod avif;
mod colors;
mod decode;
pub mod derive;
mod descriptive;
mod metadata;
pub(crate) mod pixels;
mod png;
mod quality;
mod srgb;

use vitrine_entity::RenditionKind;

pub use colors::{ColorShare, PALETTE};
pub use descriptive::Descriptive;
pub use metadata::{ImageMetadata, read_exif, read_metadata};
pub use quality::Quality;

/// What to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenditionSpec {
    pub kind: RenditionKind,
    /// Long edge in pixels (never upscaled).
    pub long_edge: u32,
    /// JPEG quality, 1–100.
    pub quality: i32,
}

/// Limits on decoding.
#[derive(Debug, Clone, Copy)]
pub struct RenderLimits {
    pub max_pixels: u64,
    pub max_decode_bytes: u64,
    /// Most scans a progressive JPEG may have (a scan bomb costs CPU per scan).
    pub jpeg_scan_limit: u32,
}

/// One rendition, encoded (not yet tagged).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: RenditionKind,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Everything processing derives from a version's bytes.
#[derive(Debug, Clone)]
pub struct Processed {
    pub metadata: ImageMetadata,
    /// 64-bit difference hash of the oriented image.
    pub perceptual_hash: u64,
    pub renditions: Vec<Rendered>,
    /// The source's ICC profile, to embed in the renditions.
    pub icc: Option<Vec<u8>>,
    /// Which decoder made the pixels (for logs and benchmarks).
    pub decoder: &'static str,
    /// Sharpness and exposure, measured on the preview-sized image.
    pub quality: Quality,
    /// How long measuring them took (for the rules' benchmark).
    pub quality_time: std::time::Duration,
    /// The eager derivatives asked for, in order (unstamped).
    pub derivatives: Vec<Result<derive::Derived, RenderError>>,
}

/// Why a version cannot be processed. All are permanent: the same bytes
/// fail the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the image cannot be decoded: {0}")]
    Decode(String),
    #[error("the image is too large to process: {0}")]
    TooLarge(String),
    #[error("a rendition cannot be made: {0}")]
    Encode(String),
}

/// What making renditions of `bytes` will hold in memory at most besides
/// the file itself (from its header), refused above `max_decode_bytes`.
pub fn decode_estimate(
    bytes: &[u8],
    specs: &[RenditionSpec],
    limits: RenderLimits,
) -> Result<u64, RenderError> {
    decode_estimate_at(
        bytes,
        specs.iter().map(|s| s.long_edge).max().unwrap_or(1024),
        limits,
    )
}

/// [`decode_estimate`] for a decode at `largest` (see [`decode_edge`]).
pub fn decode_estimate_at(
    bytes: &[u8],
    largest: u32,
    limits: RenderLimits,
) -> Result<u64, RenderError> {
    // The decoded image, plus the renditions and their resize buffers.
    let rendition = u64::from(largest) * u64::from(largest) * 3;
    let needed = decode::estimate(bytes, largest)? + 4 * rendition + (1 << 20);
    if needed > limits.max_decode_bytes {
        return Err(RenderError::TooLarge(format!(
            "{needed} bytes needed to decode, {} allowed",
            limits.max_decode_bytes
        )));
    }
    Ok(needed)
}

/// The long edge processing decodes `bytes` at: the largest rendition's,
/// or larger when an eager derivative needs more.
pub fn decode_edge(
    bytes: &[u8],
    specs: &[RenditionSpec],
    derivatives: &[derive::DerivativeSpec],
    limits: RenderLimits,
) -> Result<u32, RenderError> {
    let mut largest = specs.iter().map(|s| s.long_edge).max().unwrap_or(1024);
    if !derivatives.is_empty() {
        let (w, h) = derive::upright_dimensions(bytes, limits)?;
        for d in derivatives {
            largest = largest.max(derive::needed_edge(w, h, d));
        }
    }
    Ok(largest)
}

/// Makes the metadata, perceptual hash and renditions of an image.
pub fn process(
    bytes: &[u8],
    specs: &[RenditionSpec],
    limits: RenderLimits,
) -> Result<Processed, RenderError> {
    process_with(bytes, specs, &[], limits)
}

/// Makes the metadata, perceptual hash, renditions and `derivatives` of an
/// image from one decode. A derivative that cannot be made is reported in
/// its place (the renditions still stand).
pub fn process_with(
    bytes: &[u8],
    specs: &[RenditionSpec],
    derivatives: &[derive::DerivativeSpec],
    limits: RenderLimits,
) -> Result<Processed, RenderError> {
    let mut metadata = read_metadata(bytes);
    metadata.descriptive = descriptive::read(bytes);
    let largest = decode_edge(bytes, specs, derivatives, limits)?;
    let decoded = decode::decode(bytes, largest, limits)?;
    let derived = derivatives
        .iter()
        .map(|d| derive::derive_decoded(&decoded, metadata.orientation, d))
        .collect();
    let orientation = metadata.orientation;
    // Sizes come from the full image (the decoded one may be DCT-scaled).
    let (full_w, full_h) = (decoded.full_width, decoded.full_height);

    let mut sorted: Vec<RenditionSpec> = specs.to_vec();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.long_edge));
    let mut made: Vec<(RenditionSpec, pixels::Rgb)> = Vec::new();
    for spec in &sorted {
        let (w, h) = pixels::fit_unrotated(full_w, full_h, orientation, spec.long_edge);
        // Derive from the smallest image made so far that is still at least
        // twice this size, else from the decoded image.
        let source = made
            .iter()
            .rev()
            .map(|(_, img)| img)
            .find(|img| img.width >= w.saturating_mul(2) && img.height >= h.saturating_mul(2))
            .unwrap_or(&decoded.image);
        let resized = pixels::resize(source, w, h)?;
        made.push((*spec, resized));
    }

    let mut renditions = Vec::new();
    let mut hash = 0;
    // The preview (else the largest rendition) is where quality is measured.
    let measured_on = sorted
        .iter()
        .find(|s| s.kind == RenditionKind::Preview)
        .or(sorted.first())
        .map(|s| s.kind);
    let mut measured = Quality::default();
    let mut quality_time = std::time::Duration::ZERO;
    // Colours are named on the smallest image (the thumbnail).
    if let Some((_, smallest)) = made.last() {
        metadata.colors = colors::dominant(smallest);
    }
    for (spec, image) in made {
        if Some(spec.kind) == measured_on {
            let started = std::time::Instant::now();
            measured = quality::measure(&image);
            quality_time = started.elapsed();
        }
        let oriented = pixels::orient(image, orientation);
        if spec.kind == RenditionKind::Thumbnail || hash == 0 {
            hash = pixels::dhash(&oriented)?;
        }
        let jpeg = pixels::encode_jpeg(&oriented, spec.quality)?;
        renditions.push(Rendered {
            kind: spec.kind,
            width: oriented.width,
            height: oriented.height,
            jpeg,
        });
    }
    renditions.sort_by_key(|r| {
        specs
            .iter()
            .position(|s| s.kind == r.kind)
            .unwrap_or(usize::MAX)
    });
    Ok(Processed {
        metadata,
        perceptual_hash: hash,
        renditions,
        icc: decoded.icc,
        decoder: decoded.decoder,
        quality: measured,
        quality_time,
        derivatives: derived,
    })
}

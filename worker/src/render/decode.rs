//! Decoding to RGB: libjpeg-turbo with DCT scaling for JPEG, the `image`
//! crate for the rest (and for JPEGs libjpeg-turbo cannot convert).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};

use super::pixels::Rgb;
use super::{RenderError, RenderLimits};
use crate::media::{Format, Sniffed, sniff};

pub(crate) struct Decoded {
    pub image: Rgb,
    /// The image's size before any DCT scaling.
    pub full_width: u32,
    pub full_height: u32,
    pub icc: Option<Vec<u8>>,
    pub decoder: &'static str,
}

pub(crate) fn check_pixels(
    width: u64,
    height: u64,
    limits: RenderLimits,
) -> Result<(), RenderError> {
    if width == 0 || height == 0 {
        return Err(RenderError::Decode("zero width or height".into()));
    }
    if width * height > limits.max_pixels {
        return Err(RenderError::TooLarge(format!(
            "{width}×{height} exceeds {} pixels",
            limits.max_pixels
        )));
    }
    Ok(())
}

/// What decoding `bytes` for renditions no larger than `largest` will hold
/// in memory at most (the decoded image and its conversions; not the file
/// itself), read from the header, counting the bytes per pixel of what each
/// decoder makes.
pub(crate) fn estimate(bytes: &[u8], largest: u32) -> Result<u64, RenderError> {
    let head = &bytes[..bytes.len().min(64)];
    let format = match sniff(head) {
        Sniffed::Accepted(f) => f,
        Sniffed::Refused(what) => {
            return Err(RenderError::Decode(format!("the file is {what}")));
        }
    };
    match format {
        Format::Png => super::png::estimate(bytes, largest),
        Format::Jpeg => {
            let mut decompressor =
                Decompressor::new().map_err(|e| RenderError::Decode(e.to_string()))?;
            let header = decompressor
                .read_header(bytes)
                .map_err(|e| RenderError::Decode(e.to_string()))?;
            let (w, h) = (header.width as u64, header.height as u64);
            if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
                // The `image` crate: CMYK to RGB, then our RGB copy.
                return Ok(w * h * (4 + 3));
            }
            let scaled = header.scaled(scaling_for(header.width, header.height, largest));
            let output = scaled.width as u64 * scaled.height as u64 * 3;
            // A progressive file's coefficients are kept whole whatever the
            // scale (2 bytes a sample, at most 3 samples a pixel).
            let coefficients = if jpeg_is_progressive(bytes) {
                w * h * 6
            } else {
                0
            };
            Ok(output + coefficients)
        }
        Format::WebP | Format::Tiff => {
            let decoder = ImageReader::with_format(Cursor::new(bytes), image_format(format))
                .into_decoder()
                .map_err(|e| RenderError::Decode(e.to_string()))?;
            let (w, h) = decoder.dimensions();
            // The decoded form, then at most an 8-bit RGB(A) copy of it.
            Ok(decoder.total_bytes() + u64::from(w) * u64::from(h) * 4)
        }
    }
}

/// Whether a JPEG's frame is progressive (SOF2, SOF6, SOF10, SOF14).
fn jpeg_is_progressive(bytes: &[u8]) -> bool {
    crate::tagging::jpeg_segments(bytes).is_ok_and(|segments| {
        segments
            .iter()
            .any(|s| matches!(s.marker, 0xC2 | 0xC6 | 0xCA | 0xCE))
    })
}

pub(crate) fn decode(
    bytes: &[u8],
    largest: u32,
    limits: RenderLimits,
) -> Result<Decoded, RenderError> {
    let head = &bytes[..bytes.len().min(64)];
    let format = match sniff(head) {
        Sniffed::Accepted(f) => f,
        Sniffed::Refused(what) => {
            return Err(RenderError::Decode(format!("the file is {what}")));
        }
    };
    if format == Format::Jpeg
        && let Some(decoded) = decode_jpeg_turbo(bytes, largest, limits)?
    {
        return Ok(decoded);
    }
    if format == Format::Png {
        let shrunk = super::png::decode(bytes, largest, limits)?;
        return Ok(Decoded {
            image: shrunk.image,
            full_width: shrunk.full_width,
            full_height: shrunk.full_height,
            icc: shrunk.icc,
            decoder: "png (rows, shrunk on load)",
        });
    }
    decode_generic(bytes, format, limits)
}

/// The DCT scale libvips would pick: shrink by 8, 4 or 2 on load while the
/// result keeps at least twice the largest rendition's size.
pub(crate) fn scaling_for(width: usize, height: usize, largest: u32) -> ScalingFactor {
    let long = width.max(height) as f64;
    let shrink = long / f64::from(largest.max(1));
    if shrink >= 16.0 {
        ScalingFactor::ONE_EIGHTH
    } else if shrink >= 8.0 {
        ScalingFactor::ONE_QUARTER
    } else if shrink >= 4.0 {
        ScalingFactor::ONE_HALF
    } else {
        ScalingFactor::ONE
    }
}

/// `Ok(None)` when libjpeg-turbo cannot produce RGB for this file (CMYK).
fn decode_jpeg_turbo(
    bytes: &[u8],
    largest: u32,
    limits: RenderLimits,
) -> Result<Option<Decoded>, RenderError> {
    let mut decompressor = Decompressor::new().map_err(|e| RenderError::Decode(e.to_string()))?;
    let header = decompressor
        .read_header(bytes)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Ok(None);
    }
    check_pixels(header.width as u64, header.height as u64, limits)?;
    let scaling = scaling_for(header.width, header.height, largest);
    decompressor
        .set_scaling_factor(scaling)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    decompressor
        .set_scan_limit(limits.jpeg_scan_limit)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let scaled = header.scaled(scaling);
    // Chroma upsampled by replication rather than interpolation when the
    // image is then shrunk at least twice: the resize averages more than
    // the interpolation would have smoothed (libjpeg-turbo's merged
    // upsampling and colour conversion, a cheaper pass).
    let shrunk_after = scaled.width.max(scaled.height) >= 2 * largest as usize;
    decompressor
        .set_fast_upsample(shrunk_after)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let mut pixels = vec![0u8; scaled.width * scaled.height * 3];
    let image = Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: PixelFormat::RGB,
    };
    decompressor
        .decompress(bytes, image)
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let to_u32 =
        |v: usize| u32::try_from(v).map_err(|_| RenderError::TooLarge("dimensions".into()));
    Ok(Some(Decoded {
        image: Rgb {
            width: to_u32(scaled.width)?,
            height: to_u32(scaled.height)?,
            data: pixels,
        },
        full_width: to_u32(header.width)?,
        full_height: to_u32(header.height)?,
        icc: jpeg_icc_profile(bytes),
        decoder: "libjpeg-turbo",
    }))
}

fn image_format(format: Format) -> image::ImageFormat {
    match format {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
        Format::WebP => image::ImageFormat::WebP,
        Format::Tiff => image::ImageFormat::Tiff,
    }
}

fn decode_generic(
    bytes: &[u8],
    format: Format,
    limits: RenderLimits,
) -> Result<Decoded, RenderError> {
    let reader = ImageReader::with_format(Cursor::new(bytes), image_format(format));
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    check_pixels(u64::from(width), u64::from(height), limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format(format));
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(width);
    image_limits.max_image_height = Some(height);
    image_limits.max_alloc = Some(limits.max_decode_bytes);
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| RenderError::Decode(e.to_string()))?;
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(l) => RenderError::TooLarge(l.to_string()),
        other => RenderError::Decode(other.to_string()),
    })?;
    // `into_*` converts without a copy when the image already has that form.
    let rgb = if image.color().has_alpha() {
        // JPEG has no alpha: composite over white, as a viewer would show it.
        let rgba = image.into_rgba8();
        let mut out = Vec::with_capacity(rgba.width() as usize * rgba.height() as usize * 3);
        for p in rgba.pixels() {
            let a = u16::from(p[3]);
            for c in 0..3 {
                let v = (u16::from(p[c]) * a + 255 * (255 - a) + 127) / 255;
                out.push(u8::try_from(v).unwrap_or(255));
            }
        }
        out
    } else {
        image.into_rgb8().into_raw()
    };
    Ok(Decoded {
        image: Rgb {
            width,
            height,
            data: rgb,
        },
        full_width: width,
        full_height: height,
        icc,
        decoder: "image",
    })
}

/// The ICC profile of a JPEG, reassembled from its APP2 `ICC_PROFILE` segments.
pub(crate) fn jpeg_icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut chunks: Vec<(u8, &[u8])> = Vec::new();
    for segment in crate::tagging::jpeg_segments(bytes).ok()? {
        if segment.marker == 0xE2 && segment.payload.starts_with(b"ICC_PROFILE\0") {
            let p = segment.payload;
            if p.len() > 14 {
                chunks.push((p[12], &p[14..]));
            }
        }
    }
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|c| c.0);
    Some(
        chunks
            .into_iter()
            .flat_map(|c| c.1.iter().copied())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_scale_keeps_twice_the_largest_rendition() {
        assert_eq!(scaling_for(5640, 3172, 1024), ScalingFactor::ONE_HALF);
        assert_eq!(scaling_for(2560, 1600, 1024), ScalingFactor::ONE);
        assert_eq!(scaling_for(20000, 10000, 1024), ScalingFactor::ONE_EIGHTH);
        assert_eq!(scaling_for(9000, 6000, 1024), ScalingFactor::ONE_QUARTER);
        assert_eq!(scaling_for(2560, 1600, 256), ScalingFactor::ONE_QUARTER);
        assert_eq!(scaling_for(2000, 1600, 256), ScalingFactor::ONE_HALF);
    }
}

//! PNG decoded row by row, shrunk on load: 16-bit samples are stripped to
//! 8 bits and palettes expanded as rows are decoded, each pixel is
//! composited over white, and blocks of `factor` × `factor` pixels are
//! averaged as the rows go by, so a 10,000 × 10,000 16-bit RGBA file (800 MB
//! of pixels) is made into renditions holding a few rows and a
//! 2,500 × 2,500 image — the way libvips shrinks JPEGs on load. Interlaced
//! files, whose rows arrive out of order, are decoded whole (at 8 bits).

use std::io::Cursor;

use png::{ColorType, Transformations};

use super::pixels::Rgb;
use super::{RenderError, RenderLimits};

/// What decoding a PNG this way will hold, from its header.
pub(crate) fn estimate(bytes: &[u8], largest: u32) -> Result<u64, RenderError> {
    let header = Header::read(bytes)?;
    let (w, h) = (u64::from(header.width), u64::from(header.height));
    let rows = 4 * w * 8 + (1 << 20);
    if header.interlaced {
        return Ok(w * h * 4 + w * h * 3 + rows);
    }
    let factor = u64::from(shrink_factor(header.width, header.height, largest));
    let (rw, rh) = (w.div_ceil(factor), h.div_ceil(factor));
    Ok(rw * rh * 3 + rw * 3 * 4 + rows)
}

struct Header {
    width: u32,
    height: u32,
    interlaced: bool,
}

impl Header {
    fn read(bytes: &[u8]) -> Result<Self, RenderError> {
        // Signature (8), IHDR length and type (8), width, height, depth,
        // colour type, compression, filter, interlace.
        let ihdr = bytes
            .get(16..29)
            .filter(|_| bytes.get(12..16) == Some(b"IHDR"))
            .ok_or_else(|| RenderError::Decode("no PNG header".into()))?;
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Ok(Self {
            width: be(&ihdr[0..4]),
            height: be(&ihdr[4..8]),
            interlaced: ihdr[12] == 1,
        })
    }
}

/// The integer shrink that keeps at least twice the largest rendition.
pub(crate) fn shrink_factor(width: u32, height: u32, largest: u32) -> u32 {
    let long = width.max(height);
    (long / largest.max(1).saturating_mul(2)).max(1)
}

fn decode_error(e: png::DecodingError) -> RenderError {
    match e {
        png::DecodingError::LimitsExceeded => {
            RenderError::TooLarge("the PNG decoder's memory limit".into())
        }
        other => RenderError::Decode(other.to_string()),
    }
}

/// One pixel of 8-bit samples in `color`, over white, as RGB.
fn rgb_over_white(px: &[u8], color: ColorType) -> [u32; 3] {
    let over = |c: u8, a: u8| {
        let (c, a) = (u32::from(c), u32::from(a));
        (c * a + 255 * (255 - a) + 127) / 255
    };
    match color {
        ColorType::Grayscale => [u32::from(px[0]); 3],
        ColorType::GrayscaleAlpha => [over(px[0], px[1]); 3],
        ColorType::Rgb => [px[0].into(), px[1].into(), px[2].into()],
        ColorType::Rgba => [over(px[0], px[3]), over(px[1], px[3]), over(px[2], px[3])],
        // Expanded away by the transformations.
        ColorType::Indexed => [255; 3],
    }
}

/// A PNG decoded by [`decode`].
pub(crate) struct Shrunk {
    pub image: Rgb,
    pub full_width: u32,
    pub full_height: u32,
    pub icc: Option<Vec<u8>>,
}

/// Decodes a PNG to RGB over white, shrunk by an integer factor that keeps
/// at least twice `largest`.
pub(crate) fn decode(
    bytes: &[u8],
    largest: u32,
    limits: RenderLimits,
) -> Result<Shrunk, RenderError> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(limits.max_decode_bytes).unwrap_or(usize::MAX),
    });
    let mut reader = decoder.read_info().map_err(decode_error)?;
    let (width, height, interlaced, icc) = {
        let info = reader.info();
        (
            info.width,
            info.height,
            info.interlaced,
            info.icc_profile.as_ref().map(|p| p.to_vec()),
        )
    };
    super::decode::check_pixels(u64::from(width), u64::from(height), limits)?;
    let (color, _) = reader.output_color_type();
    let channels = color.samples();
    let factor = if interlaced {
        1
    } else {
        shrink_factor(width, height, largest)
    };
    let (w, f) = (width as usize, factor as usize);
    let out_w = w.div_ceil(f);
    let out_h = (height as usize).div_ceil(f);
    let mut out = Vec::with_capacity(out_w * out_h * 3);
    let mut sums = vec![0u32; out_w * 3];
    let mut rows_in_block = 0usize;
    let emit = |sums: &mut Vec<u32>, rows: usize, out: &mut Vec<u8>| {
        for (ox, chunk) in sums.chunks_exact_mut(3).enumerate() {
            let cols = f.min(w - ox * f);
            let n = u32::try_from(cols * rows).unwrap_or(u32::MAX).max(1);
            for s in chunk.iter_mut() {
                out.push(u8::try_from((*s + n / 2) / n).unwrap_or(255));
                *s = 0;
            }
        }
    };
    if interlaced {
        let mut frame = vec![
            0u8;
            reader.output_buffer_size().ok_or_else(|| {
                RenderError::TooLarge("the image does not fit in memory".into())
            })?
        ];
        let info = reader.next_frame(&mut frame).map_err(decode_error)?;
        for row in frame.chunks_exact(info.line_size).take(height as usize) {
            for px in row.chunks_exact(channels).take(w) {
                out.extend(rgb_over_white(px, color).map(|v| u8::try_from(v).unwrap_or(255)));
            }
        }
    } else {
        while let Some(row) = reader.next_row().map_err(decode_error)? {
            for (x, px) in row.data().chunks_exact(channels).take(w).enumerate() {
                let rgb = rgb_over_white(px, color);
                let at = (x / f) * 3;
                sums[at] += rgb[0];
                sums[at + 1] += rgb[1];
                sums[at + 2] += rgb[2];
            }
            rows_in_block += 1;
            if rows_in_block == f {
                emit(&mut sums, rows_in_block, &mut out);
                rows_in_block = 0;
            }
        }
        if rows_in_block > 0 {
            emit(&mut sums, rows_in_block, &mut out);
        }
    }
    reader.finish().map_err(decode_error)?;
    if out.len() != out_w * out_h * 3 {
        return Err(RenderError::Decode("the image data ends early".into()));
    }
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| RenderError::TooLarge("size".into()));
    Ok(Shrunk {
        image: Rgb {
            width: to_u32(out_w)?,
            height: to_u32(out_h)?,
            data: out,
        },
        full_width: width,
        full_height: height,
        icc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(
        width: u32,
        height: u32,
        color: ColorType,
        depth: png::BitDepth,
        pixel: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(depth);
            let mut writer = encoder.write_header().unwrap();
            let data: Vec<u8> = pixel
                .iter()
                .copied()
                .cycle()
                .take(pixel.len() * (width * height) as usize)
                .collect();
            writer.write_image_data(&data).unwrap();
        }
        out
    }

    const LIMITS: RenderLimits = RenderLimits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
        jpeg_scan_limit: 100,
    };

    #[test]
    fn sixteen_bit_rgba_is_shrunk_and_composited_over_white() {
        // Half-transparent pure red, 16 bits a sample.
        let bytes = png(
            1000,
            600,
            ColorType::Rgba,
            png::BitDepth::Sixteen,
            &[0xFF, 0xFF, 0, 0, 0, 0, 0x80, 0x00],
        );
        let shrunk = decode(&bytes, 100, LIMITS).unwrap();
        let img = shrunk.image;
        assert_eq!((shrunk.full_width, shrunk.full_height), (1000, 600));
        // Shrunk by 5 (keeps twice 100): 200 × 120.
        assert_eq!((img.width, img.height), (200, 120));
        assert_eq!(&img.data[..3], &[255, 127, 127]);
        assert!(estimate(&bytes, 100).unwrap() < 1 << 21);
    }

    #[test]
    fn edges_of_partial_blocks_average_what_they_hold() {
        let bytes = png(7, 5, ColorType::Grayscale, png::BitDepth::Eight, &[200]);
        let img = decode(&bytes, 1, LIMITS).unwrap().image;
        assert_eq!((img.width, img.height), (3, 2));
        assert!(img.data.iter().all(|&v| v == 200), "{:?}", img.data);
    }

    #[test]
    fn a_truncated_png_is_refused() {
        let bytes = png(300, 300, ColorType::Rgb, png::BitDepth::Eight, &[1, 2, 3]);
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert!(decode(cut, 100, LIMITS).is_err());
    }
}

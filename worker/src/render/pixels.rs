//! RGB buffers: fitting, SIMD Lanczos3 resizing, EXIF orientation, the
//! difference hash, JPEG encoding.

use fast_image_resize::images::{Image as FirImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

use super::RenderError;

/// Packed 8-bit RGB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Whether an EXIF orientation swaps width and height.
pub(crate) fn swaps_axes(orientation: u16) -> bool {
    matches!(orientation, 5..=8)
}

/// The size to resize to in the stored (unrotated) frame so that the
/// *oriented* image fits `long_edge`, never upscaling.
pub(crate) fn fit_unrotated(
    width: u32,
    height: u32,
    orientation: u16,
    long_edge: u32,
) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_edge {
        return (width.max(1), height.max(1));
    }
    let scale = f64::from(long_edge) / f64::from(long);
    let w = ((f64::from(width) * scale).round() as u32).max(1);
    let h = ((f64::from(height) * scale).round() as u32).max(1);
    // The long edge is the same in both frames; orientation only matters for
    // which side it is, and `fit` keeps the aspect ratio either way.
    let _ = swaps_axes(orientation);
    (w, h)
}

pub(crate) fn resize(source: &Rgb, width: u32, height: u32) -> Result<Rgb, RenderError> {
    if source.width == width && source.height == height {
        return Ok(source.clone());
    }
    let src = ImageRef::new(source.width, source.height, &source.data, PixelType::U8x3)
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    let mut dst = FirImage::new(width, height, PixelType::U8x3);
    let mut resizer = Resizer::new();
    resizer
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    Ok(Rgb {
        width,
        height,
        data: dst.into_vec(),
    })
}

/// Applies an EXIF orientation (1–8) so the image displays upright.
pub(crate) fn orient(image: Rgb, orientation: u16) -> Rgb {
    if !(2..=8).contains(&orientation) {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let (ow, oh) = if swaps_axes(orientation) {
        (h, w)
    } else {
        (w, h)
    };
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            // Where the stored pixel (x, y) lands in the displayed image.
            let (dx, dy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (h - 1 - y, x),
                7 => (h - 1 - y, w - 1 - x),
                8 => (y, w - 1 - x),
                _ => (x, y),
            };
            let s = (y * w + x) * 3;
            let d = (dy * ow + dx) * 3;
            out[d..d + 3].copy_from_slice(&image.data[s..s + 3]);
        }
    }
    Rgb {
        width: u32::try_from(ow).unwrap_or(image.width),
        height: u32::try_from(oh).unwrap_or(image.height),
        data: out,
    }
}

/// 64-bit difference hash: the image as 9×8 greys, one bit per horizontal
/// neighbour pair (set when the left one is darker).
pub(crate) fn dhash(image: &Rgb) -> Result<u64, RenderError> {
    let grey: Vec<u8> = image
        .data
        .chunks_exact(3)
        .map(|p| {
            let l = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
            u8::try_from(l / 1000).unwrap_or(255)
        })
        .collect();
    let src = FirImage::from_vec_u8(image.width, image.height, grey, PixelType::U8)
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    let mut dst = FirImage::new(9, 8, PixelType::U8);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box)),
        )
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    let px = dst.buffer();
    let mut hash = 0u64;
    for row in 0..8 {
        for col in 0..8 {
            hash <<= 1;
            if px[row * 9 + col] < px[row * 9 + col + 1] {
                hash |= 1;
            }
        }
    }
    Ok(hash)
}

pub(crate) fn encode_jpeg(image: &Rgb, quality: i32) -> Result<Vec<u8>, RenderError> {
    encode_jpeg_with(image, quality, false)
}

/// JPEG for the web: `progressive` also means optimised Huffman tables
/// (smaller files that show early while they load).
pub(crate) fn encode_jpeg_with(
    image: &Rgb,
    quality: i32,
    progressive: bool,
) -> Result<Vec<u8>, RenderError> {
    let mut compressor = Compressor::new().map_err(|e| RenderError::Encode(e.to_string()))?;
    if progressive {
        compressor
            .set_progressive(true)
            .map_err(|e| RenderError::Encode(e.to_string()))?;
        compressor
            .set_optimize(true)
            .map_err(|e| RenderError::Encode(e.to_string()))?;
    }
    compressor
        .set_quality(quality)
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    compressor
        .set_subsamp(Subsamp::Sub2x2)
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    let width = image.width as usize;
    compressor
        .compress_to_vec(Image {
            pixels: image.data.as_slice(),
            width,
            pitch: width * 3,
            height: image.height as usize,
            format: PixelFormat::RGB,
        })
        .map_err(|e| RenderError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(w: u32, h: u32) -> Rgb {
        let mut data = Vec::new();
        for i in 0..(w * h) {
            data.extend_from_slice(&[u8::try_from(i).unwrap(), 0, 0]);
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    fn at(img: &Rgb, x: u32, y: u32) -> u8 {
        img.data[((y * img.width + x) * 3) as usize]
    }

    #[test]
    fn orientations_put_the_top_left_pixel_where_exif_says() {
        // Stored 3×2: 0 1 2 / 3 4 5.
        let src = numbered(3, 2);
        let o1 = orient(src.clone(), 1);
        assert_eq!((o1.width, o1.height, at(&o1, 0, 0)), (3, 2, 0));
        let o2 = orient(src.clone(), 2); // mirrored horizontally
        assert_eq!(at(&o2, 0, 0), 2);
        let o3 = orient(src.clone(), 3); // rotated 180°
        assert_eq!(at(&o3, 0, 0), 5);
        let o4 = orient(src.clone(), 4); // mirrored vertically
        assert_eq!(at(&o4, 0, 0), 3);
        let o6 = orient(src.clone(), 6); // rotate 90° clockwise to display
        assert_eq!((o6.width, o6.height), (2, 3));
        assert_eq!([at(&o6, 0, 0), at(&o6, 1, 0), at(&o6, 0, 2)], [3, 0, 5]);
        let o8 = orient(src.clone(), 8); // rotate 90° counter-clockwise
        assert_eq!([at(&o8, 0, 0), at(&o8, 1, 0), at(&o8, 1, 2)], [2, 5, 3]);
        let o5 = orient(src.clone(), 5); // transpose
        assert_eq!([at(&o5, 0, 0), at(&o5, 1, 0), at(&o5, 0, 1)], [0, 3, 1]);
        let o7 = orient(src, 7); // transverse
        assert_eq!([at(&o7, 0, 0), at(&o7, 1, 2)], [5, 0]);
    }

    #[test]
    fn fitting_never_upscales_and_keeps_the_aspect_ratio() {
        assert_eq!(fit_unrotated(4000, 3000, 1, 1024), (1024, 768));
        assert_eq!(fit_unrotated(3000, 4000, 6, 256), (192, 256));
        assert_eq!(fit_unrotated(800, 600, 1, 1024), (800, 600));
    }

    #[test]
    fn dhash_tells_images_apart_and_survives_resizing() {
        let gradient = |w: u32, h: u32, flip: bool| {
            let mut data = Vec::new();
            for _y in 0..h {
                for x in 0..w {
                    let v = u8::try_from(x * 255 / w).unwrap();
                    let v = if flip { 255 - v } else { v };
                    data.extend_from_slice(&[v, v, v]);
                }
            }
            Rgb {
                width: w,
                height: h,
                data,
            }
        };
        let a = dhash(&gradient(256, 160, false)).unwrap();
        let b = dhash(&gradient(1024, 640, false)).unwrap();
        let c = dhash(&gradient(256, 160, true)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, u64::MAX);
        assert_eq!(c, 0);
    }
}

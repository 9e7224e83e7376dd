//! Quality measures for the automatic moderation rules, taken on the
//! preview-sized image the renditions already made (no second decode):
//! sharpness as the variance of the Laplacian of the luma, exposure as the
//! shares of pixels clipped to black and to white.

use serde::{Deserialize, Serialize};

use super::pixels::Rgb;

/// What was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Variance of the 4-neighbour Laplacian of the luma (0–255 scale).
    pub sharpness: f64,
    /// Share of pixels whose luma is at most [`BLACK`].
    pub shadows: f64,
    /// Share of pixels whose luma is at least [`WHITE`].
    pub highlights: f64,
}

/// Luma at or below which a pixel counts as clipped to black.
pub const BLACK: u8 = 3;
/// Luma at or above which a pixel counts as clipped to white.
pub const WHITE: u8 = 252;

fn luma(p: &[u8]) -> u8 {
    let l = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
    u8::try_from(l / 1000).unwrap_or(255)
}

/// Measures an image (any orientation: both measures are invariant to it).
pub(crate) fn measure(image: &Rgb) -> Quality {
    let (w, h) = (image.width as usize, image.height as usize);
    if w == 0 || h == 0 {
        return Quality::default();
    }
    let grey: Vec<u8> = image.data.chunks_exact(3).map(luma).collect();
    let (mut black, mut white) = (0usize, 0usize);
    for &l in &grey {
        black += usize::from(l <= BLACK);
        white += usize::from(l >= WHITE);
    }
    let total = grey.len() as f64;
    let (mut sum, mut squares, mut n) = (0i64, 0i64, 0i64);
    if w >= 3 && h >= 3 {
        for y in 1..h - 1 {
            let row = &grey[y * w..(y + 1) * w];
            let up = &grey[(y - 1) * w..y * w];
            let down = &grey[(y + 1) * w..(y + 2) * w];
            for x in 1..w - 1 {
                let lap = i64::from(up[x])
                    + i64::from(down[x])
                    + i64::from(row[x - 1])
                    + i64::from(row[x + 1])
                    - 4 * i64::from(row[x]);
                sum += lap;
                squares += lap * lap;
                n += 1;
            }
        }
    }
    let sharpness = if n == 0 {
        0.0
    } else {
        let mean = sum as f64 / n as f64;
        squares as f64 / n as f64 - mean * mean
    };
    Quality {
        sharpness,
        shadows: black as f64 / total,
        highlights: white as f64 / total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Rgb {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let v = f(x, y);
                data.extend_from_slice(&[v, v, v]);
            }
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn edges_are_sharp_and_flat_fields_are_not() {
        let checker = measure(&image(64, 64, |x, y| {
            if (x / 2 + y / 2) % 2 == 0 { 20 } else { 220 }
        }));
        let flat = measure(&image(64, 64, |_, _| 128));
        let ramp = measure(&image(64, 64, |x, _| (x * 4) as u8));
        assert!(checker.sharpness > 1000.0, "{checker:?}");
        assert_eq!(flat.sharpness, 0.0);
        assert!(ramp.sharpness < 1.0, "{ramp:?}");
    }

    #[test]
    fn clipping_counts_black_and_white_pixels() {
        let q = measure(&image(10, 10, |x, _| match x {
            0..=1 => 0,
            2..=6 => 255,
            _ => 128,
        }));
        assert!((q.shadows - 0.2).abs() < 1e-9);
        assert!((q.highlights - 0.5).abs() < 1e-9);
    }
}

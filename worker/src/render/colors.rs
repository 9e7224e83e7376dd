//! Dominant colours, named from a fixed palette: every pixel of the
//! thumbnail-sized image the renditions already made is classified by hue,
//! saturation and value into one of thirteen names; the names that cover
//! enough of the image are its colours.

use serde::{Deserialize, Serialize};

use super::pixels::Rgb;

/// The palette's names.
pub const PALETTE: [&str; 13] = [
    "black", "white", "gray", "beige", "brown", "red", "orange", "yellow", "green", "teal", "blue",
    "purple", "pink",
];

/// The least share of the pixels a colour needs to count as dominant.
pub const MIN_SHARE: f64 = 0.15;
/// Most colours named per image.
pub const MAX_COLORS: usize = 3;

/// A named colour and the share of the image it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColorShare {
    pub name: String,
    pub share: f64,
}

/// The palette index of one pixel.
pub fn classify(r: u8, g: u8, b: u8) -> usize {
    let (r, g, b) = (
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let v = max;
    let delta = max - min;
    let s = if max > 0.0 { delta / max } else { 0.0 };
    if v < 0.2 {
        return 0; // black
    }
    let h = if delta == 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / delta).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    let warm = (15.0..50.0).contains(&h);
    if s < 0.12 || (s < 0.2 && !warm) {
        return if v > 0.85 { 1 } else { 2 }; // white / gray
    }
    if warm && s < 0.45 && v > 0.7 {
        return 3; // beige
    }
    if (10.0..50.0).contains(&h) && v < 0.6 {
        return 4; // brown
    }
    match h {
        h if !(15.0..345.0).contains(&h) => {
            if s < 0.5 && v > 0.7 {
                12 // light red: pink
            } else {
                5
            }
        }
        h if h < 40.0 => 6,
        h if h < 70.0 => 7,
        h if h < 165.0 => 8,
        h if h < 195.0 => 9,
        h if h < 255.0 => 10,
        h if h < 290.0 => 11,
        _ => 12,
    }
}

/// The dominant colours of an image, most covering first.
pub(crate) fn dominant(image: &Rgb) -> Vec<ColorShare> {
    let mut counts = [0u64; PALETTE.len()];
    let mut total = 0u64;
    for p in image.data.chunks_exact(3) {
        counts[classify(p[0], p[1], p[2])] += 1;
        total += 1;
    }
    if total == 0 {
        return Vec::new();
    }
    let mut shares: Vec<ColorShare> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| ColorShare {
            name: PALETTE[i].to_owned(),
            share: (*c as f64 / total as f64 * 1000.0).round() / 1000.0,
        })
        .filter(|c| c.share >= MIN_SHARE)
        .collect();
    shares.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.name.cmp(&b.name)));
    shares.truncate(MAX_COLORS);
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(r: u8, g: u8, b: u8) -> &'static str {
        PALETTE[classify(r, g, b)]
    }

    #[test]
    fn pixels_get_the_names_a_person_would_give() {
        assert_eq!(name(0, 0, 0), "black");
        assert_eq!(name(255, 255, 255), "white");
        assert_eq!(name(128, 128, 128), "gray");
        assert_eq!(name(220, 20, 30), "red");
        assert_eq!(name(255, 140, 0), "orange");
        assert_eq!(name(250, 220, 30), "yellow");
        assert_eq!(name(30, 160, 60), "green");
        assert_eq!(name(20, 170, 170), "teal");
        assert_eq!(name(30, 60, 200), "blue");
        assert_eq!(name(130, 40, 180), "purple");
        assert_eq!(name(240, 130, 190), "pink");
        assert_eq!(name(120, 70, 30), "brown");
        assert_eq!(name(230, 210, 180), "beige");
        // Rose gold is a pinkish beige, not red.
        assert_ne!(name(183, 110, 121), "red");
    }

    #[test]
    fn shares_under_the_threshold_are_not_named() {
        let mut data = Vec::new();
        for i in 0..100 {
            let px: [u8; 3] = match i {
                0..70 => [30, 60, 200],
                70..90 => [255, 255, 255],
                _ => [220, 20, 30],
            };
            data.extend_from_slice(&px);
        }
        let image = Rgb {
            width: 10,
            height: 10,
            data,
        };
        let d = dominant(&image);
        let names: Vec<&str> = d.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["blue", "white"]);
        assert!((d[0].share - 0.7).abs() < 1e-9);
    }
}

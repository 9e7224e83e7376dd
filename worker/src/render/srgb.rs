//! Derivatives are delivered in sRGB: an original carrying another colour
//! profile (Adobe RGB, Display P3, a camera's own) is converted with qcms
//! (Firefox's colour management, pure Rust) after it is resized and
//! cropped, so every format — AVIF and WebP included, where embedding a
//! profile is not what browsers expect — shows the right colours without
//! one, and browsers that manage no colour show them right too. An
//! unreadable profile leaves the pixels as they are (as a browser would).

use std::sync::LazyLock;

use qcms::{DataType, Intent, Profile, Transform};

use super::pixels::Rgb;

static SRGB: LazyLock<Box<Profile>> = LazyLock::new(|| {
    let mut p = Profile::new_sRGB();
    p.precache_output_transform();
    p
});

/// Converts `image` from the colour space `icc` describes to sRGB; returns
/// whether it did.
pub(crate) fn to_srgb(image: &mut Rgb, icc: Option<&[u8]>) -> bool {
    let Some(icc) = icc else {
        return false;
    };
    // Only RGB profiles apply to RGB pixels (a CMYK original was converted
    // by its decoder).
    if icc.get(16..20) != Some(b"RGB ") {
        return false;
    }
    let Some(source) = Profile::new_from_slice(icc, false) else {
        return false;
    };
    let Some(transform) = Transform::new(&source, &SRGB, DataType::RGB8, Intent::default()) else {
        return false;
    };
    transform.apply(&mut image.data);
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn s15(v: f64) -> [u8; 4] {
        ((v * 65536.0).round() as i32).to_be_bytes()
    }

    /// An ICC v2 display profile with sRGB's primaries (adapted to D50)
    /// and a straight `gamma` curve: at gamma 1.0 the pixel values are
    /// linear light, so a mid grey of 128 is sRGB's ~188.
    pub(crate) fn rgb_profile(gamma: f64) -> Vec<u8> {
        let xyz = |x: f64, y: f64, z: f64| {
            let mut t = b"XYZ \0\0\0\0".to_vec();
            for v in [x, y, z] {
                t.extend_from_slice(&s15(v));
            }
            t
        };
        let curve = {
            let mut t = b"curv\0\0\0\0".to_vec();
            t.extend_from_slice(&1u32.to_be_bytes());
            t.extend_from_slice(&((gamma * 256.0).round() as u16).to_be_bytes());
            t.extend_from_slice(&[0, 0]);
            t
        };
        let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
            (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
            (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve.clone()),
            (b"gTRC", curve.clone()),
            (b"bTRC", curve),
        ];
        let table_len = 4 + 12 * tags.len();
        let mut offset = 128 + table_len;
        let mut table = (tags.len() as u32).to_be_bytes().to_vec();
        let mut data = Vec::new();
        for (sig, body) in &tags {
            table.extend_from_slice(*sig);
            table.extend_from_slice(&(offset as u32).to_be_bytes());
            table.extend_from_slice(&(body.len() as u32).to_be_bytes());
            data.extend_from_slice(body);
            offset += body.len();
        }
        let size = 128 + table.len() + data.len();
        let mut header = vec![0u8; 128];
        header[0..4].copy_from_slice(&(size as u32).to_be_bytes());
        header[8..12].copy_from_slice(&0x0210_0000u32.to_be_bytes());
        header[12..16].copy_from_slice(b"mntr");
        header[16..20].copy_from_slice(b"RGB ");
        header[20..24].copy_from_slice(b"XYZ ");
        header[36..40].copy_from_slice(b"acsp");
        header[68..72].copy_from_slice(&s15(0.9642));
        header[72..76].copy_from_slice(&s15(1.0));
        header[76..80].copy_from_slice(&s15(0.8249));
        let mut icc = header;
        icc.extend(table);
        icc.extend(data);
        icc
    }

    fn grey(v: u8) -> Rgb {
        Rgb {
            width: 4,
            height: 4,
            data: vec![v; 48],
        }
    }

    #[test]
    fn linear_light_becomes_srgb() {
        let mut image = grey(128);
        assert!(to_srgb(&mut image, Some(&rgb_profile(1.0))));
        let v = image.data[0];
        assert!(
            (183..=193).contains(&v),
            "128 linear is ~188 in sRGB, got {v}"
        );
        assert!(image.data.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    }

    #[test]
    fn an_srgb_like_profile_barely_moves_and_nothing_else_is_touched() {
        let mut image = grey(128);
        assert!(to_srgb(&mut image, Some(&rgb_profile(2.2))));
        assert!(image.data[0].abs_diff(128) <= 6, "{}", image.data[0]);
        for bad in [None, Some(&b"garbage"[..]), Some(&[0u8; 200][..])] {
            let mut image = grey(128);
            assert!(!to_srgb(&mut image, bad));
            assert_eq!(image, grey(128));
        }
    }
}

//! Metadata read from a file's EXIF (kamadak-exif).

use std::io::Cursor;

use exif::{Exif, In, Reader, Tag, Value};
use serde::{Deserialize, Serialize};

/// What Vitrine records about a version's file. The GPS position is kept
/// apart (`gps`) and never serialised with the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMetadata {
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub lens: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS`, with the offset when the file records one.
    pub captured_at: Option<String>,
    /// EXIF orientation, 1–8 (1 when absent).
    pub orientation: u16,
    pub has_gps: bool,
    #[serde(skip)]
    pub gps: Option<(f64, f64)>,
    /// Fields judged private and never delivered (for the record).
    pub has_serial_numbers: bool,
    /// The original's copyright and artist fields (for the ownership rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    /// IPTC/XMP headline, caption and keywords (for search and auto-tags).
    #[serde(default, flatten)]
    pub descriptive: super::Descriptive,
    /// The dominant colours, named (for search and auto-tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub colors: Vec<super::ColorShare>,
}

fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    match &field.value {
        Value::Ascii(parts) => parts
            .first()
            .map(|p| {
                String::from_utf8_lossy(p)
                    .trim()
                    .trim_end_matches('\0')
                    .to_owned()
            })
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

fn degrees(exif: &Exif, tag: Tag, reference: Tag, negative: u8) -> Option<f64> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    let Value::Rational(parts) = &field.value else {
        return None;
    };
    let mut value = 0.0;
    for (part, divisor) in parts.iter().zip([1.0, 60.0, 3600.0]) {
        if part.denom == 0 {
            return None;
        }
        value += part.to_f64() / divisor;
    }
    let sign = match exif.get_field(reference, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(r)) if r.first().and_then(|r| r.first()) == Some(&negative) => -1.0,
        _ => 1.0,
    };
    Some(sign * value)
}

/// The EXIF of a WebP file: its `EXIF` chunk, with or without the
/// `Exif\0\0` prefix that some writers (exiftool) put before the TIFF
/// header, which the EXIF reader does not expect.
fn webp_exif(bytes: &[u8]) -> Option<Exif> {
    if bytes.get(0..4) != Some(b"RIFF".as_slice()) || bytes.get(8..12) != Some(b"WEBP".as_slice()) {
        return None;
    }
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let kind = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let len = usize::try_from(len).ok()?;
        let data = bytes.get(at + 8..at + 8 + len)?;
        if kind == b"EXIF" {
            let tiff = data.strip_prefix(b"Exif\0\0".as_slice()).unwrap_or(data);
            return Reader::new().read_raw(tiff.to_vec()).ok();
        }
        // Chunks are padded to an even length.
        at += 8 + len + (len & 1);
    }
    None
}

/// A file's EXIF, whatever container carries it.
pub fn read_exif(bytes: &[u8]) -> Option<Exif> {
    webp_exif(bytes).or_else(|| {
        Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .ok()
    })
}

/// Reads what we keep from a file's EXIF; a file without EXIF gives defaults.
pub fn read_metadata(bytes: &[u8]) -> ImageMetadata {
    let Some(exif) = read_exif(bytes) else {
        return ImageMetadata {
            orientation: 1,
            ..ImageMetadata::default()
        };
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1);
    let captured_at = ascii(&exif, Tag::DateTimeOriginal).map(|dt| {
        // "2019:05:04 12:30:00" -> "2019-05-04T12:30:00"
        let mut iso = dt.replacen(':', "-", 2).replacen(' ', "T", 1);
        if let Some(offset) = ascii(&exif, Tag::OffsetTimeOriginal) {
            iso.push_str(&offset);
        }
        iso
    });
    let gps = match (
        degrees(&exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S'),
        degrees(&exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W'),
    ) {
        (Some(lat), Some(lon)) => Some((lat, lon)),
        _ => None,
    };
    let has_gps = gps.is_some() || exif.fields().any(|f| f.tag.context() == exif::Context::Gps);
    let has_serial_numbers = [Tag::BodySerialNumber, Tag::LensSerialNumber]
        .iter()
        .any(|t| exif.get_field(*t, In::PRIMARY).is_some());
    ImageMetadata {
        camera_make: ascii(&exif, Tag::Make),
        camera_model: ascii(&exif, Tag::Model),
        lens: ascii(&exif, Tag::LensModel),
        captured_at,
        orientation,
        has_gps,
        gps,
        has_serial_numbers,
        copyright: ascii(&exif, Tag::Copyright),
        artist: ascii(&exif, Tag::Artist),
        ..ImageMetadata::default()
    }
}

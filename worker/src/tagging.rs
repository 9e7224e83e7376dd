//! Ownership tagging: the brand's copyright statement goes into every file
//! that leaves Vitrine, and private metadata does not.
//!
//! For JPEG the metadata segments are rebuilt around the untouched
//! compressed image data, so pixels stay identical bit for bit: EXIF
//! (Copyright, Artist, a few non-private camera fields), XMP (dc:rights,
//! dc:creator, photoshop:Credit/Source, xmpRights:UsageTerms/WebStatement/
//! Marked, the Vitrine asset id and version number) and IPTC IIM in a
//! Photoshop APP13 (2:116, 2:80, 2:110, 2:115). Everything else that could
//! carry private data is dropped: other EXIF (GPS, serial numbers, owner
//! name, maker notes, thumbnails), other XMP (history, document ids, file
//! names), comments, MPF and FlashPix segments, JFIF thumbnails, and data
//! after the end of the image.

use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The ownership statement (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ownership {
    pub copyright: Option<String>,
    pub creator: Option<String>,
    pub credit: Option<String>,
    pub source: Option<String>,
    pub usage_terms: Option<String>,
    pub web_statement: Option<String>,
}

impl Ownership {
    /// A fingerprint of the fields, recorded with each stored rendition to
    /// know whether it carries the current statement.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        vitrine_entity::audit_chain::hex(&Sha256::digest(json))
    }
}

/// Non-private camera fields carried over from the original.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Camera {
    pub make: Option<String>,
    pub model: Option<String>,
    pub lens: Option<String>,
    /// EXIF format, `YYYY:MM:DD HH:MM:SS`.
    pub date_time_original: Option<String>,
}

impl Camera {
    /// Reads the carried-over fields from a file's EXIF.
    pub fn from_file(bytes: &[u8]) -> Self {
        let Some(exif) = crate::render::read_exif(bytes) else {
            return Camera::default();
        };
        let ascii = |tag| {
            exif.get_field(tag, In::PRIMARY)
                .and_then(|f| match &f.value {
                    Value::Ascii(parts) => parts
                        .first()
                        .map(|p| String::from_utf8_lossy(p).trim().to_owned())
                        .filter(|s| !s.is_empty()),
                    _ => None,
                })
        };
        Camera {
            make: ascii(Tag::Make),
            model: ascii(Tag::Model),
            lens: ascii(Tag::LensModel),
            date_time_original: ascii(Tag::DateTimeOriginal),
        }
    }
}

/// What to stamp into a file.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    pub ownership: &'a Ownership,
    pub asset_id: Uuid,
    pub version_number: i32,
    /// The orientation the delivered pixels need: 1 for renditions (already
    /// upright), the original's for originals (pixels untouched).
    pub orientation: u16,
    pub camera: &'a Camera,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("not a well-formed JPEG: {0}")]
    BadJpeg(&'static str),
    #[error("cannot encode metadata: {0}")]
    Encode(String),
}

/// A marker segment before the first scan.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub marker: u8,
    /// The bytes after the length field.
    pub payload: &'a [u8],
}

fn read_u16(bytes: &[u8], at: usize) -> Result<usize, TagError> {
    match bytes.get(at..at + 2) {
        Some(b) => Ok(usize::from(u16::from_be_bytes([b[0], b[1]]))),
        None => Err(TagError::BadJpeg("truncated segment length")),
    }
}

/// The segments before the first SOS, and the offset of that SOS marker.
fn header_segments(bytes: &[u8]) -> Result<(Vec<Segment<'_>>, usize), TagError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(TagError::BadJpeg("no start-of-image marker"));
    }
    let mut segments = Vec::new();
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xFF) {
            return Err(TagError::BadJpeg("expected a marker"));
        }
        let marker = *bytes
            .get(at + 1)
            .ok_or(TagError::BadJpeg("truncated marker"))?;
        if marker == 0xDA {
            return Ok((segments, at));
        }
        if marker == 0xD9 {
            return Err(TagError::BadJpeg("end of image before any scan"));
        }
        let len = read_u16(bytes, at + 2)?;
        if len < 2 {
            return Err(TagError::BadJpeg("invalid segment length"));
        }
        let payload = bytes
            .get(at + 4..at + 2 + len)
            .ok_or(TagError::BadJpeg("truncated segment"))?;
        segments.push(Segment { marker, payload });
        at += 2 + len;
    }
}

/// The marker segments of a JPEG before its first scan.
pub fn jpeg_segments(bytes: &[u8]) -> Result<Vec<Segment<'_>>, TagError> {
    header_segments(bytes).map(|(s, _)| s)
}

/// Copies the scans from `bytes[sos..]` up to and including the end-of-image
/// marker, dropping comments and application segments between scans, and
/// anything after the end of the image.
fn scans(bytes: &[u8], sos: usize, out: &mut Vec<u8>) -> Result<(), TagError> {
    let mut at = sos;
    loop {
        // `at` is at a marker.
        let marker = *bytes
            .get(at + 1)
            .ok_or(TagError::BadJpeg("truncated marker"))?;
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(());
        }
        let len = read_u16(bytes, at + 2)?;
        let end = at + 2 + len;
        let segment = bytes
            .get(at..end)
            .ok_or(TagError::BadJpeg("truncated segment"))?;
        let private = marker == 0xFE || (0xE0..=0xEF).contains(&marker);
        if !private {
            out.extend_from_slice(segment);
        }
        at = end;
        if marker == 0xDA {
            // Entropy-coded data runs until a marker that is not a stuffed
            // 0xFF00, a restart marker or fill.
            let start = at;
            loop {
                let b = *bytes
                    .get(at)
                    .ok_or(TagError::BadJpeg("no end-of-image marker"))?;
                if b == 0xFF {
                    let next = *bytes
                        .get(at + 1)
                        .ok_or(TagError::BadJpeg("no end-of-image marker"))?;
                    if next == 0x00 || (0xD0..=0xD7).contains(&next) {
                        at += 2;
                        continue;
                    }
                    if next == 0xFF {
                        at += 1;
                        continue;
                    }
                    break;
                }
                at += 1;
            }
            out.extend_from_slice(&bytes[start..at]);
        }
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
    }
}

fn push_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) -> Result<(), TagError> {
    let len = u16::try_from(payload.len() + 2)
        .map_err(|_| TagError::Encode("a metadata segment exceeds 64 KiB".into()))?;
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

fn ascii_field(tag: Tag, ifd: In, text: &str) -> Field {
    Field {
        tag,
        ifd_num: ifd,
        value: Value::Ascii(vec![text.as_bytes().to_vec()]),
    }
}

/// A TIFF-structured EXIF block (without the `Exif\0\0` prefix).
pub fn exif_block(stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    let mut fields = vec![
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![stamp.orientation.clamp(1, 8)]),
        },
        Field {
            tag: Tag::XResolution,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 72, denom: 1 }]),
        },
        Field {
            tag: Tag::YResolution,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 72, denom: 1 }]),
        },
        Field {
            tag: Tag::ResolutionUnit,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![2]),
        },
        Field {
            tag: Tag::YCbCrPositioning,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![1]),
        },
        Field {
            tag: Tag::ExifVersion,
            ifd_num: In::PRIMARY,
            value: Value::Undefined(b"0232".to_vec(), 0),
        },
    ];
    let o = stamp.ownership;
    if let Some(copyright) = &o.copyright {
        fields.push(ascii_field(Tag::Copyright, In::PRIMARY, copyright));
    }
    if let Some(creator) = &o.creator {
        fields.push(ascii_field(Tag::Artist, In::PRIMARY, creator));
    }
    let c = stamp.camera;
    if let Some(make) = &c.make {
        fields.push(ascii_field(Tag::Make, In::PRIMARY, make));
    }
    if let Some(model) = &c.model {
        fields.push(ascii_field(Tag::Model, In::PRIMARY, model));
    }
    if let Some(lens) = &c.lens {
        fields.push(ascii_field(Tag::LensModel, In::PRIMARY, lens));
    }
    if let Some(dt) = &c.date_time_original {
        fields.push(ascii_field(Tag::DateTimeOriginal, In::PRIMARY, dt));
    }
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut buf = Cursor::new(Vec::new());
    writer
        .write(&mut buf, false)
        .map_err(|e| TagError::Encode(e.to_string()))?;
    Ok(buf.into_inner())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The XMP packet.
pub fn xmp_packet(stamp: &Stamp<'_>) -> String {
    let o = stamp.ownership;
    let mut attrs = String::from("\n    xmpRights:Marked=\"True\"");
    let mut attr = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            attrs.push_str(&format!("\n    {name}=\"{}\"", xml_escape(v)));
        }
    };
    attr("xmpRights:WebStatement", &o.web_statement);
    attr("photoshop:Credit", &o.credit);
    attr("photoshop:Source", &o.source);
    attrs.push_str(&format!(
        "\n    vitrine:AssetId=\"{}\"\n    vitrine:VersionNumber=\"{}\"",
        stamp.asset_id, stamp.version_number
    ));
    let mut elements = String::new();
    let alt = |name: &str, value: &Option<String>| {
        value.as_ref().map(|v| {
            format!(
                "\n   <{name}><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></{name}>",
                xml_escape(v)
            )
        })
    };
    if let Some(e) = alt("dc:rights", &o.copyright) {
        elements.push_str(&e);
    }
    if let Some(creator) = &o.creator {
        elements.push_str(&format!(
            "\n   <dc:creator><rdf:Seq><rdf:li>{}</rdf:li></rdf:Seq></dc:creator>",
            xml_escape(creator)
        ));
    }
    if let Some(e) = alt("xmpRights:UsageTerms", &o.usage_terms) {
        elements.push_str(&e);
    }
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
<rdf:Description rdf:about=\"\"\n    \
xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n    \
xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\"\n    \
xmlns:xmpRights=\"http://ns.adobe.com/xap/1.0/rights/\"\n    \
xmlns:vitrine=\"https://ns.vitrine.dev/1.0/\"{attrs}>{elements}\n  \
</rdf:Description>\n \
</rdf:RDF>\n\
</x:xmpmeta>\n\
<?xpacket end=\"w\"?>"
    )
}

/// IPTC IIM records (UTF-8): 2:116 Copyright Notice, 2:80 By-line,
/// 2:110 Credit, 2:115 Source.
pub fn iptc_records(ownership: &Ownership) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dataset = |record: u8, number: u8, value: &[u8]| {
        out.extend_from_slice(&[0x1C, record, number]);
        let len = u16::try_from(value.len().min(0x7FFF)).unwrap_or(0x7FFF);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&value[..usize::from(len)]);
    };
    dataset(1, 90, &[0x1B, 0x25, 0x47]); // coded character set: UTF-8
    dataset(2, 0, &[0x00, 0x04]); // record version
    for (number, value) in [
        (116, &ownership.copyright),
        (80, &ownership.creator),
        (110, &ownership.credit),
        (115, &ownership.source),
    ] {
        if let Some(v) = value {
            dataset(2, number, v.as_bytes());
        }
    }
    out
}

/// A Photoshop APP13 payload holding the IPTC records.
fn photoshop_app13(iptc: &[u8]) -> Vec<u8> {
    let mut out = b"Photoshop 3.0\0".to_vec();
    out.extend_from_slice(b"8BIM");
    out.extend_from_slice(&0x0404u16.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // empty Pascal name, padded to even
    out.extend_from_slice(&u32::try_from(iptc.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(iptc);
    if iptc.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// APP2 payloads carrying an ICC profile (split in chunks).
fn icc_app2(icc: &[u8]) -> Vec<Vec<u8>> {
    const CHUNK: usize = 65_519;
    let chunks: Vec<&[u8]> = icc.chunks(CHUNK).collect();
    let count = u8::try_from(chunks.len()).unwrap_or(u8::MAX);
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = b"ICC_PROFILE\0".to_vec();
            p.push(u8::try_from(i + 1).unwrap_or(u8::MAX));
            p.push(count);
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

/// Rebuilds a JPEG's metadata: ownership in, private data out; the
/// compressed image data is copied unchanged. `icc` replaces the file's
/// colour profile when given (renditions carry their source's).
pub fn tag_jpeg(bytes: &[u8], stamp: &Stamp<'_>, icc: Option<&[u8]>) -> Result<Vec<u8>, TagError> {
    let (segments, sos) = header_segments(bytes)?;
    let mut out = Vec::with_capacity(bytes.len() + 4096);
    out.extend_from_slice(&[0xFF, 0xD8]);
    // JFIF first when present, without its thumbnail.
    if let Some(jfif) = segments
        .iter()
        .find(|s| s.marker == 0xE0 && s.payload.starts_with(b"JFIF\0"))
        && jfif.payload.len() >= 14
    {
        let mut p = jfif.payload[..14].to_vec();
        p[12] = 0;
        p[13] = 0;
        push_segment(&mut out, 0xE0, &p)?;
    }
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(exif_block(stamp)?);
    push_segment(&mut out, 0xE1, &exif)?;
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(xmp_packet(stamp).as_bytes());
    push_segment(&mut out, 0xE1, &xmp)?;
    match icc {
        Some(icc) => {
            for p in icc_app2(icc) {
                push_segment(&mut out, 0xE2, &p)?;
            }
        }
        None => {
            for s in segments
                .iter()
                .filter(|s| s.marker == 0xE2 && s.payload.starts_with(b"ICC_PROFILE\0"))
            {
                push_segment(&mut out, 0xE2, s.payload)?;
            }
        }
    }
    push_segment(
        &mut out,
        0xED,
        &photoshop_app13(&iptc_records(stamp.ownership)),
    )?;
    for s in &segments {
        let keep = match s.marker {
            // Adobe APP14 tells decoders how colours were transformed.
            0xEE => s.payload.starts_with(b"Adobe"),
            // Every other application segment and comments may carry private data.
            0xE0..=0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            push_segment(&mut out, s.marker, s.payload)?;
        }
    }
    scans(bytes, sos, &mut out)?;
    Ok(out)
}

// ------------------------------------------------------------ originals

/// Stamps an original for download, keeping its pixels: JPEG, PNG and WebP
/// by rewriting their metadata containers around the untouched image data;
/// TIFF, whose metadata and image data share one structure, by a lossless
/// rewrite (same decoded pixels, our tags only).
pub fn tag_original(bytes: &[u8], stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    use crate::media::{Format, Sniffed, sniff};
    if crate::isobmff::is_avif(bytes) {
        return tag_avif(bytes, stamp);
    }
    match sniff(&bytes[..bytes.len().min(64)]) {
        Sniffed::Accepted(Format::Jpeg) => tag_jpeg(bytes, stamp, None),
        Sniffed::Accepted(Format::Png) => tag_png(bytes, stamp),
        Sniffed::Accepted(Format::WebP) => tag_webp(bytes, stamp),
        Sniffed::Accepted(Format::Tiff) => tag_tiff(bytes, stamp),
        Sniffed::Refused(what) => Err(TagError::Encode(format!("cannot stamp {what}"))),
    }
}

/// AVIF (our derivatives only: uploads are never AVIF): the EXIF block and
/// the XMP packet added as items describing the image. The encoder wrote
/// no other metadata; IPTC has no place in AVIF (the XMP carries the same
/// statement).
pub fn tag_avif(bytes: &[u8], stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    use crate::isobmff::{Item, add_items};
    let exif = exif_block(stamp)?;
    let xmp = xmp_packet(stamp);
    add_items(bytes, &[Item::Exif(&exif), Item::Xmp(xmp.as_bytes())])
        .map_err(|e| TagError::Encode(e.to_string()))
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<(), TagError> {
    let len =
        u32::try_from(data.len()).map_err(|_| TagError::Encode("PNG chunk too large".into()))?;
    out.extend_from_slice(&len.to_be_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
    Ok(())
}

/// IPTC as an ImageMagick-style "raw profile" (hex text), which exiftool reads.
fn raw_profile(kind: &str, data: &[u8]) -> String {
    let mut text = format!("\n{kind}\n{:8}\n", data.len());
    for (i, b) in data.iter().enumerate() {
        text.push_str(&format!("{b:02x}"));
        if i % 36 == 35 {
            text.push('\n');
        }
    }
    text.push('\n');
    text
}

/// PNG: keeps the image and colour chunks, drops every text, EXIF, time and
/// unknown chunk, adds eXIf, XMP (iTXt) and IPTC (raw profile) before IDAT.
pub fn tag_png(bytes: &[u8], stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err(TagError::Encode("not a PNG".into()));
    }
    const KEEP: &[&[u8; 4]] = &[
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
        b"bKGD", b"hIST", b"pHYs", b"sPLT", b"cICP", b"mDCv", b"cLLi", b"acTL", b"fcTL", b"fdAT",
    ];
    let mut out = SIGNATURE.to_vec();
    let mut at = SIGNATURE.len();
    let mut stamped = false;
    loop {
        let header = bytes
            .get(at..at + 8)
            .ok_or_else(|| TagError::Encode("truncated PNG".into()))?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = [header[4], header[5], header[6], header[7]];
        let end = at + 12 + len;
        let chunk = bytes
            .get(at..end)
            .ok_or_else(|| TagError::Encode("truncated PNG chunk".into()))?;
        if (&kind == b"IDAT" || &kind == b"fdAT" || &kind == b"IEND") && !stamped {
            png_chunk(&mut out, b"eXIf", &exif_block(stamp)?)?;
            let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
            itxt.extend_from_slice(xmp_packet(stamp).as_bytes());
            png_chunk(&mut out, b"iTXt", &itxt)?;
            let mut text = b"Raw profile type iptc\0".to_vec();
            text.extend_from_slice(raw_profile("iptc", &iptc_records(stamp.ownership)).as_bytes());
            png_chunk(&mut out, b"tEXt", &text)?;
            stamped = true;
        }
        if KEEP.iter().any(|k| **k == kind) {
            out.extend_from_slice(chunk);
        }
        at = end;
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

fn riff_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) -> Result<(), TagError> {
    out.extend_from_slice(fourcc);
    let len =
        u32::try_from(data.len()).map_err(|_| TagError::Encode("WebP chunk too large".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Ok(())
}

/// WebP: keeps the image, alpha, animation and ICC chunks, drops EXIF, XMP
/// and unknown chunks, adds ours, and writes the VP8X header that announces
/// them (creating it for a simple-format file).
pub fn tag_webp(bytes: &[u8], stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return Err(TagError::Encode("not a WebP".into()));
    }
    let mut chunks: Vec<([u8; 4], &[u8])> = Vec::new();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let fourcc = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let data = bytes
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| TagError::Encode("truncated WebP chunk".into()))?;
        chunks.push((fourcc, data));
        at += 8 + len + (len % 2);
    }
    let (mut flags, width, height) = match chunks.iter().find(|c| &c.0 == b"VP8X") {
        Some((_, d)) if d.len() >= 10 => (
            d[0],
            u32::from_le_bytes([d[4], d[5], d[6], 0]) + 1,
            u32::from_le_bytes([d[7], d[8], d[9], 0]) + 1,
        ),
        _ => {
            // Simple format: read the canvas from the bitstream header.
            let (w, h, alpha) = match chunks.first() {
                Some((k, d)) if k == b"VP8L" && d.len() >= 5 => {
                    let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
                    (
                        (bits & 0x3FFF) + 1,
                        ((bits >> 14) & 0x3FFF) + 1,
                        (bits >> 28) & 1 == 1,
                    )
                }
                Some((k, d)) if k == b"VP8 " && d.len() >= 10 => (
                    u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF),
                    u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF),
                    false,
                ),
                _ => return Err(TagError::Encode("WebP without an image".into())),
            };
            (if alpha { 0x10 } else { 0 }, w, h)
        }
    };
    flags |= 0x08 | 0x04; // EXIF and XMP present
    let mut body = Vec::new();
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    riff_chunk(&mut body, b"VP8X", &vp8x)?;
    for (fourcc, data) in &chunks {
        if matches!(fourcc, b"ICCP" | b"ANIM") {
            riff_chunk(&mut body, fourcc, data)?;
        }
    }
    for (fourcc, data) in &chunks {
        if matches!(fourcc, b"ALPH" | b"VP8 " | b"VP8L" | b"ANMF") {
            riff_chunk(&mut body, fourcc, data)?;
        }
    }
    riff_chunk(&mut body, b"EXIF", &exif_block(stamp)?)?;
    riff_chunk(&mut body, b"XMP ", xmp_packet(stamp).as_bytes())?;
    let mut out = b"RIFF".to_vec();
    let size =
        u32::try_from(body.len() + 4).map_err(|_| TagError::Encode("WebP too large".into()))?;
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend(body);
    Ok(out)
}

/// ASCII for TIFF text tags (full text goes into XMP and IPTC).
fn ascii_fold(s: &str) -> String {
    s.replace('©', "(c)")
        .chars()
        .map(|c| if c.is_ascii() && c != '\0' { c } else { '?' })
        .collect()
}

/// TIFF: a lossless rewrite with our tags only (same decoded pixels).
pub fn tag_tiff(bytes: &[u8], stamp: &Stamp<'_>) -> Result<Vec<u8>, TagError> {
    use tiff::encoder::{TiffEncoder, colortype};
    use tiff::tags::Tag as TiffTag;
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Tiff)
        .map_err(|e| TagError::Encode(e.to_string()))?;
    let (w, h) = (image.width(), image.height());
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).map_err(|e| TagError::Encode(e.to_string()))?;
    let xmp = xmp_packet(stamp);
    let iptc = iptc_records(stamp.ownership);
    let o = stamp.ownership;
    macro_rules! write {
        ($colortype:ty, $data:expr) => {{
            let mut img = encoder
                .new_image::<$colortype>(w, h)
                .map_err(|e| TagError::Encode(e.to_string()))?;
            let dir = img.encoder();
            let tag = |r: tiff::TiffResult<()>| r.map_err(|e| TagError::Encode(e.to_string()));
            tag(dir.write_tag(TiffTag::Orientation, stamp.orientation.clamp(1, 8)))?;
            if let Some(c) = &o.copyright {
                tag(dir.write_tag(TiffTag::Copyright, ascii_fold(c).as_str()))?;
            }
            if let Some(c) = &o.creator {
                tag(dir.write_tag(TiffTag::Artist, ascii_fold(c).as_str()))?;
            }
            tag(dir.write_tag(TiffTag::Unknown(700), xmp.as_bytes()))?;
            tag(dir.write_tag(TiffTag::Unknown(33723), iptc.as_slice()))?;
            img.write_data($data)
                .map_err(|e| TagError::Encode(e.to_string()))?;
        }};
    }
    match &image {
        image::DynamicImage::ImageLuma8(i) => write!(colortype::Gray8, i.as_raw()),
        image::DynamicImage::ImageLuma16(i) => write!(colortype::Gray16, i.as_raw()),
        image::DynamicImage::ImageRgba8(i) => write!(colortype::RGBA8, i.as_raw()),
        image::DynamicImage::ImageRgb16(i) => write!(colortype::RGB16, i.as_raw()),
        image::DynamicImage::ImageRgba16(i) => write!(colortype::RGBA16, i.as_raw()),
        other => {
            let rgb = other.to_rgb8();
            write!(colortype::RGB8, rgb.as_raw())
        }
    }
    let _ = encoder;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp<'a>(ownership: &'a Ownership, camera: &'a Camera) -> Stamp<'a> {
        Stamp {
            ownership,
            asset_id: Uuid::nil(),
            version_number: 3,
            orientation: 6,
            camera,
        }
    }

    #[test]
    fn iptc_and_xmp_carry_every_field() {
        let ownership = Ownership {
            copyright: Some("© 2026 Maison <Test> & Co".into()),
            creator: Some("Studio Lumière".into()),
            credit: Some("Maison Test".into()),
            source: Some("Vitrine".into()),
            usage_terms: Some("No use without a licence".into()),
            web_statement: Some("https://example.com/rights".into()),
        };
        let camera = Camera::default();
        let xmp = xmp_packet(&stamp(&ownership, &camera));
        assert!(xmp.contains("&lt;Test&gt; &amp; Co"));
        assert!(xmp.contains("xmpRights:Marked=\"True\""));
        assert!(xmp.contains("vitrine:VersionNumber=\"3\""));
        let iptc = iptc_records(&ownership);
        assert!(iptc.windows(3).any(|w| w == [0x1C, 2, 116]));
        assert!(iptc.windows(3).any(|w| w == [0x1C, 2, 80]));
        let exif = exif_block(&stamp(&ownership, &camera)).unwrap();
        let parsed = exif::Reader::new().read_raw(exif).unwrap();
        let copyright = parsed.get_field(Tag::Copyright, In::PRIMARY).unwrap();
        match &copyright.value {
            Value::Ascii(parts) => {
                assert_eq!(parts[0], "© 2026 Maison <Test> & Co".as_bytes());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parsed
                .get_field(Tag::Orientation, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0)),
            Some(6)
        );
    }

    #[test]
    fn malformed_jpegs_are_refused() {
        let ownership = Ownership::default();
        let camera = Camera::default();
        let s = stamp(&ownership, &camera);
        assert!(tag_jpeg(b"not a jpeg", &s, None).is_err());
        assert!(tag_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00], &s, None).is_err());
    }
}

//! Image inspection: what a file really is (magic bytes, never its name or
//! declared type), how large it claims to be (header only), and whether it
//! decodes completely under explicit memory limits. Blocking: run it on the
//! blocking pool.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use image::ImageReader;

/// The formats Vitrine accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Tiff,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
            Format::Tiff => "image/tiff",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::WebP => image::ImageFormat::WebP,
            Format::Tiff => image::ImageFormat::Tiff,
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    Accepted(Format),
    /// Something else, named for the error message.
    Refused(&'static str),
}

/// Identifies a file by its magic bytes.
pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let brand = head.get(4..8) == Some(b"ftyp".as_slice());
    let major = head.get(8..12).unwrap_or_default();
    match () {
        _ if head.is_empty() => Sniffed::Refused("an empty file"),
        _ if starts(&[0xFF, 0xD8, 0xFF]) => Sniffed::Accepted(Format::Jpeg),
        _ if starts(b"\x89PNG\r\n\x1a\n") => Sniffed::Accepted(Format::Png),
        _ if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP".as_slice()) => {
            Sniffed::Accepted(Format::WebP)
        }
        _ if starts(b"II*\0") || starts(b"MM\0*") => Sniffed::Accepted(Format::Tiff),
        _ if starts(b"II+\0") || starts(b"MM\0+") => Sniffed::Refused("BigTIFF"),
        _ if starts(b"GIF87a") || starts(b"GIF89a") => Sniffed::Refused("GIF"),
        _ if starts(b"BM") => Sniffed::Refused("BMP"),
        _ if starts(b"8BPS") => Sniffed::Refused("Photoshop PSD"),
        _ if starts(b"%PDF") => Sniffed::Refused("PDF"),
        _ if starts(b"PK\x03\x04") => Sniffed::Refused("ZIP archive"),
        _ if starts(&[0x1F, 0x8B]) => Sniffed::Refused("gzip archive"),
        _ if starts(b"\x7fELF") => Sniffed::Refused("ELF executable"),
        _ if starts(b"MZ") => Sniffed::Refused("Windows executable"),
        _ if starts(&[0x00, 0x00, 0x01, 0x00]) => Sniffed::Refused("ICO"),
        _ if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL ") => Sniffed::Refused("JPEG XL"),
        _ if brand && (major == b"avif" || major == b"avis") => Sniffed::Refused("AVIF"),
        _ if brand && (major.starts_with(b"hei") || major == b"mif1" || major == b"msf1") => {
            Sniffed::Refused("HEIC/HEIF")
        }
        _ if brand => Sniffed::Refused("an ISO media file (MP4/MOV)"),
        _ if starts(b"RIFF") => Sniffed::Refused("a RIFF file (AVI/WAV)"),
        _ => {
            let text = String::from_utf8_lossy(head)
                .trim_start()
                .to_ascii_lowercase();
            if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
                Sniffed::Refused("SVG")
            } else if text.starts_with("<!doctype html") || text.starts_with("<html") {
                Sniffed::Refused("HTML")
            } else if text.starts_with("<?xml") {
                Sniffed::Refused("XML")
            } else if head
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
            {
                Sniffed::Refused("plain text")
            } else {
                Sniffed::Refused("an unknown binary format")
            }
        }
    }
}

/// Limits applied before and during decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most pixels (width × height) an image may have; checked on the header.
    pub max_pixels: u64,
    /// Most bytes a decoder may allocate.
    pub max_decode_bytes: u64,
}

/// What a valid image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Why a file is refused. Messages are safe to show to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is {0}; accepted are JPEG, PNG, WebP and TIFF")]
    UnsupportedType(&'static str),
    #[error(
        "the image is {width}×{height} ({} megapixels); the limit is {} megapixels",
        (u64::from(*width) * u64::from(*height)).div_ceil(1_000_000),
        limit / 1_000_000
    )]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the image header is unreadable: {0}")]
    BadHeader(String),
    #[error("the image would need more memory to decode than allowed ({0})")]
    TooLargeToDecode(String),
    #[error("the image is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("cannot read the upload: {0}")]
    Io(String),
}

impl MediaError {
    /// A short stable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            MediaError::UnsupportedType(_) => "unsupported type",
            MediaError::TooManyPixels { .. } => "too many pixels",
            MediaError::BadHeader(_) => "bad header",
            MediaError::TooLargeToDecode(_) => "decode memory limit",
            MediaError::Corrupt(_) => "corrupt or truncated",
            MediaError::Io(_) => "unreadable",
        }
    }
}

fn decode_error(e: image::ImageError) -> MediaError {
    match e {
        image::ImageError::Limits(l) => MediaError::TooLargeToDecode(l.to_string()),
        other => MediaError::Corrupt(other.to_string()),
    }
}

/// What a file's header says, and what checking the whole file will hold
/// in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// The most memory [`validate`] will take for this file.
    pub decode_bytes: u64,
}

/// Inspects the file at `path`: sniffs it, reads its dimensions from the
/// header, refuses it above the pixel limit, then decodes it completely under
/// the memory limit (JPEG strictly, so a truncated file is refused rather
/// than filled in with grey).
pub fn inspect(path: &Path, limits: Limits) -> Result<Inspected, MediaError> {
    let probed = probe(path, limits)?;
    validate(path, &probed, limits)?;
    Ok(Inspected {
        format: probed.format,
        width: probed.width,
        height: probed.height,
    })
}

fn io(e: std::io::Error) -> MediaError {
    MediaError::Io(e.to_string())
}

/// Reads the header only: the format, the size (refused above the pixel
/// limit) and the memory a complete decode will take (refused above the
/// decode limit), counting the bytes per pixel of the decoded form.
pub fn probe(path: &Path, limits: Limits) -> Result<Probed, MediaError> {
    let mut head = [0u8; 64];
    let mut file = File::open(path).map_err(io)?;
    let mut filled = 0;
    while filled < head.len() {
        let n = file.read(&mut head[filled..]).map_err(io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let format = match sniff(&head[..filled]) {
        Sniffed::Accepted(f) => f,
        Sniffed::Refused(what) => return Err(MediaError::UnsupportedType(what)),
    };

    let reader = ImageReader::with_format(
        BufReader::new(File::open(path).map_err(io)?),
        format.image_format(),
    );
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| MediaError::BadHeader(e.to_string()))?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    if width == 0 || height == 0 {
        return Err(MediaError::BadHeader("zero width or height".into()));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    let decoded = image::ImageDecoder::total_bytes(&decoder);
    let _ = image::ImageDecoder::icc_profile(&mut decoder);
    let decode_bytes = match format {
        // Checked row by row: a few rows of the widest form (16-bit RGBA).
        Format::Png => 4 * u64::from(width) * 8 + (1 << 20),
        // Decoded whole (up to 4 samples a pixel); progressive files also
        // keep every coefficient (2 bytes a sample).
        Format::Jpeg => {
            let progressive = jpeg_is_progressive(path).map_err(io)?;
            pixels * if progressive { 4 + 8 } else { 4 } + (1 << 20)
        }
        Format::WebP | Format::Tiff => decoded + decoded / 8 + (1 << 20),
    };
    if decode_bytes > limits.max_decode_bytes {
        return Err(MediaError::TooLargeToDecode(format!(
            "{decode_bytes} bytes needed, {} allowed",
            limits.max_decode_bytes
        )));
    }
    Ok(Probed {
        format,
        width,
        height,
        decode_bytes,
    })
}

/// Whether a JPEG's frame is progressive (SOF2, SOF6, SOF10, SOF14), read
/// from its marker segments up to the frame header.
fn jpeg_is_progressive(path: &Path) -> std::io::Result<bool> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut marker = [0u8; 4];
    reader.read_exact(&mut marker[..2])?;
    loop {
        reader.read_exact(&mut marker)?;
        if marker[0] != 0xFF {
            return Ok(false);
        }
        match marker[1] {
            0xC2 | 0xC6 | 0xCA | 0xCE => return Ok(true),
            0xC0..=0xCF if !matches!(marker[1], 0xC4 | 0xC8 | 0xCC) => return Ok(false),
            0xDA | 0xD9 => return Ok(false),
            _ => {
                let len = u64::from(u16::from_be_bytes([marker[2], marker[3]]));
                std::io::copy(
                    &mut (&mut reader).take(len.saturating_sub(2)),
                    &mut std::io::sink(),
                )?;
            }
        }
    }
}

/// Decodes the whole file under the memory limit: PNG row by row (never
/// the whole image), JPEG strictly, WebP and TIFF with the `image` crate.
pub fn validate(path: &Path, probed: &Probed, limits: Limits) -> Result<(), MediaError> {
    match probed.format {
        Format::Jpeg => decode_jpeg_strictly(path, probed.width, probed.height),
        Format::Png => decode_png_rows(path, limits),
        Format::WebP | Format::Tiff => {
            let mut reader = ImageReader::with_format(
                BufReader::new(File::open(path).map_err(io)?),
                probed.format.image_format(),
            );
            let mut image_limits = image::Limits::default();
            image_limits.max_image_width = Some(probed.width);
            image_limits.max_image_height = Some(probed.height);
            image_limits.max_alloc = Some(limits.max_decode_bytes);
            reader.limits(image_limits);
            reader.decode().map(|_| ()).map_err(decode_error)
        }
    }
}

/// Decodes every row of a PNG (checking every chunk's checksum and the
/// compressed data to its end) while holding a row or two.
fn decode_png_rows(path: &Path, limits: Limits) -> Result<(), MediaError> {
    let corrupt = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => {
            MediaError::TooLargeToDecode("the PNG decoder's memory limit".into())
        }
        png::DecodingError::IoError(e) => MediaError::Corrupt(e.to_string()),
        other => MediaError::Corrupt(other.to_string()),
    };
    let mut decoder = png::Decoder::new(BufReader::new(File::open(path).map_err(io)?));
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(limits.max_decode_bytes).unwrap_or(usize::MAX),
    });
    let mut reader = decoder.read_info().map_err(corrupt)?;
    while reader.next_row().map_err(corrupt)?.is_some() {}
    reader.finish().map_err(corrupt)
}

fn decode_jpeg_strictly(path: &Path, width: u32, height: u32) -> Result<(), MediaError> {
    let file = File::open(path).map_err(io)?;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::try_from(width).unwrap_or(usize::MAX))
        .set_max_height(usize::try_from(height).unwrap_or(usize::MAX));
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(BufReader::new(file), options);
    decoder
        .decode()
        .map(|_| ())
        .map_err(|e| MediaError::Corrupt(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Sniffed::Accepted(Format::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n...."),
            Sniffed::Accepted(Format::Png)
        );
        assert_eq!(
            sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Sniffed::Accepted(Format::WebP)
        );
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Sniffed::Accepted(Format::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Sniffed::Accepted(Format::Tiff));
        assert_eq!(sniff(b"GIF89a......"), Sniffed::Refused("GIF"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Refused("PDF"));
        assert_eq!(
            sniff(b"\0\0\0\x1cftypheic\0\0\0\0"),
            Sniffed::Refused("HEIC/HEIF")
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0"),
            Sniffed::Refused("AVIF")
        );
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"),
            Sniffed::Refused("SVG")
        );
        assert_eq!(sniff(b"hello world\n"), Sniffed::Refused("plain text"));
        assert_eq!(sniff(b""), Sniffed::Refused("an empty file"));
        assert_eq!(
            sniff(&[0x00, 0x01, 0x02, 0x9F]),
            Sniffed::Refused("an unknown binary format")
        );
    }

    #[test]
    fn too_many_pixels_names_the_sizes() {
        let e = MediaError::TooManyPixels {
            width: 20_000,
            height: 20_000,
            limit: 100_000_000,
        };
        assert_eq!(
            e.to_string(),
            "the image is 20000×20000 (400 megapixels); the limit is 100 megapixels"
        );
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_pixels: 100_000_000,
        max_decode_bytes: 1 << 30,
    };

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name)
    }

    #[test]
    fn a_truncated_jpeg_is_refused_although_lenient_decoders_accept_it() {
        let bytes = std::fs::read(fixture("garden.jpg")).unwrap();
        let dir = std::env::temp_dir().join(format!("vitrine-media-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("half.jpg");
        std::fs::write(&path, &bytes[..bytes.len() * 6 / 10]).unwrap();
        // The image crate fills the missing part in with grey...
        assert!(image::open(&path).is_ok());
        // ...we refuse it.
        let refused = inspect(&path, LIMITS).unwrap_err();
        assert!(matches!(refused, MediaError::Corrupt(_)), "{refused:?}");
        // The whole file is fine.
        std::fs::write(&path, &bytes).unwrap();
        let ok = inspect(&path, LIMITS).unwrap();
        assert_eq!((ok.format, ok.width, ok.height), (Format::Jpeg, 2560, 1600));
        std::fs::remove_dir_all(&dir).ok();
    }
}

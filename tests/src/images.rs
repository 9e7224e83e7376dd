//! Images made in code: formats without a committed fixture, and hostile files.

use std::io::Cursor;

use image::{ImageBuffer, ImageFormat, Rgb};

/// A small gradient image encoded as `format`.
pub fn gradient(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([
            u8::try_from(x * 255 / width.max(1)).unwrap_or(0),
            u8::try_from(y * 255 / height.max(1)).unwrap_or(0),
            128,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

fn ihdr(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(&width.to_be_bytes());
    data.extend_from_slice(&height.to_be_bytes());
    data.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no interlace
    chunk(b"IHDR", &data)
}

/// A decompression bomb: a few hundred bytes whose header promises a
/// `width`×`height` image (e.g. 40000×40000 = 1.6 gigapixels).
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(ihdr(width, height));
    // A zlib stream start (stored, incomplete): the image data "continues".
    out.extend(chunk(b"IDAT", &[0x78, 0x01, 0x00, 0x00, 0x80, 0xFF, 0x7F]));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// A PNG whose header lies: it claims `claimed`×`claimed` pixels but carries
/// the image data of an 8×8 picture.
pub fn png_lying_header(claimed: u32) -> Vec<u8> {
    let real = gradient(8, 8, ImageFormat::Png);
    // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 crc).
    let mut out = real[..8].to_vec();
    let mut data = real[16..29].to_vec();
    data[0..4].copy_from_slice(&claimed.to_be_bytes());
    data[4..8].copy_from_slice(&claimed.to_be_bytes());
    out.extend(chunk(b"IHDR", &data));
    out.extend_from_slice(&real[33..]);
    out
}

/// The first `fraction` of a file.
pub fn truncated(bytes: &[u8], fraction: f64) -> Vec<u8> {
    let keep = ((bytes.len() as f64) * fraction) as usize;
    bytes[..keep.min(bytes.len())].to_vec()
}

/// A minimal 1×1 GIF.
pub fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec()
}

/// A PDF's first bytes.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// A deterministic noise source (xorshift), so large test images are the
/// same on every run without a random-number dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A JPEG of noise (which compresses badly): a large original of a few
/// megabytes per megapixel at quality 100.
pub fn noisy_jpeg(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut noise = Noise(seed | 1);
    let img = ImageBuffer::from_fn(width, height, |_, _| {
        let v = noise.next();
        Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode_image(&img)
        .expect("encode");
    out
}

/// A 16-bit RGBA PNG of `width` × `height` that compresses to almost nothing
/// (every row the same horizontal ramp), written row by row so the test
/// never holds its pixels; `tag` goes into a text chunk so that files of the
/// same size differ.
pub fn png16_rgba(width: u32, height: u32, tag: &str) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_compression(png::Compression::Balanced);
        encoder.set_filter(png::Filter::Up);
        encoder
            .add_text_chunk("Comment".into(), tag.into())
            .expect("text chunk");
        let mut writer = encoder.write_header().expect("header");
        let mut stream = writer.stream_writer().expect("stream");
        let mut row = vec![0u8; width as usize * 8];
        for (x, px) in row.chunks_exact_mut(8).enumerate() {
            let r = u16::try_from(x as u64 * 65535 / u64::from(width)).unwrap_or(0);
            px[0..2].copy_from_slice(&r.to_be_bytes());
            px[2..4].copy_from_slice(&0x4000u16.to_be_bytes());
            px[4..6].copy_from_slice(&0x8000u16.to_be_bytes());
            px[6..8].copy_from_slice(&0xFFFFu16.to_be_bytes());
        }
        for _ in 0..height {
            std::io::Write::write_all(&mut stream, &row).expect("row");
        }
        stream.finish().expect("finish");
    }
    out
}

/// A `width` × `height` lossless WebP in the extended format whose EXIF
/// chunk says `orientation` and starts with `Exif\0\0`, as exiftool writes
/// it (a bare TIFF header is what the WebP container specifies).
pub fn webp_with_exif_orientation(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let simple = gradient(width, height, ImageFormat::WebP);
    assert_eq!(&simple[12..16], b"VP8L", "a lossless WebP");
    let vp8l = &simple[12..];
    // VP8X: EXIF flag, canvas size minus one in 24-bit little endian.
    let mut vp8x = vec![0x08, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    // TIFF, little endian: one IFD with Orientation (SHORT).
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let exif = [b"Exif\0\0".as_slice(), &tiff].concat();
    let riff_chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = kind.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let body = [
        b"WEBP".as_slice(),
        &riff_chunk(b"VP8X", &vp8x),
        vp8l,
        &riff_chunk(b"EXIF", &exif),
    ]
    .concat();
    [
        b"RIFF".as_slice(),
        &(body.len() as u32).to_le_bytes(),
        &body,
    ]
    .concat()
}

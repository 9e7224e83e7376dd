//! AVIF derivatives: the AV1 still image is encoded by libaom (all-intra
//! usage, constant quality, one thread: renders already run in parallel),
//! the container is written by `avif-serialize` (whose layout
//! `crate::isobmff` stamps with the ownership statement afterwards).
//!
//! libaom against rav1e on the corpus (docs/BENCHMARKS.md): about 4× faster
//! at the same speed setting, smaller files of higher SSIM. The FFI is the
//! maintained `libaom-sys` (libaom built from source by cmake and nasm,
//! linked statically); this module is the one place that calls it, behind
//! a safe function.

// The one module of the workspace that may use `unsafe` (the workspace
// denies it elsewhere): every block says what makes it sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int, c_uint};
use std::mem::MaybeUninit;

use libaom_sys as aom;

use super::RenderError;
use super::pixels::Rgb;

/// libaom's `cpu-used` for derivatives (0 slowest – 9 fastest in all-intra
/// usage); docs/DERIVATIVES.md has the trade-off measured.
pub const AVIF_SPEED: c_int = 8;

/// A profile's quality (1–100) as libaom's quantizer (0 best – 63): libavif's
/// mapping of its own quality, applied to the profile's quality less 20, so
/// that one profile quality gives AVIF about the SSIM it gives JPEG (quality
/// 80: quantizer 25, SSIM 0.970 against JPEG's 0.972 on the corpus, in two
/// thirds of the bytes; docs/BENCHMARKS.md). Without the shift an AUTO
/// profile at 80 sent AVIF-capable browsers the largest file of the three.
pub fn quantizer(quality: i32) -> u32 {
    let q = (quality.clamp(1, 100) - 20).max(0) as u32;
    ((100 - q) * 63 + 50) / 100
}

fn failed(what: &str) -> RenderError {
    RenderError::Encode(format!("AVIF: {what}"))
}

/// Full-range BT.601 Y′CbCr (what the `colr` box and the sequence header
/// say), 16-bit fixed point, with chroma averaged over each 2×2 block
/// (4:2:0; the last row and column of an odd size average what they have).
fn to_ycbcr420(image: &Rgb, planes: [&mut [u8]; 3], strides: [usize; 3]) {
    let (w, h) = (image.width as usize, image.height as usize);
    let [yp, up, vp] = planes;
    let stride = w * 3;
    for cy in 0..h.div_ceil(2) {
        let rows = if 2 * cy + 1 < h { 2 } else { 1 };
        for r in 0..rows {
            let y = 2 * cy + r;
            let src = &image.data[y * stride..(y + 1) * stride];
            let out = &mut yp[y * strides[0]..y * strides[0] + w];
            for (o, p) in out.iter_mut().zip(src.chunks_exact(3)) {
                let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
                *o = ((19_595 * r + 38_470 * g + 7_471 * b + 32_768) >> 16).clamp(0, 255) as u8;
            }
        }
        let u_row = &mut up[cy * strides[1]..cy * strides[1] + w.div_ceil(2)];
        let v_row = &mut vp[cy * strides[2]..cy * strides[2] + w.div_ceil(2)];
        for cx in 0..w.div_ceil(2) {
            let cols = if 2 * cx + 1 < w { 2 } else { 1 };
            let (mut r, mut g, mut b) = (0i32, 0i32, 0i32);
            for dy in 0..rows {
                for dx in 0..cols {
                    let i = (2 * cy + dy) * stride + (2 * cx + dx) * 3;
                    r += i32::from(image.data[i]);
                    g += i32::from(image.data[i + 1]);
                    b += i32::from(image.data[i + 2]);
                }
            }
            let n = (rows * cols) as i32;
            let cb = (-11_059 * r - 21_709 * g + 32_768 * b) / n + (128 << 16) + 32_768;
            let cr = (32_768 * r - 27_439 * g - 5_329 * b) / n + (128 << 16) + 32_768;
            u_row[cx] = (cb >> 16).clamp(0, 255) as u8;
            v_row[cx] = (cr >> 16).clamp(0, 255) as u8;
        }
    }
}

/// The encoder context, destroyed on every path out.
struct Encoder(aom::aom_codec_ctx_t);

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised by `aom_codec_enc_init_ver`
        // (an `Encoder` exists only then) and is destroyed once.
        unsafe {
            aom::aom_codec_destroy(&mut self.0);
        }
    }
}

impl Encoder {
    fn check(&mut self, err: aom::aom_codec_err_t, what: &str) -> Result<(), RenderError> {
        if err == aom::AOM_CODEC_OK {
            return Ok(());
        }
        // SAFETY: an initialised context; libaom returns a static or
        // context-owned NUL-terminated string (or null).
        let detail = unsafe {
            let text = |s: *const std::ffi::c_char| {
                if s.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(s).to_string_lossy().into_owned()
                }
            };
            let detail = text(aom::aom_codec_error_detail(&self.0));
            format!("{} {detail}", text(aom::aom_codec_error(&self.0)))
        };
        Err(failed(&format!("{what}: {detail}")))
    }

    fn control(&mut self, id: aom::aome_enc_control_id, value: c_int) -> Result<(), RenderError> {
        // SAFETY: every control set here takes an int (or an unsigned int,
        // passed the same way through C varargs) by value.
        let err = unsafe { aom::aom_codec_control(&mut self.0, id as c_int, value) };
        self.check(err, "control")
    }

    /// Appends the frame packets waiting in the encoder to `out`.
    fn drain(&mut self, out: &mut Vec<u8>) {
        let mut iter: aom::aom_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: an initialised context and an iterator started at
            // null; each packet is read before the next libaom call.
            let pkt = unsafe { aom::aom_codec_get_cx_data(&mut self.0, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: non-null packets point at a valid packet; the frame
            // variant is read only for frame packets, whose buffer holds
            // `sz` bytes.
            unsafe {
                if (*pkt).kind == aom::AOM_CODEC_CX_FRAME_PKT {
                    let frame = (*pkt).data.frame;
                    if !frame.buf.is_null() && frame.sz > 0 {
                        out.extend_from_slice(std::slice::from_raw_parts(
                            frame.buf.cast::<u8>(),
                            frame.sz,
                        ));
                    }
                }
            }
        }
    }
}

/// An image libaom allocated, freed on every path out.
struct AomImage(aom::aom_image_t);

impl Drop for AomImage {
    fn drop(&mut self) {
        // SAFETY: allocated by `aom_img_alloc` into this struct.
        unsafe { aom::aom_img_free(&mut self.0) }
    }
}

/// The AV1 bitstream of one 8-bit 4:2:0 still image (Main profile: what
/// every AV1 decoder, hardware ones included, takes).
fn encode_av1(image: &Rgb, quality: i32) -> Result<Vec<u8>, RenderError> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || image.data.len() != w as usize * h as usize * 3 {
        return Err(failed("pixel buffer of the wrong size"));
    }
    // SAFETY (the whole block): plain C calls on structures libaom
    // initialises itself (config defaults, image allocation, encoder init)
    // before they are read; planes are written within `stride × h` bytes
    // of the allocation libaom made for each.
    unsafe {
        let iface = aom::aom_codec_av1_cx();
        let mut cfg = MaybeUninit::<aom::aom_codec_enc_cfg_t>::zeroed();
        if aom::aom_codec_enc_config_default(iface, cfg.as_mut_ptr(), aom::AOM_USAGE_ALL_INTRA)
            != aom::AOM_CODEC_OK
        {
            return Err(failed("no default configuration"));
        }
        let mut cfg = cfg.assume_init();
        cfg.g_w = w;
        cfg.g_h = h;
        cfg.g_threads = 1;
        cfg.g_profile = 0; // Main: 4:2:0
        cfg.g_bit_depth = aom::AOM_BITS_8;
        cfg.g_input_bit_depth = 8;
        cfg.g_limit = 1; // a still picture, with the reduced header
        cfg.g_lag_in_frames = 0;
        cfg.full_still_picture_hdr = 0;
        cfg.rc_end_usage = aom::AOM_Q;
        cfg.rc_min_quantizer = 0;
        cfg.rc_max_quantizer = 63;

        let mut ctx = MaybeUninit::<aom::aom_codec_ctx_t>::zeroed();
        if aom::aom_codec_enc_init_ver(
            ctx.as_mut_ptr(),
            iface,
            &cfg,
            0,
            aom::AOM_ENCODER_ABI_VERSION as c_int,
        ) != aom::AOM_CODEC_OK
        {
            return Err(failed("the encoder did not start"));
        }
        let mut enc = Encoder(ctx.assume_init());
        enc.control(aom::AOME_SET_CPUUSED, AVIF_SPEED)?;
        enc.control(aom::AOME_SET_CQ_LEVEL, quantizer(quality) as c_int)?;
        enc.control(aom::AV1E_SET_COLOR_RANGE, aom::AOM_CR_FULL_RANGE as c_int)?;
        enc.control(
            aom::AV1E_SET_COLOR_PRIMARIES,
            aom::AOM_CICP_CP_BT_709 as c_int,
        )?;
        enc.control(
            aom::AV1E_SET_TRANSFER_CHARACTERISTICS,
            aom::AOM_CICP_TC_SRGB as c_int,
        )?;
        enc.control(
            aom::AV1E_SET_MATRIX_COEFFICIENTS,
            aom::AOM_CICP_MC_BT_601 as c_int,
        )?;

        let mut raw = MaybeUninit::<aom::aom_image_t>::zeroed();
        if aom::aom_img_alloc(
            raw.as_mut_ptr(),
            aom::AOM_IMG_FMT_I420,
            w as c_uint,
            h as c_uint,
            1,
        )
        .is_null()
        {
            return Err(failed("no memory for the image"));
        }
        let mut img = AomImage(raw.assume_init());
        img.0.range = aom::AOM_CR_FULL_RANGE;
        img.0.mc = aom::AOM_CICP_MC_BT_601;
        img.0.cp = aom::AOM_CICP_CP_BT_709;
        img.0.tc = aom::AOM_CICP_TC_SRGB;
        let mut strides = [0usize; 3];
        let (cw, ch) = ((w as usize).div_ceil(2), (h as usize).div_ceil(2));
        let widths = [w as usize, cw, cw];
        let heights = [h as usize, ch, ch];
        for (i, s) in strides.iter_mut().enumerate() {
            *s = usize::try_from(img.0.stride[i]).unwrap_or(0);
            if *s < widths[i] || img.0.planes[i].is_null() {
                return Err(failed("unexpected image layout"));
            }
        }
        let plane =
            |i: usize| std::slice::from_raw_parts_mut(img.0.planes[i], strides[i] * heights[i]);
        to_ycbcr420(image, [plane(0), plane(1), plane(2)], strides);

        let mut out = Vec::new();
        let err = aom::aom_codec_encode(&mut enc.0, &img.0, 0, 1, aom::AOM_EFLAG_FORCE_KF as _);
        enc.check(err, "encode")?;
        enc.drain(&mut out);
        // Flush: a still picture has nothing left, but libaom may hold it.
        let err = aom::aom_codec_encode(&mut enc.0, std::ptr::null(), 0, 0, 0);
        enc.check(err, "flush")?;
        enc.drain(&mut out);
        if out.is_empty() {
            return Err(failed("the encoder produced nothing"));
        }
        Ok(out)
    }
}

/// Removes temporal delimiter OBUs (AVIF items carry the frame's OBUs
/// only). OBUs without a size field run to the end and are kept as they
/// are.
fn without_temporal_delimiters(data: &[u8]) -> Vec<u8> {
    const OBU_TEMPORAL_DELIMITER: u8 = 2;
    let mut out = Vec::with_capacity(data.len());
    let mut at = 0;
    while at < data.len() {
        let header = data[at];
        let kind = (header >> 3) & 0x0f;
        let extension = usize::from((header >> 2) & 1);
        let has_size = (header >> 1) & 1 == 1;
        if !has_size {
            out.extend_from_slice(&data[at..]);
            break;
        }
        let mut cursor = at + 1 + extension;
        let (mut size, mut shift) = (0usize, 0u32);
        loop {
            let Some(&byte) = data.get(cursor) else {
                // A truncated size: keep the rest untouched.
                out.extend_from_slice(&data[at..]);
                return out;
            };
            cursor += 1;
            size |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 || shift >= 56 {
                break;
            }
        }
        let end = cursor.saturating_add(size).min(data.len());
        if kind != OBU_TEMPORAL_DELIMITER {
            out.extend_from_slice(&data[at..end]);
        }
        at = end;
    }
    out
}

/// An AVIF file of `image` at `quality` (1–100), not yet stamped.
pub(crate) fn encode(image: &Rgb, quality: i32) -> Result<Vec<u8>, RenderError> {
    let av1 = without_temporal_delimiters(&encode_av1(image, quality)?);
    let mut container = avif_serialize::Aviffy::new();
    container
        .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_full_color_range(true)
        .set_seq_profile(0)
        .set_chroma_subsampling((true, true));
    Ok(container.to_vec(&av1, None, image.width, image.height, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Rgb {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 90]);
            }
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn quality_maps_onto_libaom_quantizers() {
        assert_eq!(quantizer(100), 13);
        assert_eq!(quantizer(80), 25);
        assert_eq!(quantizer(20), 63);
        assert_eq!(quantizer(-5), 63);
        assert!(quantizer(90) < quantizer(80) && quantizer(80) < quantizer(50));
    }

    #[test]
    fn encodes_a_still_image_without_temporal_delimiters() {
        let image = gradient(97, 61); // odd sizes: the last chroma row and column
        let av1 = encode_av1(&image, 70).unwrap();
        assert_eq!((av1[0] >> 3) & 0x0f, 2, "libaom starts with a delimiter");
        let stripped = without_temporal_delimiters(&av1);
        assert_eq!(
            (stripped[0] >> 3) & 0x0f,
            1,
            "the sequence header comes first"
        );
        assert_eq!(stripped.len() + 2, av1.len());
        let file = encode(&image, 70).unwrap();
        assert_eq!(&file[4..12], b"ftypavif");
    }

    #[test]
    fn refuses_a_buffer_of_the_wrong_size() {
        let mut image = gradient(8, 8);
        image.data.pop();
        assert!(encode(&image, 80).is_err());
    }

    #[test]
    fn converts_to_full_range_bt601_with_averaged_chroma() {
        // White, black / red, red on top; one more column of blue.
        let image = Rgb {
            width: 3,
            height: 2,
            data: vec![
                255, 255, 255, 0, 0, 0, 0, 0, 255, //
                255, 0, 0, 255, 0, 0, 0, 0, 255,
            ],
        };
        let (mut y, mut u, mut v) = ([0u8; 6], [0u8; 2], [0u8; 2]);
        to_ycbcr420(&image, [&mut y, &mut u, &mut v], [3, 2, 2]);
        assert_eq!(y, [255, 0, 29, 76, 76, 29]);
        // The mean of white, black and two reds; then blue alone.
        assert_eq!((u, v), ([106, 255], [192, 107]));
    }
}

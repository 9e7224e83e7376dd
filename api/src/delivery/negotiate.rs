//! Choosing a derivative's format from the client's `Accept` header (for
//! profiles whose format is AUTO; the response then says `Vary: Accept`).
//!
//! A modern format is served only to a client that names it: browsers that
//! cannot decode WebP have long sent `image/*` and `*/*`, so wildcards never
//! count for AVIF or WebP. JPEG is the fallback every client takes.
//! Between named formats the client's weights decide, then ours (AVIF,
//! then WebP: smaller files at the same quality).

use crate::services::derivatives::Format;

/// The weight (`q`, 0–1000) the client gives `media_type` by name, if any.
fn named_weight(accept: &str, media_type: &str) -> Option<u16> {
    let mut best: Option<u16> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case(media_type) {
            continue;
        }
        let mut q = 1000u16;
        for param in parts {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("q") {
                // An unreadable weight is no weight (never a yes).
                q = v
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))
                    .map_or(0, |q| (q * 1000.0).round() as u16);
            }
        }
        best = Some(best.map_or(q, |b| b.max(q)));
    }
    best
}

/// The format to send for an AUTO profile, among the modern ones Vitrine
/// can encode (`offered`, in our order of preference).
pub fn negotiate(accept: Option<&str>, offered: &[Format]) -> Format {
    let Some(accept) = accept else {
        return Format::Jpeg;
    };
    let mut best: Option<(u16, Format)> = None;
    for &format in offered {
        let media_type = match format {
            Format::Avif => "image/avif",
            Format::Webp => "image/webp",
            _ => continue,
        };
        if let Some(q) = named_weight(accept, media_type).filter(|q| *q > 0)
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Jpeg, |(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Format; 2] = [Format::Avif, Format::Webp];
    const WEBP_ONLY: [Format; 1] = [Format::Webp];

    #[test]
    fn browsers_get_the_best_format_they_name() {
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(negotiate(Some(chrome), &BOTH), Format::Avif);
        assert_eq!(negotiate(Some(chrome), &WEBP_ONLY), Format::Webp);
        let safari = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png;q=0.7,image/svg+xml;q=0.6,image/*;q=0.5,*/*;q=0.4";
        assert_eq!(negotiate(Some(safari), &BOTH), Format::Avif, "tie: ours");
        let firefox_old = "image/webp,*/*";
        assert_eq!(negotiate(Some(firefox_old), &BOTH), Format::Webp);
    }

    #[test]
    fn wildcards_and_refusals_get_jpeg() {
        for accept in [
            "*/*",
            "image/*",
            "image/png,image/*;q=0.8,*/*;q=0.5",
            "image/avif;q=0,image/webp;q=0",
            "image/webp;q=banana",
            "",
        ] {
            assert_eq!(negotiate(Some(accept), &BOTH), Format::Jpeg, "{accept}");
        }
        assert_eq!(negotiate(None, &BOTH), Format::Jpeg);
        // Weights decide between named formats; case does not matter.
        assert_eq!(
            negotiate(Some("IMAGE/AVIF;q=0.5, image/webp;Q=0.9"), &BOTH),
            Format::Webp
        );
    }
}

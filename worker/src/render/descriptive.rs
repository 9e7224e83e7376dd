//! Descriptive metadata a photographer or agency wrote into a JPEG: IPTC IIM
//! (in the Photoshop APP13 segment: 2:25 Keywords, 2:105 Headline,
//! 2:120 Caption/Abstract) and XMP (dc:subject, dc:description,
//! photoshop:Headline). Read for search and auto-tags; never written back
//! (delivered files carry the brand's statement only, see `tagging`).

use serde::{Deserialize, Serialize};

/// Most keywords kept from one file.
const MAX_KEYWORDS: usize = 50;
/// Longest caption or headline kept.
const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptive {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// IPTC keywords and XMP subjects, deduplicated, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

impl Descriptive {
    fn add_keyword(&mut self, k: &str) {
        let k = k.trim();
        if !k.is_empty()
            && self.keywords.len() < MAX_KEYWORDS
            && !self
                .keywords
                .iter()
                .any(|have| have.eq_ignore_ascii_case(k))
        {
            self.keywords.push(k.chars().take(64).collect());
        }
    }
}

fn clean(text: &str) -> Option<String> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_TEXT)
        .collect();
    (!t.is_empty()).then_some(t)
}

/// IPTC IIM datasets in a Photoshop image resource block.
fn iptc(app13: &[u8], out: &mut Descriptive) {
    let Some(mut rest) = app13.strip_prefix(b"Photoshop 3.0\0".as_slice()) else {
        return;
    };
    // 8BIM resources: signature, id, even-padded Pascal name, size, data.
    while rest.len() >= 12 && &rest[..4] == b"8BIM" {
        let id = u16::from_be_bytes([rest[4], rest[5]]);
        let name_len = usize::from(rest[6]);
        let name_total = (1 + name_len + 1) & !1;
        let at = 6 + name_total;
        let Some(size) = rest.get(at..at + 4) else {
            return;
        };
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let Some(data) = rest.get(at + 4..at + 4 + size) else {
            return;
        };
        if id == 0x0404 {
            datasets(data, out);
        }
        let next = at + 4 + size + (size & 1);
        rest = rest.get(next..).unwrap_or_default();
    }
}

fn datasets(mut data: &[u8], out: &mut Descriptive) {
    while data.len() >= 5 && data[0] == 0x1C {
        let (record, number) = (data[1], data[2]);
        let len = usize::from(u16::from_be_bytes([data[3], data[4]]));
        // An extended length (high bit) is only used for huge datasets.
        if len & 0x8000 != 0 {
            return;
        }
        let Some(value) = data.get(5..5 + len) else {
            return;
        };
        let text = String::from_utf8_lossy(value);
        match (record, number) {
            (2, 25) => out.add_keyword(&text),
            (2, 105) if out.headline.is_none() => out.headline = clean(&text),
            (2, 120) if out.caption.is_none() => out.caption = clean(&text),
            _ => {}
        }
        data = &data[5 + len..];
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xA;", "\n")
        .replace("&amp;", "&")
}

/// The text of each `<rdf:li>` inside the first `<{element}>…</{element}>`.
fn xmp_items(xml: &str, element: &str) -> Vec<String> {
    let open = format!("<{element}");
    let close = format!("</{element}>");
    let Some(start) = xml.find(&open) else {
        return Vec::new();
    };
    let Some(len) = xml[start..].find(&close) else {
        return Vec::new();
    };
    let body = &xml[start..start + len];
    let mut items = Vec::new();
    let mut rest = body;
    while let Some(li) = rest.find("<rdf:li") {
        let Some(gt) = rest[li..].find('>') else {
            break;
        };
        let text_start = li + gt + 1;
        let Some(end) = rest[text_start..].find("</rdf:li>") else {
            break;
        };
        items.push(unescape(&rest[text_start..text_start + end]));
        rest = &rest[text_start + end..];
    }
    items
}

/// The simple-valued `<{element}>text</{element}>` or `{element}="text"`.
fn xmp_simple(xml: &str, element: &str) -> Option<String> {
    let open = format!("<{element}>");
    if let Some(start) = xml.find(&open) {
        let from = start + open.len();
        let end = xml[from..].find('<')?;
        return clean(&unescape(&xml[from..from + end]));
    }
    let attr = format!("{element}=\"");
    let start = xml.find(&attr)? + attr.len();
    let end = xml[start..].find('"')?;
    clean(&unescape(&xml[start..start + end]))
}

fn xmp(app1: &[u8], out: &mut Descriptive) {
    let Some(packet) = app1.strip_prefix(b"http://ns.adobe.com/xap/1.0/\0".as_slice()) else {
        return;
    };
    let xml = String::from_utf8_lossy(packet);
    for k in xmp_items(&xml, "dc:subject") {
        out.add_keyword(&k);
    }
    if out.caption.is_none() {
        out.caption = xmp_items(&xml, "dc:description")
            .first()
            .and_then(|d| clean(d));
    }
    if out.headline.is_none() {
        out.headline = xmp_simple(&xml, "photoshop:Headline");
    }
}

/// Reads the descriptive metadata of a JPEG (other formats give none).
pub fn read(bytes: &[u8]) -> Descriptive {
    let mut out = Descriptive::default();
    let Ok(segments) = crate::tagging::jpeg_segments(bytes) else {
        return out;
    };
    // IPTC first: where both are present, IPTC's caption wins like exiftool's
    // default preference order for IIM-aware tools.
    for s in segments.iter().filter(|s| s.marker == 0xED) {
        iptc(s.payload, &mut out);
    }
    for s in segments.iter().filter(|s| s.marker == 0xE1) {
        xmp(s.payload, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn dataset(number: u8, value: &str) -> Vec<u8> {
        let mut out = vec![0x1C, 2, number];
        out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value.as_bytes());
        out
    }

    /// A JPEG header with the given IPTC datasets and XMP packet (no image
    /// data is needed: only the segments before the first scan are read).
    pub(crate) fn jpeg_with(iptc_sets: &[(u8, &str)], xmp_xml: Option<&str>) -> Vec<u8> {
        let mut iim = Vec::new();
        for (n, v) in iptc_sets {
            iim.extend(dataset(*n, v));
        }
        let mut app13 = b"Photoshop 3.0\08BIM".to_vec();
        app13.extend_from_slice(&0x0404u16.to_be_bytes());
        app13.extend_from_slice(&[0, 0]);
        app13.extend_from_slice(&u32::try_from(iim.len()).unwrap().to_be_bytes());
        app13.extend_from_slice(&iim);
        if iim.len() % 2 == 1 {
            app13.push(0);
        }
        let mut out = vec![0xFF, 0xD8];
        if let Some(x) = xmp_xml {
            let mut app1 = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
            app1.extend_from_slice(x.as_bytes());
            out.extend(segment(0xE1, &app1));
        }
        if !iptc_sets.is_empty() {
            out.extend(segment(0xED, &app13));
        }
        out.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        out
    }

    #[test]
    fn iptc_and_xmp_fields_are_read() {
        let xml = r#"<x:xmpmeta><rdf:RDF><rdf:Description photoshop:Headline="XMP headline">
            <dc:subject><rdf:Bag><rdf:li>Rose gold</rdf:li><rdf:li>ring</rdf:li><rdf:li>SS27 &amp; more</rdf:li></rdf:Bag></dc:subject>
            <dc:description><rdf:Alt><rdf:li xml:lang="x-default">A ring on marble</rdf:li></rdf:Alt></dc:description>
            </rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let d = read(&jpeg_with(
            &[(25, "ring"), (25, "jewellery"), (120, "Ring 0042, front")],
            Some(xml),
        ));
        assert_eq!(d.caption.as_deref(), Some("Ring 0042, front"));
        assert_eq!(d.headline.as_deref(), Some("XMP headline"));
        assert_eq!(
            d.keywords,
            ["ring", "jewellery", "Rose gold", "SS27 & more"]
        );

        let only_xmp = read(&jpeg_with(&[], Some(xml)));
        assert_eq!(only_xmp.caption.as_deref(), Some("A ring on marble"));
    }

    #[test]
    fn hostile_segments_give_nothing_and_never_panic() {
        assert_eq!(read(b"not a jpeg"), Descriptive::default());
        let mut app13 = b"Photoshop 3.0\08BIM\x04\x04\x00\x00\xFF\xFF\xFF\xFF".to_vec();
        app13.extend_from_slice(&[0x1C, 2, 25, 0xFF, 0xFF]);
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend(segment(0xED, &app13));
        bytes.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        assert_eq!(read(&bytes), Descriptive::default());
        let bad_xmp = jpeg_with(&[], Some("<dc:subject><rdf:li>unterminated"));
        assert_eq!(read(&bad_xmp), Descriptive::default());
    }
}

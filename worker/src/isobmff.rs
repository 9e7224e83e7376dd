//! Metadata items added to an AVIF file (ISO-BMFF / HEIF): the EXIF block
//! and the XMP packet of the ownership statement, each an item that
//! describes (`cdsc`) the primary image, as libavif writes them and
//! exiftool and libavif read them.
//!
//! Written by hand because no maintained crate writes XMP into AVIF:
//! `avif-serialize` (which writes Vitrine's AVIF containers) writes EXIF only. This handles the
//! layout `avif-serialize` produces — `ftyp`, `meta`, `mdat` in that order,
//! 32-bit box sizes, `iloc` version 0 with 4-byte offsets and lengths and no
//! base offset — and refuses anything else rather than guess.

/// A metadata item to add.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A TIFF-structured EXIF block (`II*\0…` or `MM\0*…`).
    Exif(&'a [u8]),
    /// An XMP packet.
    Xmp(&'a [u8]),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot add metadata to this AVIF: {0}")]
pub struct LayoutError(&'static str);

fn u16_at(b: &[u8], at: usize) -> Result<u16, LayoutError> {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_be_bytes)
        .ok_or(LayoutError("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, LayoutError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(LayoutError("truncated"))
}

/// A box: its type and its whole bytes (header included).
type Boxed<'a> = ([u8; 4], &'a [u8]);

/// The boxes of `buf`.
fn boxes(buf: &[u8]) -> Result<Vec<Boxed<'_>>, LayoutError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let size = u32_at(buf, at)? as usize;
        if size < 8 || at + size > buf.len() {
            return Err(LayoutError("bad box size"));
        }
        let kind: [u8; 4] = buf[at + 4..at + 8]
            .try_into()
            .map_err(|_| LayoutError("truncated"))?;
        out.push((kind, &buf[at..at + size]));
        at += size;
    }
    Ok(out)
}

fn make_box(kind: &[u8; 4], payload: &[u8]) -> Result<Vec<u8>, LayoutError> {
    let size = u32::try_from(payload.len() + 8).map_err(|_| LayoutError("too large"))?;
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    Ok(out)
}

/// `avif` with `items` added (their data at the end of `mdat`).
pub fn add_items(avif: &[u8], items: &[Item<'_>]) -> Result<Vec<u8>, LayoutError> {
    let top = boxes(avif)?;
    let kinds: Vec<[u8; 4]> = top.iter().map(|b| b.0).collect();
    if kinds != [*b"ftyp", *b"meta", *b"mdat"] {
        return Err(LayoutError("expected ftyp, meta, mdat"));
    }
    let (ftyp, meta, mdat) = (top[0].1, top[1].1, top[2].1);
    let version_flags = meta.get(8..12).ok_or(LayoutError("truncated"))?;
    let children = boxes(&meta[12..])?;
    let child = |kind: &[u8; 4]| {
        children
            .iter()
            .find(|c| &c.0 == kind)
            .map(|c| c.1)
            .ok_or(LayoutError("a required box is missing"))
    };
    let primary = u16_at(child(b"pitm")?, 12)?;

    // Item infos: version 0 (16-bit count) of version 2 entries.
    let iinf = child(b"iinf")?;
    if iinf.get(8) != Some(&0) {
        return Err(LayoutError("iinf version"));
    }
    let count = u16_at(iinf, 12)?;
    let entries = boxes(iinf.get(14..).ok_or(LayoutError("truncated"))?)?;
    let mut next_id = 0u16;
    for (_, e) in &entries {
        if e.get(8) != Some(&2) {
            return Err(LayoutError("infe version"));
        }
        next_id = next_id.max(u16_at(e, 12)?);
    }
    let ids: Vec<u16> = (1..=items.len())
        .map(|i| next_id.checked_add(u16::try_from(i).unwrap_or(u16::MAX)))
        .collect::<Option<_>>()
        .ok_or(LayoutError("too many items"))?;
    let mut iinf_payload = iinf[8..12].to_vec();
    let new_count = count
        .checked_add(u16::try_from(items.len()).map_err(|_| LayoutError("too many items"))?)
        .ok_or(LayoutError("too many items"))?;
    iinf_payload.extend_from_slice(&new_count.to_be_bytes());
    iinf_payload.extend_from_slice(&iinf[14..]);
    for (item, id) in items.iter().zip(&ids) {
        let mut infe = vec![2, 0, 0, 0];
        infe.extend_from_slice(&id.to_be_bytes());
        infe.extend_from_slice(&0u16.to_be_bytes());
        match item {
            Item::Exif(_) => {
                infe.extend_from_slice(b"Exif");
                infe.extend_from_slice(b"Exif\0");
            }
            Item::Xmp(_) => {
                infe.extend_from_slice(b"mime");
                infe.extend_from_slice(b"XMP\0");
                infe.extend_from_slice(b"application/rdf+xml\0");
            }
        }
        iinf_payload.extend(make_box(b"infe", &infe)?);
    }
    let new_iinf = make_box(b"iinf", &iinf_payload)?;

    // Each new item describes the primary image.
    let mut references = Vec::new();
    for id in &ids {
        let mut cdsc = id.to_be_bytes().to_vec();
        cdsc.extend_from_slice(&1u16.to_be_bytes());
        cdsc.extend_from_slice(&primary.to_be_bytes());
        references.extend(make_box(b"cdsc", &cdsc)?);
    }
    let old_iref = children.iter().find(|c| &c.0 == b"iref").map(|c| c.1);
    let new_iref = match old_iref {
        Some(iref) => {
            if iref.get(8) != Some(&0) {
                return Err(LayoutError("iref version"));
            }
            let mut p = iref[8..].to_vec();
            p.extend_from_slice(&references);
            make_box(b"iref", &p)?
        }
        None => {
            let mut p = vec![0, 0, 0, 0];
            p.extend_from_slice(&references);
            make_box(b"iref", &p)?
        }
    };

    // Item locations: version 0, 4-byte offsets and lengths, no base offset.
    let iloc = child(b"iloc")?;
    if iloc.get(8) != Some(&0) || iloc.get(12) != Some(&0x44) || iloc.get(13) != Some(&0) {
        return Err(LayoutError("iloc layout"));
    }
    let located = u16_at(iloc, 14)?;
    // The data of the new items: an EXIF item starts with the offset of its
    // TIFF header (0).
    let data: Vec<Vec<u8>> = items
        .iter()
        .map(|item| match item {
            Item::Exif(tiff) => {
                let mut d = 0u32.to_be_bytes().to_vec();
                d.extend_from_slice(tiff);
                d
            }
            Item::Xmp(xmp) => xmp.to_vec(),
        })
        .collect();
    let growth = (new_iinf.len() - iinf.len())
        + 14 * items.len()
        + (new_iref.len() - old_iref.map_or(0, <[u8]>::len));
    let delta = u32::try_from(growth).map_err(|_| LayoutError("too large"))?;
    let mut iloc_payload = iloc[8..14].to_vec();
    iloc_payload.extend_from_slice(
        &located
            .checked_add(u16::try_from(items.len()).map_err(|_| LayoutError("too many items"))?)
            .ok_or(LayoutError("too many items"))?
            .to_be_bytes(),
    );
    let mut at = 16;
    for _ in 0..located {
        iloc_payload.extend_from_slice(iloc.get(at..at + 6).ok_or(LayoutError("truncated"))?);
        let extents = u16_at(iloc, at + 4)?;
        at += 6;
        for _ in 0..extents {
            let offset = u32_at(iloc, at)?
                .checked_add(delta)
                .ok_or(LayoutError("too large"))?;
            iloc_payload.extend_from_slice(&offset.to_be_bytes());
            iloc_payload.extend_from_slice(&u32_at(iloc, at + 4)?.to_be_bytes());
            at += 8;
        }
    }
    let mut end = u32::try_from(avif.len())
        .ok()
        .and_then(|l| l.checked_add(delta))
        .ok_or(LayoutError("too large"))?;
    for (id, d) in ids.iter().zip(&data) {
        let len = u32::try_from(d.len()).map_err(|_| LayoutError("too large"))?;
        iloc_payload.extend_from_slice(&id.to_be_bytes());
        iloc_payload.extend_from_slice(&0u16.to_be_bytes());
        iloc_payload.extend_from_slice(&1u16.to_be_bytes());
        iloc_payload.extend_from_slice(&end.to_be_bytes());
        iloc_payload.extend_from_slice(&len.to_be_bytes());
        end = end.checked_add(len).ok_or(LayoutError("too large"))?;
    }
    let new_iloc = make_box(b"iloc", &iloc_payload)?;

    let mut meta_payload = version_flags.to_vec();
    for (kind, b) in &children {
        match kind {
            b"iloc" => meta_payload.extend_from_slice(&new_iloc),
            b"iinf" => {
                meta_payload.extend_from_slice(&new_iinf);
                if old_iref.is_none() {
                    meta_payload.extend_from_slice(&new_iref);
                }
            }
            b"iref" => meta_payload.extend_from_slice(&new_iref),
            _ => meta_payload.extend_from_slice(b),
        }
    }
    let new_meta = make_box(b"meta", &meta_payload)?;
    if new_meta.len() != meta.len() + growth {
        return Err(LayoutError("meta size"));
    }
    let added: usize = data.iter().map(Vec::len).sum();
    let mdat_size = u32::try_from(mdat.len() + added).map_err(|_| LayoutError("too large"))?;
    let mut out = Vec::with_capacity(avif.len() + growth + added);
    out.extend_from_slice(ftyp);
    out.extend_from_slice(&new_meta);
    out.extend_from_slice(&mdat_size.to_be_bytes());
    out.extend_from_slice(&mdat[4..]);
    for d in &data {
        out.extend_from_slice(d);
    }
    Ok(out)
}

/// Whether `bytes` is an AVIF file (by its `ftyp` brand).
pub fn is_avif(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp") && bytes.get(8..12) == Some(b"avif")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded() -> Vec<u8> {
        let data = (0..32 * 24)
            .flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 10) as u8, 90])
            .collect();
        let image = crate::render::pixels::Rgb {
            width: 32,
            height: 24,
            data,
        };
        crate::render::avif::encode(&image, 60).unwrap()
    }

    #[test]
    fn items_land_where_their_locations_say() {
        let avif = encoded();
        assert!(is_avif(&avif));
        let exif = b"II*\0\x08\0\0\0\0\0\0\0\0\0";
        let xmp = b"<x:xmpmeta>ours</x:xmpmeta>";
        let out = add_items(&avif, &[Item::Exif(exif), Item::Xmp(xmp)]).unwrap();
        // The image data moved by the growth of `meta` and is intact.
        let top = boxes(&out).unwrap();
        assert_eq!(top.len(), 3);
        let iloc = boxes(&top[1].1[12..])
            .unwrap()
            .into_iter()
            .find(|b| &b.0 == b"iloc")
            .unwrap()
            .1;
        let count = u16_at(iloc, 14).unwrap();
        assert_eq!(count, 3);
        let mut at = 16;
        let mut found = Vec::new();
        for _ in 0..count {
            let id = u16_at(iloc, at).unwrap();
            let offset = u32_at(iloc, at + 6).unwrap() as usize;
            let len = u32_at(iloc, at + 10).unwrap() as usize;
            found.push((id, out[offset..offset + len].to_vec()));
            at += 14;
        }
        assert!(
            found
                .iter()
                .any(|(_, d)| d.ends_with(exif) && d.starts_with(&[0; 4]))
        );
        assert!(found.iter().any(|(_, d)| d == xmp));
        // The AV1 payload is found where the original location said, moved.
        let old_iloc = boxes(&boxes(&avif).unwrap()[1].1[12..])
            .unwrap()
            .into_iter()
            .find(|b| &b.0 == b"iloc")
            .unwrap()
            .1;
        let (o, l) = (
            u32_at(old_iloc, 22).unwrap() as usize,
            u32_at(old_iloc, 26).unwrap() as usize,
        );
        assert_eq!(found[0].1, avif[o..o + l].to_vec());
    }

    #[test]
    fn other_layouts_are_refused() {
        assert!(add_items(b"not an avif at all", &[]).is_err());
        let mut avif = encoded();
        avif[0..4].copy_from_slice(&1u32.to_be_bytes());
        assert!(add_items(&avif, &[Item::Xmp(b"x")]).is_err());
    }
}

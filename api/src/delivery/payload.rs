//! What a delivery sends, and how it gets read without holding large files.
//!
//! Renditions are small and are served from memory (kept hot in the
//! delivery cache). Originals go out stamped with the ownership statement
//! and stripped of private metadata; the stamped copy of a version is made
//! once per ownership statement, kept in the blob store under
//! `stamped/<asset>/<etag>.<ext>` (`vitrine_worker::derived`), and served from there in ranges, so a
//! download holds a read buffer, not the file, however large the original
//! and however many downloads run at once. Making the copy holds the
//! original and its stamped copy in memory once, under the process's image
//! memory budget; concurrent first downloads of one version make it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use poem::Body;
use tokio::io::AsyncReadExt;
use vitrine_worker::derived::stamped_key;
use vitrine_worker::storage::original_key;
use vitrine_worker::tagging::{Camera, Stamp, tag_original};

use super::Served;
use crate::state::AppState;

/// The bytes of a response, in memory or in the blob store.
#[derive(Debug, Clone)]
pub enum Payload {
    Memory(Bytes),
    Stored { key: String, len: u64 },
}

impl Payload {
    pub fn len(&self) -> u64 {
        match self {
            Payload::Memory(b) => b.len() as u64,
            Payload::Stored { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A body of `len` bytes from `start` (within the payload).
    pub async fn body(&self, state: &AppState, start: u64, len: u64) -> anyhow::Result<Body> {
        match self {
            Payload::Memory(bytes) => {
                let s = usize::try_from(start)?;
                let e = usize::try_from(start + len)?;
                Ok(Body::from_bytes(bytes.slice(s..e)))
            }
            Payload::Stored { key, .. } => {
                let reader = state
                    .store
                    .open_range(key, start, len)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("{key} is missing from the blob store"))?;
                Ok(Body::from_async_read(reader))
            }
        }
    }
}

/// Which stamped copies are being made, so concurrent first downloads of
/// one version make it once.
#[derive(Debug, Default)]
pub struct Stamping(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Stamping {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }

    fn done(&self, key: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

/// What to send for `served` (a derivative: in `encoding`).
pub async fn payload(
    state: &AppState,
    served: &Served,
    encoding: Option<vitrine_worker::derivatives::Encoding>,
) -> anyhow::Result<Payload> {
    let delivery = &state.delivery;
    let (key, cache_key) = match served {
        Served::Rendition { key, etag, .. } => (key.clone(), format!("{key}#{etag}")),
        Served::Original {
            etag,
            asset_id,
            filename,
            ..
        } => {
            let extension = filename.rsplit('.').next().unwrap_or("bin");
            let key = stamped_key(*asset_id, etag, extension);
            (key, format!("original#{etag}"))
        }
        Served::Derivative(source) => {
            let encoding = encoding.ok_or_else(|| anyhow::anyhow!("no format chosen"))?;
            return super::derivative::payload(state, source, encoding).await;
        }
        Served::NotReady | Served::Superseded => anyhow::bail!("nothing to serve"),
    };
    if let Some(bytes) = delivery.cached_file(&cache_key) {
        return Ok(Payload::Memory(bytes));
    }
    // Renditions are small: read at once. Originals: made if missing, and
    // read only when small enough to keep.
    if let Served::Original { .. } = served {
        let len = match state.store.size(&key).await? {
            Some(len) => len,
            None => stamp(state, served, &key).await?,
        };
        if len > delivery.small_file_limit() as u64 {
            return Ok(Payload::Stored { key, len });
        }
    }
    let (mut reader, len) = state
        .store
        .open(&key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{key} is missing from the blob store"))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.read_to_end(&mut buf).await?;
    let bytes = Bytes::from(buf);
    delivery.remember_file(cache_key, bytes.clone());
    Ok(Payload::Memory(bytes))
}

/// Makes the stamped copy of an original under `key` (once, however many
/// ask at the same time); returns its length.
async fn stamp(state: &AppState, served: &Served, key: &str) -> anyhow::Result<u64> {
    let Served::Original {
        sha256,
        ownership,
        version_number,
        orientation,
        asset_id,
        ..
    } = served
    else {
        anyhow::bail!("not an original");
    };
    let stamping = &state.delivery.stamping;
    let lock = stamping.lock_for(key);
    let made = {
        let _guard = lock.lock().await;
        make_stamped(
            state,
            key,
            sha256,
            ownership,
            *asset_id,
            *version_number,
            *orientation,
        )
        .await
    };
    stamping.done(key);
    made
}

async fn make_stamped(
    state: &AppState,
    key: &str,
    sha256: &str,
    ownership: &vitrine_worker::tagging::Ownership,
    asset_id: uuid::Uuid,
    version_number: i32,
    orientation: u16,
) -> anyhow::Result<u64> {
    if let Some(len) = state.store.size(key).await? {
        return Ok(len);
    }
    let source = original_key(sha256);
    let size = state
        .store
        .size(&source)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{source} is missing from the blob store"))?;
    // The original and its stamped copy (a little larger: the statement).
    let _memory = state
        .budget
        .reserve(size.saturating_mul(2).saturating_add(1 << 20))
        .await?;
    let (mut reader, _) = state
        .store
        .open(&source)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{source} is missing from the blob store"))?;
    let mut original = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader.read_to_end(&mut original).await?;
    let ownership = ownership.clone();
    let stamped = tokio::task::spawn_blocking(move || {
        let camera = Camera::from_file(&original);
        let stamp = Stamp {
            ownership: &ownership,
            asset_id,
            version_number,
            orientation,
            camera: &camera,
        };
        tag_original(&original, &stamp)
    })
    .await??;
    let len = stamped.len() as u64;
    state.store.put_bytes(key, stamped).await?;
    Ok(len)
}

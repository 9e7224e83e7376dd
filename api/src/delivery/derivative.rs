//! Derivatives served through `/r/`: found made (in memory, or recorded
//! and in the blob store), or made on first request.
//!
//! A derivative not made yet is rendered once however many ask at the same
//! time (single-flight per derivative and inputs, in this process): the
//! first request starts the render in its own task, every request waits
//! for it at most `derivative_wait`, then is answered 503 with Retry-After
//! while the render goes on, so that a client retrying finds it made. The
//! render holds what decoding takes from the process's image memory budget
//! (waiting for it when other image work holds it), like uploads and
//! processing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use uuid::Uuid;
use vitrine_entity::entities::derivative_profile;
use vitrine_worker::derivatives::{self, Encoding, Key, StampFor};
use vitrine_worker::derived::etag_of;
use vitrine_worker::render::RenderLimits;
use vitrine_worker::storage::original_key;
use vitrine_worker::tagging::Ownership;

use super::payload::Payload;
use crate::state::AppState;

/// What a derivative URL resolves to: the profile at the URL's revision
/// and what the image is made from.
#[derive(Debug, Clone)]
pub struct Source {
    pub profile: derivative_profile::Model,
    pub asset_id: Uuid,
    pub version_id: Uuid,
    pub version_number: i32,
    pub sha256: String,
    pub ownership: Ownership,
    pub focal: Option<(f64, f64)>,
    pub dpr: u8,
    /// See [`derivatives::inputs`].
    pub inputs: String,
}

impl Source {
    pub fn key(&self, encoding: Encoding) -> Key {
        Key {
            version_id: self.version_id,
            profile_id: self.profile.id,
            revision: self.profile.revision,
            encoding,
            dpr: self.dpr,
        }
    }

    /// The validator of the derivative in `encoding`: it changes with
    /// everything its bytes depend on.
    pub fn etag(&self, encoding: Encoding) -> String {
        etag_of(&[
            &self.version_id.to_string(),
            &self.profile.id.to_string(),
            &self.profile.revision.to_string(),
            encoding.as_str(),
            &self.dpr.to_string(),
            &self.inputs,
        ])
    }

    /// A file name of our making.
    pub fn filename(&self, encoding: Encoding) -> String {
        let id = self.asset_id.simple().to_string();
        format!(
            "vitrine-{}-v{}-{}@{}x.{}",
            &id[id.len() - 12..],
            self.version_number,
            self.profile.name,
            self.dpr,
            encoding.extension()
        )
    }
}

/// The wait for a render ran out (the render goes on): answer 503 with
/// Retry-After.
#[derive(Debug, thiserror::Error)]
#[error("the derivative is being made")]
pub struct StillRendering;

type Outcome = Option<Result<Bytes, String>>;

/// The renders in flight, by derivative and inputs, and the slots they run
/// in: one per core, so that many first requests for different derivatives
/// (anyone may make them through public URLs) queue rather than pile up on
/// the CPU; each waiter's bounded wait still answers 503 in time.
#[derive(Debug)]
pub struct InFlight(
    Mutex<HashMap<String, watch::Receiver<Outcome>>>,
    tokio::sync::Semaphore,
);

impl Default for InFlight {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self(Mutex::default(), tokio::sync::Semaphore::new(cores))
    }
}

/// How many derivatives this process rendered (tests assert single-flight).
pub static RENDERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The bytes of `source` in `encoding`, made if need be.
pub async fn payload(
    state: &AppState,
    source: &Arc<Source>,
    encoding: Encoding,
) -> anyhow::Result<Payload> {
    let delivery = &state.delivery;
    let etag = source.etag(encoding);
    let cache_key = format!("derivative#{etag}");
    if let Some(bytes) = delivery.cached_file(&cache_key) {
        return Ok(Payload::Memory(bytes));
    }
    let key = source.key(encoding);
    if let Some(made) = derivatives::find(&state.db, &key).await?
        && made.tagged_with == source.inputs
        && let Some(bytes) = read(state, &made.storage_key).await?
    {
        delivery.remember_file(cache_key, bytes.clone());
        return Ok(Payload::Memory(bytes));
    }
    let mut outcome = {
        let mut map = delivery
            .rendering
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(&cache_key) {
            Some(rx) => rx.clone(),
            None => {
                let (tx, rx) = watch::channel(None);
                map.insert(cache_key.clone(), rx.clone());
                let (state, source) = (state.clone(), source.clone());
                tokio::spawn(async move {
                    let made = render(&state, &source, encoding, &cache_key)
                        .await
                        .map_err(|e| {
                            tracing::error!(error = %e, "could not make a derivative");
                            e.to_string()
                        });
                    // Made (and kept) before the waiters hear of it, so a
                    // request after this finds it without a render.
                    let _ = tx.send(Some(made));
                    let mut map = state
                        .delivery
                        .rendering
                        .0
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    map.remove(&cache_key);
                });
                rx
            }
        }
    };
    let wait = state.config.delivery.derivative_wait;
    let done = tokio::time::timeout(wait, outcome.wait_for(Option::is_some)).await;
    let result = match done {
        Err(_) => return Err(StillRendering.into()),
        Ok(Err(_)) => anyhow::bail!("the render stopped"),
        Ok(Ok(value)) => value.clone(),
    };
    match result {
        Some(Ok(bytes)) => Ok(Payload::Memory(bytes)),
        Some(Err(e)) => anyhow::bail!("{e}"),
        None => anyhow::bail!("the render stopped"),
    }
}

async fn read(state: &AppState, key: &str) -> anyhow::Result<Option<Bytes>> {
    let Some((mut reader, len)) = state.store.open(key).await? else {
        return Ok(None);
    };
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.read_to_end(&mut buf).await?;
    Ok(Some(Bytes::from(buf)))
}

/// Renders, stores and records one derivative.
async fn render(
    state: &AppState,
    source: &Source,
    encoding: Encoding,
    cache_key: &str,
) -> anyhow::Result<Bytes> {
    let _slot = state.delivery.rendering.1.acquire().await?;
    let limits = RenderLimits {
        max_pixels: state.config.limits.max_image_pixels,
        max_decode_bytes: state.config.limits.max_decode_bytes,
        jpeg_scan_limit: 500,
    };
    let from = original_key(&source.sha256);
    let size = state
        .store
        .size(&from)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{from} is missing from the blob store"))?;
    // The file first; the decode when it fits at once, else everything is
    // given back and the whole is waited for in one reservation (so that
    // renders in parallel never each hold a file and wait on each other's
    // decode), as processing does.
    let file = state.budget.reserve(size).await?;
    let original = read(state, &from)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{from} is missing from the blob store"))?;
    let spec = derivatives::spec(&source.profile, encoding, source.dpr, source.focal);
    let needed = {
        let original = original.clone();
        tokio::task::spawn_blocking(move || {
            vitrine_worker::render::derive::estimate(&original, &spec, limits)
        })
        .await??
    };
    let (_memory, original) = match state.budget.try_reserve(needed) {
        Some(decode) => (vec![file, decode], original),
        None => {
            drop((file, original));
            let all = state.budget.reserve(size.saturating_add(needed)).await?;
            let original = read(state, &from)
                .await?
                .ok_or_else(|| anyhow::anyhow!("{from} is missing from the blob store"))?;
            (vec![all], original)
        }
    };
    let made = {
        let ownership = source.ownership.clone();
        let (asset_id, version_number) = (source.asset_id, source.version_number);
        tokio::task::spawn_blocking(move || {
            derivatives::make(
                &original,
                &spec,
                limits,
                StampFor {
                    ownership: &ownership,
                    asset_id,
                    version_number,
                },
            )
        })
        .await??
    };
    RENDERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key = source.key(encoding);
    let storage_key = key.storage_key(&source.inputs);
    state
        .store
        .put_bytes(&storage_key, made.bytes.clone())
        .await?;
    derivatives::record(
        &state.db,
        &key,
        &source.inputs,
        &storage_key,
        &made,
        state.clock.now(),
    )
    .await?;
    let bytes = Bytes::from(made.bytes);
    state
        .delivery
        .remember_file(cache_key.to_owned(), bytes.clone());
    Ok(bytes)
}

//! Job payloads. Each carries ids and parameters, never data, and names its
//! queue explicitly with a version: renaming a Rust type must never orphan
//! queued jobs, and an incompatible payload change gets a new version.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A job payload type.
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {
    /// The queue name without the installation prefix, e.g. `v1:purge-sessions`.
    const QUEUE: &'static str;
    /// How many times the job may run in all before it is given up.
    const MAX_ATTEMPTS: usize;
}

/// Deletes sessions that expired or were revoked longer ago than the
/// retention period. Enqueued hourly by the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeExpiredSessions {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for PurgeExpiredSessions {
    const QUEUE: &'static str = "v1:purge-expired-sessions";
    const MAX_ATTEMPTS: usize = 3;
}

/// Processes a version: metadata, perceptual hash, tagged renditions.
/// Enqueued after the commit that created the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessVersion {
    pub version_id: uuid::Uuid,
}

impl Job for ProcessVersion {
    const QUEUE: &'static str = "v1:process-version";
    // Retries with backoff are scheduled by the handler itself (as new jobs),
    // so the attempts are counted on the version.
    const MAX_ATTEMPTS: usize = 1;
}

/// Re-tags stored renditions with the ownership statement now in force (all
/// assets, or one). Enqueued when a profile changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetagRenditions {
    pub asset_id: Option<uuid::Uuid>,
}

impl Job for RetagRenditions {
    const QUEUE: &'static str = "v1:retag-renditions";
    const MAX_ATTEMPTS: usize = 5;
}

/// Re-enqueues versions whose processing was lost. Enqueued every 30 s.
/// One batch of a retag run (it enqueues the next batch itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetagLibrary {
    pub run_id: uuid::Uuid,
}

impl Job for RetagLibrary {
    const QUEUE: &'static str = "v1:retag-library";
    const MAX_ATTEMPTS: usize = 5;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileProcessing {
    pub tick: u64,
}

impl Job for ReconcileProcessing {
    const QUEUE: &'static str = "v1:reconcile-processing";
    const MAX_ATTEMPTS: usize = 1;
}

/// Handles license ends (takedown), reinstatements and expiry notices.
/// Enqueued every minute by the scheduler; one sweep runs at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseTakedown {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for LicenseTakedown {
    const QUEUE: &'static str = "v1:license-takedown";
    // The next tick retries: a sweep resumes where one stopped.
    const MAX_ATTEMPTS: usize = 1;
}

/// Deletes stored originals that nothing references (purged assets, uploads
/// that crashed before their commit). Enqueued hourly by the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectGarbageBlobs {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for CollectGarbageBlobs {
    const QUEUE: &'static str = "v1:collect-garbage-blobs";
    const MAX_ATTEMPTS: usize = 3;
}

/// Adds the audit log's new usage events into the statistics. Enqueued
/// every 10 seconds by default; one rollup runs at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRollup {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for UsageRollup {
    const QUEUE: &'static str = "v1:usage-rollup";
    // The next tick retries: a rollup resumes at its watermark.
    const MAX_ATTEMPTS: usize = 1;
}

/// Fans new audit events out to webhook endpoints and sends what is due.
/// Enqueued every second by the scheduler (by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWebhooks {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for SendWebhooks {
    const QUEUE: &'static str = "v1:send-webhooks";
    // The next tick carries on: retries are per delivery, with backoff.
    const MAX_ATTEMPTS: usize = 1;
}

/// Records CDN purges for new audit events and sends what is due.
/// Enqueued every second by the scheduler (by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendCdnPurges {
    /// The scheduler tick (Unix seconds) that enqueued it.
    pub tick: u64,
}

impl Job for SendCdnPurges {
    const QUEUE: &'static str = "v1:send-cdn-purges";
    // The next tick carries on: retries are per purge, with backoff.
    const MAX_ATTEMPTS: usize = 1;
}

//! The anomaly watcher: reads downloads from the audit log as they are
//! recorded (every couple of seconds, from its own watermark), feeds them to
//! the [`Detector`] and records each alert as an ANOMALY_DETECTED audit event
//! (SYSTEM), which reaches the `anomalies` subscription at its commit.
//!
//! One watcher runs at a time across worker processes (a lease). A watcher
//! that takes over primes its windows with the recent downloads and the
//! alerts already raised, so a burst is reported once, not once per watcher.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use vitrine_entity::AuditAction;
use vitrine_entity::anomaly::{AnomalyRule, Detector, Download, Threshold, default_thresholds};
use vitrine_entity::audit::{NewEvent, SYSTEM, last_seq};
use vitrine_entity::entities::audit_event;
use vitrine_entity::store::begin_write;

use crate::lease::Lease;
use crate::runner::WorkerDeps;
use crate::tx::Tx;
use crate::usage::{advance, watermark_of};

/// The watermark's (and the lease's) name.
pub const WATCH: &str = "anomaly-watch";
/// Downloads read per pass at most.
const PAGE: u64 = 10_000;
/// How often the watermark is saved when nothing was raised.
const SAVE_EVERY: StdDuration = StdDuration::from_secs(30);

/// The watcher's settings.
#[derive(Debug, Clone)]
pub struct AnomalySettings {
    /// How often the watcher looks at new downloads; `None`: not watching.
    pub interval: Option<StdDuration>,
    pub thresholds: Vec<Threshold>,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            interval: Some(StdDuration::from_secs(2)),
            thresholds: default_thresholds(),
        }
    }
}

fn download_actions() -> [&'static str; 2] {
    [
        AuditAction::LowresDownloaded.as_str(),
        AuditAction::OriginalDownloaded.as_str(),
    ]
}

/// A watcher holding the lease.
struct Watching {
    lease: Lease,
    detector: Detector,
    /// The last sequence number taken in, and the one saved.
    seen: i64,
    saved: i64,
    saved_at: std::time::Instant,
}

/// Watches until the task is dropped. Every worker process runs one; only
/// the lease holder works.
pub async fn watch(deps: WorkerDeps) {
    let Some(interval) = deps.settings.anomaly.interval else {
        return;
    };
    let ttl =
        Duration::from_std(interval * 10).unwrap_or(Duration::seconds(20)) + Duration::seconds(10);
    let mut watching: Option<Watching> = None;
    loop {
        tokio::time::sleep(interval).await;
        if watching.is_none() {
            match take_over(&deps, ttl).await {
                Ok(w) => watching = w,
                Err(e) => tracing::warn!(error = %e, "anomaly watcher: cannot start"),
            }
        }
        let Some(w) = watching.as_mut() else { continue };
        match pass(&deps, w).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "anomaly watcher: pass failed; starting over");
                watching = None;
                continue;
            }
        }
        match w.lease.renew(&deps.db).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("anomaly watcher: lease lost to another process");
                watching = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "anomaly watcher: cannot renew the lease");
                watching = None;
            }
        }
    }
}

/// Takes the lease (if free) and primes a detector from the recent past.
async fn take_over(deps: &WorkerDeps, ttl: Duration) -> Result<Option<Watching>, DbErr> {
    let Some(lease) = Lease::acquire(&deps.db, WATCH, ttl).await? else {
        return Ok(None);
    };
    let mut detector = Detector::new(deps.settings.anomaly.thresholds.clone());
    let mut seen = watermark_of(&deps.db, WATCH).await?;
    if seen == 0 {
        // First start: watch from now on (history is not a burst).
        seen = last_seq(&deps.db).await?;
    }
    let since = deps.clock.now() - detector.horizon();
    prime(&deps.db, &mut detector, seen, since).await?;
    tracing::info!(from_seq = seen, "anomaly watcher started");
    Ok(Some(Watching {
        lease,
        detector,
        seen,
        saved: -1,
        saved_at: std::time::Instant::now(),
    }))
}

/// Feeds the downloads up to `upto` since `since` without alerting, and marks
/// the alerts the log shows were raised since then.
async fn prime(
    db: &DatabaseConnection,
    detector: &mut Detector,
    upto: i64,
    since: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut after = 0i64;
    loop {
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after))
            .filter(audit_event::Column::Seq.lte(upto))
            .filter(audit_event::Column::OccurredAt.gte(since))
            .filter(audit_event::Column::Action.is_in(download_actions()))
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        for d in events.iter().filter_map(Download::of_event) {
            detector.prime(&d);
        }
    }
    let raised = audit_event::Entity::find()
        .filter(audit_event::Column::OccurredAt.gte(since))
        .filter(audit_event::Column::Action.eq(AuditAction::AnomalyDetected.as_str()))
        .all(db)
        .await?;
    for event in raised {
        let details: serde_json::Value = serde_json::from_str(&event.details).unwrap_or_default();
        let rule = details["rule"].as_str().and_then(AnomalyRule::parse);
        if let (Some(rule), Some(subject)) = (rule, details["subject"].as_str()) {
            detector.mark_alerted(rule, subject);
        }
    }
    Ok(())
}

/// One pass: the downloads recorded since the last, alerts recorded.
async fn pass(deps: &WorkerDeps, w: &mut Watching) -> Result<(), DbErr> {
    let upto = last_seq(&deps.db).await?;
    let mut raised = Vec::new();
    while w.seen < upto {
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(w.seen))
            .filter(audit_event::Column::Seq.lte(upto))
            .filter(audit_event::Column::Action.is_in(download_actions()))
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(&deps.db)
            .await?;
        let full = events.len() as u64 == PAGE;
        for d in events.iter().filter_map(Download::of_event) {
            raised.extend(w.detector.feed(&d));
        }
        w.seen = match (full, events.last()) {
            (true, Some(last)) => last.seq,
            _ => upto,
        };
    }
    w.detector.forget_quiet(deps.clock.now());
    if !raised.is_empty() {
        let mut tx = Tx::begin(&deps.db, &deps.bus, deps.clock.as_ref()).await?;
        let events = raised
            .iter()
            .map(|a| {
                tracing::warn!(rule = a.rule.as_str(), subject = %a.subject, count = a.count, "anomaly detected");
                let mut event = NewEvent::new(AuditAction::AnomalyDetected, SYSTEM)
                    .details(json!(a));
                if let Some(link) = a.share_link_id {
                    event.share_link_id = Some(link);
                }
                event
            })
            .collect();
        tx.audit_many(events).await?;
        save(tx.conn(), w).await?;
        tx.commit().await?;
    } else if w.seen != w.saved && w.saved_at.elapsed() >= SAVE_EVERY {
        let txn = begin_write(&deps.db).await?;
        save(&txn, w).await?;
        txn.commit().await?;
    } else {
        return Ok(());
    }
    w.saved = w.seen;
    w.saved_at = std::time::Instant::now();
    Ok(())
}

async fn save<C: ConnectionTrait>(conn: &C, w: &Watching) -> Result<(), DbErr> {
    let stored = watermark_of(conn, WATCH).await?;
    advance(conn, WATCH, stored, w.seen).await
}

//! Anomaly rules: bulk downloading, told apart from normal traffic by
//! thresholds over sliding windows. Pure: the watcher job feeds downloads in
//! audit order and records what [`Detector::feed`] reports.
//!
//! A subject (one actor, one share link, one IP) raises a rule's alert once
//! when its count in the window goes over the threshold; it can raise it
//! again only after its count has fallen back to the threshold or below. So
//! a burst makes exactly one alert however long it goes on.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{ActorKind, AuditAction};
use crate::entities::audit_event;

/// What a rule counts, per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AnomalyRule {
    /// Downloads by one user (member or partner).
    ActorDownloads,
    /// Downloads through one share link (all its visitors).
    LinkDownloads,
    /// Downloads from one client IP address.
    IpDownloads,
    /// Distinct assets downloaded by one user or through one link.
    DistinctAssets,
}

impl AnomalyRule {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyRule::ActorDownloads => "ACTOR_DOWNLOADS",
            AnomalyRule::LinkDownloads => "LINK_DOWNLOADS",
            AnomalyRule::IpDownloads => "IP_DOWNLOADS",
            AnomalyRule::DistinctAssets => "DISTINCT_ASSETS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AnomalyRule::ActorDownloads,
            AnomalyRule::LinkDownloads,
            AnomalyRule::IpDownloads,
            AnomalyRule::DistinctAssets,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One rule: more than `threshold` within `window` is an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub rule: AnomalyRule,
    pub threshold: u32,
    pub window: Duration,
}

/// The default rules: 100 downloads in 10 minutes by one user or through one
/// link, 200 from one IP, 50 distinct assets in 5 minutes.
pub fn default_thresholds() -> Vec<Threshold> {
    vec![
        Threshold {
            rule: AnomalyRule::ActorDownloads,
            threshold: 100,
            window: Duration::minutes(10),
        },
        Threshold {
            rule: AnomalyRule::LinkDownloads,
            threshold: 100,
            window: Duration::minutes(10),
        },
        Threshold {
            rule: AnomalyRule::IpDownloads,
            threshold: 200,
            window: Duration::minutes(10),
        },
        Threshold {
            rule: AnomalyRule::DistinctAssets,
            threshold: 50,
            window: Duration::minutes(5),
        },
    ]
}

/// One download, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub at: DateTime<Utc>,
    pub asset_id: Uuid,
    pub actor_kind: ActorKind,
    pub actor_id: Option<Uuid>,
    pub partner_org_id: Option<Uuid>,
    pub share_link_id: Option<Uuid>,
    pub ip: Option<String>,
}

impl Download {
    /// The download an audit event records, if it records one.
    pub fn of_event(event: &audit_event::Model) -> Option<Self> {
        let action = AuditAction::from_str_opt(&event.action)?;
        if !matches!(
            action,
            AuditAction::LowresDownloaded | AuditAction::OriginalDownloaded
        ) {
            return None;
        }
        Some(Self {
            at: event.occurred_at,
            asset_id: Uuid::parse_str(event.target_id.as_deref()?).ok()?,
            actor_kind: event.actor_kind,
            actor_id: event.actor_id,
            partner_org_id: event.partner_org_id,
            share_link_id: event.share_link_id,
            ip: event.ip.clone(),
        })
    }

    /// Who or what `rule` counts this download against, if anyone.
    fn subject(&self, rule: AnomalyRule) -> Option<String> {
        let user = self.actor_id.map(|id| format!("user:{id}"));
        let link = self.share_link_id.map(|id| format!("link:{id}"));
        match rule {
            AnomalyRule::ActorDownloads => user,
            AnomalyRule::LinkDownloads => link,
            AnomalyRule::IpDownloads => self.ip.as_ref().map(|ip| format!("ip:{ip}")),
            AnomalyRule::DistinctAssets => user.or(link),
        }
    }
}

/// An alert: a subject went over a rule's threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    pub rule: AnomalyRule,
    /// `user:<id>`, `link:<id>` or `ip:<address>`.
    pub subject: String,
    /// Downloads (or distinct assets) in the window when it went over.
    pub count: u32,
    pub threshold: u32,
    pub window_seconds: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub partner_org_id: Option<Uuid>,
    pub share_link_id: Option<Uuid>,
    /// Up to 20 of the assets in the window, latest first.
    pub assets: Vec<Uuid>,
}

#[derive(Debug, Default)]
struct Window {
    events: VecDeque<(DateTime<Utc>, Uuid)>,
    distinct: HashMap<Uuid, u32>,
    alerted: bool,
}

impl Window {
    fn push(&mut self, at: DateTime<Utc>, asset: Uuid) {
        self.events.push_back((at, asset));
        *self.distinct.entry(asset).or_default() += 1;
    }

    fn expire(&mut self, before: DateTime<Utc>) {
        while let Some(&(at, asset)) = self.events.front() {
            if at > before {
                break;
            }
            self.events.pop_front();
            if let Some(n) = self.distinct.get_mut(&asset) {
                *n -= 1;
                if *n == 0 {
                    self.distinct.remove(&asset);
                }
            }
        }
    }

    fn count(&self, rule: AnomalyRule) -> u32 {
        let n = match rule {
            AnomalyRule::DistinctAssets => self.distinct.len(),
            _ => self.events.len(),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Sliding windows per rule and subject.
#[derive(Debug)]
pub struct Detector {
    thresholds: Vec<Threshold>,
    windows: HashMap<(AnomalyRule, String), Window>,
}

impl Detector {
    pub fn new(thresholds: Vec<Threshold>) -> Self {
        Self {
            thresholds,
            windows: HashMap::new(),
        }
    }

    /// The longest window of any rule (how much history primes a detector).
    pub fn horizon(&self) -> Duration {
        self.thresholds
            .iter()
            .map(|t| t.window)
            .max()
            .unwrap_or_else(Duration::zero)
    }

    /// Takes in one download (in audit order) and returns the alerts it raises.
    pub fn feed(&mut self, download: &Download) -> Vec<Anomaly> {
        let mut raised = Vec::new();
        for t in &self.thresholds {
            let Some(subject) = download.subject(t.rule) else {
                continue;
            };
            let window = self.windows.entry((t.rule, subject.clone())).or_default();
            window.expire(download.at - t.window);
            window.push(download.at, download.asset_id);
            let count = window.count(t.rule);
            if count <= t.threshold {
                window.alerted = false;
            } else if !window.alerted {
                window.alerted = true;
                raised.push(Anomaly {
                    rule: t.rule,
                    subject,
                    count,
                    threshold: t.threshold,
                    window_seconds: t.window.num_seconds(),
                    first_at: window.events.front().map_or(download.at, |e| e.0),
                    last_at: download.at,
                    actor_kind: download.actor_kind,
                    partner_org_id: download.partner_org_id,
                    share_link_id: download.share_link_id,
                    assets: window.events.iter().rev().map(|e| e.1).take(20).collect(),
                });
            }
        }
        raised
    }

    /// Takes in history without alerting: an alert already raised (per the
    /// audit log) is marked as such with [`Detector::mark_alerted`].
    pub fn prime(&mut self, download: &Download) {
        for t in &self.thresholds {
            if let Some(subject) = download.subject(t.rule) {
                let window = self.windows.entry((t.rule, subject)).or_default();
                window.expire(download.at - t.window);
                window.push(download.at, download.asset_id);
            }
        }
    }

    /// Records that `rule` already alerted about `subject` (so a restarted
    /// watcher does not alert about the same burst again).
    pub fn mark_alerted(&mut self, rule: AnomalyRule, subject: &str) {
        if let Some(w) = self.windows.get_mut(&(rule, subject.to_owned())) {
            let over = self
                .thresholds
                .iter()
                .any(|t| t.rule == rule && w.count(rule) > t.threshold);
            w.alerted = over;
        }
    }

    /// Forgets windows that have been quiet for longer than their rule's
    /// window (bounded memory).
    pub fn forget_quiet(&mut self, now: DateTime<Utc>) {
        let windows: HashMap<AnomalyRule, Duration> =
            self.thresholds.iter().map(|t| (t.rule, t.window)).collect();
        self.windows.retain(|(rule, _), w| {
            let span = windows.get(rule).copied().unwrap_or_else(Duration::zero);
            w.events.back().is_some_and(|(at, _)| *at > now - span)
        });
    }

    /// How many subjects are being watched.
    pub fn watched(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds)
    }

    fn download(seconds: i64, asset: u128, user: Option<u128>, link: Option<u128>) -> Download {
        Download {
            at: at(seconds),
            asset_id: Uuid::from_u128(asset),
            actor_kind: if user.is_some() {
                ActorKind::Partner
            } else {
                ActorKind::Visitor
            },
            actor_id: user.map(Uuid::from_u128),
            partner_org_id: None,
            share_link_id: link.map(Uuid::from_u128),
            ip: Some("203.0.113.9".into()),
        }
    }

    fn rules() -> Vec<Threshold> {
        vec![
            Threshold {
                rule: AnomalyRule::LinkDownloads,
                threshold: 10,
                window: Duration::minutes(1),
            },
            Threshold {
                rule: AnomalyRule::DistinctAssets,
                threshold: 5,
                window: Duration::minutes(1),
            },
        ]
    }

    #[test]
    fn a_burst_through_one_link_alerts_once_however_long_it_lasts() {
        let mut d = Detector::new(rules());
        let mut alerts = Vec::new();
        // 200 downloads of the same asset, 5 per second.
        for i in 0..200 {
            alerts.extend(d.feed(&download(i / 5, 1, None, Some(9))));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].rule, AnomalyRule::LinkDownloads);
        assert_eq!(alerts[0].count, 11);
        assert_eq!(alerts[0].subject, format!("link:{}", Uuid::from_u128(9)));
        assert_eq!(alerts[0].last_at, at(2));
    }

    #[test]
    fn normal_traffic_never_alerts_and_a_later_burst_alerts_again() {
        let mut d = Detector::new(rules());
        // 10 downloads a minute (the threshold, not over it) for an hour.
        for i in 0..600 {
            assert!(
                d.feed(&download(i * 6, 1, None, Some(9))).is_empty(),
                "at {i}"
            );
        }
        // A quiet gap, then a burst: one new alert.
        let start = 600 * 6 + 600;
        let alerts: Vec<_> = (0..30)
            .flat_map(|i| d.feed(&download(start + i, 1, None, Some(9))))
            .collect();
        assert_eq!(alerts.len(), 1);
    }

    #[test]
    fn many_distinct_assets_alert_but_the_same_asset_many_times_does_not() {
        let mut d = Detector::new(rules());
        for i in 0..10 {
            assert!(d.feed(&download(i, 1, Some(3), None)).is_empty());
        }
        let alerts: Vec<_> = (0..6)
            .flat_map(|i| d.feed(&download(20 + i, 100 + i as u128, Some(3), None)))
            .collect();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule, AnomalyRule::DistinctAssets);
        assert_eq!(alerts[0].count, 6);
    }

    #[test]
    fn a_primed_detector_does_not_alert_again_about_a_burst_already_reported() {
        let mut d = Detector::new(rules());
        for i in 0..20 {
            d.prime(&download(i, 1, None, Some(9)));
        }
        d.mark_alerted(
            AnomalyRule::LinkDownloads,
            &format!("link:{}", Uuid::from_u128(9)),
        );
        assert!(d.feed(&download(21, 1, None, Some(9))).is_empty());
        d.forget_quiet(at(1000));
        assert_eq!(d.watched(), 0);
    }
}

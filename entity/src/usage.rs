//! Usage statistics as pure rules: which audit events count as what, the
//! dimensions they are added up by, and the calendar arithmetic of periods.
//! The rollup job and the live "today" figures both tally events through
//! [`Tally::add_event`], so the two can never disagree on what counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::{ActorKind, AuditAction};
use crate::entities::audit_event;

/// What was done with an asset, as statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum UsageAction {
    /// A thumbnail or preview was served.
    View,
    /// A low-resolution rendition or the original was downloaded.
    Download,
    /// The asset was put into a share link (once per link).
    ShareCreated,
    /// A share link's page showing the asset was opened (once per visit).
    ShareOpened,
}

impl UsageAction {
    pub const ALL: [UsageAction; 4] = [
        UsageAction::View,
        UsageAction::Download,
        UsageAction::ShareCreated,
        UsageAction::ShareOpened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UsageAction::View => "VIEW",
            UsageAction::Download => "DOWNLOAD",
            UsageAction::ShareCreated => "SHARE_CREATED",
            UsageAction::ShareOpened => "SHARE_OPENED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The action an audit event counts as, if any; share events count for
    /// the assets of their link.
    pub fn of_audit(action: &str) -> Option<Self> {
        match AuditAction::from_str_opt(action)? {
            AuditAction::RenditionViewed => Some(UsageAction::View),
            AuditAction::LowresDownloaded | AuditAction::OriginalDownloaded => {
                Some(UsageAction::Download)
            }
            AuditAction::ShareLinkCreated => Some(UsageAction::ShareCreated),
            AuditAction::ShareLinkOpened => Some(UsageAction::ShareOpened),
            _ => None,
        }
    }

    /// The audit actions statistics read.
    pub fn audit_actions() -> [&'static str; 5] {
        [
            AuditAction::RenditionViewed.as_str(),
            AuditAction::LowresDownloaded.as_str(),
            AuditAction::OriginalDownloaded.as_str(),
            AuditAction::ShareLinkCreated.as_str(),
            AuditAction::ShareLinkOpened.as_str(),
        ]
    }

    /// Whether the event is about a share link's assets rather than one asset.
    pub fn is_link_wide(self) -> bool {
        matches!(self, UsageAction::ShareCreated | UsageAction::ShareOpened)
    }
}

/// Who accessed an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AccessorType {
    /// An internal member of the brand.
    Member,
    /// A user of an allowlisted partner organisation.
    Partner,
    /// An external visitor through a share link.
    Visitor,
    /// Anyone, through a public URL (`/p/`): counted, not logged (origin
    /// fetches: behind a CDN, only its misses reach Vitrine).
    Public,
}

impl AccessorType {
    pub const ALL: [AccessorType; 4] = [
        AccessorType::Member,
        AccessorType::Partner,
        AccessorType::Visitor,
        AccessorType::Public,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessorType::Member => "MEMBER",
            AccessorType::Partner => "PARTNER",
            AccessorType::Visitor => "VISITOR",
            AccessorType::Public => "PUBLIC",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The accessor type of an audit actor; the system is not an accessor.
    pub fn of_actor(kind: ActorKind) -> Option<Self> {
        match kind {
            ActorKind::Member => Some(AccessorType::Member),
            ActorKind::Partner => Some(AccessorType::Partner),
            ActorKind::Visitor => Some(AccessorType::Visitor),
            ActorKind::System => None,
        }
    }
}

/// The dimensions one count is kept under. The nil UUID stands for "no
/// partner organisation" and "no share link".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub day: NaiveDate,
    pub asset_id: Uuid,
    pub accessor: AccessorType,
    pub action: UsageAction,
    pub partner_org_id: Uuid,
    pub share_link_id: Uuid,
}

/// A count and the latest instant it includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub count: i64,
    pub last_at: DateTime<Utc>,
}

/// What statistics need to know about a share link to count its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkAssets {
    /// The assets the link shows (listed, or in its folder when counted).
    pub assets: Vec<Uuid>,
    /// The partner organisation the link was made for, if any: its
    /// visitors' usage counts towards that organisation.
    pub partner_org_id: Option<Uuid>,
}

/// Counts added up from audit events, by dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: BTreeMap<UsageKey, Count>,
}

/// What counting an audit event needs to know about its share link, if
/// anything: `(link, true)` when it needs the link's assets (link-wide
/// events), `(link, false)` when only its organisation (visitors' deliveries).
pub fn link_needed(event: &audit_event::Model) -> Option<(Uuid, bool)> {
    let action = UsageAction::of_audit(&event.action)?;
    let accessor = AccessorType::of_actor(event.actor_kind)?;
    let link = event.share_link_id?;
    if action.is_link_wide() {
        Some((link, true))
    } else {
        (accessor == AccessorType::Visitor && event.partner_org_id.is_none())
            .then_some((link, false))
    }
}

impl Tally {
    /// Adds one audit event; events that are not usage (or whose link is
    /// unknown) add nothing. `links` gives what [`link_needed`] asked for
    /// (the assets may be left empty where they were not asked for).
    pub fn add_event<'a>(
        &mut self,
        event: &audit_event::Model,
        links: &impl Fn(Uuid) -> Option<&'a LinkAssets>,
    ) {
        let Some(action) = UsageAction::of_audit(&event.action) else {
            return;
        };
        let Some(accessor) = AccessorType::of_actor(event.actor_kind) else {
            return;
        };
        let link = event.share_link_id.and_then(links);
        let mut partner = event.partner_org_id;
        if accessor == AccessorType::Visitor {
            partner = partner.or(link.and_then(|l| l.partner_org_id));
        }
        let one;
        let assets: &[Uuid] = if action.is_link_wide() {
            match link {
                Some(l) => &l.assets,
                None => return,
            }
        } else {
            match event.target_id.as_deref().map(Uuid::parse_str) {
                Some(Ok(asset)) => {
                    one = [asset];
                    &one
                }
                _ => return,
            }
        };
        for &asset_id in assets {
            self.add(
                UsageKey {
                    day: event.occurred_at.date_naive(),
                    asset_id,
                    accessor,
                    action,
                    partner_org_id: partner.unwrap_or(Uuid::nil()),
                    share_link_id: event.share_link_id.unwrap_or(Uuid::nil()),
                },
                1,
                event.occurred_at,
            );
        }
    }

    /// Adds `count` under `key`.
    pub fn add(&mut self, key: UsageKey, count: i64, at: DateTime<Utc>) {
        self.counts
            .entry(key)
            .and_modify(|c| {
                c.count += count;
                c.last_at = c.last_at.max(at);
            })
            .or_insert(Count { count, last_at: at });
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Per asset and month: views, downloads, shares created, share opens,
    /// and the latest instant.
    pub fn monthly(&self) -> BTreeMap<(NaiveDate, Uuid), ([i64; 4], DateTime<Utc>)> {
        let mut out: BTreeMap<(NaiveDate, Uuid), ([i64; 4], DateTime<Utc>)> = BTreeMap::new();
        for (key, count) in &self.counts {
            let slot = out
                .entry((month_start(key.day), key.asset_id))
                .or_insert(([0; 4], count.last_at));
            slot.0[metric_index(key.action)] += count.count;
            slot.1 = slot.1.max(count.last_at);
        }
        out
    }
}

/// The position of an action in `[views, downloads, shares, share opens]`.
pub fn metric_index(action: UsageAction) -> usize {
    match action {
        UsageAction::View => 0,
        UsageAction::Download => 1,
        UsageAction::ShareCreated => 2,
        UsageAction::ShareOpened => 3,
    }
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The Monday of `day`'s ISO week.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The first day of the month after `day`'s.
pub fn next_month(day: NaiveDate) -> NaiveDate {
    let first = month_start(day);
    first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first)
}

/// A time grouping of statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// The first day of the period holding `day`.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => week_start(day),
            Period::Month => month_start(day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn event(action: AuditAction, kind: ActorKind, at: &str) -> audit_event::Model {
        audit_event::Model {
            seq: 1,
            occurred_at: at.parse().unwrap(),
            actor_kind: kind,
            actor_id: None,
            partner_org_id: None,
            action: action.as_str().to_owned(),
            target_type: Some("asset".into()),
            target_id: Some(Uuid::from_u128(7).to_string()),
            share_link_id: None,
            ip: None,
            user_agent: None,
            details: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn periods_start_on_the_first_day_monday_and_first_of_month() {
        assert_eq!(Period::Day.start(day("2026-11-26")), day("2026-11-26"));
        assert_eq!(Period::Week.start(day("2026-11-26")), day("2026-11-23"));
        assert_eq!(Period::Week.start(day("2026-11-23")), day("2026-11-23"));
        assert_eq!(Period::Week.start(day("2027-01-01")), day("2026-12-28"));
        assert_eq!(Period::Month.start(day("2026-11-26")), day("2026-11-01"));
        assert_eq!(next_month(day("2026-12-31")), day("2027-01-01"));
        assert_eq!(next_month(day("2026-01-31")), day("2026-02-01"));
    }

    #[test]
    fn deliveries_count_as_views_and_downloads_by_utc_day_and_system_not_at_all() {
        let mut tally = Tally::default();
        let none = |_| None::<&LinkAssets>;
        tally.add_event(
            &event(
                AuditAction::RenditionViewed,
                ActorKind::Member,
                "2026-11-26T23:59:59Z",
            ),
            &none,
        );
        tally.add_event(
            &event(
                AuditAction::OriginalDownloaded,
                ActorKind::Member,
                "2026-11-27T00:00:00Z",
            ),
            &none,
        );
        tally.add_event(
            &event(
                AuditAction::LowresDownloaded,
                ActorKind::Member,
                "2026-11-27T00:00:01Z",
            ),
            &none,
        );
        tally.add_event(
            &event(
                AuditAction::RenditionViewed,
                ActorKind::System,
                "2026-11-27T00:00:01Z",
            ),
            &none,
        );
        tally.add_event(
            &event(
                AuditAction::AssetRenamed,
                ActorKind::Member,
                "2026-11-27T00:00:01Z",
            ),
            &none,
        );
        let got: Vec<(NaiveDate, UsageAction, i64)> = tally
            .counts
            .iter()
            .map(|(k, c)| (k.day, k.action, c.count))
            .collect();
        assert_eq!(
            got,
            vec![
                (day("2026-11-26"), UsageAction::View, 1),
                (day("2026-11-27"), UsageAction::Download, 2),
            ]
        );
        let last = tally.counts.values().map(|c| c.last_at).max().unwrap();
        assert_eq!(
            last,
            "2026-11-27T00:00:01Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn link_events_count_for_each_asset_of_the_link_and_visitors_for_its_organisation() {
        let link = Uuid::from_u128(99);
        let org = Uuid::from_u128(5);
        let info = LinkAssets {
            assets: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
            partner_org_id: Some(org),
        };
        let links = |id: Uuid| (id == link).then_some(&info);
        let mut opened = event(
            AuditAction::ShareLinkOpened,
            ActorKind::Visitor,
            "2026-11-26T10:00:00Z",
        );
        opened.share_link_id = Some(link);
        let mut viewed = event(
            AuditAction::RenditionViewed,
            ActorKind::Visitor,
            "2026-11-26T10:00:01Z",
        );
        viewed.share_link_id = Some(link);
        let mut unknown = opened.clone();
        unknown.share_link_id = Some(Uuid::from_u128(100));
        assert_eq!(link_needed(&opened), Some((link, true)));
        assert_eq!(link_needed(&viewed), Some((link, false)));
        let mut tally = Tally::default();
        for e in [&opened, &viewed, &unknown] {
            tally.add_event(e, &links);
        }
        let got: Vec<(Uuid, UsageAction, Uuid, Uuid)> = tally
            .counts
            .keys()
            .map(|k| (k.asset_id, k.action, k.partner_org_id, k.share_link_id))
            .collect();
        assert_eq!(
            got,
            vec![
                (Uuid::from_u128(1), UsageAction::ShareOpened, org, link),
                (Uuid::from_u128(2), UsageAction::ShareOpened, org, link),
                (Uuid::from_u128(7), UsageAction::View, org, link),
            ]
        );
        let monthly = tally.monthly();
        assert_eq!(
            monthly[&(day("2026-11-01"), Uuid::from_u128(1))].0,
            [0, 0, 0, 1]
        );
        assert_eq!(
            monthly[&(day("2026-11-01"), Uuid::from_u128(7))],
            ([1, 0, 0, 0], "2026-11-26T10:00:01Z".parse().unwrap())
        );
    }
}

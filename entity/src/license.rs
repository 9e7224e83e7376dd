//! Licenses: what a brand may do with an image, where and until when. Pure
//! rules: the state of an asset's licenses at an instant, and whether they
//! cover a channel and a territory. All instants are UTC.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where an image is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Ecommerce,
    Social,
    Print,
    OfflineEvent,
    Marketplace,
    Press,
    Advertising,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Ecommerce,
        Channel::Social,
        Channel::Print,
        Channel::OfflineEvent,
        Channel::Marketplace,
        Channel::Press,
        Channel::Advertising,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Ecommerce => "ECOMMERCE",
            Channel::Social => "SOCIAL",
            Channel::Print => "PRINT",
            Channel::OfflineEvent => "OFFLINE_EVENT",
            Channel::Marketplace => "MARKETPLACE",
            Channel::Press => "PRESS",
            Channel::Advertising => "ADVERTISING",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Every ISO 3166-1 alpha-2 code (officially assigned).
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA \
LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB \
SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW \
TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// The territory meaning "everywhere".
pub const WORLD: &str = "WORLD";

/// A territory code as stored: `WORLD` or an ISO 3166-1 alpha-2 code
/// (upper-cased); `None` for anything else.
pub fn normalize_territory(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    if code == WORLD || (code.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|c| c == code)) {
        Some(code)
    } else {
        None
    }
}

/// One license's terms, as the rules need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub channels: BTreeSet<Channel>,
    pub territories: BTreeSet<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Terms {
    /// In force at `now`: from `starts_at` (inclusive) to `ends_at` (exclusive).
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether these terms cover a use (`None`: any channel / territory).
    pub fn covers(&self, channel: Option<Channel>, territory: Option<&str>) -> bool {
        channel.is_none_or(|c| self.channels.contains(&c))
            && territory
                .is_none_or(|t| self.territories.contains(WORLD) || self.territories.contains(t))
    }
}

/// An asset's license state at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LicenseState {
    /// No license at all.
    Unlicensed,
    /// Licensed, but no license has started yet.
    Scheduled,
    /// A license is in force and none of those in force ends within the
    /// notice period — or one does but another carries on past it.
    Active,
    /// In force, but every license in force ends within the notice period.
    Expiring,
    /// Every license has ended.
    Expired,
}

impl LicenseState {
    /// Whether the asset may be used now (ACTIVE or EXPIRING).
    pub fn in_force(self) -> bool {
        matches!(self, LicenseState::Active | LicenseState::Expiring)
    }
}

/// The state of an asset with `licenses` at `now`, with `notice` as the
/// "expiring soon" period.
pub fn state(licenses: &[Terms], now: DateTime<Utc>, notice: Duration) -> LicenseState {
    if licenses.is_empty() {
        return LicenseState::Unlicensed;
    }
    let in_force: Vec<&Terms> = licenses.iter().filter(|t| t.active_at(now)).collect();
    if in_force.is_empty() {
        return if licenses.iter().any(|t| t.starts_at > now) {
            LicenseState::Scheduled
        } else {
            LicenseState::Expired
        };
    }
    // Covered until the latest end of a chain of overlapping licenses.
    let until = covered_until(licenses, now);
    if until - now <= notice {
        LicenseState::Expiring
    } else {
        LicenseState::Active
    }
}

/// The end of the uninterrupted coverage that contains `now` (licenses that
/// overlap or touch extend each other).
pub fn covered_until(licenses: &[Terms], now: DateTime<Utc>) -> DateTime<Utc> {
    let mut until = now;
    loop {
        let next = licenses
            .iter()
            .filter(|t| t.starts_at <= until && t.ends_at > until)
            .map(|t| t.ends_at)
            .max();
        match next {
            Some(end) if end > until => until = end,
            _ => return until,
        }
    }
}

/// The use a delivery is for: a share link's or an issued URL's declared
/// channel and territory. Declared, it must be covered by a license in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    pub channel: Option<Channel>,
    /// ISO 3166-1 alpha-2, or WORLD (covered only by worldwide licenses).
    pub territory: Option<String>,
}

impl Usage {
    /// Whether a channel or a territory is declared.
    pub fn is_declared(&self) -> bool {
        self.channel.is_some() || self.territory.is_some()
    }
}

/// What a version's approval recorded of its licenses: the authorization an
/// audit shows for each version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    pub approved_by: Option<uuid::Uuid>,
    pub approved_at: DateTime<Utc>,
    pub license_state: LicenseState,
    /// The licenses attached at that moment, as they read then.
    pub licenses: Vec<LicenseSnapshot>,
}

/// A license as it read when a version was approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSnapshot {
    pub id: uuid::Uuid,
    pub name: String,
    pub licensor: String,
    pub reference: Option<String>,
    pub channels: Vec<Channel>,
    pub territories: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Whether some license in force at `now` covers the use.
pub fn covered(
    licenses: &[Terms],
    now: DateTime<Utc>,
    channel: Option<Channel>,
    territory: Option<&str>,
) -> bool {
    licenses
        .iter()
        .any(|t| t.active_at(now) && t.covers(channel, territory))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap()
    }

    fn terms(start_days: i64, end_days: i64) -> Terms {
        Terms {
            channels: [Channel::Ecommerce, Channel::Social].into(),
            territories: ["FR".to_owned(), "BE".to_owned()].into(),
            starts_at: t0() + Duration::days(start_days),
            ends_at: t0() + Duration::days(end_days),
        }
    }

    const NOTICE: Duration = Duration::days(14);

    #[test]
    fn states_follow_the_calendar() {
        assert_eq!(state(&[], t0(), NOTICE), LicenseState::Unlicensed);
        let one = [terms(10, 100)];
        assert_eq!(state(&one, t0(), NOTICE), LicenseState::Scheduled);
        assert_eq!(
            state(&one, t0() + Duration::days(10), NOTICE),
            LicenseState::Active
        );
        assert_eq!(
            state(&one, t0() + Duration::days(86), NOTICE),
            LicenseState::Expiring
        );
        assert_eq!(
            state(&one, t0() + Duration::days(85), NOTICE),
            LicenseState::Active
        );
        let end = t0() + Duration::days(100);
        // One microsecond before the end it is in force; at the end, not.
        assert!(state(&one, end - Duration::microseconds(1), NOTICE).in_force());
        assert_eq!(state(&one, end, NOTICE), LicenseState::Expired);
        // Expired, but another one is coming: scheduled.
        let later = [terms(0, 10), terms(20, 30)];
        assert_eq!(
            state(&later, t0() + Duration::days(15), NOTICE),
            LicenseState::Scheduled
        );
    }

    #[test]
    fn overlapping_licenses_keep_an_asset_live_and_not_expiring() {
        let chain = [terms(0, 30), terms(25, 60), terms(60, 200)];
        // The first ends in 5 days, but the chain runs to day 200.
        assert_eq!(
            state(&chain, t0() + Duration::days(25), NOTICE),
            LicenseState::Active
        );
        assert_eq!(
            state(&chain, t0() + Duration::days(190), NOTICE),
            LicenseState::Expiring
        );
        assert!(covered(&chain, t0() + Duration::days(30), None, None));
        // A gap is not bridged.
        let gap = [terms(0, 30), terms(31, 200)];
        assert_eq!(
            state(&gap, t0() + Duration::days(20), NOTICE),
            LicenseState::Expiring
        );
        assert_eq!(
            state(&gap, t0() + Duration::days(30) + Duration::hours(1), NOTICE),
            LicenseState::Scheduled
        );
    }

    #[test]
    fn channels_and_territories_must_be_covered() {
        let fr = [terms(0, 100)];
        let now = t0() + Duration::days(1);
        assert!(covered(&fr, now, Some(Channel::Ecommerce), Some("FR")));
        assert!(!covered(&fr, now, Some(Channel::Marketplace), Some("FR")));
        assert!(!covered(&fr, now, Some(Channel::Ecommerce), Some("DE")));
        assert!(covered(&fr, now, None, None));
        let world = [Terms {
            territories: [WORLD.to_owned()].into(),
            ..terms(0, 100)
        }];
        assert!(covered(&world, now, Some(Channel::Social), Some("JP")));
        assert!(!covered(&world, t0() + Duration::days(100), None, None));
    }

    #[test]
    fn territory_codes_are_iso_or_world() {
        assert_eq!(normalize_territory(" fr "), Some("FR".into()));
        assert_eq!(normalize_territory("world"), Some("WORLD".into()));
        for bad in ["", "F", "FRA", "XX", "EU", "UK", "1A"] {
            assert_eq!(normalize_territory(bad), None, "{bad}");
        }
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
    }
}

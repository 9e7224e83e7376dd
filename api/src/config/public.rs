//! Settings of public delivery (`/p/`) and of CDN purges.

use std::time::Duration;

use vitrine_worker::purge::{PurgeBackend, PurgeSettings};

use super::ConfigError;
use super::invalid;
use super::parse::{parse_duration_key, parse_num, parse_schedule};

/// Public delivery of published images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicConfig {
    /// `max-age` of public answers (browsers).
    pub max_age: Duration,
    /// `s-maxage` of public answers (CDNs), cut short at the end of the
    /// license coverage or the publication window.
    pub s_maxage: Duration,
    /// The territory public URLs are a use in (`None`: any territory a
    /// license names).
    pub territory: Option<String>,
    /// How often public delivery counts are added to the usage statistics.
    pub usage_flush: Duration,
}

impl Default for PublicConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            s_maxage: Duration::from_secs(365 * 24 * 3600),
            territory: None,
            usage_flush: Duration::from_secs(5),
        }
    }
}

pub(super) const KEYS: &[&str] = &[
    "public_max_age",
    "public_s_maxage",
    "public_territory",
    "public_usage_flush",
    "purge_backend",
    "purge_url",
    "purge_secret",
    "purge_token",
    "purge_service_id",
    "purge_zone_id",
    "purge_schedule",
    "purge_timeout",
    "purge_max_attempts",
];

pub(super) fn public_config(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<PublicConfig, ConfigError> {
    let defaults = PublicConfig::default();
    let territory = match get("public_territory") {
        None => None,
        Some(t) => {
            let t = t.to_ascii_uppercase();
            let ok = t == "WORLD" || (t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase()));
            if !ok {
                return Err(invalid(
                    "public_territory",
                    "an ISO 3166-1 alpha-2 code (DE) or WORLD",
                ));
            }
            Some(t)
        }
    };
    Ok(PublicConfig {
        max_age: parse_duration_key(get, "public_max_age", defaults.max_age)?,
        s_maxage: parse_duration_key(get, "public_s_maxage", defaults.s_maxage)?,
        territory,
        usage_flush: parse_duration_key(get, "public_usage_flush", defaults.usage_flush)?,
    })
}

pub(super) fn purge_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<PurgeSettings, ConfigError> {
    let required = |key: &str, backend: &str| {
        get(key).ok_or_else(|| invalid(key, format!("required by the {backend} purge backend")))
    };
    let url = |default: &str| -> Result<String, ConfigError> {
        let url = get("purge_url").unwrap_or_else(|| default.to_owned());
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(url)
        } else {
            Err(invalid("purge_url", "must start with https:// or http://"))
        }
    };
    let backend = match get("purge_backend")
        .map(|b| b.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("none" | "off") => PurgeBackend::None,
        Some("http") => PurgeBackend::Http {
            url: {
                required("purge_url", "http")?;
                url("")?
            },
            secret: required("purge_secret", "http")?,
        },
        Some("fastly") => PurgeBackend::Fastly {
            api: url("https://api.fastly.com")?,
            service_id: required("purge_service_id", "fastly")?,
            token: required("purge_token", "fastly")?,
        },
        Some("cloudflare") => PurgeBackend::Cloudflare {
            api: url("https://api.cloudflare.com/client/v4")?,
            zone_id: required("purge_zone_id", "cloudflare")?,
            token: required("purge_token", "cloudflare")?,
        },
        Some(other) => {
            return Err(invalid(
                "purge_backend",
                format!("{other:?} is not none, http, fastly or cloudflare"),
            ));
        }
    };
    let defaults = PurgeSettings::default();
    Ok(PurgeSettings {
        schedule: parse_schedule(get, "purge_schedule", "* * * * * *")?,
        backend,
        timeout: parse_duration_key(get, "purge_timeout", defaults.timeout)?,
        max_attempts: parse_num(get, "purge_max_attempts", defaults.max_attempts, 1..=100)?,
    })
}

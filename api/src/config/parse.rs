//! Parsing of setting values: sizes, durations, numbers, flags, schedules,
//! the storage URL and the optional TOML file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigError, KEYS, Secret, StorageConfig, invalid};

pub(super) fn storage_config(
    get: &impl Fn(&str) -> Option<String>,
    data_dir: &Path,
) -> Result<StorageConfig, ConfigError> {
    let url = get("storage_url");
    let Some(url) = url else {
        return Ok(StorageConfig::Local(data_dir.join("blobs")));
    };
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(StorageConfig::Local(PathBuf::from(path)));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err(invalid(
                "storage_url",
                "s3://BUCKET[/PREFIX]: the bucket name is missing or invalid",
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let region = get("s3_region").unwrap_or_else(|| "us-east-1".into());
        let explicit_endpoint = get("s3_endpoint");
        let path_style = parse_bool(get, "s3_path_style", explicit_endpoint.is_some())?;
        let endpoint =
            explicit_endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(invalid("s3_endpoint", "must be an http:// or https:// URL"));
        }
        let access_key_id = get("s3_access_key_id")
            .ok_or_else(|| invalid("s3_access_key_id", "required with an s3:// storage URL"))?;
        let secret_access_key = get("s3_secret_access_key")
            .ok_or_else(|| invalid("s3_secret_access_key", "required with an s3:// storage URL"))?;
        return Ok(StorageConfig::S3 {
            bucket: bucket.to_owned(),
            prefix,
            endpoint,
            region,
            path_style,
            access_key_id,
            secret_access_key: Secret::new(secret_access_key),
        });
    }
    if url.contains("://") {
        return Err(invalid(
            "storage_url",
            format!(
                "unsupported scheme in {:?}: use a directory, file:// or s3://",
                url.split("://").next().unwrap_or_default()
            ),
        ));
    }
    Ok(StorageConfig::Local(PathBuf::from(url)))
}

pub(super) fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("vitrine.sqlite").display()
    )
}

/// Reads a TOML configuration file into setting values.
pub fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let file_err = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.to_string()))?;
    let mut out = HashMap::new();
    for (key, value) in table {
        if !KEYS.contains(&key.as_str()) {
            return Err(file_err(format!("unknown setting {key:?}")));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(file_err(format!("{key}: unsupported value {other:?}"))),
        };
        out.insert(key, value);
    }
    Ok(out)
}

pub(super) fn parse_num<T>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(key) else {
        return Ok(default);
    };
    let value: T = raw
        .replace('_', "")
        .parse()
        .map_err(|_| invalid(key, format!("{raw:?} is not a number")))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            key,
            format!("{value} is outside {}..={}", range.start(), range.end()),
        ))
    }
}

pub(super) fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(key).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(key, format!("{other:?} is not true or false"))),
    }
}

/// A cron schedule with seconds, or `off` (`None`).
pub(super) fn parse_schedule(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: &str,
) -> Result<Option<String>, ConfigError> {
    match get(key).as_deref() {
        None => Ok(Some(default.to_owned())),
        Some("off") => Ok(None),
        Some(spec) => {
            vitrine_worker::runner::check_schedule(spec)
                .map_err(|e| invalid(key, format!("{spec:?}: {e}")))?;
            Ok(Some(spec.to_owned()))
        }
    }
}

/// Parses `90s`, `15m`, `12h`, `7d`, `250ms`. A unit is required: a bare
/// `90` could mean seconds or minutes, and guessing wrong is a silent fault.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "ms" => return Some(Duration::from_millis(n)),
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

pub(super) fn parse_duration_key(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(key) {
        None => Ok(default),
        Some(raw) => match parse_duration(&raw) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(invalid(
                key,
                format!("{raw:?} is not a positive duration with a unit, like 90s, 15m, 12h or 7d"),
            )),
        },
    }
}

/// Parses `1048576`, `512KiB`, `256MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
pub fn parse_size_str(raw: &str) -> Option<u64> {
    let raw = raw.trim().replace('_', "");
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

pub(super) fn parse_size(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(key) {
        None => Ok(default),
        Some(raw) => match parse_size_str(&raw) {
            Some(n) if n > 0 => Ok(n),
            _ => Err(invalid(
                key,
                format!("{raw:?} is not a positive size like 1048576, 512KiB or 256MiB"),
            )),
        },
    }
}

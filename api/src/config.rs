//! Configuration: compiled defaults, then an optional TOML file
//! (`VITRINE_CONFIG`), then `VITRINE_*` environment variables, validated once
//! at start-up. Secrets live in [`Secret`], whose `Debug` never shows them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret value; `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who may introspect the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Anyone, signed in or not (and error messages suggest field names).
    Everyone,
    /// Callers with a valid session only; no field suggestions for anyone.
    SignedIn,
    /// Nobody (no GraphiQL, no suggestions).
    Nobody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Protected delivery (`/r/` URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Where clients reach this server (scheme, host, optional path prefix),
    /// to build absolute URLs; `None`: URLs are relative (`/r/...`).
    pub public_url: Option<String>,
    /// A URL's lifetime when the client does not ask for one.
    pub default_ttl: Duration,
    /// The longest lifetime a client may ask for.
    pub max_ttl: Duration,
    /// Memory for small delivered files (renditions), in bytes.
    pub cache_bytes: u64,
}

/// Share links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConfig {
    /// A link's lifetime when its creator gives no expiry.
    pub default_ttl: Duration,
    /// The longest lifetime a link may have.
    pub max_ttl: Duration,
    /// How long a visitor stays admitted after the password (never beyond
    /// the link's own expiry).
    pub visit_ttl: Duration,
    /// Wrong passwords for one link from one client IP within the window;
    /// the next attempt from that IP is refused with a Retry-After.
    pub max_password_failures: u32,
    /// Wrong passwords for one link from all IPs together within the window
    /// (a distributed guesser); then every IP is refused.
    pub max_password_failures_per_link: u32,
    /// Wrong passwords from one client IP, all links together.
    pub max_password_failures_per_ip: u32,
    pub password_window: Duration,
}

/// Request and query limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest multipart (upload) request body, in bytes.
    pub max_upload_bytes: u64,
    /// Largest non-multipart GraphQL request body, in bytes.
    pub max_request_bytes: usize,
    /// Most files in one multipart request.
    pub max_upload_files: usize,
    /// Deepest selection nesting a query may have.
    pub max_query_depth: usize,
    /// Highest complexity (fields, weighted) a query may have.
    pub max_query_complexity: usize,
    /// Most operations in one batched request.
    pub max_batch_size: usize,
    /// Most times one field may be selected in one selection (aliases).
    pub max_aliases: usize,
    /// Largest GraphQL response; a larger one is replaced by an error.
    pub max_response_bytes: usize,
    /// Most pixels (width × height) an uploaded image may have.
    pub max_image_pixels: u64,
    /// Most memory decoding one image may take (checking an upload or
    /// making its renditions).
    pub max_decode_bytes: u64,
    /// Most memory all image work of this process may hold at once (upload
    /// checks, rendition jobs, originals being stamped); work waits for it.
    pub decode_budget: u64,
}

/// Rendition settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renditions {
    /// Long edge of the LOWRES rendition.
    pub lowres_edge: u32,
    /// JPEG quality of the LOWRES rendition.
    pub lowres_quality: i32,
    /// How long a processing attempt may run before it is retried elsewhere.
    pub processing_lease: Duration,
    /// Versions processed at once per worker process (default: the CPU count).
    pub processing_concurrency: Option<usize>,
}

/// Where blobs are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// A local directory.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3 {
        bucket: String,
        /// Key prefix inside the bucket (empty, or ending with `/`).
        prefix: String,
        endpoint: String,
        region: String,
        path_style: bool,
        access_key_id: String,
        secret_access_key: Secret,
    },
}

/// Sign-in throttling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures for one account from one client IP within the window before
    /// sign-ins to it from that IP are refused.
    pub max_failures_per_email: u32,
    /// Failures for one account from IPs it never signed in from, within the
    /// window, before sign-ins to it from such IPs are refused (its owner's
    /// known IPs still get in).
    pub max_failures_per_account: u32,
    /// Failures per client IP within the window before sign-ins from it are refused.
    pub max_failures_per_ip: u32,
    pub window: Duration,
    /// Password hashes checked at once (argon2id: 19 MiB and a core each).
    pub password_concurrency: usize,
    /// How long an attempt waits for a free slot before it is refused (429).
    pub password_queue_wait: Duration,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key and channel (lets installations share a Redis).
    pub redis_prefix: String,
    pub storage: StorageConfig,
    pub bind: SocketAddr,
    /// The signing key; `None` until [`crate::secret::ensure_secret`] runs.
    pub secret: Option<Secret>,
    /// Earlier signing keys, still accepted for delivery URLs they signed
    /// (key rotation).
    pub previous_secrets: Vec<Secret>,
    pub session_ttl: Duration,
    pub login: LoginThrottle,
    pub delivery: DeliveryConfig,
    pub share: ShareConfig,
    /// How long before its end a license counts as expiring.
    pub license_notice: Duration,
    /// Whether assets without any license may go to partners and visitors.
    pub license_unlicensed_deliverable: bool,
    /// When the license takedown sweep runs (cron with seconds); `None`: never.
    pub license_takedown_schedule: Option<String>,
    /// When the usage rollup runs (cron with seconds); `None`: never.
    pub usage_rollup_schedule: Option<String>,
    /// How often the anomaly watcher looks at new downloads; `None`: never.
    pub anomaly_interval: Option<Duration>,
    /// The anomaly thresholds (a rule with threshold 0 is off).
    pub anomaly: AnomalyConfig,
    pub limits: Limits,
    pub renditions: Renditions,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy_headers: bool,
    /// Who may introspect the schema (and get GraphiQL and field
    /// suggestions).
    pub introspection: Introspection,
    /// How often an open WebSocket re-reads its session even when nothing
    /// happens on it (every operation re-reads it anyway), so a session that
    /// expired closes its socket.
    pub ws_session_check_interval: Duration,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// How long shutdown waits for in-flight requests and jobs.
    pub shutdown_timeout: Duration,
}

/// Anomaly thresholds: more than N within the window is an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyConfig {
    pub window: Duration,
    pub actor_downloads: u32,
    pub link_downloads: u32,
    pub ip_downloads: u32,
    pub distinct_assets: u32,
    pub distinct_window: Duration,
}

impl AnomalyConfig {
    /// The rules in force (those with a threshold above 0).
    pub fn thresholds(&self) -> Vec<vitrine_entity::anomaly::Threshold> {
        use vitrine_entity::anomaly::{AnomalyRule, Threshold};
        let window =
            chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::minutes(10));
        let distinct_window = chrono::Duration::from_std(self.distinct_window)
            .unwrap_or(chrono::Duration::minutes(5));
        [
            (AnomalyRule::ActorDownloads, self.actor_downloads, window),
            (AnomalyRule::LinkDownloads, self.link_downloads, window),
            (AnomalyRule::IpDownloads, self.ip_downloads, window),
            (
                AnomalyRule::DistinctAssets,
                self.distinct_assets,
                distinct_window,
            ),
        ]
        .into_iter()
        .filter(|(_, threshold, _)| *threshold > 0)
        .map(|(rule, threshold, window)| Threshold {
            rule,
            threshold,
            window,
        })
        .collect()
    }
}

/// Why the configuration was refused. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("configuration file {path}: {message}")]
    File { path: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("VITRINE_{}", key.to_ascii_uppercase()),
        message: message.into(),
    }
}

/// Every setting key (lower case, as in the TOML file; `VITRINE_` + upper
/// case in the environment).
pub const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "database_max_connections",
    "redis_url",
    "redis_prefix",
    "storage_url",
    "s3_endpoint",
    "s3_region",
    "s3_access_key_id",
    "s3_secret_access_key",
    "s3_path_style",
    "bind",
    "secret",
    "previous_secrets",
    "public_url",
    "delivery_default_ttl",
    "delivery_max_ttl",
    "delivery_cache_bytes",
    "share_default_ttl",
    "share_max_ttl",
    "share_visit_ttl",
    "share_max_password_failures",
    "share_max_password_failures_per_link",
    "share_max_password_failures_per_ip",
    "share_password_window",
    "license_notice",
    "license_unlicensed_deliverable",
    "license_takedown_schedule",
    "usage_rollup_schedule",
    "anomaly_interval",
    "anomaly_window",
    "anomaly_actor_downloads",
    "anomaly_link_downloads",
    "anomaly_ip_downloads",
    "anomaly_distinct_assets",
    "anomaly_distinct_window",
    "session_ttl",
    "login_max_failures_per_email",
    "login_max_failures_per_account",
    "login_max_failures_per_ip",
    "login_window",
    "password_concurrency",
    "password_queue_wait",
    "max_upload_bytes",
    "max_request_bytes",
    "max_upload_files",
    "max_query_depth",
    "max_query_complexity",
    "max_batch_size",
    "max_aliases",
    "max_response_bytes",
    "max_image_pixels",
    "max_decode_bytes",
    "decode_budget",
    "lowres_edge",
    "lowres_quality",
    "processing_lease",
    "processing_concurrency",
    "trust_proxy_headers",
    "introspection",
    "ws_session_check_interval",
    "log_format",
    "log",
    "shutdown_timeout",
];

impl Config {
    /// Loads from the process environment (and `VITRINE_CONFIG`, if set).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("VITRINE_"))
            .collect();
        let file = match env.get("VITRINE_CONFIG") {
            Some(path) => read_file(Path::new(path))?,
            None => HashMap::new(),
        };
        Self::from_sources(&env, &file)
    }

    /// Loads from explicit sources: environment-style (`VITRINE_KEY`) values
    /// override file-style (`key`) values, which override defaults.
    pub fn from_sources(
        env: &HashMap<String, String>,
        file: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let get = |key: &str| -> Option<String> {
            env.get(&format!("VITRINE_{}", key.to_ascii_uppercase()))
                .or_else(|| file.get(key))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        for key in env.keys() {
            let name = key.trim_start_matches("VITRINE_").to_ascii_lowercase();
            let foreign = name.starts_with("test_") || name.starts_with("ci_");
            if name != "config" && !foreign && !KEYS.contains(&name.as_str()) {
                return Err(ConfigError::Invalid {
                    key: key.clone(),
                    message: "unknown setting (see README.md for the list)".into(),
                });
            }
        }

        let data_dir = PathBuf::from(get("data_dir").unwrap_or_else(|| "./data".into()));
        let database_url = match get("database_url") {
            Some(url) => {
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("sqlite:")
                    || lower.starts_with("postgres://")
                    || lower.starts_with("postgresql://"))
                {
                    return Err(invalid(
                        "database_url",
                        "must start with sqlite:, postgres:// or postgresql://",
                    ));
                }
                url
            }
            None => default_sqlite_url(&data_dir),
        };
        let redis_url = match get("redis_url") {
            Some(url) => {
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("redis://") || lower.starts_with("rediss://")) {
                    return Err(invalid(
                        "redis_url",
                        "must start with redis:// or rediss://",
                    ));
                }
                Some(Secret::new(url))
            }
            None => None,
        };
        let redis_prefix = get("redis_prefix").unwrap_or_else(|| "vitrine".into());
        if !redis_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        {
            return Err(invalid(
                "redis_prefix",
                "may contain only letters, digits, '-', '_', ':' and '.'",
            ));
        }
        let storage = storage_config(&get, &data_dir)?;
        let bind = get("bind")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse::<SocketAddr>()
            .map_err(|e| invalid("bind", format!("not an address:port ({e})")))?;
        let secret = match get("secret") {
            Some(s) if s.len() < 32 => {
                return Err(invalid(
                    "secret",
                    "must be at least 32 characters (e.g. `openssl rand -base64 32`)",
                ));
            }
            Some(s) => Some(Secret::new(s)),
            None => None,
        };
        let mut previous_secrets = Vec::new();
        for s in get("previous_secrets")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if s.len() < 32 {
                return Err(invalid(
                    "previous_secrets",
                    "each key must be at least 32 characters",
                ));
            }
            previous_secrets.push(Secret::new(s));
        }
        let public_url = match get("public_url") {
            None => None,
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(invalid("public_url", "must start with http:// or https://"));
            }
        };
        let delivery = DeliveryConfig {
            public_url,
            default_ttl: parse_duration_key(
                &get,
                "delivery_default_ttl",
                Duration::from_secs(900),
            )?,
            max_ttl: parse_duration_key(&get, "delivery_max_ttl", Duration::from_secs(86_400))?,
            cache_bytes: parse_size(&get, "delivery_cache_bytes", 64 << 20)?,
        };
        if delivery.default_ttl > delivery.max_ttl {
            return Err(invalid(
                "delivery_default_ttl",
                "must not exceed delivery_max_ttl",
            ));
        }
        let share = ShareConfig {
            default_ttl: parse_duration_key(
                &get,
                "share_default_ttl",
                Duration::from_secs(7 * 86_400),
            )?,
            max_ttl: parse_duration_key(&get, "share_max_ttl", Duration::from_secs(90 * 86_400))?,
            visit_ttl: parse_duration_key(&get, "share_visit_ttl", Duration::from_secs(12 * 3600))?,
            max_password_failures: parse_num(&get, "share_max_password_failures", 5, 1..=1000)?,
            max_password_failures_per_link: parse_num(
                &get,
                "share_max_password_failures_per_link",
                50,
                1..=100_000,
            )?,
            max_password_failures_per_ip: parse_num(
                &get,
                "share_max_password_failures_per_ip",
                20,
                1..=100_000,
            )?,
            password_window: parse_duration_key(
                &get,
                "share_password_window",
                Duration::from_secs(15 * 60),
            )?,
        };
        if share.default_ttl > share.max_ttl {
            return Err(invalid(
                "share_default_ttl",
                "must not exceed share_max_ttl",
            ));
        }
        let log_format = match get("log_format").as_deref() {
            None | Some("human") | Some("text") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log_format",
                    format!("{other:?} is not human or json"),
                ));
            }
        };

        let config = Config {
            database_url: Secret::new(database_url),
            database_max_connections: parse_num(&get, "database_max_connections", 10, 1..=1000)?,
            redis_url,
            redis_prefix,
            storage,
            bind,
            secret,
            previous_secrets,
            delivery,
            share,
            license_notice: parse_duration_key(
                &get,
                "license_notice",
                Duration::from_secs(14 * 86_400),
            )?,
            license_unlicensed_deliverable: parse_bool(
                &get,
                "license_unlicensed_deliverable",
                false,
            )?,
            license_takedown_schedule: parse_schedule(
                &get,
                "license_takedown_schedule",
                "0 * * * * *",
            )?,
            usage_rollup_schedule: parse_schedule(&get, "usage_rollup_schedule", "*/10 * * * * *")?,
            anomaly_interval: match get("anomaly_interval").as_deref() {
                Some("off") => None,
                _ => Some(parse_duration_key(
                    &get,
                    "anomaly_interval",
                    Duration::from_secs(2),
                )?),
            },
            anomaly: AnomalyConfig {
                window: parse_duration_key(&get, "anomaly_window", Duration::from_secs(600))?,
                actor_downloads: parse_num(&get, "anomaly_actor_downloads", 100, 0..=10_000_000)?,
                link_downloads: parse_num(&get, "anomaly_link_downloads", 100, 0..=10_000_000)?,
                ip_downloads: parse_num(&get, "anomaly_ip_downloads", 200, 0..=10_000_000)?,
                distinct_assets: parse_num(&get, "anomaly_distinct_assets", 50, 0..=10_000_000)?,
                distinct_window: parse_duration_key(
                    &get,
                    "anomaly_distinct_window",
                    Duration::from_secs(300),
                )?,
            },
            session_ttl: parse_duration_key(&get, "session_ttl", Duration::from_secs(12 * 3600))?,
            login: LoginThrottle {
                max_failures_per_email: parse_num(
                    &get,
                    "login_max_failures_per_email",
                    5,
                    1..=1000,
                )?,
                max_failures_per_account: parse_num(
                    &get,
                    "login_max_failures_per_account",
                    50,
                    1..=100_000,
                )?,
                max_failures_per_ip: parse_num(&get, "login_max_failures_per_ip", 20, 1..=100_000)?,
                window: parse_duration_key(&get, "login_window", Duration::from_secs(15 * 60))?,
                password_concurrency: parse_num(
                    &get,
                    "password_concurrency",
                    std::thread::available_parallelism().map_or(2, usize::from),
                    1..=1024,
                )?,
                password_queue_wait: parse_duration_key(
                    &get,
                    "password_queue_wait",
                    Duration::from_secs(5),
                )?,
            },
            limits: Limits {
                max_upload_bytes: parse_size(&get, "max_upload_bytes", 256 << 20)?,
                max_request_bytes: usize::try_from(parse_size(&get, "max_request_bytes", 1 << 20)?)
                    .map_err(|_| invalid("max_request_bytes", "too large"))?,
                max_upload_files: parse_num(&get, "max_upload_files", 20, 1..=10_000)?,
                max_query_depth: parse_num(&get, "max_query_depth", 16, 2..=1000)?,
                max_query_complexity: parse_num(
                    &get,
                    "max_query_complexity",
                    10_000,
                    10..=10_000_000,
                )?,
                max_batch_size: parse_num(&get, "max_batch_size", 10, 1..=1000)?,
                max_aliases: parse_num(&get, "max_aliases", 25, 1..=10_000)?,
                max_response_bytes: usize::try_from(parse_size(
                    &get,
                    "max_response_bytes",
                    16 << 20,
                )?)
                .map_err(|_| invalid("max_response_bytes", "too large"))?,
                max_image_pixels: parse_num(
                    &get,
                    "max_image_pixels",
                    100_000_000,
                    1..=10_000_000_000,
                )?,
                max_decode_bytes: parse_size(&get, "max_decode_bytes", 1 << 30)?,
                decode_budget: parse_size(&get, "decode_budget", 1 << 30)?,
            },
            renditions: Renditions {
                lowres_edge: parse_num(&get, "lowres_edge", 640, 64..=4096)?,
                lowres_quality: parse_num(&get, "lowres_quality", 70, 20..=95)?,
                processing_lease: parse_duration_key(
                    &get,
                    "processing_lease",
                    Duration::from_secs(30),
                )?,
                processing_concurrency: match get("processing_concurrency") {
                    None => None,
                    Some(_) => Some(parse_num(&get, "processing_concurrency", 2, 1..=256)?),
                },
            },
            trust_proxy_headers: parse_bool(&get, "trust_proxy_headers", false)?,
            introspection: match get("introspection")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("signed-in" | "authenticated") => Introspection::SignedIn,
                Some("everyone" | "true" | "1" | "yes" | "on") => Introspection::Everyone,
                Some("nobody" | "false" | "0" | "no" | "off") => Introspection::Nobody,
                Some(other) => {
                    return Err(invalid(
                        "introspection",
                        format!("{other:?} is not signed-in, everyone or nobody"),
                    ));
                }
            },
            ws_session_check_interval: parse_duration_key(
                &get,
                "ws_session_check_interval",
                Duration::from_secs(30),
            )?,
            log_format,
            log_filter: get("log").unwrap_or_else(|| "info".into()),
            shutdown_timeout: parse_duration_key(
                &get,
                "shutdown_timeout",
                Duration::from_secs(20),
            )?,
            data_dir,
        };
        // The first download of an original holds it and its stamped copy.
        let stamping = config
            .limits
            .max_upload_bytes
            .saturating_mul(2)
            .saturating_add(1 << 20);
        if stamping > config.limits.decode_budget {
            return Err(invalid(
                "decode_budget",
                format!(
                    "must hold an original and its stamped copy: at least {stamping} bytes (2 × max_upload_bytes + 1 MiB)"
                ),
            ));
        }
        if config.limits.max_decode_bytes > config.limits.decode_budget {
            return Err(invalid(
                "max_decode_bytes",
                "must not exceed decode_budget (one image must fit in what all may hold)",
            ));
        }
        Ok(config)
    }

    /// Whether jobs run inside the `serve` process (no Redis configured).
    pub fn embedded_workers(&self) -> bool {
        self.redis_url.is_none()
    }

    /// Where uploads are staged while they are received and checked (in the
    /// data directory, so a local blob store can take them by hard link).
    pub fn upload_tmp_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// Where the embedded job queue keeps its database.
    pub fn queue_db_path(&self) -> PathBuf {
        self.data_dir.join("queue.sqlite")
    }

    /// The database backend's name, for logs (never the URL: it may hold a password).
    pub fn database_kind(&self) -> &'static str {
        if self.database_url.expose().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

fn storage_config(
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

fn default_sqlite_url(data_dir: &Path) -> String {
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

fn parse_num<T>(
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

fn parse_bool(
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
fn parse_schedule(
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

/// Parses `90`, `90s`, `15m`, `12h`, `7d` (a bare number is seconds).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => return Some(Duration::from_millis(n)),
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn parse_duration_key(
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
                format!("{raw:?} is not a positive duration like 90s, 15m, 12h or 7d"),
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

fn parse_size(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_safe_and_local() {
        let c = Config::from_sources(&HashMap::new(), &HashMap::new()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(
            c.database_url
                .expose()
                .starts_with("sqlite://./data/vitrine.sqlite")
        );
        assert!(c.redis_url.is_none());
        assert!(c.embedded_workers());
        assert_eq!(c.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.session_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.limits.max_upload_bytes, 256 << 20);
        assert_eq!(c.login.max_failures_per_email, 5);
        assert!(!c.trust_proxy_headers);
        assert!(c.secret.is_none());
    }

    #[test]
    fn environment_overrides_file() {
        let file = env(&[("bind", "0.0.0.0:9000"), ("session_ttl", "1h")]);
        let c = Config::from_sources(&env(&[("VITRINE_BIND", "127.0.0.1:9001")]), &file).unwrap();
        assert_eq!(c.bind.port(), 9001);
        assert_eq!(c.session_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let cases = [
            ("VITRINE_BIND", "not-an-address", "VITRINE_BIND"),
            ("VITRINE_DATABASE_URL", "mysql://x", "VITRINE_DATABASE_URL"),
            ("VITRINE_REDIS_URL", "http://x", "VITRINE_REDIS_URL"),
            ("VITRINE_SECRET", "short", "VITRINE_SECRET"),
            ("VITRINE_SESSION_TTL", "forever", "VITRINE_SESSION_TTL"),
            (
                "VITRINE_MAX_UPLOAD_BYTES",
                "lots",
                "VITRINE_MAX_UPLOAD_BYTES",
            ),
            ("VITRINE_MAX_QUERY_DEPTH", "0", "VITRINE_MAX_QUERY_DEPTH"),
            ("VITRINE_LOG_FORMAT", "xml", "VITRINE_LOG_FORMAT"),
            (
                "VITRINE_TRUST_PROXY_HEADERS",
                "maybe",
                "VITRINE_TRUST_PROXY_HEADERS",
            ),
            ("VITRINE_STORAGE_URL", "ftp://x", "VITRINE_STORAGE_URL"),
            ("VITRINE_BOGUS", "1", "VITRINE_BOGUS"),
            ("VITRINE_STORAGE_URL", "s3://", "VITRINE_STORAGE_URL"),
            (
                "VITRINE_STORAGE_URL",
                "s3://bucket",
                "VITRINE_S3_ACCESS_KEY_ID",
            ),
        ];
        for (key, value, named) in cases {
            let err = Config::from_sources(&env(&[(key, value)]), &HashMap::new()).unwrap_err();
            assert!(err.to_string().starts_with(named), "{key}: {err}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::from_sources(
            &env(&[
                ("VITRINE_SECRET", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"),
                ("VITRINE_DATABASE_URL", "postgres://u:hunter2@db/x"),
                ("VITRINE_REDIS_URL", "redis://:pw-redis@r"),
            ]),
            &HashMap::new(),
        )
        .unwrap();
        let debug = format!("{c:?}");
        for leaked in ["s3cr3t", "hunter2", "pw-redis"] {
            assert!(!debug.contains(leaked), "{leaked} in {debug}");
        }
    }

    #[test]
    fn storage_is_local_by_default_and_s3_by_url() {
        let c = Config::from_sources(&HashMap::new(), &HashMap::new()).unwrap();
        assert_eq!(
            c.storage,
            StorageConfig::Local(PathBuf::from("./data/blobs"))
        );
        let c = Config::from_sources(
            &env(&[
                ("VITRINE_STORAGE_URL", "s3://media-bucket/vitrine/prod/"),
                ("VITRINE_S3_ACCESS_KEY_ID", "AKID"),
                ("VITRINE_S3_SECRET_ACCESS_KEY", "very-secret-key"),
                ("VITRINE_S3_REGION", "eu-west-3"),
            ]),
            &HashMap::new(),
        )
        .unwrap();
        match &c.storage {
            StorageConfig::S3 {
                bucket,
                prefix,
                endpoint,
                path_style,
                ..
            } => {
                assert_eq!(bucket, "media-bucket");
                assert_eq!(prefix, "vitrine/prod/");
                assert_eq!(endpoint, "https://s3.eu-west-3.amazonaws.com");
                assert!(!path_style);
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{c:?}").contains("very-secret-key"));
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_size_str("256MiB"), Some(256 << 20));
        assert_eq!(parse_size_str("1_000"), Some(1000));
        assert_eq!(parse_size_str("1TB"), None);
    }

    #[test]
    fn toml_file_is_read_and_unknown_keys_refused() {
        let dir = std::env::temp_dir().join(format!("vitrine-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "bind = \"127.0.0.1:7000\"\nmax_batch_size = 3\n").unwrap();
        let values = read_file(&good).unwrap();
        let c = Config::from_sources(&HashMap::new(), &values).unwrap();
        assert_eq!(c.bind.port(), 7000);
        assert_eq!(c.limits.max_batch_size, 3);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "bnid = \"x\"\n").unwrap();
        assert!(read_file(&bad).unwrap_err().to_string().contains("bnid"));
        std::fs::remove_dir_all(&dir).ok();
    }
}

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
    /// How long a request for a derivative not made yet waits for it before
    /// it is answered 503 with Retry-After (the render goes on).
    pub derivative_wait: Duration,
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
    /// Browser origins (besides this server's own) that may call the API
    /// and read delivered files from scripts; normalised `scheme://host[:port]`.
    pub cors_allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    pub cors_max_age: Duration,
    /// Outgoing webhooks (the key is derived from the secret at start-up).
    pub webhooks: vitrine_worker::webhooks::WebhookSettings,
    /// Public delivery of published images (`/p/`).
    pub public: PublicConfig,
    /// CDN purges for public delivery.
    pub purge: vitrine_worker::purge::PurgeSettings,
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
    "derivative_wait",
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
    "cors_allowed_origins",
    "cors_max_age",
    "webhook_schedule",
    "webhook_timeout",
    "webhook_max_attempts",
    "webhook_disable_after",
    "webhook_allow_private",
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
            let known = KEYS.contains(&name.as_str()) || public::KEYS.contains(&name.as_str());
            if name != "config" && !foreign && !known {
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
            derivative_wait: parse_duration_key(&get, "derivative_wait", Duration::from_secs(10))?,
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
            cors_allowed_origins: get("cors_allowed_origins")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(crate::http::cors::parse_origin)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("cors_allowed_origins", e))?,
            cors_max_age: parse_duration_key(&get, "cors_max_age", Duration::from_secs(600))?,
            webhooks: vitrine_worker::webhooks::WebhookSettings {
                schedule: parse_schedule(&get, "webhook_schedule", "* * * * * *")?,
                timeout: parse_duration_key(&get, "webhook_timeout", Duration::from_secs(10))?,
                max_attempts: parse_num(&get, "webhook_max_attempts", 12, 1..=100)?,
                disable_after: parse_num(&get, "webhook_disable_after", 50, 1..=100_000)?,
                allow_private: parse_bool(&get, "webhook_allow_private", false)?,
                key: [0; 32],
            },
            public: public::public_config(&get)?,
            purge: public::purge_settings(&get)?,
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
            log_filter: {
                let filter = get("log").unwrap_or_else(|| "info".into());
                tracing_subscriber::EnvFilter::try_new(&filter)
                    .map_err(|e| invalid("log", format!("{filter:?} is not a log filter: {e}")))?;
                filter
            },
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

    /// The file of a SQLite database (`None` for PostgreSQL and in-memory).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url.expose();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
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

mod parse;
mod public;
#[cfg(test)]
mod tests;

pub use public::PublicConfig;

use parse::{
    default_sqlite_url, parse_bool, parse_duration_key, parse_num, parse_schedule, parse_size,
    storage_config,
};
pub use parse::{parse_duration, parse_size_str, read_file};

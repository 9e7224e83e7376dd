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
            "VITRINE_CORS_ALLOWED_ORIGINS",
            "*",
            "VITRINE_CORS_ALLOWED_ORIGINS",
        ),
        (
            "VITRINE_CORS_ALLOWED_ORIGINS",
            "https://a.example.com/app",
            "VITRINE_CORS_ALLOWED_ORIGINS",
        ),
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
    assert_eq!(parse_duration("90"), None, "a unit is required");
    assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
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

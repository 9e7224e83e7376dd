//! The installation's signing key: `VITRINE_SECRET`, or a key generated on
//! first start and kept in `<data dir>/secret.key` with mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;

use crate::config::{Config, Secret};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read or write the secret key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the secret key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions { path: String, mode: u32 },
    #[error("the secret key file {path} is too short; delete it to generate a new one")]
    TooShort { path: String },
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Creates the data directory (mode 0700) if it does not exist.
pub fn ensure_data_dir(dir: &Path) -> Result<(), SecretError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|source| SecretError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
            |source| SecretError::DataDir {
                path: dir.display().to_string(),
                source,
            },
        )?;
    }
    Ok(())
}

/// Fills `config.secret` from the key file, creating it when absent.
pub fn ensure_secret(config: &mut Config) -> Result<(), SecretError> {
    if config.secret.is_some() {
        return Ok(());
    }
    ensure_data_dir(&config.data_dir)?;
    let path = config.data_dir.join("secret.key");
    let display = path.display().to_string();
    let io = |source| SecretError::Io {
        path: display.clone(),
        source,
    };
    if !path.exists() {
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(key.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated a new secret key");
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SecretError::Permissions {
            path: display,
            mode: mode & 0o777,
        });
    }
    let key = std::fs::read_to_string(&path)
        .map_err(io)?
        .trim()
        .to_owned();
    if key.len() < 32 {
        return Err(SecretError::TooShort { path: display });
    }
    config.secret = Some(Secret::new(key));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_in(dir: &Path) -> Config {
        let mut env = HashMap::new();
        env.insert("VITRINE_DATA_DIR".to_owned(), dir.display().to_string());
        Config::from_sources(&env, &HashMap::new()).unwrap()
    }

    #[test]
    fn key_is_generated_once_with_mode_0600_and_reused() {
        let dir = std::env::temp_dir().join(format!("vitrine-secret-{}", uuid::Uuid::now_v7()));
        let mut first = config_in(&dir);
        ensure_secret(&mut first).unwrap();
        let path = dir.join("secret.key");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut second = config_in(&dir);
        ensure_secret(&mut second).unwrap();
        assert_eq!(first.secret, second.secret);
        assert!(first.secret.unwrap().expose().len() >= 43);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_world_readable_key_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("vitrine-secret-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        std::fs::write(&path, "x".repeat(43)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = ensure_secret(&mut config_in(&dir)).unwrap_err();
        assert!(matches!(err, SecretError::Permissions { .. }), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

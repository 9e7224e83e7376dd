//! The blob store: where originals (and later renditions) live, addressed by
//! key. A local directory by default; S3-compatible object storage for
//! scale-out. Both make an object durable before `put_file` returns, so the
//! database commit that references it can never point at a missing object.

mod local;
mod s3;
pub mod sigv4;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;

pub use local::LocalStore;
pub use s3::{S3Config, S3Store};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob store I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("object storage request failed: {0}")]
    Http(String),
    #[error("object storage answered {status} {code}: {message}")]
    S3 {
        status: u16,
        code: String,
        message: String,
    },
    #[error("invalid storage configuration: {0}")]
    Config(String),
}

/// A stored object, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// A readable object.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// The configured blob store. Cheap to clone.
#[derive(Clone, Debug)]
pub enum BlobStore {
    Local(Arc<LocalStore>),
    S3(Arc<S3Store>),
}

/// The key of an original, by the SHA-256 (hex) of its bytes.
pub fn original_key(sha256_hex: &str) -> String {
    let a = sha256_hex.get(0..2).unwrap_or("00");
    let b = sha256_hex.get(2..4).unwrap_or("00");
    format!("originals/{a}/{b}/{sha256_hex}")
}

/// The SHA-256 of an original from its key, if it is one.
pub fn sha_of_original_key(key: &str) -> Option<&str> {
    let sha = key.strip_prefix("originals/")?.rsplit('/').next()?;
    (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some(sha)
}

impl BlobStore {
    /// A local directory store.
    pub fn local(root: &Path) -> Self {
        BlobStore::Local(Arc::new(LocalStore::new(root)))
    }

    /// An S3-compatible store.
    pub fn s3(config: S3Config) -> Result<Self, StorageError> {
        Ok(BlobStore::S3(Arc::new(S3Store::new(config)?)))
    }

    /// A short description for logs (never credentials).
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Local(l) => format!("local directory {}", l.root().display()),
            BlobStore::S3(s) => format!("s3 bucket {}", s.bucket()),
        }
    }

    /// Whether the store answers (and, locally, is writable).
    pub async fn check(&self) -> Result<(), StorageError> {
        match self {
            BlobStore::Local(l) => l.check().await,
            BlobStore::S3(s) => s.check().await,
        }
    }

    /// Stores the file at `path` under `key`, durably, replacing any object
    /// there. `sha256_hex` and `size` describe the file's bytes (S3 verifies
    /// them on receipt).
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sha256_hex: &str,
        size: u64,
    ) -> Result<(), StorageError> {
        match self {
            BlobStore::Local(l) => l.put_file(key, path).await,
            BlobStore::S3(s) => s.put_file(key, path, sha256_hex, size).await,
        }
    }

    /// Stores bytes under `key`, durably.
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        match self {
            BlobStore::Local(l) => l.put_bytes(key, bytes).await,
            BlobStore::S3(s) => s.put_bytes(key, bytes).await,
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self {
            BlobStore::Local(l) => l.exists(key).await,
            BlobStore::S3(s) => s.exists(key).await,
        }
    }

    /// Opens an object for reading; `None` when it does not exist.
    pub async fn open(&self, key: &str) -> Result<Option<(ObjectReader, u64)>, StorageError> {
        match self {
            BlobStore::Local(l) => l.open(key).await,
            BlobStore::S3(s) => s.open(key).await,
        }
    }

    /// Opens `len` bytes of an object from `start` (which must lie within
    /// it); `None` when the object does not exist. Only what is read is held.
    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectReader>, StorageError> {
        match self {
            BlobStore::Local(l) => l.open_range(key, start, len).await,
            BlobStore::S3(s) => s.open_range(key, start, len).await,
        }
    }

    /// The size of an object; `None` when it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self {
            BlobStore::Local(l) => l.size(key).await,
            BlobStore::S3(s) => s.size(key).await,
        }
    }

    /// Deletes an object; deleting a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self {
            BlobStore::Local(l) => l.delete(key).await,
            BlobStore::S3(s) => s.delete(key).await,
        }
    }

    /// Every object whose key starts with `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        match self {
            BlobStore::Local(l) => l.list(prefix).await,
            BlobStore::S3(s) => s.list(prefix).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_keys_fan_out_and_parse_back() {
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let key = original_key(sha);
        assert_eq!(key, format!("originals/e3/b0/{sha}"));
        assert_eq!(sha_of_original_key(&key), Some(sha));
        assert_eq!(sha_of_original_key("originals/e3/b0/not-a-sha"), None);
        assert_eq!(sha_of_original_key("renditions/x"), None);
    }
}

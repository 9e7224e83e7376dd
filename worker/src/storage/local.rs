//! The local-directory blob store: write to a temporary file in the store,
//! fsync it, rename it into place, fsync the directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{ObjectReader, StorageError, StoredObject};

#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Keys are relative paths of safe segments; anything else is refused.
fn check_key(key: &str) -> Result<(), StorageError> {
    let ok = !key.is_empty()
        && key.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(StorageError::Config(format!("invalid object key {key:?}")))
    }
}

fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Creates `dir` and any missing parents, making each new entry durable.
fn create_dirs(dir: &Path) -> Result<(), StorageError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    }
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

impl LocalStore {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn staging(&self) -> PathBuf {
        self.root.join(".staging")
    }

    pub async fn check(&self) -> Result<(), StorageError> {
        let staging = self.staging();
        tokio::task::spawn_blocking(move || {
            create_dirs(&staging)?;
            let probe = staging.join(format!(".probe-{}", uuid::Uuid::now_v7().simple()));
            std::fs::write(&probe, b"ok").map_err(io(&probe))?;
            std::fs::remove_file(&probe).map_err(io(&probe))
        })
        .await
        .map_err(|e| StorageError::Http(e.to_string()))?
    }

    /// Places a staged file at `final_path` atomically and durably.
    fn commit_staged(staged: &Path, final_path: &Path) -> Result<(), StorageError> {
        let dir = final_path
            .parent()
            .ok_or_else(|| StorageError::Config("object path has no parent".into()))?;
        create_dirs(dir)?;
        std::fs::rename(staged, final_path).map_err(io(final_path))?;
        fsync_dir(dir)
    }

    pub async fn put_file(&self, key: &str, source: &Path) -> Result<(), StorageError> {
        let final_path = self.path_of(key)?;
        let staging = self.staging();
        let source = source.to_path_buf();
        tokio::task::spawn_blocking(move || {
            create_dirs(&staging)?;
            let staged = staging.join(uuid::Uuid::now_v7().simple().to_string());
            // A hard link costs nothing when the source is on the same file
            // system (uploads are staged in the data directory); else copy.
            if std::fs::hard_link(&source, &staged).is_err() {
                std::fs::copy(&source, &staged).map_err(io(&staged))?;
            }
            let result = std::fs::File::open(&staged)
                .and_then(|f| f.sync_all())
                .map_err(io(&staged))
                .and_then(|()| Self::commit_staged(&staged, &final_path));
            if result.is_err() {
                let _ = std::fs::remove_file(&staged);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Http(e.to_string()))?
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let final_path = self.path_of(key)?;
        let staging = self.staging();
        tokio::task::spawn_blocking(move || {
            create_dirs(&staging)?;
            let staged = staging.join(uuid::Uuid::now_v7().simple().to_string());
            let result = std::fs::File::create(&staged)
                .and_then(|mut f| {
                    f.write_all(&bytes)?;
                    f.sync_all()
                })
                .map_err(io(&staged))
                .and_then(|()| Self::commit_staged(&staged, &final_path));
            if result.is_err() {
                let _ = std::fs::remove_file(&staged);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Http(e.to_string()))?
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self.size(key).await?.is_some())
    }

    pub async fn open(&self, key: &str) -> Result<Option<(ObjectReader, u64)>, StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let size = file.metadata().await.map_err(io(&path))?.len();
                Ok(Some((Box::pin(file), size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectReader>, StorageError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.path_of(key)?;
        match tokio::fs::File::open(&path).await {
            Ok(mut file) => {
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(io(&path))?;
                Ok(Some(Box::pin(file.take(len))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, &root, &prefix, &mut out)?;
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::Http(e.to_string()))?
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<StoredObject>,
) -> Result<(), StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let key = relative.to_string_lossy().replace('\\', "/");
        if key.starts_with(".staging") {
            continue;
        }
        let meta = entry.metadata().map_err(io(&path))?;
        if meta.is_dir() {
            // Only descend where the prefix can still match.
            let as_dir = format!("{key}/");
            if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                walk(root, &path, prefix, out)?;
            }
        } else if key.starts_with(prefix) {
            let modified: DateTime<Utc> = meta
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            out.push(StoredObject {
                key,
                size: meta.len(),
                modified,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_cannot_escape_the_store() {
        assert!(check_key("originals/ab/cd/abcdef").is_ok());
        for bad in ["", "../etc/passwd", "a//b", "/abs", "a/./b", "a b", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}

//! Who a worker process is, and what a dead predecessor left behind.
//!
//! Every worker process has an id of its own, recorded on the versions it
//! processes. A worker that keeps a directory of its own (the embedded
//! server's data directory, `vitrine worker`'s) holds an exclusive lock on
//! `<dir>/worker.lock` while it runs and writes its id to
//! `<dir>/worker.instance`. The next worker to start there takes the lock —
//! which the operating system frees when the holder dies, even by
//! `kill -9` — reads its predecessor's id, and knows for certain that
//! whatever that id still holds is held by nobody: it reclaims it at once,
//! instead of waiting for the leases to run out.

use std::fs::File;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The lock of a worker directory, held while the worker runs.
#[derive(Debug)]
pub struct Tenure {
    _lock: File,
    /// The id of the worker that ran here before, now certainly gone.
    pub predecessor: Option<Uuid>,
}

/// Takes the worker directory `dir` for the worker `id`. `None` when another
/// live worker holds it (or it cannot be used): then nothing is reclaimed
/// early and the leases take their course.
pub fn take_over(dir: &Path, id: Uuid) -> Option<Tenure> {
    let attempt = || -> std::io::Result<Option<Tenure>> {
        std::fs::create_dir_all(dir)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("worker.lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let record: PathBuf = dir.join("worker.instance");
        let predecessor = std::fs::read_to_string(&record)
            .ok()
            .and_then(|s| Uuid::parse_str(s.trim()).ok())
            .filter(|p| *p != id);
        let staged = dir.join("worker.instance.new");
        std::fs::write(&staged, id.to_string())?;
        std::fs::rename(&staged, &record)?;
        Ok(Some(Tenure {
            _lock: lock,
            predecessor,
        }))
    };
    match attempt() {
        Ok(tenure) => tenure,
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot lock the worker directory");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successor_learns_its_dead_predecessor_and_a_rival_gets_nothing() {
        let dir = std::env::temp_dir().join(format!("vitrine-instance-{}", Uuid::now_v7()));
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let first = take_over(&dir, a).expect("free");
        assert_eq!(first.predecessor, None);
        // A second worker while the first lives: no tenure.
        assert!(take_over(&dir, b).is_none());
        drop(first);
        let second = take_over(&dir, c).expect("free again");
        assert_eq!(second.predecessor, Some(a));
        drop(second);
        std::fs::remove_dir_all(&dir).ok();
    }
}

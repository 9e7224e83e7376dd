//! Multipart uploads (GraphQL multipart request spec), parsed here rather
//! than by async-graphql so that each file is streamed to a temporary file
//! *while* it is hashed (SHA-256), under a limit on the whole request and on
//! the number of files. Nothing of an upload is ever held whole in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_graphql::{BatchRequest, UploadValue};
use poem::Body;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::config::Limits;

/// A file received with a request, in a temporary file that is deleted when
/// the request is done with it.
#[derive(Debug)]
pub struct ReceivedFile {
    /// The name the client gave it (untrusted).
    pub filename: Option<String>,
    /// The type the client declared (untrusted; never used to decide anything).
    pub declared_type: Option<String>,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    pub size: u64,
    pub path: PathBuf,
    _temp: tempfile::TempPath,
}

/// The files of one GraphQL request, indexed like its `Upload` values.
#[derive(Debug, Clone, Default)]
pub struct ReceivedFiles(pub Vec<Arc<ReceivedFile>>);

impl ReceivedFiles {
    pub fn get(&self, upload: &async_graphql::Upload) -> Option<&Arc<ReceivedFile>> {
        self.0.get(upload.0)
    }
}

#[derive(Debug)]
pub enum ReceiveError {
    TooLarge(u64),
    TooManyFiles(usize),
    BadRequest(String),
    Io(String),
}

fn multer_error(e: multer::Error, limit: u64) -> ReceiveError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ReceiveError::TooLarge(limit)
        }
        other => ReceiveError::BadRequest(format!("invalid multipart request: {other}")),
    }
}

async fn read_small(
    mut field: multer::Field<'_>,
    limit: usize,
    total: u64,
) -> Result<Vec<u8>, ReceiveError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multer_error(e, total))? {
        if out.len() + chunk.len() > limit {
            return Err(ReceiveError::TooLarge(limit as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn receive_file(
    mut field: multer::Field<'_>,
    tmp_dir: &Path,
    total: u64,
) -> Result<ReceivedFile, ReceiveError> {
    let io = |e: std::io::Error| ReceiveError::Io(e.to_string());
    let filename = field.file_name().map(str::to_owned);
    let declared_type = field.content_type().map(|m| m.to_string());
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(tmp_dir)
        .map_err(io)?;
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| multer_error(e, total))? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(ReceivedFile {
        filename,
        declared_type,
        sha256: vitrine_entity::audit_chain::hex(&hasher.finalize()),
        size,
        path: temp_path.to_path_buf(),
        _temp: temp_path,
    })
}

/// Parses a multipart GraphQL request. Returns the requests and, per request,
/// its received files.
pub async fn receive(
    content_type: &str,
    body: Body,
    limits: &Limits,
    tmp_dir: &Path,
) -> Result<(BatchRequest, Vec<ReceivedFiles>), ReceiveError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ReceiveError::BadRequest(format!("invalid multipart content type: {e}")))?;
    let total = limits.max_upload_bytes;
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(total));
    let mut multipart =
        multer::Multipart::with_constraints(body.into_bytes_stream(), boundary, constraints);

    let mut batch: Option<BatchRequest> = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    let mut files: Vec<(String, Arc<ReceivedFile>)> = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multer_error(e, total))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "operations" => {
                let bytes = read_small(field, limits.max_request_bytes, total).await?;
                // The same check as a JSON body: each operation has a query.
                super::graphql::check_params(&bytes)
                    .map_err(|e| ReceiveError::BadRequest(format!("operations: {e}")))?;
                batch = Some(serde_json::from_slice(&bytes).map_err(|e| {
                    ReceiveError::BadRequest(format!("operations is not a GraphQL request: {e}"))
                })?);
            }
            "map" => {
                let bytes = read_small(field, limits.max_request_bytes, total).await?;
                map = Some(serde_json::from_slice(&bytes).map_err(|e| {
                    ReceiveError::BadRequest(format!("map is not a JSON object of paths: {e}"))
                })?);
            }
            _ => {
                let Some(map) = &map else {
                    return Err(ReceiveError::BadRequest(
                        "the operations and map parts must come before the files".into(),
                    ));
                };
                if !map.contains_key(&name) {
                    // Not referenced: read past it without keeping it.
                    read_small(field, usize::MAX, total).await.map(|_| ())?;
                    continue;
                }
                if files.len() >= limits.max_upload_files {
                    return Err(ReceiveError::TooManyFiles(limits.max_upload_files));
                }
                let file = receive_file(field, tmp_dir, total).await?;
                files.push((name, Arc::new(file)));
            }
        }
    }
    let mut batch =
        batch.ok_or_else(|| ReceiveError::BadRequest("the operations part is missing".into()))?;
    let map = map.ok_or_else(|| ReceiveError::BadRequest("the map part is missing".into()))?;

    let count = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    let mut received = vec![ReceivedFiles::default(); count];
    for (name, file) in &files {
        for path in map.get(name).into_iter().flatten() {
            let (index, var_path) = match &batch {
                BatchRequest::Single(_) => (0, path.as_str()),
                BatchRequest::Batch(_) => {
                    let (index, rest) = path.split_once('.').ok_or_else(|| {
                        ReceiveError::BadRequest(format!("invalid batch path {path:?}"))
                    })?;
                    let index: usize = index.parse().map_err(|_| {
                        ReceiveError::BadRequest(format!("invalid batch path {path:?}"))
                    })?;
                    (index, rest)
                }
            };
            let request = match &mut batch {
                BatchRequest::Single(r) => Some(r),
                BatchRequest::Batch(rs) => rs.get_mut(index),
            };
            let Some(request) = request else {
                return Err(ReceiveError::BadRequest(format!(
                    "path {path:?} names no operation"
                )));
            };
            let content =
                std::fs::File::open(&file.path).map_err(|e| ReceiveError::Io(e.to_string()))?;
            let before = request.uploads.len();
            request.set_upload(
                var_path,
                UploadValue {
                    filename: file.filename.clone().unwrap_or_default(),
                    content_type: file.declared_type.clone(),
                    content,
                },
            );
            if request.uploads.len() > before
                && let Some(slot) = received.get_mut(index)
            {
                slot.0.push(file.clone());
            }
        }
    }
    Ok((batch, received))
}

/// Where this process stages uploads: `<tmp>/<process id>/`, locked for the
/// process's life. Several processes may share a data directory; at
/// start-up each removes the staging directories whose lock is free — their
/// process died (the operating system frees the lock even after `kill -9`),
/// so what they hold are partial uploads nobody will finish.
#[derive(Debug)]
pub struct UploadDir {
    path: PathBuf,
    _lock: std::fs::File,
}

impl UploadDir {
    /// Creates this process's staging directory under `tmp`, after removing
    /// those of dead processes (and files of the older flat layout).
    pub fn claim(tmp: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(tmp)?;
        let mut removed = 0usize;
        for entry in std::fs::read_dir(tmp)?.flatten() {
            let path = entry.path();
            let dead = if path.is_dir() {
                match std::fs::File::open(path.join(".lock")) {
                    Ok(lock) => lock.try_lock().is_ok(),
                    // A directory without its lock file: never finished starting.
                    Err(_) => true,
                }
            } else {
                // Files of the older flat layout: their writers are gone
                // once the last process of that version stopped.
                std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(3600))
            };
            if dead {
                let gone = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                if gone.is_ok() {
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed uploads left by processes that died");
        }
        let path = tmp.join(uuid::Uuid::now_v7().simple().to_string());
        std::fs::create_dir_all(&path)?;
        let lock = std::fs::File::create(path.join(".lock"))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        Ok(Self { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

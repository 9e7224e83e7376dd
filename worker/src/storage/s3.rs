//! S3-compatible object storage over HTTP with SigV4, for scale-out: every
//! API and worker process reads and writes the same bucket.

use std::path::Path;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use reqwest::{Method, StatusCode, Url};
use sha2::{Digest, Sha256};
use tokio_util::io::{ReaderStream, StreamReader};

use super::sigv4::{self, Credentials, EMPTY_SHA256, SignRequest};
use super::{ObjectReader, StorageError, StoredObject};

/// Where and how to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// e.g. `https://s3.eu-west-3.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Prepended to every key (e.g. `vitrine/`); may be empty.
    pub prefix: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
    pub credentials: Credentials,
}

#[derive(Debug)]
pub struct S3Store {
    config: S3Config,
    client: reqwest::Client,
    endpoint: Url,
}

fn http(e: reqwest::Error) -> StorageError {
    StorageError::Http(e.without_url().to_string())
}

/// The text of the first `<tag>…</tag>` in `xml`, entity-decoded.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(xml_decode(&xml[start..end]))
}

fn xml_decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The `<Contents>` entries and continuation token of a ListObjectsV2 page.
fn parse_list(xml: &str, prefix_len: usize) -> (Vec<StoredObject>, Option<String>) {
    let mut objects = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Contents>") {
        let Some(end) = rest[start..].find("</Contents>") else {
            break;
        };
        let entry = &rest[start..start + end];
        if let Some(key) = xml_value(entry, "Key") {
            let size = xml_value(entry, "Size")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let modified = xml_value(entry, "LastModified")
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map_or_else(Utc::now, |d| d.with_timezone(&Utc));
            objects.push(StoredObject {
                key: key.get(prefix_len..).unwrap_or_default().to_owned(),
                size,
                modified,
            });
        }
        rest = &rest[start + end..];
    }
    let truncated = xml_value(xml, "IsTruncated").is_some_and(|v| v == "true");
    let token = if truncated {
        xml_value(xml, "NextContinuationToken")
    } else {
        None
    };
    (objects, token)
}

impl S3Store {
    pub fn new(config: S3Config) -> Result<Self, StorageError> {
        let endpoint = Url::parse(&config.endpoint)
            .map_err(|e| StorageError::Config(format!("endpoint {:?}: {e}", config.endpoint)))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(StorageError::Config(format!(
                "endpoint {:?} must be an http(s) URL",
                config.endpoint
            )));
        }
        if config.bucket.is_empty() {
            return Err(StorageError::Config("the bucket name is empty".into()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(http)?;
        Ok(Self {
            config,
            client,
            endpoint,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The URL, host header and canonical path of `key` (or of the bucket).
    fn locate(&self, key: Option<&str>) -> Result<(Url, String, String), StorageError> {
        let object = key.map(|k| format!("{}{k}", self.config.prefix));
        let (host, path) = if self.config.path_style {
            let host = self.endpoint.host_str().unwrap_or_default().to_owned();
            let path = match &object {
                Some(o) => format!("/{}/{o}", self.config.bucket),
                None => format!("/{}", self.config.bucket),
            };
            (host, path)
        } else {
            let host = format!(
                "{}.{}",
                self.config.bucket,
                self.endpoint.host_str().unwrap_or_default()
            );
            let path = match &object {
                Some(o) => format!("/{o}"),
                None => "/".to_owned(),
            };
            (host, path)
        };
        let host_header = match self.endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        let url = Url::parse(&format!(
            "{}://{host_header}{}",
            self.endpoint.scheme(),
            sigv4::uri_encode(&path, true)
        ))
        .map_err(|e| StorageError::Config(e.to_string()))?;
        Ok((url, host_header, path))
    }

    fn signed(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        payload_sha256: &str,
    ) -> Result<reqwest::RequestBuilder, StorageError> {
        let (mut url, host, path) = self.locate(key)?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let headers = sigv4::sign(
            &SignRequest {
                method: method.as_str(),
                path: &path,
                query,
                headers: &[],
                host: &host,
                payload_sha256,
            },
            &self.config.credentials,
            &self.config.region,
            Utc::now(),
        );
        let mut builder = self.client.request(method, url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        Ok(builder)
    }

    /// Turns a non-success answer into an error carrying S3's error code.
    async fn fail(response: reqwest::Response) -> StorageError {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        StorageError::S3 {
            status,
            code: xml_value(&body, "Code").unwrap_or_else(|| "Unknown".into()),
            message: xml_value(&body, "Message").unwrap_or_default(),
        }
    }

    pub async fn check(&self) -> Result<(), StorageError> {
        let response = self
            .signed(Method::HEAD, None, &[], EMPTY_SHA256)?
            .send()
            .await
            .map_err(http)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail(response).await)
        }
    }

    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sha256_hex: &str,
        size: u64,
    ) -> Result<(), StorageError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| StorageError::Io {
                path: path.display().to_string(),
                source,
            })?;
        let body = reqwest::Body::wrap_stream(ReaderStream::new(file));
        let response = self
            .signed(Method::PUT, Some(key), &[], sha256_hex)?
            .header("content-length", size)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(http)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail(response).await)
        }
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let sha = vitrine_entity::audit_chain::hex(&Sha256::digest(&bytes));
        let response = self
            .signed(Method::PUT, Some(key), &[], &sha)?
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(http)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail(response).await)
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self.size(key).await?.is_some())
    }

    pub async fn open(&self, key: &str) -> Result<Option<(ObjectReader, u64)>, StorageError> {
        let response = self
            .signed(Method::GET, Some(key), &[], EMPTY_SHA256)?
            .send()
            .await
            .map_err(http)?;
        match response.status() {
            s if s.is_success() => {
                let size = response.content_length().unwrap_or(0);
                let stream = response.bytes_stream().map_err(std::io::Error::other);
                Ok(Some((Box::pin(StreamReader::new(stream)), size)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::fail(response).await),
        }
    }

    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectReader>, StorageError> {
        if len == 0 {
            return Ok(Some(Box::pin(tokio::io::empty())));
        }
        // The Range header is not signed (SigV4 signs only what it lists).
        let response = self
            .signed(Method::GET, Some(key), &[], EMPTY_SHA256)?
            .header("range", format!("bytes={start}-{}", start + len - 1))
            .send()
            .await
            .map_err(http)?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT | StatusCode::OK => {
                let whole = response.status() == StatusCode::OK;
                let stream = response.bytes_stream().map_err(std::io::Error::other);
                let reader = StreamReader::new(stream);
                if whole {
                    // A server that ignored the range: skip to it.
                    use tokio::io::AsyncReadExt;
                    let mut reader = reader;
                    tokio::io::copy(&mut (&mut reader).take(start), &mut tokio::io::sink())
                        .await
                        .map_err(|e| StorageError::Http(e.to_string()))?;
                    Ok(Some(Box::pin(reader.take(len))))
                } else {
                    Ok(Some(Box::pin(reader)))
                }
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::fail(response).await),
        }
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let response = self
            .signed(Method::HEAD, Some(key), &[], EMPTY_SHA256)?
            .send()
            .await
            .map_err(http)?;
        match response.status() {
            s if s.is_success() => Ok(Some(
                response
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::fail(response).await),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let response = self
            .signed(Method::DELETE, Some(key), &[], EMPTY_SHA256)?
            .send()
            .await
            .map_err(http)?;
        if response.status().is_success() || response.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Self::fail(response).await)
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        let full_prefix = format!("{}{prefix}", self.config.prefix);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", full_prefix.as_str())];
            if let Some(t) = &token {
                query.push(("continuation-token", t.as_str()));
            }
            let response = self
                .signed(Method::GET, None, &query, EMPTY_SHA256)?
                .send()
                .await
                .map_err(http)?;
            if !response.status().is_success() {
                return Err(Self::fail(response).await);
            }
            let body = response.text().await.map_err(http)?;
            let (objects, next) = parse_list(&body, self.config.prefix.len());
            out.extend(objects);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_pages_parse() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>
<Contents><Key>p/originals/aa/bb/one</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><Size>12</Size></Contents>
<Contents><Key>p/originals/aa/bb/t&amp;wo</Key><LastModified>2026-01-02T03:04:06.000Z</LastModified><Size>3</Size></Contents>
<NextContinuationToken>tok==</NextContinuationToken></ListBucketResult>"#;
        let (objects, token) = parse_list(xml, 2);
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].key, "originals/aa/bb/one");
        assert_eq!(objects[0].size, 12);
        assert_eq!(objects[1].key, "originals/aa/bb/t&wo");
        assert_eq!(token.as_deref(), Some("tok=="));
        let (_, none) = parse_list("<IsTruncated>false</IsTruncated>", 0);
        assert!(none.is_none());
    }
}

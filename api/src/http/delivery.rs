//! `GET`/`HEAD /r/<token>`: protected delivery.
//!
//! Verify the signature (constant time), decide again with the holder's and
//! the asset's current state, record the delivery durably (group commit),
//! then send the bytes with their caching and range headers.

use std::sync::Arc;

use bytes::Bytes;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde_json::json;
use tokio::io::AsyncReadExt;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::NewEvent;
use vitrine_entity::policy::Denial;
use vitrine_worker::storage::original_key;
use vitrine_worker::tagging::{Camera, Stamp, tag_original};

use super::{App, request_meta};
use crate::delivery::batcher::Verdict;
use crate::delivery::signing::{Claims, Holder};
use crate::delivery::{Refusal, Resolved, Served, resolve};
use crate::services::share_links;
use crate::state::{AppState, RequestMeta};

/// Decisions re-read after a stale verdict before giving up for now.
const ATTEMPTS: usize = 3;

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(text)
}

fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Forged | Refusal::Expired | Refusal::Denied(_) => {
            plain(StatusCode::FORBIDDEN, "forbidden\n")
        }
        Refusal::Superseded => plain(StatusCode::GONE, "superseded by a newer version\n"),
        Refusal::NotReady => {
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "not ready yet\n");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

fn unavailable() -> Response {
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "try again\n");
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// A single byte range of a `len`-byte body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Whole,
    Part { start: u64, end: u64 },
    Unsatisfiable,
}

/// Parses a `Range` header (one range; anything else is served whole, as
/// RFC 9110 allows).
pub(crate) fn parse_range(value: Option<&str>, len: u64) -> Range {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let Ok(suffix) = b.parse::<u64>() else {
            return Range::Whole;
        };
        if suffix == 0 {
            return Range::Unsatisfiable;
        }
        (len.saturating_sub(suffix), len.saturating_sub(1))
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Range::Whole;
        };
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(end) if end >= start => end.min(len.saturating_sub(1)),
                _ => return Range::Whole,
            }
        };
        (start, end)
    };
    if len == 0 || start >= len {
        return Range::Unsatisfiable;
    }
    Range::Part { start, end }
}

fn decision_etag(decision: &Result<Served, Refusal>) -> &str {
    match decision {
        Ok(Served::Rendition { etag, .. } | Served::Original { etag, .. }) => etag,
        _ => "",
    }
}

fn etag_matches(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|h| {
        h.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    })
}

fn delivery_event(
    resolved: &Resolved,
    claims: &Claims,
    meta: &RequestMeta,
    action: AuditAction,
    details: serde_json::Value,
) -> NewEvent {
    let mut event = NewEvent::new(action, &resolved.actor)
        .origin(meta.ip.clone(), meta.user_agent.clone())
        .target("asset", claims.asset_id)
        .details(details);
    if let Holder::Visitor { share_link_id, .. } = claims.holder {
        event.share_link_id = Some(share_link_id);
    }
    event
}

#[handler]
pub async fn deliver(req: &Request, Path(token): Path<String>, Data(app): Data<&App>) -> Response {
    let state = &app.state;
    let delivery = &state.delivery;
    let claims = match delivery.keys.verify(&token) {
        Ok(c) => c,
        Err(e) => {
            // Not recorded in the audit log: anyone could fill it with these.
            tracing::warn!(reason = %e, "refused a delivery URL");
            return refused(Refusal::Forged);
        }
    };
    let meta = request_meta(req, state.config.trust_proxy_headers);
    let head = req.method() == Method::HEAD;
    let if_none_match = req.header(header::IF_NONE_MATCH);
    let range_header = req.header(header::RANGE);
    let if_range = req.header(header::IF_RANGE);

    // A visitor's download counts against its link's cap once, before the
    // bytes go out (the count is atomic: N parallel requests against a cap
    // of M get exactly M files).
    let visitor_link = match claims.holder {
        Holder::Visitor { share_link_id, .. } => Some(share_link_id),
        Holder::User { .. } => None,
    };
    let whole_file = range_header.is_none_or(|r| r.trim().starts_with("bytes=0-"));
    let mut counted = false;
    for attempt in 0..ATTEMPTS {
        let resolved = match delivery.cached(&claims).filter(|_| attempt == 0) {
            Some(r) => r,
            None => match resolve(state, &claims).await {
                Ok(r) => {
                    let r = Arc::new(r);
                    delivery.remember(&claims, r.clone());
                    r
                }
                Err(e) => {
                    tracing::error!(error = ?e, "could not decide a delivery");
                    return unavailable();
                }
            },
        };
        let now = state.clock.now();
        let mut decision = if now.timestamp() >= claims.expires_at {
            Err(Refusal::Expired)
        } else {
            resolved.decide(claims.kind, now).cloned()
        };
        if let (Ok(_), Some(link_id)) = (&decision, visitor_link)
            && !head
            && !counted
            && !etag_matches(if_none_match, decision_etag(&decision))
        {
            let counting = if claims.kind.is_download() {
                if whole_file {
                    share_links::count_download(&state.db, link_id, now).await
                } else {
                    Ok(true)
                }
            } else {
                share_links::count_view(&state.db, link_id, now)
                    .await
                    .map(|()| true)
            };
            match counting {
                Ok(true) => counted = true,
                Ok(false) => {
                    decision = Err(Refusal::Denied(Some(Denial::DownloadsExhausted)));
                }
                Err(e) => {
                    tracing::error!(error = ?e, "could not count a share-link delivery");
                    return unavailable();
                }
            }
        }
        let (event, outcome) = match decision {
            Err(refusal) => {
                let event = delivery.should_record_refusal(&claims, now).then(|| {
                    let denial = match refusal {
                        Refusal::Denied(Some(d)) => Some(d.to_string()),
                        _ => None,
                    };
                    delivery_event(
                        &resolved,
                        &claims,
                        &meta,
                        AuditAction::DeliveryRefused,
                        json!({
                            "kind": claims.kind,
                            "versionId": claims.version_id,
                            "reason": refusal.reason(),
                            "denial": denial,
                        }),
                    )
                });
                (event, Err(refusal))
            }
            Ok(served) => {
                let etag = match &served {
                    Served::Rendition { etag, .. } | Served::Original { etag, .. } => etag.clone(),
                    Served::NotReady | Served::Superseded => String::new(),
                };
                let not_modified = etag_matches(if_none_match, &etag);
                let event = (!head && !not_modified).then(|| {
                    delivery_event(
                        &resolved,
                        &claims,
                        &meta,
                        claims.kind.audit_action(),
                        json!({
                            "kind": claims.kind,
                            "versionId": claims.version_id,
                            "range": range_header,
                        }),
                    )
                });
                (event, Ok((served, not_modified)))
            }
        };
        // Expired is decided by the URL alone: no need for fresh facts.
        let epoch = match outcome {
            Err(Refusal::Expired) => None,
            _ => Some(resolved.epoch),
        };
        match delivery.batcher.submit(epoch, event).await {
            Ok(Verdict::Stale) => {
                delivery.forget(&claims);
                continue;
            }
            Ok(Verdict::Committed) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not record a delivery");
                return unavailable();
            }
        }
        return match outcome {
            Err(refusal) => refused(refusal),
            Ok((served, not_modified)) => {
                let max_age = resolved.max_age(&claims, now);
                let response = Reply {
                    claims: &claims,
                    served: &served,
                    max_age,
                    head,
                    not_modified,
                    range: range_header,
                    if_range,
                };
                match response.send(state).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read a delivered file");
                        unavailable()
                    }
                }
            }
        };
    }
    unavailable()
}

struct Reply<'a> {
    claims: &'a Claims,
    served: &'a Served,
    max_age: i64,
    head: bool,
    not_modified: bool,
    range: Option<&'a str>,
    if_range: Option<&'a str>,
}

impl Reply<'_> {
    async fn send(self, state: &AppState) -> anyhow::Result<Response> {
        let (etag, filename, media_type) = match self.served {
            Served::Rendition { etag, filename, .. } => (etag, filename, "image/jpeg"),
            Served::Original {
                etag,
                filename,
                media_type,
                ..
            } => (etag, filename, media_type.as_str()),
            Served::NotReady | Served::Superseded => {
                anyhow::bail!("nothing to serve")
            }
        };
        let disposition = if self.claims.kind.is_download() {
            "attachment"
        } else {
            "inline"
        };
        let mut builder = Response::builder()
            .header(header::ETAG, etag.as_str())
            .header(
                header::CACHE_CONTROL,
                format!("private, max-age={}", self.max_age),
            )
            .header(header::ACCEPT_RANGES, "bytes");
        if self.not_modified {
            return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
        }
        let body = load(state, self.served).await?;
        let len = body.len() as u64;
        builder = builder.header(header::CONTENT_TYPE, media_type).header(
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename=\"{filename}\""),
        );
        let range = if self.if_range.is_some_and(|v| v.trim() != etag) {
            Range::Whole
        } else {
            parse_range(self.range, len)
        };
        let (status, body) = match range {
            Range::Whole => (StatusCode::OK, body),
            Range::Part { start, end } => {
                builder =
                    builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
                let (s, e) = (usize::try_from(start)?, usize::try_from(end)?);
                (StatusCode::PARTIAL_CONTENT, body.slice(s..=e))
            }
            Range::Unsatisfiable => {
                return Ok(builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .finish());
            }
        };
        builder = builder
            .status(status)
            .header(header::CONTENT_LENGTH, body.len());
        Ok(if self.head {
            builder.finish()
        } else {
            builder.body(Body::from_bytes(body))
        })
    }
}

/// The bytes to send: renditions from the store (small ones kept in
/// memory), originals stamped with the ownership statement.
async fn load(state: &AppState, served: &Served) -> anyhow::Result<Bytes> {
    let delivery = &state.delivery;
    match served {
        Served::Rendition { key, etag, .. } => {
            let cache_key = format!("{key}#{etag}");
            if let Some(b) = delivery.cached_file(&cache_key) {
                return Ok(b);
            }
            let bytes = read_all(state, key).await?;
            delivery.remember_file(cache_key, bytes.clone());
            Ok(bytes)
        }
        Served::Original {
            sha256,
            etag,
            ownership,
            version_number,
            orientation,
            asset_id,
            ..
        } => {
            let cache_key = format!("original#{etag}");
            if let Some(b) = delivery.cached_file(&cache_key) {
                return Ok(b);
            }
            let original = read_all(state, &original_key(sha256)).await?;
            let ownership = ownership.clone();
            let (asset_id, version_number, orientation) =
                (*asset_id, *version_number, *orientation);
            let stamped = tokio::task::spawn_blocking(move || {
                let camera = Camera::from_file(&original);
                let stamp = Stamp {
                    ownership: &ownership,
                    asset_id,
                    version_number,
                    orientation,
                    camera: &camera,
                };
                tag_original(&original, &stamp)
            })
            .await??;
            let stamped = Bytes::from(stamped);
            delivery.remember_file(cache_key, stamped.clone());
            Ok(stamped)
        }
        Served::NotReady | Served::Superseded => anyhow::bail!("nothing to serve"),
    }
}

async fn read_all(state: &AppState, key: &str) -> anyhow::Result<Bytes> {
    let (mut reader, len) = state
        .store
        .open(key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{key} is missing from the blob store"))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.read_to_end(&mut buf).await?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(
            parse_range(Some("bytes=0-9"), 100),
            Range::Part { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=90-"), 100),
            Range::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            Range::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=50-500"), 100),
            Range::Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=x-1"), 100), Range::Whole);
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        assert!(etag_matches(Some("\"a\", \"b\""), "\"b\""));
        assert!(etag_matches(Some("W/\"b\""), "\"b\""));
        assert!(etag_matches(Some("*"), "\"b\""));
        assert!(!etag_matches(Some("\"c\""), "\"b\""));
        assert!(!etag_matches(None, "\"b\""));
    }
}

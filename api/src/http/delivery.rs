//! `GET`/`HEAD /r/<token>`: protected delivery.
//!
//! Verify the signature (constant time), decide again with the holder's and
//! the asset's current state, record the delivery durably (group commit),
//! then send the bytes with their caching and range headers.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};
use serde_json::json;
use vitrine_entity::AuditAction;
use vitrine_entity::audit::NewEvent;
use vitrine_entity::entities::share_link;
use vitrine_entity::policy::Denial;

use super::{App, request_meta};
use crate::delivery::batcher::Verdict;
use crate::delivery::derivative::StillRendering;
use crate::delivery::negotiate::negotiate;
use crate::delivery::payload::{Payload, payload};
use crate::delivery::signing::{Claims, Holder, VariantFormat};
use crate::delivery::{Refusal, Resolved, Served, resolve};
use crate::services::share_links;
use crate::state::{AppState, RequestMeta};
use vitrine_worker::derivatives::Encoding;

/// Decisions re-read after a stale verdict before giving up for now.
const ATTEMPTS: usize = 3;

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
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

pub(crate) fn unavailable() -> Response {
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

impl Range {
    /// How many bytes of a `len`-byte body it serves.
    pub(crate) fn bytes(self, len: u64) -> u64 {
        match self {
            Range::Whole => len,
            Range::Part { start, end } => end - start + 1,
            Range::Unsatisfiable => 0,
        }
    }
}

/// Parses a `Range` header strictly (RFC 9110 §14.1.2): `bytes=` and one
/// well-formed range (`first-last`, `first-`, `-suffix`), digits only, no
/// whitespace. Anything else — other units, several ranges, whitespace,
/// inverted or malformed ranges — is ignored and the whole body is served
/// (200), which RFC 9110 allows; a range that starts past the end (or an
/// empty suffix) is unsatisfiable (416). Whatever the answer, what it serves
/// is what is counted against a share link's download cap.
pub(crate) fn parse_range(value: Option<&str>, len: u64) -> Range {
    let Some((unit, set)) = value.and_then(|v| v.split_once('=')) else {
        return Range::Whole;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return Range::Whole;
    }
    let Some((first, last)) = set.split_once('-') else {
        return Range::Whole;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        if !digits(last) {
            return Range::Whole;
        }
        // A suffix longer than any u64 is the whole body.
        let suffix = last.parse::<u64>().unwrap_or(u64::MAX);
        if suffix == 0 || len == 0 {
            return Range::Unsatisfiable;
        }
        return Range::Part {
            start: len.saturating_sub(suffix),
            end: len - 1,
        };
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return Range::Whole;
    }
    let Ok(start) = first.parse::<u64>() else {
        return Range::Unsatisfiable;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        last.parse::<u64>().unwrap_or(u64::MAX)
    };
    if end < start {
        return Range::Whole;
    }
    if start >= len {
        return Range::Unsatisfiable;
    }
    Range::Part {
        start,
        end: end.min(len - 1),
    }
}

fn decision_etag(decision: &Result<Served, Refusal>, encoding: Option<Encoding>) -> String {
    match (decision, encoding) {
        (Ok(Served::Rendition { etag, .. } | Served::Original { etag, .. }), _) => etag.clone(),
        (Ok(Served::Derivative(source)), Some(encoding)) => source.etag(encoding),
        _ => String::new(),
    }
}

/// The format a derivative URL is served in: the one it names, or for AUTO
/// the best the client's `Accept` names (AVIF, WebP; else JPEG).
pub(crate) fn encoding_for(format: VariantFormat, accept: Option<&str>) -> Encoding {
    use crate::services::derivatives::Format;
    match format {
        VariantFormat::Jpeg => Encoding::Jpeg,
        VariantFormat::Webp => Encoding::Webp,
        VariantFormat::Avif => Encoding::Avif,
        VariantFormat::Png => Encoding::Png,
        VariantFormat::Auto => match negotiate(accept, &[Format::Avif, Format::Webp]) {
            Format::Avif => Encoding::Avif,
            Format::Webp => Encoding::Webp,
            _ => Encoding::Jpeg,
        },
    }
}

pub(crate) fn still_rendering() -> Response {
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "being made, try again\n");
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    r
}

pub(crate) fn etag_matches(header: Option<&str>, etag: &str) -> bool {
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

/// What the request asked for beyond the URL.
struct Asked<'a> {
    head: bool,
    if_none_match: Option<&'a str>,
    range: Option<&'a str>,
    if_range: Option<&'a str>,
}

impl Asked<'_> {
    /// The range to serve of a `len`-byte body whose validator is `etag`.
    fn range(&self, etag: &str, len: u64) -> Range {
        if self.if_range.is_some_and(|v| v.trim() != etag) {
            Range::Whole
        } else {
            parse_range(self.range, len)
        }
    }
}

/// What goes out: the payload and the part of it.
struct Plan {
    payload: Payload,
    range: Range,
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
    let asked = Asked {
        head: req.method() == Method::HEAD,
        if_none_match: req.header(header::IF_NONE_MATCH),
        range: req.header(header::RANGE),
        if_range: req.header(header::IF_RANGE),
    };
    // A derivative's format (AUTO: from `Accept`, and the answer varies by it).
    let encoding = claims
        .variant
        .map(|v| encoding_for(v.format, req.header(header::ACCEPT)));
    let vary_accept = claims
        .variant
        .is_some_and(|v| v.format == VariantFormat::Auto);

    // A visitor's delivery counts against its link before the bytes go out:
    // downloads by the bytes they serve (a whole file is one download; see
    // `share_link::download_units`), atomically, so no cutting of ranges and
    // no parallel requests get more than `maxDownloads` files' worth.
    let visitor_link = match claims.holder {
        Holder::Visitor { share_link_id, .. } => Some(share_link_id),
        Holder::User { .. } => None,
    };
    let mut loaded: Option<(String, Payload)> = None;
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
        // What would go out: nothing for a refusal or a 304; else a range of
        // the payload (loaded once, to know its length).
        let etag = decision_etag(&decision, encoding);
        let not_modified = decision.is_ok() && etag_matches(asked.if_none_match, &etag);
        let plan = match &decision {
            Ok(served) if !not_modified => {
                if loaded.as_ref().is_none_or(|(e, _)| *e != etag) {
                    match payload(state, served, encoding).await {
                        Ok(p) => loaded = Some((etag.clone(), p)),
                        Err(e) if e.is::<StillRendering>() => return still_rendering(),
                        Err(e) => {
                            tracing::error!(error = %e, "could not read a delivered file");
                            return unavailable();
                        }
                    }
                }
                loaded.as_ref().map(|(_, p)| Plan {
                    payload: p.clone(),
                    range: asked.range(&etag, p.len()),
                })
            }
            _ => None,
        };
        // Bytes that go out, of a body of `len`.
        let (sent, len) = plan.as_ref().filter(|_| !asked.head).map_or((0, 0), |p| {
            (p.range.bytes(p.payload.len()), p.payload.len())
        });
        if let Some(link_id) = visitor_link
            && sent > 0
            && !counted
        {
            let counting = if claims.kind.is_download() {
                let units = share_link::download_units(sent, len);
                share_links::count_download(&state.db, link_id, units, now).await
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
                // Only what sends bytes is a delivery (not HEAD, 304 or 416).
                let event = (sent > 0).then(|| {
                    delivery_event(
                        &resolved,
                        &claims,
                        &meta,
                        claims.kind.audit_action(),
                        json!({
                            "kind": claims.kind,
                            "versionId": claims.version_id,
                            "range": asked.range,
                            "bytes": sent,
                        }),
                    )
                });
                (event, Ok(served))
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
            Ok(served) => {
                let (filename, media_type) = match (&served, encoding) {
                    (Served::Rendition { filename, .. }, _) => (filename.clone(), "image/jpeg"),
                    (
                        Served::Original {
                            filename,
                            media_type,
                            ..
                        },
                        _,
                    ) => (filename.clone(), media_type.as_str()),
                    (Served::Derivative(source), Some(encoding)) => {
                        (source.filename(encoding), encoding.media_type())
                    }
                    _ => return unavailable(),
                };
                let response = Reply {
                    kind: claims.kind,
                    etag: &etag,
                    filename: &filename,
                    media_type,
                    vary_accept,
                    max_age: resolved.max_age(&claims, now),
                    head: asked.head,
                    plan,
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
    kind: crate::delivery::DeliveryKind,
    etag: &'a str,
    filename: &'a str,
    media_type: &'a str,
    /// The format was chosen by `Accept`.
    vary_accept: bool,
    max_age: i64,
    head: bool,
    /// `None`: not modified.
    plan: Option<Plan>,
}

impl Reply<'_> {
    async fn send(self, state: &AppState) -> anyhow::Result<Response> {
        let disposition = if self.kind.is_download() {
            "attachment"
        } else {
            "inline"
        };
        let mut builder = Response::builder()
            .header(header::ETAG, self.etag)
            .header(
                header::CACHE_CONTROL,
                format!("private, max-age={}", self.max_age),
            )
            .header(header::ACCEPT_RANGES, "bytes");
        if self.vary_accept {
            builder = builder.header(header::VARY, "Accept");
        }
        let Some(plan) = self.plan else {
            return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
        };
        let len = plan.payload.len();
        builder = builder
            .header(header::CONTENT_TYPE, self.media_type)
            .header(
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{}\"", self.filename),
            );
        let (status, start, count) = match plan.range {
            Range::Whole => (StatusCode::OK, 0, len),
            Range::Part { start, end } => {
                builder =
                    builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            Range::Unsatisfiable => {
                return Ok(builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .finish());
            }
        };
        builder = builder.status(status).header(header::CONTENT_LENGTH, count);
        Ok(if self.head {
            builder.finish()
        } else {
            builder.body(plan.payload.body(state, start, count).await?)
        })
    }
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
    fn only_one_well_formed_range_is_honoured() {
        // The tricks that used to slip past the download cap.
        assert_eq!(
            parse_range(Some("bytes=-999999999"), 100),
            Range::Part { start: 0, end: 99 }
        );
        for ignored in [
            "items=0-1",
            "bytes=1-2,0-",
            "bytes=0-0,-1",
            "bytes=9-1",
            "bytes= 0-",
            "bytes =0-",
            "bytes=0 -",
            "bytes=+0-",
            "bytes=0x0-",
            "bytes=--1",
            "bytes=0--1",
            "bytes",
            "",
        ] {
            assert_eq!(parse_range(Some(ignored), 100), Range::Whole, "{ignored}");
        }
        assert_eq!(
            parse_range(Some("BYTES=5-"), 100),
            Range::Part { start: 5, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=5-99999999999999999999999"), 100),
            Range::Part { start: 5, end: 99 }
        );
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999999-"), 100),
            Range::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), Range::Unsatisfiable);
    }

    #[test]
    fn a_range_serves_what_it_says() {
        assert_eq!(Range::Whole.bytes(100), 100);
        assert_eq!(Range::Part { start: 10, end: 19 }.bytes(100), 10);
        assert_eq!(Range::Unsatisfiable.bytes(100), 0);
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

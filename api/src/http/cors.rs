//! Cross-origin requests: CORS for the API and delivery URLs, the `Origin`
//! check of WebSocket upgrades and of every browser request that could
//! change state, and `Cross-Origin-Resource-Policy`.
//!
//! Written here rather than with `poem::middleware::Cors` because one list
//! decides four different things (preflights, which responses a script may
//! read, which WebSocket upgrades are accepted, which cross-site requests are
//! refused before they run), same-origin requests (GraphiQL, the share page)
//! must pass without being listed, and `/r/` answers differently from the API.
//!
//! The rules, for a request with an `Origin` header:
//! - the origin is the server's own (its `Host`, or `VITRINE_PUBLIC_URL`):
//!   nothing to do;
//! - it is in `VITRINE_CORS_ALLOWED_ORIGINS`: the request runs and its
//!   response carries `Access-Control-Allow-Origin: <that origin>` (never
//!   `*`, never `Allow-Credentials`: the API authenticates with bearer
//!   tokens, not cookies, so a browser has no ambient credential to send);
//! - any other origin: refused with 403 before anything runs — so a
//!   cross-site form (url-encoded, text/plain or multipart) can neither run a
//!   mutation nor count a wrong password, a foreign page cannot open a
//!   WebSocket, and a foreign script's request to `/r/` spends nothing of a
//!   download cap.
//!
//! Requests without `Origin` (curl, servers, same-origin navigations, `<img>`)
//! are not cross-origin requests and pass. `/r/` responses say
//! `Cross-Origin-Resource-Policy: cross-origin` (a signed URL is made to be
//! embedded by a partner's page; it is its own credential and is re-decided
//! per request); everything else says `same-origin`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Request headers a browser may send to the API cross-origin.
const API_HEADERS: &str = "authorization, content-type, accept, apollo-require-preflight, x-apollo-operation-name, graphql-client-name, graphql-client-version";
/// Response headers a script on an allowed origin may read.
const API_EXPOSE: &str = "retry-after, content-disposition";
/// Request headers a browser may send to `/r/` (beyond the safelisted ones).
const DELIVERY_HEADERS: &str = "range, if-none-match, if-range";
const DELIVERY_EXPOSE: &str =
    "content-range, content-disposition, accept-ranges, etag, retry-after";

/// Which origins may use the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    /// Normalised origins (`scheme://host[:port]`, lower case).
    pub allowed: HashSet<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
    /// The origin of `VITRINE_PUBLIC_URL`, when set (same-origin).
    pub public_origin: Option<String>,
    /// Whether `X-Forwarded-Host` names this server too (behind a trusted proxy).
    pub trust_forwarded_host: bool,
}

/// Normalises one configured origin; `Err` says why it is not one.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw == "*" {
        return Err("a wildcard is not accepted: list exact origins".into());
    }
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("{raw:?} is not an origin (http:// or https:// and a host)"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', '*', ' '])
        || rest.starts_with(':')
        || rest.ends_with(':')
    {
        return Err(format!(
            "{raw:?} is not an origin (scheme://host[:port], no path, no wildcard)"
        ));
    }
    if let Some((_, port)) = rest.rsplit_once(':')
        && !rest.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("{raw:?} has an invalid port"));
    }
    let scheme = if lower.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{rest}"))
}

/// The origin of a URL such as `VITRINE_PUBLIC_URL` (its path dropped).
pub fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    parse_origin(&format!("{scheme}://{host}")).ok()
}

/// What the route of a request is, for the rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// `/graphql`, `/stats/…`: the API.
    Api,
    /// `/graphql/ws`.
    Socket,
    /// `/r/…`.
    Delivery,
    /// Everything else (share pages, GraphiQL assets, health probes).
    Other,
}

fn area(path: &str) -> Area {
    if path == "/graphql/ws" {
        Area::Socket
    } else if path == "/graphql" || path.starts_with("/stats/") {
        Area::Api
    } else if path.starts_with("/r/") {
        Area::Delivery
    } else {
        Area::Other
    }
}

/// How a request's `Origin` relates to this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin` header: not a cross-origin browser request.
    Absent,
    /// This server's own origin.
    Same,
    /// A listed origin (normalised).
    Allowed(String),
    /// Any other origin (including `null`).
    Foreign,
}

impl CorsPolicy {
    /// Classifies the request's `Origin`.
    pub fn check(&self, req: &Request) -> OriginCheck {
        let Some(origin) = req.header(header::ORIGIN) else {
            return OriginCheck::Absent;
        };
        let Ok(origin) = parse_origin(origin) else {
            return OriginCheck::Foreign;
        };
        let host = req
            .header(header::HOST)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or_default();
        let forwarded = self
            .trust_forwarded_host
            .then(|| req.header("x-forwarded-host"))
            .flatten()
            .map(|h| {
                h.split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        if (!host.is_empty() && authority == host)
            || forwarded.as_deref() == Some(authority)
            || self.public_origin.as_deref() == Some(origin.as_str())
        {
            OriginCheck::Same
        } else if self.allowed.contains(&origin) {
            OriginCheck::Allowed(origin)
        } else {
            OriginCheck::Foreign
        }
    }
}

fn refuse(area: Area) -> Response {
    let message = "this origin may not use this server (VITRINE_CORS_ALLOWED_ORIGINS)";
    let mut response = match area {
        Area::Api => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .content_type("application/json; charset=utf-8")
            .body(
                serde_json::json!({
                    "errors": [{ "message": message, "extensions": { "code": "FORBIDDEN" } }]
                })
                .to_string(),
            ),
        _ => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .content_type("text/plain; charset=utf-8")
            .body(message),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn preflight(policy: &CorsPolicy, area: Area, origin: &str, req: &Request) -> Response {
    let method = req
        .header(header::ACCESS_CONTROL_REQUEST_METHOD)
        .unwrap_or_default();
    let (methods, headers): (&[&str], &str) = match area {
        Area::Api => (&["GET", "POST"], API_HEADERS),
        Area::Delivery => (&["GET", "HEAD"], DELIVERY_HEADERS),
        Area::Socket | Area::Other => (&[], ""),
    };
    if !methods.contains(&method) {
        return refuse(area);
    }
    let mut response = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, methods.join(", "))
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, headers)
        .header(
            header::ACCESS_CONTROL_MAX_AGE,
            policy.max_age.as_secs().to_string(),
        )
        .finish();
    vary(&mut response, true);
    response
}

fn vary(response: &mut Response, preflight: bool) {
    let value = if preflight {
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    } else {
        "Origin"
    };
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static(value));
}

/// The middleware: see the module documentation.
pub async fn cors<E: Endpoint>(
    policy: Arc<CorsPolicy>,
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let area = area(req.uri().path());
    let check = policy.check(&req);
    let is_preflight = req.method() == Method::OPTIONS
        && req.header(header::ACCESS_CONTROL_REQUEST_METHOD).is_some();
    let mut response = match (&check, is_preflight) {
        (OriginCheck::Foreign, _) => refuse(area),
        (OriginCheck::Allowed(origin), true) => preflight(&policy, area, origin, &req),
        // Same-origin requests need no preflight; answer as to any OPTIONS.
        (OriginCheck::Same | OriginCheck::Absent, _) | (OriginCheck::Allowed(_), false)
            if req.method() == Method::OPTIONS =>
        {
            let allow = match area {
                Area::Api => "GET, POST, OPTIONS",
                Area::Delivery => "GET, HEAD, OPTIONS",
                Area::Socket | Area::Other => "GET, OPTIONS",
            };
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ALLOW, allow)
                .finish()
        }
        _ => ep.get_response(req).await,
    };
    if let OriginCheck::Allowed(origin) = &check
        && !is_preflight
        && matches!(area, Area::Api | Area::Delivery)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(if area == Area::Api {
                API_EXPOSE
            } else {
                DELIVERY_EXPOSE
            }),
        );
    }
    if matches!(area, Area::Api | Area::Delivery) && !is_preflight {
        vary(&mut response, false);
    }
    // Pages of this server's own that post forms say `same-origin`
    // themselves (see `share::page`); everything else sends no referrer.
    if !response.headers().contains_key(header::REFERRER_POLICY) {
        response.headers_mut().insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response.headers_mut().insert(
        "Cross-Origin-Resource-Policy",
        HeaderValue::from_static(if area == Area::Delivery {
            "cross-origin"
        } else {
            "same-origin"
        }),
    );
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_or_refused() {
        assert_eq!(
            parse_origin("https://App.Example.com/").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:5173").as_deref(),
            Ok("http://127.0.0.1:5173")
        );
        assert_eq!(
            parse_origin("http://[::1]:8080").as_deref(),
            Ok("http://[::1]:8080")
        );
        for bad in [
            "*",
            "null",
            "app.example.com",
            "https://app.example.com/path",
            "https://*.example.com",
            "https://a.example.com:port",
            "ftp://a.example.com",
            "https://",
            "https://user@a.example.com",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            origin_of_url("https://dam.example.com/vitrine/").as_deref(),
            Some("https://dam.example.com")
        );
    }

    fn request(origin: Option<&str>, host: &str) -> Request {
        let mut builder = Request::builder()
            .uri(poem::http::Uri::from_static("/graphql"))
            .header(header::HOST, host);
        if let Some(o) = origin {
            builder = builder.header(header::ORIGIN, o);
        }
        builder.finish()
    }

    #[test]
    fn origins_are_classified() {
        let policy = CorsPolicy {
            allowed: ["https://app.example.com".to_owned()].into(),
            max_age: Duration::from_secs(600),
            public_origin: Some("https://dam.example.com".into()),
            trust_forwarded_host: false,
        };
        let check = |origin, host| policy.check(&request(origin, host));
        assert_eq!(check(None, "dam.example.com"), OriginCheck::Absent);
        assert_eq!(
            check(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            OriginCheck::Same
        );
        assert_eq!(
            check(Some("https://dam.example.com"), "internal:8080"),
            OriginCheck::Same
        );
        assert_eq!(
            check(Some("https://APP.example.com"), "dam.example.com"),
            OriginCheck::Allowed("https://app.example.com".into())
        );
        for foreign in [
            "https://evil.example.com",
            "http://app.example.com",
            "https://app.example.com:444",
            "null",
            "garbage",
        ] {
            assert_eq!(
                check(Some(foreign), "dam.example.com"),
                OriginCheck::Foreign,
                "{foreign}"
            );
        }
    }
}

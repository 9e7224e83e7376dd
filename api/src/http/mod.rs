//! HTTP routes: the GraphQL endpoint (POST, GET, GraphiQL), WebSocket
//! subscriptions, and the health probes.

pub mod cors;
pub(crate) mod delivery;
mod graphiql;
mod graphql;
mod health;
mod public;
mod share;
mod stats;
pub mod upload;
mod ws;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get};
use tokio_util::sync::CancellationToken;

use crate::graphql::VitrineSchema;
use crate::services::auth::authenticate;
use crate::state::{AppState, Auth, RequestMeta};

/// What every handler can reach.
#[derive(Clone)]
pub struct App {
    pub state: AppState,
    pub schema: VitrineSchema,
    /// Cancelled when the server shuts down (closes WebSocket sessions).
    pub shutdown: CancellationToken,
}

/// The route table with its middleware.
pub fn routes(app: App) -> impl Endpoint {
    let config = &app.state.config;
    let cors_policy = Arc::new(cors::CorsPolicy {
        allowed: config.cors_allowed_origins.iter().cloned().collect(),
        max_age: config.cors_max_age,
        public_origin: config
            .delivery
            .public_url
            .as_deref()
            .and_then(cors::origin_of_url),
        trust_forwarded_host: config.trust_proxy_headers,
    });
    Route::new()
        .at(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .at("/graphql/ws", get(ws::handler))
        .at("/graphql/assets/:file", get(graphiql::asset))
        .at("/r/:token", get(delivery::deliver).head(delivery::deliver))
        .at("/p/:profile/:file", get(public::serve).head(public::serve))
        .at("/s/:token", get(share::show).post(share::unlock))
        .at("/stats/usage.csv", get(stats::usage_csv))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .around(move |ep, req| cors::cors(cors_policy.clone(), ep, req))
        .data(app)
        .with(
            SetHeader::new()
                .overriding("X-Content-Type-Options", "nosniff")
                .overriding("X-Frame-Options", "DENY"),
        )
        .with(CatchPanic::new())
        .around(access_log)
}

/// One log line per request: method, path (never the query string, nor the
/// token of a delivery URL: both are credentials), status, duration.
async fn access_log<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = redact_path(req.uri().path());
    let started = Instant::now();
    let response = ep.get_response(req).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response.into_response())
}

/// A path fit for logs: a delivery token is replaced by `…`.
pub(crate) fn redact_path(path: &str) -> String {
    if path.starts_with("/r/") {
        "/r/…".to_owned()
    } else if path.starts_with("/s/") {
        "/s/…".to_owned()
    } else {
        path.to_owned()
    }
}

/// The client's address and user agent, for the audit log and throttling.
pub(crate) fn request_meta(req: &Request, trust_proxy_headers: bool) -> RequestMeta {
    let forwarded = trust_proxy_headers
        .then(|| req.header("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    let ip = forwarded.or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip()));
    RequestMeta {
        ip: ip.map(|ip| ip.to_string()),
        user_agent: req
            .header("user-agent")
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// Extracts the bearer token of an `Authorization` header value.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Authenticates a request from its `Authorization` header.
pub(crate) async fn request_auth(
    state: &AppState,
    req: &Request,
) -> Result<Auth, crate::error::ApiError> {
    match req.headers().get("authorization") {
        None => Ok(Auth::anonymous()),
        Some(value) => match value.to_str().ok().and_then(bearer) {
            Some(token) => {
                let meta = request_meta(req, state.config.trust_proxy_headers);
                authenticate(state, token, meta.ip.as_deref()).await
            }
            None => Ok(Auth::rejected(
                "malformed Authorization header (expected: Bearer <token>)",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}

//! GraphQL over WebSocket (graphql-transport-ws). The bearer token travels
//! in `connection_init` (`{"authorization": "Bearer ..."}` or
//! `{"token": "..."}`), or in the upgrade request's `Authorization` header;
//! a connection without a valid one is closed with 4403.
//!
//! A socket is not a session of its own: it only names the session its token
//! opened. Every operation sent over it (query, mutation or subscription)
//! re-reads that session, its user, role and organisation exactly as an HTTP
//! request bearing the token would ([`SocketExecutor`]); subscriptions also
//! re-check before each event. When the session stops admitting anyone
//! (signed out, revoked, expired, user disabled, organisation off the
//! allowlist) the socket is closed with 4401: at the next operation, at the
//! next identity change anywhere in the deployment (the event bus), and at
//! the latest after `VITRINE_WS_SESSION_CHECK_INTERVAL`.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Pos, Response};
use async_graphql_poem::GraphQLProtocol;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt, future};
use poem::http::StatusCode;
use poem::web::Data as PoemData;
use poem::web::websocket::{Message, WebSocket, WebSocketConfig};
use poem::{IntoResponse, Request, Response as HttpResponse, handler};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use uuid::Uuid;
use vitrine_entity::AuditAction;
use vitrine_worker::BusEvent;

use super::graphql::{operation_type, serialize_capped, too_large_message};
use super::{App, bearer, request_meta};
use crate::error::ApiError;
use crate::graphql::{DataScope, VitrineSchema, request_data};
use crate::security::hash_token;
use crate::services::auth::{authenticate, reauthenticate_secret};
use crate::state::{AppState, Auth, RequestMeta};

const FORBIDDEN: &str = "Forbidden";

/// The close code of a socket whose session ended after it was admitted.
pub const SESSION_ENDED: u16 = 4401;

/// The token a client sent in its `connection_init` payload.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    let field = |name: &str| payload.get(name).and_then(|v| v.as_str());
    field("authorization")
        .or_else(|| field("Authorization"))
        .and_then(bearer)
        .or_else(|| field("token"))
        .map(str::to_owned)
}

/// Audit events after which an open socket re-reads its session at once
/// (sign-outs, revocations, account and organisation changes).
fn changes_identity(action: &str) -> bool {
    [
        AuditAction::Logout,
        AuditAction::TokenRevoked,
        AuditAction::ApiKeyRevoked,
        AuditAction::UserUpdated,
        AuditAction::UserDisabled,
        AuditAction::PartnerOrgUpdated,
        AuditAction::PartnerOrgRemovedFromAllowlist,
    ]
    .iter()
    .any(|a| a.as_str() == action)
}

/// The session a socket speaks for, and whether it has ended.
struct SocketIdentity {
    /// Set once, when `connection_init` is accepted.
    session_id: OnceLock<Uuid>,
    /// The hash of the secret it was opened with (an API key rotated since
    /// admits the socket only as long as that secret is accepted).
    secret_hash: OnceLock<String>,
    /// Why the session stopped admitting anyone, once it has.
    ended: watch::Sender<Option<String>>,
}

impl SocketIdentity {
    fn new() -> Self {
        Self {
            session_id: OnceLock::new(),
            secret_hash: OnceLock::new(),
            ended: watch::Sender::new(None),
        }
    }

    /// The identity the session admits now. Marks the socket ended when it
    /// admits nobody any more.
    async fn current(&self, state: &AppState) -> Result<Auth, ApiError> {
        let Some(session_id) = self.session_id.get().copied() else {
            return Err(ApiError::Unauthenticated(
                "the connection is not initialised".into(),
            ));
        };
        let hash = self
            .secret_hash
            .get()
            .map(String::as_str)
            .unwrap_or_default();
        let auth = reauthenticate_secret(state, session_id, hash).await?;
        if auth.session_id.is_none() {
            let reason = auth.rejected.unwrap_or("session ended");
            self.ended.send_replace(Some(reason.to_owned()));
            return Err(ApiError::Unauthenticated(reason.into()));
        }
        Ok(auth)
    }
}

/// Runs each operation of a socket with the identity its session admits at
/// that moment (the data attached per operation shadows the connection's).
#[derive(Clone)]
struct SocketExecutor {
    schema: VitrineSchema,
    state: AppState,
    meta: RequestMeta,
    identity: Arc<SocketIdentity>,
}

fn too_large(max: usize) -> Response {
    Response::from_errors(vec![crate::graphql::coded(
        too_large_message(max),
        "RESPONSE_TOO_LARGE",
    )])
}

fn refusal(error: ApiError) -> Response {
    let error: async_graphql::Error = error.into();
    Response::from_errors(vec![error.into_server_error(Pos::default())])
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: async_graphql::Request) -> Response {
        // The protocol streams every operation; this is here for the trait.
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        async_stream::stream! {
            let auth = match this.identity.current(&this.state).await {
                Ok(auth) => auth,
                Err(e) => {
                    yield refusal(e);
                    return;
                }
            };
            // A query or mutation reads once and reuses (one request); a
            // subscription reads afresh at every event.
            let scope = match operation_type(&mut request) {
                Some(OperationType::Query | OperationType::Mutation) => DataScope::Request,
                _ => DataScope::Connection,
            };
            request.data = request_data(&this.state, auth, this.meta.clone(), scope);
            let mut responses = this
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default());
            let max = this.state.config.limits.max_response_bytes;
            while let Some(response) = responses.next().await {
                if serialize_capped(&response, max).is_err() {
                    yield too_large(max);
                } else {
                    yield response;
                }
            }
        }
        .boxed()
    }
}

#[handler]
pub async fn handler(
    req: &Request,
    ws: WebSocket,
    protocol: GraphQLProtocol,
    app: PoemData<&App>,
) -> HttpResponse {
    if protocol.0 != WebSocketProtocols::GraphQLWS {
        return poem::Error::from_string(
            "use the graphql-transport-ws subprotocol",
            StatusCode::BAD_REQUEST,
        )
        .into_response();
    }
    let app = app.0.clone();
    let meta = request_meta(req, app.state.config.trust_proxy_headers);
    let header_token = req
        .header("authorization")
        .and_then(bearer)
        .map(str::to_owned);
    // One message is one request: no larger than an HTTP request's body.
    let max = app.state.config.limits.max_request_bytes;
    ws.protocols(["graphql-transport-ws"])
        .config(
            WebSocketConfig::default()
                .max_message_size(Some(max))
                .max_frame_size(Some(max)),
        )
        .on_upgrade(move |socket| serve(app, meta, header_token, socket))
        .into_response()
}

/// The most operations one socket may run at once (each holds a stream, a
/// bus subscription and its data); beyond it a `subscribe` is refused.
pub const MAX_OPERATIONS: usize = 100;

/// The type and id of a graphql-transport-ws message.
fn kind_and_id(bytes: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let e: Envelope = serde_json::from_slice(bytes).ok()?;
    Some((e.kind, e.id?))
}

fn too_many_operations(id: &str) -> String {
    serde_json::json!({
        "id": id,
        "type": "error",
        "payload": [{
            "message": format!("at most {MAX_OPERATIONS} operations at once on one connection"),
            "extensions": { "code": "TOO_MANY_REQUESTS" },
        }],
    })
    .to_string()
}

async fn serve(
    app: App,
    meta: RequestMeta,
    header_token: Option<String>,
    socket: poem::web::websocket::WebSocketStream,
) {
    let (mut sink, stream) = socket.split();
    // Operations running on this socket, by id: started by `subscribe`,
    // ended by the client's `complete` or the server's `complete`/`error`.
    let running: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();
    let (refusals, mut refused) = tokio::sync::mpsc::unbounded_channel::<String>();
    let counted = running.clone();
    let input = stream
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| future::ready(m.ok()))
        .filter(|m| future::ready(m.is_text() || m.is_binary()))
        .map(Message::into_bytes)
        .filter(move |bytes| {
            let pass = match kind_and_id(bytes) {
                Some((kind, id)) if kind == "subscribe" => {
                    let mut running = counted.lock().unwrap_or_else(|p| p.into_inner());
                    if running.len() >= MAX_OPERATIONS && !running.contains(&id) {
                        let _ = refusals.send(too_many_operations(&id));
                        false
                    } else {
                        running.insert(id);
                        true
                    }
                }
                Some((kind, id)) if kind == "complete" => {
                    counted
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    true
                }
                _ => true,
            };
            future::ready(pass)
        });
    let state = app.state.clone();
    let identity = Arc::new(SocketIdentity::new());
    let executor = SocketExecutor {
        schema: app.schema.clone(),
        state: state.clone(),
        meta,
        identity: identity.clone(),
    };
    let init_identity = identity.clone();
    let init_state = state.clone();
    let init_ip = executor.meta.ip.clone();
    let messages =
        async_graphql::http::WebSocket::new(executor, input, WebSocketProtocols::GraphQLWS)
            .on_connection_init(move |payload| async move {
                let token = payload_token(&payload)
                    .or(header_token)
                    .ok_or_else(|| async_graphql::Error::new(FORBIDDEN))?;
                let auth = authenticate(&init_state, &token, init_ip.as_deref())
                    .await
                    .map_err(|_| async_graphql::Error::new(FORBIDDEN))?;
                let Some(session_id) = auth.session_id else {
                    return Err(async_graphql::Error::new(FORBIDDEN));
                };
                let _ = init_identity.secret_hash.set(hash_token(&token));
                let _ = init_identity.session_id.set(session_id);
                // Nothing about the caller is kept for the connection: each
                // operation gets the identity of its own moment.
                Ok(Data::default())
            });
    let mut messages = std::pin::pin!(messages);
    let mut ended = identity.ended.subscribe();
    let mut bus = state.bus.subscribe();
    let mut bus_open = true;
    let mut ticker = tokio::time::interval(state.config.ws_session_check_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        let recheck = tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => {
                let _ = sink.send(Message::close_with(1001u16, "server shutting down")).await;
                break;
            }
            next = messages.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if let Some((kind, id)) = kind_and_id(text.as_bytes())
                        && (kind == "complete" || kind == "error")
                    {
                        running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    }
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                    false
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = if reason == FORBIDDEN { 4403 } else { code };
                    let _ = sink.send(Message::close_with(code, reason)).await;
                    break;
                }
                None => break,
            },
            Some(text) = refused.recv() => {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
                false
            }
            changed = ended.changed() => {
                let reason = ended.borrow_and_update().clone();
                match (changed, reason) {
                    (Ok(()), Some(reason)) => {
                        let _ = sink
                            .send(Message::close_with(SESSION_ENDED, format!("session ended: {reason}")))
                            .await;
                        break;
                    }
                    _ => false,
                }
            }
            event = bus.recv(), if bus_open => match event {
                Ok(event) => {
                    let BusEvent::Audit(model) = event.as_ref();
                    changes_identity(&model.action)
                }
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => {
                    bus_open = false;
                    false
                }
            },
            _ = ticker.tick() => true,
        };
        if recheck
            && identity.session_id.get().is_some()
            && let Err(e) = identity.current(&state).await
            && !matches!(e, ApiError::Unauthenticated(_))
        {
            tracing::warn!(error = ?e, "could not re-check a WebSocket session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{changes_identity, payload_token};
    use serde_json::json;

    #[test]
    fn tokens_are_found_in_connection_init_payloads() {
        assert_eq!(
            payload_token(&json!({"authorization": "Bearer t1"})).as_deref(),
            Some("t1")
        );
        assert_eq!(
            payload_token(&json!({"Authorization": "Bearer t2"})).as_deref(),
            Some("t2")
        );
        assert_eq!(
            payload_token(&json!({"token": "t3"})).as_deref(),
            Some("t3")
        );
        assert_eq!(payload_token(&json!({})), None);
        assert_eq!(payload_token(&serde_json::Value::Null), None);
    }

    #[test]
    fn identity_changes_are_recognised() {
        assert!(changes_identity("LOGOUT"));
        assert!(changes_identity("TOKEN_REVOKED"));
        assert!(changes_identity("USER_DISABLED"));
        assert!(changes_identity("PARTNER_ORG_REMOVED_FROM_ALLOWLIST"));
        assert!(!changes_identity("ASSET_CREATED"));
    }
}

//! GraphQL subscriptions over WebSocket (graphql-transport-ws). The bearer
//! token travels in `connection_init` (`{"authorization": "Bearer ..."}` or
//! `{"token": "..."}`), or in the upgrade request's `Authorization` header;
//! a connection without a valid one is closed with 4403.

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql_poem::GraphQLProtocol;
use futures_util::{SinkExt, StreamExt, future};
use poem::http::StatusCode;
use poem::web::Data;
use poem::web::websocket::{Message, WebSocket};
use poem::{IntoResponse, Request, Response, handler};

use super::{App, bearer, request_meta};
use crate::graphql::{DataScope, request_data};
use crate::services::auth::authenticate;

const FORBIDDEN: &str = "Forbidden";

/// The token a client sent in its `connection_init` payload.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    let field = |name: &str| payload.get(name).and_then(|v| v.as_str());
    field("authorization")
        .or_else(|| field("Authorization"))
        .and_then(bearer)
        .or_else(|| field("token"))
        .map(str::to_owned)
}

#[handler]
pub async fn handler(
    req: &Request,
    ws: WebSocket,
    protocol: GraphQLProtocol,
    app: Data<&App>,
) -> Response {
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
    ws.protocols(["graphql-transport-ws"])
        .on_upgrade(move |socket| async move {
            let (mut sink, stream) = socket.split();
            let input = stream
                .take_while(|m| future::ready(m.is_ok()))
                .filter_map(|m| future::ready(m.ok()))
                .filter(|m| future::ready(m.is_text() || m.is_binary()))
                .map(Message::into_bytes);
            let state = app.state.clone();
            let messages = async_graphql::http::WebSocket::new(app.schema.clone(), input, protocol.0)
                .on_connection_init(move |payload| async move {
                    let token = payload_token(&payload)
                        .or(header_token)
                        .ok_or_else(|| async_graphql::Error::new(FORBIDDEN))?;
                    let auth = authenticate(&state, &token)
                        .await
                        .map_err(|_| async_graphql::Error::new(FORBIDDEN))?;
                    if auth.session_id.is_none() {
                        return Err(async_graphql::Error::new(FORBIDDEN));
                    }
                    Ok(request_data(&state, auth, meta, DataScope::Connection))
                });
            let mut messages = std::pin::pin!(messages);
            loop {
                tokio::select! {
                    _ = app.shutdown.cancelled() => {
                        let _ = sink.send(Message::close_with(1001u16, "server shutting down")).await;
                        break;
                    }
                    next = messages.next() => match next {
                        Some(WsMessage::Text(text)) => {
                            if sink.send(Message::text(text)).await.is_err() {
                                break;
                            }
                        }
                        Some(WsMessage::Close(code, reason)) => {
                            let code = if reason == FORBIDDEN { 4403 } else { code };
                            let _ = sink.send(Message::close_with(code, reason)).await;
                            break;
                        }
                        None => break,
                    }
                }
            }
        })
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::payload_token;
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
}

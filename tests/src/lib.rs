//! End-to-end test harness: every test starts the real server on port 0 with
//! a fresh database of its own and speaks HTTP and WebSocket to it like a
//! client would.
//!
//! Backends are chosen by environment variables:
//! - `VITRINE_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`):
//!   each test creates its own database `vt_<uuid>` on that server. Unset:
//!   each test gets its own SQLite file.
//! - `VITRINE_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`): queue, event bus
//!   and throttling go through Redis, under a key prefix unique to the test.
//!   Unset: the embedded queue, in-process events and in-memory throttling.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use vitrine_api::app::Running;
use vitrine_api::config::Config;
use vitrine_api::services::users::{self, NewUser};
use vitrine_api::state::{AppState, RequestMeta};
use vitrine_entity::policy::Actor;
use vitrine_entity::{ManualClock, Role, UserKind};

pub use vitrine_api;
pub use vitrine_entity;

/// A password every test user gets unless a test says otherwise.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    /// Whether this server shares another one's database (see [`spawn_peer`]).
    peer: bool,
    pub base: String,
    pub ws_url: String,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    running: Option<Running>,
    data_dir: PathBuf,
    pg: Option<(String, String)>,
}

/// Which backends this run uses (for test names in logs).
pub fn backend() -> &'static str {
    match (
        std::env::var("VITRINE_TEST_DATABASE_URL").is_ok(),
        std::env::var("VITRINE_TEST_REDIS_URL").is_ok(),
    ) {
        (false, false) => "sqlite",
        (true, false) => "postgres",
        (false, true) => "sqlite+redis",
        (true, true) => "postgres+redis",
    }
}

pub fn uses_redis() -> bool {
    std::env::var("VITRINE_TEST_REDIS_URL").is_ok()
}

/// Replaces the database name at the end of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |j| j + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts a server; `tweak` may set configuration values (`VITRINE_*` keys).
pub async fn spawn_with(tweak: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let data_dir = std::env::temp_dir().join(format!("vitrine-test-{id}"));
    let mut env = HashMap::new();
    env.insert("VITRINE_DATA_DIR".into(), data_dir.display().to_string());
    env.insert("VITRINE_LOG".into(), "warn".into());
    env.insert("VITRINE_SHUTDOWN_TIMEOUT".into(), "5s".into());
    let mut pg = None;
    if let Ok(base) = std::env::var("VITRINE_TEST_DATABASE_URL") {
        let name = format!("vt_{id}");
        let admin = Database::connect(base.as_str())
            .await
            .expect("connect to VITRINE_TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a test database");
        admin.close().await.ok();
        env.insert("VITRINE_DATABASE_URL".into(), with_database(&base, &name));
        pg = Some((base, name));
    }
    if let Ok(redis) = std::env::var("VITRINE_TEST_REDIS_URL") {
        env.insert("VITRINE_REDIS_URL".into(), redis);
        env.insert("VITRINE_REDIS_PREFIX".into(), format!("vt-{id}"));
    }
    tweak(&mut env);
    let mut config = Config::from_sources(&env, &HashMap::new()).expect("test configuration");
    config.secret = Some(vitrine_api::config::Secret::new(format!(
        "test-secret-{id}-0123456789"
    )));
    let clock = ManualClock::new(chrono::Utc::now());
    start(config, clock, data_dir, pg, false).await
}

/// Starts a second API server on the same database, Redis prefix and clock,
/// as a scaled-out deployment runs several `vitrine serve` processes.
pub async fn spawn_peer(app: &TestApp) -> TestApp {
    start(
        app.config.clone(),
        app.clock.clone(),
        app.data_dir.clone(),
        None,
        true,
    )
    .await
}

async fn start(
    config: Config,
    clock: ManualClock,
    data_dir: PathBuf,
    pg: Option<(String, String)>,
    peer: bool,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = vitrine_api::app::start(
        config.clone(),
        Arc::new(clock.clone()),
        listener,
        std::future::pending(),
    )
    .await
    .expect("server starts");
    let addr = running.addr;
    TestApp {
        peer,
        base: format!("http://{addr}"),
        ws_url: format!("ws://{addr}/graphql/ws"),
        clock,
        client: reqwest::Client::new(),
        state: running.state.clone(),
        config,
        running: Some(running),
        data_dir,
        pg,
    }
}

impl TestApp {
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// Stops the server and removes what the test created.
    pub async fn finish(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("server stops cleanly");
        }
        self.state.db.clone().close().await.ok();
        if let Some((base, name)) = self.pg.take()
            && let Ok(admin) = Database::connect(base.as_str()).await
        {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .ok();
            admin.close().await.ok();
        }
        if !self.peer {
            std::fs::remove_dir_all(&self.data_dir).ok();
        }
    }

    /// POSTs a GraphQL request and returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_response(token, query, variables)
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    pub async fn gql_response(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a member directly (as `vitrine admin create-user` does).
    pub async fn create_member(&self, email: &str, role: Role) -> uuid::Uuid {
        users::create(
            &self.state,
            &Actor::System,
            NewUser {
                email: email.into(),
                display_name: email.split('@').next().unwrap_or("user").into(),
                password: PASSWORD.into(),
                kind: UserKind::Member,
                role: Some(role),
                partner_org_id: None,
            },
            &RequestMeta::default(),
        )
        .await
        .map_err(|e| e.message())
        .expect("member created")
        .id
    }

    /// Signs in over GraphQL and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        body["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body}"))
            .to_owned()
    }

    /// Creates an admin and signs it in.
    pub async fn admin_token(&self) -> String {
        self.create_member("admin@vitrine.test", Role::Admin).await;
        self.login("admin@vitrine.test", PASSWORD).await
    }

    /// Opens a graphql-transport-ws connection and sends `connection_init`.
    pub async fn ws_connect(&self, init_payload: Value) -> WsClient {
        let mut request = self.ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket upgrade");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": init_payload }).to_string(),
            ))
            .await
            .unwrap();
        WsClient { socket }
    }
}

/// A graphql-transport-ws client.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server sent next.
#[derive(Debug)]
pub enum WsEvent {
    Message(Value),
    Closed(Option<u16>, String),
}

impl WsClient {
    pub async fn next(&mut self, within: Duration) -> WsEvent {
        loop {
            let frame = tokio::time::timeout(within, self.socket.next())
                .await
                .expect("the server answered in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return WsEvent::Message(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    return WsEvent::Closed(
                        frame.as_ref().map(|f| u16::from(f.code)),
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return WsEvent::Closed(None, e.to_string()),
                None => return WsEvent::Closed(None, "stream ended".into()),
            }
        }
    }

    /// The next JSON message (panics on close).
    pub async fn message(&mut self) -> Value {
        match self.next(Duration::from_secs(10)).await {
            WsEvent::Message(v) => v,
            WsEvent::Closed(code, reason) => panic!("closed: {code:?} {reason}"),
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str) {
        self.socket
            .send(Message::text(
                json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string(),
            ))
            .await
            .unwrap();
    }
}

/// `errors[0].extensions.code` of a GraphQL response.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Waits until `check` returns true, polling (for effects of background work).
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "vt_1"),
            "postgres://postgres@127.0.0.1:5432/vt_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "vt_2"),
            "postgres://u:p@h/vt_2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "vt_3"),
            "postgres://h:5432/vt_3"
        );
    }
}

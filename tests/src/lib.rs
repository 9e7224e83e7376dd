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

pub mod images;
pub mod receiver;
pub mod share;

pub use vitrine_api;
pub use vitrine_entity;
pub use vitrine_worker;

/// The bucket the tests use on the S3-compatible test server.
pub const S3_TEST_BUCKET: &str = "vitrine-test";

/// Creates the test bucket on `VITRINE_TEST_S3_ENDPOINT` if it is missing.
pub async fn ensure_s3_bucket() {
    let Ok(endpoint) = std::env::var("VITRINE_TEST_S3_ENDPOINT") else {
        return;
    };
    // The local test server (moto) accepts this unsigned request.
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{S3_TEST_BUCKET}"))
        .send()
        .await
        .expect("the S3 test server answers");
    assert!(
        response.status().is_success() || response.status() == 409,
        "cannot create the test bucket: {}",
        response.status()
    );
}

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
    // Tests of other features deliver unlicensed assets to partners and
    // visitors; the license tests turn this back to the default (false).
    env.insert(
        "VITRINE_LICENSE_UNLICENSED_DELIVERABLE".into(),
        "true".into(),
    );
    // The takedown sweep runs when a test says so (the injected clock moves
    // far faster than a schedule's minutes).
    env.insert("VITRINE_LICENSE_TAKEDOWN_SCHEDULE".into(), "off".into());
    // Likewise the usage rollup; and the anomaly watcher only where a test
    // turns it on (other tests' bursts are not what it is about).
    env.insert("VITRINE_USAGE_ROLLUP_SCHEDULE".into(), "off".into());
    env.insert("VITRINE_ANOMALY_INTERVAL".into(), "off".into());
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
    if let Ok(endpoint) = std::env::var("VITRINE_TEST_S3_ENDPOINT") {
        env.insert(
            "VITRINE_STORAGE_URL".into(),
            format!("s3://{S3_TEST_BUCKET}/{id}"),
        );
        env.insert("VITRINE_S3_ENDPOINT".into(), endpoint);
        env.insert("VITRINE_S3_ACCESS_KEY_ID".into(), "testing".into());
        env.insert("VITRINE_S3_SECRET_ACCESS_KEY".into(), "testing".into());
        ensure_s3_bucket().await;
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

/// Starts a second API server on the same data with another configuration
/// (a rolling deployment with a rotated secret, say).
pub async fn spawn_peer_with(app: &TestApp, config: Config) -> TestApp {
    start(config, app.clock.clone(), app.data_dir.clone(), None, true).await
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

    /// What the server sends within `within`, or `None` if it stays quiet.
    pub async fn quiet_for(&mut self, within: Duration) -> Option<WsEvent> {
        tokio::time::timeout(within, self.next(within + Duration::from_secs(1)))
            .await
            .ok()
    }

    /// The next JSON message (panics on close).
    pub async fn message(&mut self) -> Value {
        match self.next(Duration::from_secs(10)).await {
            WsEvent::Message(v) => v,
            WsEvent::Closed(code, reason) => panic!("closed: {code:?} {reason}"),
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str) {
        self.subscribe_with(id, query, Value::Null).await;
    }

    /// Sends any operation (query, mutation or subscription) with variables.
    pub async fn subscribe_with(&mut self, id: &str, query: &str, variables: Value) {
        self.socket
            .send(Message::text(
                json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })
                    .to_string(),
            ))
            .await
            .unwrap();
    }

    /// Sends a raw text message.
    pub async fn send_raw(&mut self, text: String) {
        // A closed socket refuses the message: the next read says how.
        let _ = self.socket.send(Message::text(text)).await;
    }

    /// Sends an operation and returns its first `next` payload, or how the
    /// socket was closed instead.
    pub async fn operation(&mut self, id: &str, query: &str, variables: Value) -> WsEvent {
        self.subscribe_with(id, query, variables).await;
        loop {
            match self.next(Duration::from_secs(10)).await {
                WsEvent::Message(m) if m["type"] == "next" && m["id"] == id => {
                    return WsEvent::Message(m["payload"].clone());
                }
                WsEvent::Message(m) if m["type"] == "error" && m["id"] == id => {
                    return WsEvent::Message(json!({ "errors": m["payload"] }));
                }
                WsEvent::Message(_) => continue,
                closed => return closed,
            }
        }
    }

    /// Waits for the socket to be closed (skipping messages); the close code
    /// and reason.
    pub async fn closed(&mut self, within: Duration) -> (Option<u16>, String) {
        loop {
            match self.next(within).await {
                WsEvent::Message(_) => continue,
                WsEvent::Closed(code, reason) => return (code, reason),
            }
        }
    }
}

/// Sends a GraphQL multipart request (one file, bound to `$file`) to the
/// server at `base` (a free function, for requests from spawned tasks).
pub async fn upload_with(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    mut variables: Value,
    file: &UploadFile,
) -> reqwest::Response {
    variables["file"] = Value::Null;
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name(file.name.clone())
                .mime_str(&file.content_type)
                .unwrap(),
        );
    let mut request = client.post(format!("{base}/graphql")).multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

/// The bytes of a committed fixture (`tests/fixtures/NAME`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    vitrine_entity::audit_chain::hex(&sha2::Sha256::digest(bytes))
}

/// A file to upload.
#[derive(Debug, Clone)]
pub struct UploadFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl UploadFile {
    pub fn new(name: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            content_type: content_type.into(),
            bytes,
        }
    }

    /// A committed fixture, with the content type its extension suggests.
    pub fn fixture(name: &str) -> Self {
        let content_type = match name.rsplit('.').next() {
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            _ => "application/octet-stream",
        };
        Self::new(name, content_type, fixture(name))
    }
}

impl TestApp {
    /// Sends a GraphQL multipart request (one file, bound to `$file`).
    pub async fn upload_response(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        file: &UploadFile,
    ) -> reqwest::Response {
        upload_with(&self.client, &self.base, token, query, variables, file).await
    }

    pub async fn upload_gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        file: &UploadFile,
    ) -> Value {
        self.upload_response(token, query, variables, file)
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    /// Uploads a new asset and returns `uploadAsset` (id, title, currentVersion).
    pub async fn upload_asset(&self, token: &str, file: &UploadFile, input: Value) -> Value {
        let body = self
            .upload_gql(
                Some(token),
                "mutation($file: Upload!, $input: UploadAssetInput) { uploadAsset(file: $file, input: $input) { id title tags folder { id path } currentVersion { id number stage sha256 bytes mediaType width height filename } } }",
                json!({ "input": input }),
                file,
            )
            .await;
        assert!(body["errors"].is_null(), "upload failed: {body}");
        body["data"]["uploadAsset"].clone()
    }

    /// With Redis the API process runs no workers: start one in this process
    /// (as `vitrine worker` would, with its own event bus connection). Returns
    /// a token that stops it; in the embedded mode nothing is started.
    pub async fn start_worker_if_needed(&self) -> tokio_util::sync::CancellationToken {
        let stop = tokio_util::sync::CancellationToken::new();
        if uses_redis() {
            let mut deps = vitrine_api::app::worker_deps(&self.state);
            deps.bus = vitrine_worker::EventBus::redis(
                self.config.redis_url.as_ref().unwrap().expose(),
                &self.config.redis_prefix,
                stop.clone(),
            )
            .await
            .unwrap();
            let until = stop.clone().cancelled_owned();
            tokio::spawn(async move { vitrine_worker::run_workers(deps, until).await });
        }
        stop
    }

    /// Runs one license takedown sweep now, at the injected clock.
    pub async fn sweep_licenses(&self) -> vitrine_worker::takedown::SweepReport {
        let deps = vitrine_api::app::worker_deps(&self.state);
        vitrine_worker::takedown::sweep(&deps)
            .await
            .expect("the sweep runs")
    }

    /// Runs the usage rollup now (at most `max_batches` batches of `batch`
    /// audit sequence numbers).
    pub async fn rollup_usage(
        &self,
        batch: i64,
        max_batches: Option<u64>,
    ) -> vitrine_worker::usage::RollupReport {
        let settings = vitrine_worker::usage::RollupSettings {
            batch,
            ..Default::default()
        };
        vitrine_worker::usage::rollup(&self.state.db, &settings, max_batches)
            .await
            .expect("the rollup runs")
    }

    /// The bytes of a stored object.
    pub async fn stored(&self, key: &str) -> Vec<u8> {
        let (mut reader, _) = self.state.store.open(key).await.unwrap().expect("stored");
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
            .await
            .unwrap();
        bytes
    }

    /// The number of SQL statements the server has run so far.
    pub fn statements(&self) -> u64 {
        self.state.statements.get()
    }

    /// Counts rows of a table (for "nothing left behind" checks).
    pub async fn count_rows(&self, table: &str) -> i64 {
        use sea_orm::{FromQueryResult, Statement};
        #[derive(FromQueryResult)]
        struct Count {
            n: i64,
        }
        let backend = self.db().get_database_backend();
        Count::find_by_statement(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .one(self.db())
        .await
        .unwrap()
        .map_or(0, |c| c.n)
    }

    /// Waits until every version is processed (READY or FAILED). With Redis
    /// the API runs no workers: the caller must run some.
    pub async fn wait_until_processed(&self, within: Duration) -> bool {
        let db = self.db().clone();
        eventually(within, || {
            let db = db.clone();
            async move {
                use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
                use vitrine_entity::ProcessingState;
                use vitrine_entity::entities::asset_version;
                asset_version::Entity::find()
                    .filter(
                        asset_version::Column::ProcessingState
                            .is_in([ProcessingState::Pending, ProcessingState::Processing]),
                    )
                    .count(&db)
                    .await
                    .unwrap()
                    == 0
            }
        })
        .await
    }

    /// The originals in the blob store.
    pub async fn stored_originals(&self) -> Vec<String> {
        self.state
            .store
            .list("originals/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    }
}

/// Access helpers: folders, partners, grants, access modes and delivery URLs.
impl TestApp {
    /// Creates a folder and returns its id.
    pub async fn create_folder(&self, token: &str, parent: Option<&str>, name: &str) -> String {
        let body = self
            .gql(
                Some(token),
                "mutation($p: ID, $n: String!) { createFolder(input: { parentId: $p, name: $n }) { id } }",
                json!({ "p": parent, "n": name }),
            )
            .await;
        body["data"]["createFolder"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createFolder: {body}"))
            .to_owned()
    }

    /// Creates an allowlisted partner organisation with one user, signs the
    /// user in and returns (organisation id, user id, token).
    pub async fn create_partner(&self, admin: &str, org: &str, email: &str) -> Partner {
        let body = self
            .gql(
                Some(admin),
                "mutation($n: String!) { createPartnerOrg(input: { name: $n, allowlisted: true }) { id } }",
                json!({ "n": org }),
            )
            .await;
        let org_id = body["data"]["createPartnerOrg"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createPartnerOrg: {body}"))
            .to_owned();
        let body = self
            .gql(
                Some(admin),
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                json!({ "i": {
                    "email": email,
                    "displayName": org,
                    "password": PASSWORD,
                    "kind": "PARTNER",
                    "partnerOrgId": org_id,
                } }),
            )
            .await;
        let user_id = body["data"]["createUser"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createUser: {body}"))
            .to_owned();
        let token = self.login(email, PASSWORD).await;
        Partner {
            org_id,
            user_id,
            token,
        }
    }

    /// Grants `level` on a folder to a subject (`USER` or `PARTNER_ORG`).
    pub async fn grant(&self, token: &str, folder: &str, kind: &str, id: &str, level: &str) {
        let body = self
            .gql(
                Some(token),
                "mutation($f: ID!, $s: GrantSubjectInput!, $l: GrantLevel!) { grantAccess(folderId: $f, subject: $s, level: $l) { level } }",
                json!({ "f": folder, "s": { "kind": kind, "id": id }, "l": level }),
            )
            .await;
        assert_eq!(
            body["data"]["grantAccess"]["level"], level,
            "grantAccess: {body}"
        );
    }

    /// Takes a grant away; returns the response.
    pub async fn revoke(&self, token: &str, folder: &str, kind: &str, id: &str) -> Value {
        self.gql(
            Some(token),
            "mutation($f: ID!, $s: GrantSubjectInput!) { revokeAccess(folderId: $f, subject: $s) }",
            json!({ "f": folder, "s": { "kind": kind, "id": id } }),
        )
        .await
    }

    /// Sets the access mode and window of assets; returns the response.
    pub async fn set_access(
        &self,
        token: &str,
        ids: &[&str],
        mode: &str,
        starts_at: Option<chrono::DateTime<chrono::Utc>>,
        ends_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Value {
        self.gql(
            Some(token),
            "mutation($i: SetAccessInput!) { setAccess(input: $i) { id accessMode accessStartsAt accessEndsAt } }",
            json!({ "i": {
                "assetIds": ids,
                "mode": mode,
                "startsAt": starts_at.map(|t| t.to_rfc3339()),
                "endsAt": ends_at.map(|t| t.to_rfc3339()),
            } }),
        )
        .await
    }

    /// Asks for a delivery URL: the absolute URL, or the GraphQL response
    /// when it was refused.
    pub async fn delivery_url(
        &self,
        token: &str,
        asset: &str,
        kind: &str,
        ttl_seconds: Option<i64>,
    ) -> Result<String, Value> {
        let body = self
            .gql(
                Some(token),
                "query($id: ID!, $k: DeliveryKind!, $t: Int) { asset(id: $id) { url(kind: $k, ttlSeconds: $t) } }",
                json!({ "id": asset, "k": kind, "t": ttl_seconds }),
            )
            .await;
        match body["data"]["asset"]["url"].as_str() {
            Some(url) if url.starts_with('/') => Ok(format!("{}{url}", self.base)),
            Some(url) => Ok(url.to_owned()),
            None => Err(body),
        }
    }

    /// Creates a share link; returns its absolute page URL and its id.
    pub async fn create_share_link(&self, token: &str, input: Value) -> (String, String) {
        let body = self
            .gql(
                Some(token),
                "mutation($i: CreateShareLinkInput!) { createShareLink(input: $i) { url link { id } } }",
                json!({ "i": input }),
            )
            .await;
        let url = body["data"]["createShareLink"]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("createShareLink: {body}"));
        (
            format!("{}{url}", self.base),
            body["data"]["createShareLink"]["link"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// GETs a URL without credentials (as a browser following a link).
    pub async fn fetch(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("request sent")
    }
}

/// A partner user of its own organisation.
#[derive(Debug, Clone)]
pub struct Partner {
    pub org_id: String,
    pub user_id: String,
    pub token: String,
}

/// What `exiftool -j -G1` reads from a file, or `None` when exiftool is not
/// installed (`.ci/run` installs it and sets `VITRINE_TEST_REQUIRE_EXIFTOOL`,
/// which turns its absence into a failure).
pub fn exiftool(bytes: &[u8]) -> Option<Value> {
    let dir = std::env::temp_dir().join(format!("vitrine-exif-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("file.jpg");
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new("exiftool")
        .args(["-j", "-G1", "-a", "-struct"])
        .arg(&path)
        .output();
    std::fs::remove_dir_all(&dir).ok();
    match output {
        Ok(o) if o.status.success() || !o.stdout.is_empty() => {
            let parsed: Value = serde_json::from_slice(&o.stdout).expect("exiftool JSON");
            Some(parsed[0].clone())
        }
        _ => {
            assert!(
                std::env::var("VITRINE_TEST_REQUIRE_EXIFTOOL").is_err(),
                "exiftool is required here but cannot be run"
            );
            eprintln!("exiftool is not installed: skipping the independent check");
            None
        }
    }
}

/// The dimensions an independent decoder reads from an AVIF (`avifdec`,
/// libavif with dav1d or libaom) or WebP (`dwebp`, libwebp) file, or `None`
/// when the tool is not installed (`.ci/run` installs them and sets
/// `VITRINE_TEST_REQUIRE_DECODERS`, which turns their absence into a
/// failure). Panics when the tool refuses the file.
pub fn independent_decode(bytes: &[u8], format: &str) -> Option<(u32, u32)> {
    let dir = std::env::temp_dir().join(format!("vitrine-decode-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("in.{format}"));
    let output = dir.join("out.png");
    std::fs::write(&input, bytes).unwrap();
    let mut command = match format {
        "avif" => {
            let mut c = std::process::Command::new("avifdec");
            c.arg(&input).arg(&output);
            c
        }
        "webp" => {
            let mut c = std::process::Command::new("dwebp");
            c.arg(&input).arg("-o").arg(&output);
            c
        }
        other => panic!("no independent decoder for {other}"),
    };
    let ran = command.output();
    let result = match ran {
        Ok(o) => {
            assert!(
                o.status.success(),
                "{format} refused by its reference decoder: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let png = std::fs::read(&output).expect("decoded file");
            let img = image::load_from_memory(&png).expect("the decoder's PNG");
            Some((img.width(), img.height()))
        }
        Err(_) => {
            assert!(
                std::env::var("VITRINE_TEST_REQUIRE_DECODERS").is_err(),
                "the {format} reference decoder is required here but cannot be run"
            );
            eprintln!("no {format} reference decoder: skipping the independent check");
            None
        }
    };
    std::fs::remove_dir_all(&dir).ok();
    result
}

/// Decodes an image to RGB8 pixels (for pixel-identity checks).
pub fn pixels(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let img = image::load_from_memory(bytes).expect("decodable").to_rgb8();
    (img.width(), img.height(), img.into_raw())
}

/// The resident memory of this process (server and clients), in bytes.
pub fn rss_bytes() -> u64 {
    proc_status_kib("VmRSS") * 1024
}

/// The peak resident memory of this process since the last
/// [`reset_peak_rss`], in bytes.
pub fn peak_rss_bytes() -> u64 {
    proc_status_kib("VmHWM") * 1024
}

/// Starts measuring the peak resident memory afresh (Linux: `clear_refs` 5).
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing from /proc/self/status"))
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

/// The `vitrine` binary of this workspace, built if needed (same features as
/// the test build, so nothing is rebuilt but the binary itself).
pub fn vitrine_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--workspace", "--bins"])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cannot build the vitrine binary");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug").join("vitrine")
}

/// A child process killed when dropped (a failing test leaves nothing behind).
pub struct ChildGuard(pub std::process::Child);

impl ChildGuard {
    pub fn new(child: std::process::Child) -> Self {
        Self(child)
    }

    /// SIGKILL, and wait for it.
    pub fn kill9(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().ok();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

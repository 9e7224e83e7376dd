//! Amplification through GraphQL: a small request must not make the server
//! do (or hold) a lot. List sizes count in the complexity, multiplied down
//! the tree; a batch shares one budget; aliases are capped; responses are
//! capped. Refusals come with a code and before any resolver runs.

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, spawn_app, spawn_with};

/// `n` aliases of a page of `first` assets with a delivery URL each.
fn aliased_pages(n: usize, first: usize) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| {
            format!("a{i}: assets(first: {first}) {{ edges {{ node {{ id title tags url(kind: THUMBNAIL) }} }} }}")
        })
        .collect();
    format!("{{ {} }}", fields.join(" "))
}

async fn post(app: &TestApp, token: &str, body: &Value) -> (reqwest::StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// The fewest SQL statements `body` ran in twenty tries (background work
/// only ever adds to the process-wide counter; on PostgreSQL with Redis,
/// background statements such as job lease renewals landed inside all
/// five half-second batch requests in about one run of three).
async fn statements_of(app: &TestApp, token: &str, body: &Value) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..20 {
        let before = app.statements();
        post(app, token, body).await;
        least = least.min(app.statements() - before);
    }
    least
}

async fn viewer(app: &TestApp) -> String {
    app.create_member("viewer@example.com", Role::Viewer).await;
    app.login("viewer@example.com", PASSWORD).await
}

#[tokio::test]
async fn a_batch_of_aliased_pages_is_refused_before_any_resolver_runs() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.upload_asset(&admin, &UploadFile::fixture("garden.jpg"), json!({}))
        .await;
    let _worker = app.start_worker_if_needed().await;
    // Processing runs statements too: let it finish before counting.
    assert!(
        app.wait_until_processed(std::time::Duration::from_secs(60))
            .await
    );
    let token = viewer(&app).await;
    // The probe: 10 operations of 100 aliased 200-asset pages with URLs.
    let query = aliased_pages(100, 200);
    let batch = Value::Array(vec![json!({ "query": query }); 10]);
    assert!(batch.to_string().len() > 80_000);
    let (status, body) = post(&app, &token, &batch).await;
    assert_eq!(status, 200);
    let responses = body.as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(responses.len(), 10);
    for r in responses {
        assert_eq!(error_code(r), Some("QUERY_TOO_COMPLEX"), "{r}");
        assert!(r["data"].is_null(), "{r}");
    }
    // Nothing ran but the identity check a trivial request costs too.
    let trivial = statements_of(&app, &token, &json!({ "query": "{ __typename }" })).await;
    assert_eq!(statements_of(&app, &token, &batch).await, trivial);
    app.finish().await;
}

#[tokio::test]
async fn list_sizes_count_and_a_batch_shares_one_budget() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload_asset(&token, &UploadFile::fixture("garden.jpg"), json!({}))
        .await;
    let page = "{ assets(first: 200) { edges { node { id title tags url(kind: THUMBNAIL) folder { id path } } } } }";
    // One page of 200 is within the budget...
    let (_, body) = post(&app, &token, &json!({ "query": page })).await;
    assert!(body["errors"].is_null(), "{body}");
    // ...ten of them in one request are not: none runs.
    let batch = Value::Array(vec![json!({ "query": page }); 10]);
    let (_, body) = post(&app, &token, &batch).await;
    for r in body.as_array().unwrap() {
        assert_eq!(error_code(r), Some("QUERY_TOO_COMPLEX"), "{r}");
        assert!(
            r["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("together"),
            "{r}"
        );
        assert!(r["data"].is_null());
    }
    // A page size counts: 10 aliases of a default page pass, of 1000 not.
    let (_, body) = post(&app, &token, &json!({ "query": aliased_pages(3, 50) })).await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = post(&app, &token, &json!({ "query": aliased_pages(3, 1000) })).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn a_field_selected_too_many_times_is_refused() {
    let app = spawn_app().await;
    let token = viewer(&app).await;
    let many: Vec<String> = (0..26).map(|i| format!("m{i}: me {{ id }}")).collect();
    let (_, body) = post(
        &app,
        &token,
        &json!({ "query": format!("{{ {} }}", many.join(" ")) }),
    )
    .await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`me`"),
        "{body}"
    );
    // Over a WebSocket too.
    let mut ws = app.ws_connect(json!({ "token": token })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    match ws
        .operation("many", &format!("{{ {} }}", many.join(" ")), Value::Null)
        .await
    {
        vitrine_tests::WsEvent::Message(p) => {
            assert_eq!(error_code(&p), Some("QUERY_TOO_COMPLEX"), "{p}")
        }
        other => panic!("{other:?}"),
    }
    app.finish().await;
}

#[tokio::test]
async fn a_response_larger_than_the_cap_is_replaced_by_an_error() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_RESPONSE_BYTES".into(), "1000".into());
    })
    .await;
    let token = app.admin_token().await;
    for _ in 0..4 {
        app.upload_asset(
            &token,
            &UploadFile::fixture("garden.jpg"),
            json!({ "title": "x".repeat(290) }),
        )
        .await;
    }
    let (status, body) = post(
        &app,
        &token,
        &json!({ "query": "{ assets(first: 10) { edges { node { id title } } } }" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("RESPONSE_TOO_LARGE"), "{body}");
    let (_, body) = post(&app, &token, &json!({ "query": "{ me { id } }" })).await;
    assert!(body["errors"].is_null(), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn a_socket_runs_a_bounded_number_of_operations_and_messages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut ws = app.ws_connect(json!({ "token": admin })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    for i in 0..100 {
        ws.subscribe(&format!("s{i}"), "subscription { auditFeed { seq } }")
            .await;
    }
    ws.subscribe("one-too-many", "subscription { auditFeed { seq } }")
        .await;
    let refusal = ws.message().await;
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["id"], "one-too-many");
    assert_eq!(
        refusal["payload"][0]["extensions"]["code"],
        "TOO_MANY_REQUESTS"
    );
    // Completing one makes room for another.
    ws.send_raw(json!({ "id": "s0", "type": "complete" }).to_string())
        .await;
    match ws.operation("after", "{ me { email } }", Value::Null).await {
        vitrine_tests::WsEvent::Message(p) => assert!(p["errors"].is_null(), "{p}"),
        other => panic!("{other:?}"),
    }
    // A message larger than a request body may be ends the connection.
    let big = "x".repeat(2 << 20);
    ws.send_raw(
        json!({ "id": "big", "type": "subscribe", "payload": { "query": format!("{{ me {{ email }} }} #{big}") } })
            .to_string(),
    )
    .await;
    let (code, reason) = ws.closed(std::time::Duration::from_secs(10)).await;
    assert!(code.is_none() || code == Some(1009), "{code:?} {reason}");
    app.finish().await;
}

//! The GraphQL endpoint as an HTTP client sees it.

use serde_json::{Value, json};
use vitrine_tests::{error_code, spawn_app, spawn_with};

#[tokio::test]
async fn typename_over_post_and_get() {
    let app = spawn_app().await;
    let body = app.gql(None, "{ __typename }", Value::Null).await;
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));

    let response = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query");
    app.finish().await;
}

#[tokio::test]
async fn get_refuses_mutations_and_browsers_get_graphiql() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    let page = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    app.finish().await;
}

#[tokio::test]
async fn graphql_response_json_gets_status_codes_and_json_gets_200() {
    let app = spawn_app().await;
    for (accept, status) in [
        ("application/graphql-response+json", 400),
        ("application/json", 200),
    ] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .header("accept", accept)
            .json(&json!({ "query": "{ nosuchfield }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{accept}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(accept)
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), Some("GRAPHQL_VALIDATION_FAILED"));
    }
    let body = app.gql(None, "{ __typename ", Value::Null).await;
    assert_eq!(error_code(&body), Some("GRAPHQL_PARSE_FAILED"));
    app.finish().await;
}

#[tokio::test]
async fn malformed_unsupported_and_oversized_bodies_are_refused() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_REQUEST_BYTES".into(), "2048".into());
        env.insert("VITRINE_MAX_UPLOAD_BYTES".into(), "4096".into());
    })
    .await;
    let url = format!("{}/graphql", app.base);

    let malformed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    let text = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{ __typename }")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);

    let padding = " ".repeat(4096);
    let big = app
        .client
        .post(&url)
        .json(&json!({ "query": format!("{{ __typename {padding} }}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let body: Value = big.json().await.unwrap();
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"));

    // A multipart upload over the upload limit, per the GraphQL multipart request spec.
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": "mutation($f: Upload!) { __typename }", "variables": { "f": null } })
                .to_string(),
        )
        .text("map", json!({ "0": ["variables.f"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(vec![0u8; 64 * 1024]).file_name("big.jpg"),
        );
    let upload = app.client.post(&url).multipart(form).send().await.unwrap();
    assert_eq!(upload.status(), 413);
    let body: Value = upload.json().await.unwrap();
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"));
    app.finish().await;
}

#[tokio::test]
async fn depth_and_batch_limits() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_QUERY_DEPTH".into(), "4".into());
        env.insert("VITRINE_MAX_BATCH_SIZE".into(), "3".into());
    })
    .await;
    let deep =
        "{ me { partnerOrg { id } } __schema { types { fields { type { ofType { name } } } } } }";
    let body = app.gql(None, deep, Value::Null).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_DEEP"), "{body}");
    assert_eq!(body["data"], Value::Null);

    let url = format!("{}/graphql", app.base);
    let three: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let ok: Value = app
        .client
        .post(&url)
        .json(&three)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok.as_array().map(Vec::len), Some(3));
    assert_eq!(ok[2]["data"]["__typename"], "Query");

    let four: Vec<Value> = (0..4)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let refused = app.client.post(&url).json(&four).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    app.finish().await;
}

#[tokio::test]
async fn complexity_limit() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_QUERY_COMPLEXITY".into(), "10".into());
    })
    .await;
    let wide = "{ a: me { id email } b: me { id email } c: me { id email } d: me { id email } }";
    let body = app.gql(None, wide, Value::Null).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn every_error_carries_a_code() {
    let app = spawn_app().await;
    let body = app
        .gql(
            None,
            "query A { __typename } query B { __typename }",
            Value::Null,
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app.gql(None, "{ me { id } }", Value::Null).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let body = app
        .gql(None, "{ user(id: \"not-a-uuid\") { id } }", Value::Null)
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    app.finish().await;
}

#[tokio::test]
async fn introspection_and_graphiql_can_be_turned_off() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_INTROSPECTION".into(), "false".into());
    })
    .await;
    // The schema is not revealed (async-graphql answers null).
    let body = app
        .gql(None, "{ __schema { queryType { name } } }", Value::Null)
        .await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");
    let open = spawn_with(|env| {
        env.insert("VITRINE_INTROSPECTION".into(), "everyone".into());
    })
    .await;
    let body = open
        .gql(None, "{ __schema { queryType { name } } }", Value::Null)
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    open.finish().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    // Ordinary queries still work.
    let body = app.gql(None, "{ __typename }", Value::Null).await;
    assert_eq!(body["data"]["__typename"], "Query");
    app.finish().await;
}

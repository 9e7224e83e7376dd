//! GraphQL over HTTP conformance: the graphql-http server audits
//! (`tests/graphql-http/audit.mjs`, npm `graphql-http`) against the real
//! `vitrine serve` binary pass with no warning, no error and no failing MAY
//! audit; and the same behaviours checked directly: a body without `query` is
//! 400 BAD_USER_INPUT, a request refused before execution has no `data`
//! entry (400 under `application/graphql-response+json`, 200 under
//! `application/json`), parse errors are sentences, an oversized response
//! says `data: null` with 200, ordinary answers are unchanged.
//!
//! The audit needs Node.js and `npm ci --prefix tests/graphql-http`; without
//! them it says so and passes, unless `VITRINE_TEST_REQUIRE_BROWSER` is set
//! (`.ci/run` installs them and sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vitrine_tests::{ChildGuard, TestApp, error_code, spawn_app, spawn_with, vitrine_binary};

const GQL_RESPONSE: &str = "application/graphql-response+json";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The audit's directory, or `None` (after saying why) when it cannot run
/// here and is not required.
fn audit_harness() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql-http");
    let ready = if !dir.join("node_modules/graphql-http").is_dir() {
        Err(format!("run `npm ci --prefix {}`", dir.display()))
    } else {
        match Command::new("node").arg("--version").output() {
            Ok(o) if o.status.success() => Ok(()),
            _ => Err("node is not installed".to_owned()),
        }
    };
    if let Err(why) = ready {
        assert!(
            std::env::var("VITRINE_TEST_REQUIRE_BROWSER").is_err(),
            "the graphql-http audit is required here: {why}"
        );
        eprintln!("skipping the graphql-http audit: {why}");
        return None;
    }
    Some(dir)
}

#[tokio::test]
async fn the_graphql_http_audit_passes_against_the_real_binary() {
    let Some(dir) = audit_harness() else {
        return;
    };
    let binary = vitrine_binary();
    let data = std::env::temp_dir().join(format!(
        "vitrine-conformance-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let port = free_port();
    let _server = ChildGuard::new(
        Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VITRINE_DATA_DIR", &data)
            .env("VITRINE_BIND", format!("127.0.0.1:{port}"))
            .env("VITRINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts"),
    );
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&health).await.is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(dir.join("audit.mjs"))
            .env("VT_GRAPHQL_URL", format!("http://127.0.0.1:{port}/graphql"))
            .output(),
    )
    .await
    .expect("the audit finished in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("graphql-http audit: "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    assert!(
        output.status.success() && summary.ends_with(" ok, 0 warnings, 0 errors"),
        "{summary}\n{stdout}\n{stderr}"
    );
    // The MAY audits pass too (400 for a body without `query` under
    // application/json is one of them).
    assert!(!stdout.contains("notices"), "failing MAY audits:\n{stdout}");
    std::fs::remove_dir_all(&data).ok();
}

/// POSTs `body` as JSON with `Accept: accept`: status and parsed body.
async fn post(app: &TestApp, accept: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("accept", accept)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with(accept),
        "{content_type} for {accept}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_body_without_a_query_is_a_bad_request_under_both_media_types() {
    let app = spawn_app().await;
    for accept in [GQL_RESPONSE, "application/json"] {
        for body in [
            json!({ "qeury": "{ __typename }" }),
            json!({ "query": null }),
            json!({ "variables": {} }),
        ] {
            let (status, answer) = post(&app, accept, &body).await;
            assert_eq!(status, 400, "{accept} {body}");
            assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
            assert_eq!(
                answer["errors"][0]["message"],
                "the query parameter is required"
            );
            assert!(answer.get("data").is_none(), "{answer}");
        }
        // Each operation of a batch needs one.
        let (status, answer) = post(
            &app,
            accept,
            &json!([{ "query": "{ __typename }" }, { "qeury": "{ __typename }" }]),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"));
        assert_eq!(
            answer["errors"][0]["message"],
            "the query parameter is required (operation 2 of the batch)"
        );
        // Parameters of the wrong type are named.
        for (body, message) in [
            (
                json!({ "query": { "a": 1 } }),
                "the query parameter must be a string, not an object",
            ),
            (
                json!({ "query": "{ __typename }", "variables": "{}" }),
                "the variables parameter must be an object, not a string",
            ),
            (
                json!({ "query": "{ __typename }", "operationName": 1 }),
                "the operationName parameter must be a string, not a number",
            ),
        ] {
            let (status, answer) = post(&app, accept, &body).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(answer["errors"][0]["message"], message);
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn requests_refused_before_execution_have_no_data_and_parse_errors_are_sentences() {
    let app = spawn_app().await;
    for (accept, refused_status) in [(GQL_RESPONSE, 400), ("application/json", 200)] {
        // A parse error.
        let (status, answer) = post(&app, accept, &json!({ "query": "{ " })).await;
        assert_eq!(status, refused_status, "{accept}");
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(error_code(&answer), Some("GRAPHQL_PARSE_FAILED"));
        assert_eq!(
            answer["errors"][0]["message"],
            "Syntax error at line 1, column 3: the document ends before the `{` at line 1, column 1 is closed."
        );
        assert_eq!(
            answer["errors"][0]["locations"],
            json!([{ "line": 1, "column": 3 }])
        );
        // A validation error.
        let (status, answer) = post(&app, accept, &json!({ "query": "{ nosuchfield }" })).await;
        assert_eq!(status, refused_status, "{accept}");
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(error_code(&answer), Some("GRAPHQL_VALIDATION_FAILED"));
        // A variable of the wrong type.
        let (status, answer) = post(
            &app,
            accept,
            &json!({ "query": "query($n: Int!) { __typename }", "variables": { "n": "x" } }),
        )
        .await;
        assert_eq!(status, refused_status, "{accept}");
        assert!(answer.get("data").is_none(), "{answer}");
        // In a batch, the refused operation has no data, the other has.
        let (status, answer) = post(
            &app,
            accept,
            &json!([{ "query": "{ __typename }" }, { "query": "{ nosuchfield }" }]),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer[0], json!({ "data": { "__typename": "Query" } }));
        assert!(answer[1].get("data").is_none(), "{answer}");
        assert_eq!(
            answer[1]["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );

        // Executed: data stays, with an error on a field.
        let (status, answer) = post(&app, accept, &json!({ "query": "{ me { id } }" })).await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("data").is_some(), "{answer}");
        assert_eq!(error_code(&answer), Some("UNAUTHENTICATED"));
        // Ordinary answers are unchanged.
        let (status, answer) = post(&app, accept, &json!({ "query": "{ __typename }" })).await;
        assert_eq!(status, 200);
        assert_eq!(answer, json!({ "data": { "__typename": "Query" } }));
    }

    // Typical mistakes, read as sentences (locations kept).
    for (query, message) in [
        (
            "",
            "Syntax error at line 1, column 1: the document is empty; expected an operation such as `{ __typename }`.",
        ),
        (
            "{ me { email }",
            "Syntax error at line 1, column 15: the document ends before the `{` at line 1, column 1 is closed.",
        ),
        (
            "{ }",
            "Syntax error at line 1, column 3: unexpected `}`; expected a field.",
        ),
        (
            "{ me { email } ? }",
            "Syntax error at line 1, column 16: unexpected `?`; expected a field.",
        ),
        (
            "{ me { email }} }",
            "Syntax error at line 1, column 17: unexpected `}`; expected the end of the document, `query`, `mutation`, `subscription`, `fragment` or `{`.",
        ),
    ] {
        let body = app.gql(None, query, Value::Null).await;
        assert_eq!(body["errors"][0]["message"], message, "{query:?}: {body}");
        assert!(
            body["errors"][0]["locations"][0]["line"].is_number(),
            "{body}"
        );
    }
    // Over GET too.
    let response = app
        .client
        .get(format!("{}/graphql", app.base))
        .header("accept", GQL_RESPONSE)
        .query(&[("query", "{ __typename")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("data").is_none(), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Syntax error at line 1, column 13: "),
        "{body}"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_oversized_response_is_data_null_with_200_under_both_media_types() {
    let app = spawn_with(|env| {
        env.insert("VITRINE_MAX_RESPONSE_BYTES".into(), "200".into());
    })
    .await;
    let wide = format!(
        "{{ {} }}",
        (0..24)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for accept in [GQL_RESPONSE, "application/json"] {
        let (status, answer) = post(&app, accept, &json!({ "query": wide })).await;
        assert_eq!(status, 200, "{accept}: {answer}");
        assert_eq!(answer["data"], Value::Null);
        assert!(answer.get("data").is_some(), "{answer}");
        assert_eq!(error_code(&answer), Some("RESPONSE_TOO_LARGE"));
        // A batch: one such answer per operation, still an array.
        let (status, answer) = post(
            &app,
            accept,
            &json!([{ "query": wide }, { "query": "{ __typename }" }]),
        )
        .await;
        assert_eq!(status, 200);
        let all = answer.as_array().expect("an array for a batch");
        assert_eq!(all.len(), 2);
        for one in all {
            assert!(one.get("data").is_some_and(Value::is_null), "{one}");
            assert_eq!(one["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE");
        }
        // A small answer still passes.
        let (_, answer) = post(&app, accept, &json!({ "query": "{ __typename }" })).await;
        assert_eq!(answer, json!({ "data": { "__typename": "Query" } }));
    }
    app.finish().await;
}

#[tokio::test]
async fn an_upload_whose_operations_lack_a_query_is_a_bad_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            r#"{"qeury":"mutation { logout }","variables":{}}"#,
        )
        .text("map", "{}");
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(
        body["errors"][0]["message"], "operations: the query parameter is required",
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    // The token still works: nothing ran.
    let me = app.gql(Some(&admin), "{ me { email } }", json!({})).await;
    assert!(me["errors"].is_null(), "{me}");
    app.finish().await;
}

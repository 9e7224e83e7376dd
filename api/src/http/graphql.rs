//! The GraphQL-over-HTTP endpoint: POST (JSON and multipart uploads, with
//! size, file-count and batch limits), GET for queries, GraphiQL for browsers.
//!
//! It follows the GraphQL over HTTP specification (checked by the
//! graphql-http server audits, `tests/graphql-http`): a body that is not a
//! GraphQL request — no `query`, a parameter of the wrong type — is 400 under
//! both media types; under `application/graphql-response+json` a request
//! refused before execution (parse, validation, limits) is 400; and such a
//! refusal has no `data` entry under either media type, since nothing ran.

use std::fmt;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Variables};
use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::upload::{self, ReceiveError, ReceivedFiles};
use super::{App, request_auth, request_meta};
use crate::graphql::budget::BatchBudget;
use crate::graphql::{DataScope, request_data};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Which media type the client asked for (GraphQL over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// `application/json`: every well-formed request gets 200.
    Json,
    /// `application/graphql-response+json`: request errors get 4xx.
    GraphqlResponse,
}

fn flavor(req: &Request) -> Flavor {
    let accept = req
        .header("accept")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if accept.contains(GRAPHQL_RESPONSE_JSON) {
        Flavor::GraphqlResponse
    } else {
        Flavor::Json
    }
}

fn content_type(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Json => "application/json; charset=utf-8",
        Flavor::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
    }
}

/// A response for a request that never reached GraphQL execution.
fn request_error(status: StatusCode, code: &str, message: &str, flavor: Flavor) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    Response::builder()
        .status(status)
        .content_type(content_type(flavor))
        .header("Cache-Control", "no-store")
        .body(body.to_string())
}

#[handler]
pub async fn post_handler(req: &Request, body: Body, app: Data<&App>) -> Response {
    let flavor = flavor(req);
    let limits = &app.state.config.limits;
    let content_type_header = req.content_type().map(str::to_owned);
    let media = content_type_header
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let declared_length = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());

    let batch = match media.as_str() {
        "multipart/form-data" => {
            if declared_length.is_some_and(|n| n > limits.max_upload_bytes) {
                return too_large(limits.max_upload_bytes, flavor);
            }
            // Uploads are for signed-in users only: refuse before reading a byte.
            let auth = match request_auth(&app.state, req).await {
                Ok(auth) => auth,
                Err(e) => return internal(e, flavor),
            };
            if auth.session_id.is_none() {
                return request_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    auth.rejected.unwrap_or("authentication required"),
                    flavor,
                );
            }
            let content_type = content_type_header.unwrap_or_default();
            let tmp_dir = app.state.uploads.path().to_path_buf();
            return match upload::receive(&content_type, body, limits, &tmp_dir).await {
                // Receiving may take minutes: the identity is read again for
                // the mutation itself (a session revoked meanwhile uploads nothing).
                Ok((batch, files)) => execute(&app, req, batch, flavor, files).await,
                Err(ReceiveError::TooLarge(limit)) => too_large(limit, flavor),
                Err(ReceiveError::TooManyFiles(n)) => request_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    &format!("at most {n} files per request"),
                    flavor,
                ),
                Err(ReceiveError::BadRequest(message)) => {
                    request_error(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message, flavor)
                }
                Err(ReceiveError::Io(message)) => {
                    internal(crate::error::ApiError::Internal(message.into()), flavor)
                }
            };
        }
        "application/json" | "application/graphql-response+json" => {
            if declared_length.is_some_and(|n| n > limits.max_request_bytes as u64) {
                return too_large(limits.max_request_bytes as u64, flavor);
            }
            let bytes = match body.into_bytes_limit(limits.max_request_bytes).await {
                Ok(bytes) => bytes,
                Err(ReadBodyError::PayloadTooLarge) => {
                    return too_large(limits.max_request_bytes as u64, flavor);
                }
                Err(e) => {
                    return request_error(
                        StatusCode::BAD_REQUEST,
                        "BAD_USER_INPUT",
                        &format!("cannot read the request body: {e}"),
                        flavor,
                    );
                }
            };
            if let Err(message) = check_params(&bytes) {
                return request_error(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message, flavor);
            }
            match serde_json::from_slice::<BatchRequest>(&bytes) {
                Ok(batch) => batch,
                Err(e) => {
                    return request_error(
                        StatusCode::BAD_REQUEST,
                        "BAD_USER_INPUT",
                        &format!("the body is not a GraphQL request: {e}"),
                        flavor,
                    );
                }
            }
        }
        _ => {
            return request_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "BAD_USER_INPUT",
                "send application/json (or multipart/form-data for uploads)",
                flavor,
            );
        }
    };
    execute(&app, req, batch, flavor, Vec::new()).await
}

fn internal(e: crate::error::ApiError, flavor: Flavor) -> Response {
    let error: async_graphql::Error = e.into();
    request_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        &error.message,
        flavor,
    )
}

fn too_large(limit: u64, flavor: Flavor) -> Response {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the request body exceeds the limit of {limit} bytes"),
        flavor,
    )
}

/// The JSON type of a value, read without keeping the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Boolean => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        })
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Boolean)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind::Number)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
        Ok(Kind::String)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Kind::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Kind::Object)
    }
}

/// A parameter's JSON type (absent and `null` are both `None`).
struct KindOf(Kind);

impl<'de> Deserialize<'de> for KindOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor).map(KindOf)
    }
}

/// The parameters of one operation of a JSON body, by type only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object with a query")]
struct ParamKinds {
    query: Option<KindOf>,
    operation_name: Option<KindOf>,
    variables: Option<KindOf>,
    extensions: Option<KindOf>,
}

impl ParamKinds {
    /// Why these are not the parameters of a GraphQL request, if they are not.
    fn problem(&self) -> Option<String> {
        let wrong = |name: &str, kind: Kind, want: Kind| {
            format!("the {name} parameter must be {want}, not {kind}")
        };
        match &self.query {
            None => return Some("the query parameter is required".into()),
            Some(KindOf(kind)) if *kind != Kind::String => {
                return Some(wrong("query", *kind, Kind::String));
            }
            Some(_) => {}
        }
        for (name, value, want) in [
            ("operationName", &self.operation_name, Kind::String),
            ("variables", &self.variables, Kind::Object),
            ("extensions", &self.extensions, Kind::Object),
        ] {
            if let Some(KindOf(kind)) = value
                && *kind != want
            {
                return Some(wrong(name, *kind, want));
            }
        }
        None
    }
}

/// A JSON body: one operation, or a batch of them.
enum BodyKinds {
    Single(ParamKinds),
    Batch(Vec<ParamKinds>),
}

impl<'de> Deserialize<'de> for BodyKinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = BodyKinds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object (or an array of objects for a batch)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BodyKinds, A::Error> {
                ParamKinds::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(BodyKinds::Single)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BodyKinds, A::Error> {
                let mut all = Vec::new();
                while let Some(params) = seq.next_element::<ParamKinds>()? {
                    all.push(params);
                }
                Ok(BodyKinds::Batch(all))
            }
        }
        deserializer.deserialize_any(BodyVisitor)
    }
}

/// Checks that a JSON body is a GraphQL request (each operation with a
/// string `query`, parameters of the right types) before it is read as one,
/// so that the refusal can say what is wrong.
pub(crate) fn check_params(bytes: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<BodyKinds>(bytes) {
        Err(e) => Err(format!("the body is not a GraphQL request: {e}")),
        Ok(BodyKinds::Single(params)) => params.problem().map_or(Ok(()), Err),
        Ok(BodyKinds::Batch(all)) if all.is_empty() => {
            Err("the batch is empty: send at least one operation".into())
        }
        Ok(BodyKinds::Batch(all)) => {
            for (i, params) in all.iter().enumerate() {
                if let Some(problem) = params.problem() {
                    return Err(format!("{problem} (operation {} of the batch)", i + 1));
                }
            }
            Ok(())
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// The operation a request would run, if it can be told before execution.
pub(crate) fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) => {
            // Ambiguous without a name: refuse over GET if any is a mutation.
            if ops.values().any(|op| op.node.ty == OperationType::Mutation) {
                Some(OperationType::Mutation)
            } else {
                None
            }
        }
    }
}

#[handler]
pub async fn get_handler(req: &Request, app: Data<&App>) -> Response {
    let flavor = flavor(req);
    let params: GetParams = match req.params() {
        Ok(p) => p,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("invalid query string: {e}"),
                flavor,
            );
        }
    };
    let Some(query) = params.query else {
        let wants_html = app.state.config.introspection != crate::config::Introspection::Nobody
            && req
                .header("accept")
                .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        if wants_html {
            return super::graphiql::page();
        }
        return request_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "the query parameter is required",
            flavor,
        );
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(raw) = params.variables {
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(value) => request = request.variables(Variables::from_json(value)),
            Err(e) => {
                return request_error(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    &format!("variables is not JSON: {e}"),
                    flavor,
                );
            }
        }
    }
    if operation_type(&mut request) == Some(OperationType::Mutation) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST",
            flavor,
        );
        response
            .headers_mut()
            .insert("Allow", poem::http::HeaderValue::from_static("POST"));
        return response;
    }
    execute(&app, req, BatchRequest::Single(request), flavor, Vec::new()).await
}

/// Codes of errors that mean the request itself was malformed or refused
/// before execution (status 400 under `application/graphql-response+json`).
const REQUEST_ERROR_CODES: &[&str] = &[
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_COMPLEX",
    "BAD_USER_INPUT",
];

fn error_code(error: &async_graphql::ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

async fn execute(
    app: &App,
    req: &Request,
    batch: BatchRequest,
    flavor: Flavor,
    files: Vec<ReceivedFiles>,
) -> Response {
    let limits = &app.state.config.limits;
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > limits.max_batch_size
    {
        return request_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!(
                "a batch of {} operations exceeds the limit of {}",
                requests.len(),
                limits.max_batch_size
            ),
            flavor,
        );
    }
    let meta = request_meta(req, app.state.config.trust_proxy_headers);
    let auth = match request_auth(&app.state, req).await {
        Ok(auth) => auth,
        Err(e) => return internal(e, flavor),
    };
    // The operations of one request share one complexity budget.
    let budget = match &batch {
        BatchRequest::Batch(requests) if requests.len() > 1 => Some(BatchBudget::new(
            requests.len(),
            limits.max_query_complexity,
        )),
        _ => None,
    };
    let mut files = files.into_iter();
    let anonymous = auth.session_id.is_none();
    let introspection = app.state.config.introspection;
    let mut attach = |mut request: async_graphql::Request| {
        if anonymous && introspection == crate::config::Introspection::SignedIn {
            request = request.disable_introspection();
        }
        request.data = request_data(&app.state, auth.clone(), meta.clone(), DataScope::Request);
        request.data.insert(files.next().unwrap_or_default());
        if let Some(budget) = &budget {
            request.data.insert(budget.clone());
        }
        request
    };
    let batch = match batch {
        BatchRequest::Single(request) => BatchRequest::Single(attach(request)),
        BatchRequest::Batch(requests) => {
            BatchRequest::Batch(requests.into_iter().map(attach).collect())
        }
    };
    let response = app.schema.execute_batch(batch).await;
    render(response, flavor, limits.max_response_bytes)
}

/// Why a response larger than `max` bytes is not sent.
pub(crate) fn too_large_message(max: usize) -> String {
    format!("the response would exceed {max} bytes: ask for smaller pages or fewer fields")
}

/// A response larger than allowed (or that cannot be serialised).
pub(crate) struct Oversize;

/// Serialises `value` as JSON, giving up as soon as it passes `max` bytes
/// (so an oversized response is never held twice).
pub(crate) fn serialize_capped<T: serde::Serialize>(
    value: &T,
    max: usize,
) -> Result<Vec<u8>, Oversize> {
    struct Capped {
        out: Vec<u8>,
        max: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.out.len() + buf.len() > self.max {
                return Err(std::io::Error::other("response too large"));
            }
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = Capped {
        out: Vec::new(),
        max,
    };
    match serde_json::to_writer(&mut writer, value) {
        Ok(()) => Ok(writer.out),
        Err(e) => {
            if !e.is_io() {
                tracing::error!(error = %e, "cannot serialise a GraphQL response");
            }
            Err(Oversize)
        }
    }
}

/// Whether a response is a refusal before execution: no data, and only
/// request errors (parse, validation, limits, bad input), none on a field.
fn refused(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| {
            e.path.is_empty()
                && error_code(e).is_some_and(|c| REQUEST_ERROR_CODES.contains(&c.as_str()))
        })
}

/// One response as sent: without a `data` entry when the request was
/// refused before execution (GraphQL over HTTP: a request error has none).
struct Rendered<'a>(&'a async_graphql::Response);

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(None)?;
        if !refused(r) {
            map.serialize_entry("data", &r.data)?;
        }
        if !r.extensions.is_empty() {
            map.serialize_entry("extensions", &r.extensions)?;
        }
        if !r.errors.is_empty() {
            map.serialize_entry("errors", &r.errors)?;
        }
        map.end()
    }
}

/// The body: one response, or an array for a batch.
struct RenderedBatch<'a>(&'a BatchResponse);

impl Serialize for RenderedBatch<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            BatchResponse::Single(r) => Rendered(r).serialize(serializer),
            BatchResponse::Batch(rs) => {
                let mut seq = serializer.serialize_seq(Some(rs.len()))?;
                for r in rs {
                    seq.serialize_element(&Rendered(r))?;
                }
                seq.end()
            }
        }
    }
}

/// What is sent instead of a response larger than allowed. The operations
/// did run (a mutation's effects stand), so this is not a request error:
/// `data` is null, as when an error reaches the root, and the status is 200
/// under both media types (GraphQL over HTTP: a response with a `data`
/// entry that is null is 2xx). A batch gets one such entry per operation.
fn oversize_body(response: &BatchResponse, max_bytes: usize) -> String {
    let one = json!({
        "data": null,
        "errors": [{
            "message": too_large_message(max_bytes),
            "extensions": { "code": "RESPONSE_TOO_LARGE" },
        }],
    });
    match response {
        BatchResponse::Single(_) => one.to_string(),
        BatchResponse::Batch(rs) => serde_json::Value::Array(vec![one; rs.len()]).to_string(),
    }
}

fn render(response: BatchResponse, flavor: Flavor, max_bytes: usize) -> Response {
    let mut status = StatusCode::OK;
    let mut retry_after: Option<u64> = None;
    let responses: Vec<&async_graphql::Response> = match &response {
        BatchResponse::Single(r) => vec![r],
        BatchResponse::Batch(rs) => rs.iter().collect(),
    };
    for r in &responses {
        for e in &r.errors {
            if error_code(e).as_deref() == Some("TOO_MANY_REQUESTS")
                && let Some(async_graphql::Value::Number(n)) =
                    e.extensions.as_ref().and_then(|x| x.get("retryAfter"))
            {
                retry_after = n.as_u64().or(retry_after);
            }
        }
    }
    if let (Flavor::GraphqlResponse, BatchResponse::Single(r)) = (flavor, &response)
        && refused(r)
    {
        status = StatusCode::BAD_REQUEST;
    }
    let body = match serialize_capped(&RenderedBatch(&response), max_bytes) {
        Ok(body) => body,
        Err(Oversize) => {
            status = StatusCode::OK;
            oversize_body(&response, max_bytes).into_bytes()
        }
    };
    let mut builder = Response::builder()
        .status(status)
        .content_type(content_type(flavor))
        .header("Cache-Control", "no-store");
    if let Some(seconds) = retry_after {
        builder = builder.header("Retry-After", seconds.to_string());
    }
    builder.body(body)
}

//! Gives every GraphQL error a stable `extensions.code`: errors raised by our
//! resolvers already carry one; parse and validation failures (including the
//! depth and complexity limits) are coded here; anything else is INTERNAL.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

/// An error with a code of its own (refusals raised outside resolvers).
pub(crate) fn coded(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

fn set_code(error: &mut ServerError, code: &str) {
    let ext = error.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
}

fn validation_code(error: &ServerError) -> &'static str {
    if error.message.contains("nested too deep") {
        "QUERY_TOO_DEEP"
    } else if error.message.contains("too complex") {
        "QUERY_TOO_COMPLEX"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    }
}

fn finish(mut response: Response) -> Response {
    for error in &mut response.errors {
        // A literal argument that is not a valid value of its scalar (a bad
        // DateTime, say) is found when the field is resolved: the caller's
        // mistake, not ours.
        let code = if error.message.starts_with("Failed to parse \"") {
            "BAD_USER_INPUT"
        } else {
            "INTERNAL"
        };
        set_code(error, code);
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut e| {
            let code = if e.message.contains("recursion depth") {
                "QUERY_TOO_DEEP"
            } else {
                "GRAPHQL_PARSE_FAILED"
            };
            set_code(&mut e, code);
            e
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                let code = validation_code(e);
                set_code(e, code);
            }
            errors
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            // Unknown operation names and the like are the client's mistake.
            if error.path.is_empty()
                && error.extensions.is_none()
                && response.data == async_graphql::Value::Null
            {
                set_code(error, "BAD_USER_INPUT");
            }
        }
        finish(response)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(finish).boxed()
    }
}

//! The API's error type. Each variant has a stable code that reaches GraphQL
//! clients as `extensions.code`; internal errors are logged once with an id
//! and the client sees only that id.

use async_graphql::ErrorExtensions;
use vitrine_entity::identity::IdentityError;
use vitrine_entity::policy::Denial;

/// Deliberately not `Display`: async-graphql converts any `Display` error
/// into a GraphQL error without a code, and `?` would pick that conversion.
/// Here the only conversion is ours, which always sets `extensions.code`.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput(String),
    Conflict(String),
    PayloadTooLarge(String),
    TooManyRequests { retry_after_secs: u64 },
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see (internal causes are never included).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::BadUserInput(m)
            | ApiError::Conflict(m)
            | ApiError::PayloadTooLarge(m) => m.clone(),
            ApiError::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; retry in {retry_after_secs} s")
            }
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    /// Logs an internal error under a fresh id and returns the id.
    pub(crate) fn log_internal(source: &(dyn std::error::Error + Send + Sync)) -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        tracing::error!(error_id = %id, error = %source, "internal error");
        id
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::internal(e)
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        ApiError::BadUserInput(e.to_string())
    }
}

impl From<Denial> for ApiError {
    fn from(d: Denial) -> Self {
        match d {
            Denial::Unauthenticated => ApiError::Unauthenticated("authentication required".into()),
            other => ApiError::Forbidden(other.to_string()),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        match e {
            ApiError::Internal(source) => {
                let id = ApiError::log_internal(source.as_ref());
                async_graphql::Error::new(format!("internal error (id {id})")).extend_with(
                    |_, ext| {
                        ext.set("code", code);
                        ext.set("errorId", id.clone());
                    },
                )
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                async_graphql::Error::new(e.message()).extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("retryAfter", retry_after_secs);
                })
            }
            other => async_graphql::Error::new(other.message())
                .extend_with(|_, ext| ext.set("code", code)),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_reaches_graphql_with_its_code() {
        let cases = [
            (ApiError::Unauthenticated("x".into()), "UNAUTHENTICATED"),
            (ApiError::Forbidden("x".into()), "FORBIDDEN"),
            (ApiError::NotFound("x".into()), "NOT_FOUND"),
            (ApiError::BadUserInput("x".into()), "BAD_USER_INPUT"),
            (ApiError::Conflict("x".into()), "CONFLICT"),
            (ApiError::PayloadTooLarge("x".into()), "PAYLOAD_TOO_LARGE"),
            (
                ApiError::TooManyRequests {
                    retry_after_secs: 3,
                },
                "TOO_MANY_REQUESTS",
            ),
            (
                ApiError::internal(std::io::Error::other("disk on fire at /secret/path")),
                "INTERNAL",
            ),
        ];
        for (error, code) in cases {
            let gql: async_graphql::Error = error.into();
            let ext = gql.extensions.clone().unwrap_or_default();
            assert_eq!(ext.get("code"), Some(&async_graphql::Value::from(code)));
            assert!(!gql.message.contains("/secret/path"), "{}", gql.message);
        }
    }
}

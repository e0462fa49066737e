//! One error type for every error response: `{"error": {"code", "message"}}` with its status.
//!
//! Internal failures are logged with their details and sent as a bare `internal` error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::body_shape::{BodyShape, ShapeError};
use crate::episode::EnvError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: no such thing (for this token).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422: an action that cannot be taken.
    pub fn invalid_action(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_action", message)
    }

    /// 422: a well-formed request that makes no sense.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    /// 429: a live-episode limit is reached.
    pub fn too_many(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_episodes", message)
    }

    /// 500: logged here with its details; the client sees only that it failed.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {detail}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request; its log has the details",
        )
    }

    /// The error's JSON body.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        serde_json::to_vec(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_default()
    }
}

impl From<EnvError> for ApiError {
    fn from(error: EnvError) -> ApiError {
        let message = error.to_string();
        match error {
            EnvError::EpisodeOver { .. } | EnvError::NotReset => {
                ApiError::new(StatusCode::CONFLICT, "episode_over", message)
            }
            EnvError::UnknownCase(_) | EnvError::NoSuchEpisode => ApiError::not_found(message),
            EnvError::NoMatchingCase(_) | EnvError::Options(_) | EnvError::Unsupported(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_options", message)
            }
            EnvError::DuplicateInBatch | EnvError::BatchSize { .. } => {
                ApiError::invalid_request(message)
            }
            EnvError::CaseTables(_) => ApiError::internal(message),
            _ => ApiError::invalid_action(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}

/// A JSON body read with our error shape: syntax errors are 400 `bad_json`, bodies of the wrong shape
/// 422 `invalid_request`, bodies over the limit 413. The content type is not insisted on.
#[derive(Debug, Clone)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + JsonSchema + 'static> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is larger than the server accepts (see --max-body-bytes)",
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let shape = BodyShape::of::<T>();
        let shape_error = |error: ShapeError| {
            ApiError::invalid_request(format!("the body is not valid: {}", error.0))
        };
        let read = if shape.needs_walk(bytes) {
            // Read as a value first, so an array where an object belongs is refused by name.
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|error| json_error(&error))?;
            shape.check(&value).map_err(shape_error)?;
            T::deserialize(&value).or_else(|error| {
                // JSON has one number type: `3462117.0` is the integer 3462117 to many clients.
                if integral_floats_to_integers(&mut value) {
                    T::deserialize(&value)
                } else {
                    Err(error)
                }
            })
        } else {
            shape.check_top(bytes).map_err(shape_error)?;
            serde_json::from_slice(bytes).or_else(|error| {
                // Only a body that failed is read again, so the common case pays nothing.
                let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                    return Err(error);
                };
                if integral_floats_to_integers(&mut value) {
                    serde_json::from_value(value)
                } else {
                    Err(error)
                }
            })
        };
        read.map(ApiJson).map_err(|error| json_error(&error))
    }
}

/// A body serde could not read: a syntax error is 400 `bad_json`, a wrong shape 422.
fn json_error(error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not valid JSON: {error}"),
        ),
        Category::Data => ApiError::invalid_request(format!("the body is not valid: {error}")),
    }
}

/// Rewrites every float in `value` that holds a whole number within `i64`/`u64` range ("7.0") as an
/// integer; returns whether any was rewritten.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            let whole = float.is_finite() && float.fract() == 0.0;
            // 2^64 is the first float past `u64::MAX`; casting it would saturate.
            if whole && (0.0..18_446_744_073_709_551_616.0).contains(&float) {
                *value = Value::from(float as u64);
                true
            } else if whole && (i64::MIN as f64..0.0).contains(&float) {
                *value = Value::from(float as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, field| {
            integral_floats_to_integers(field) | changed
        }),
        _ => false,
    }
}

/// A ready JSON answer (bytes serialised by the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonBody {
    /// The status.
    pub(crate) status: StatusCode,
    /// The JSON bytes.
    pub(crate) body: Vec<u8>,
}

impl JsonBody {
    /// 200 with `value` as JSON.
    pub(crate) fn ok<T: Serialize>(value: &T) -> Result<JsonBody, ApiError> {
        JsonBody::with_status(StatusCode::OK, value)
    }

    /// 204 with no body.
    pub(crate) fn no_content() -> JsonBody {
        JsonBody {
            status: StatusCode::NO_CONTENT,
            body: Vec::new(),
        }
    }

    /// `status` with `value` as JSON.
    pub(crate) fn with_status<T: Serialize>(
        status: StatusCode,
        value: &T,
    ) -> Result<JsonBody, ApiError> {
        serde_json::to_vec(value)
            .map(|body| JsonBody { status, body })
            .map_err(ApiError::internal)
    }
}

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

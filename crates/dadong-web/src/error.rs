//! The one error type of the web layer. Each variant is an outcome with a stable snake_case
//! code; the API answers `{"error": {"code", "message", "field"?}}`, pages answer a clear
//! page in the user's language. Internal causes are logged, never shown.

use crate::i18n::{Lang, T};
use crate::templates::ErrorPage;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dadong_store::StoreError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Validation { field: String },
    Unauthenticated,
    Forbidden,
    CsrfFailed,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests { retry_after_s: i64 },
    Internal,
}

impl ErrorKind {
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Validation { .. } => "validation_failed",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::CsrfFailed => "csrf_failed",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::TooManyRequests { .. } => "too_many_requests",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden | ErrorKind::CsrfFailed => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The i18n key of the page shown for this outcome.
    fn page_key(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "error.not_found",
            ErrorKind::Forbidden | ErrorKind::Unauthenticated => "error.forbidden",
            ErrorKind::CsrfFailed => "error.csrf",
            ErrorKind::PayloadTooLarge => "error.too_large",
            ErrorKind::MethodNotAllowed => "error.method",
            ErrorKind::TooManyRequests { .. } => "login.throttled",
            ErrorKind::Internal => "error.internal",
            _ => "error.bad_request",
        }
    }
}

/// An error answered as JSON (API routes).
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// More keys of the error object, such as an import's `rows`; never `code`, `message` or `field`.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            details: serde_json::Map::new(),
        }
    }

    /// Adds a key to the error object beside `code` and `message`.
    pub fn with_detail(mut self, key: &str, value: serde_json::Value) -> Self {
        self.details.insert(key.to_string(), value);
        self
    }
}

fn retry_after(kind: &ErrorKind, response: &mut Response) {
    if let ErrorKind::TooManyRequests { retry_after_s } = kind
        && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.kind.code(), "message": self.message});
        if let Some(map) = body.as_object_mut() {
            for (key, value) in self.details {
                map.entry(key).or_insert(value);
            }
        }
        if let ErrorKind::Validation { field } = &self.kind {
            body["field"] = json!(field);
        }
        let mut response = (self.kind.status(), Json(json!({"error": body}))).into_response();
        retry_after(&self.kind, &mut response);
        response
    }
}

/// An error answered as a page (UI routes).
#[derive(Debug)]
pub struct PageError {
    pub kind: ErrorKind,
    pub message: String,
    pub lang: Lang,
}

impl PageError {
    pub fn new(kind: ErrorKind, message: impl Into<String>, lang: Lang) -> Self {
        Self {
            kind,
            message: message.into(),
            lang,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = T::new(self.lang);
        let page = ErrorPage {
            t,
            nav: crate::templates::Nav::anonymous(t),
            status: self.kind.status().as_u16(),
            code: self.kind.code(),
            headline: t.t(self.kind.page_key()).to_string(),
            message: self.message,
        };
        let mut response = (self.kind.status(), crate::templates::render(&page)).into_response();
        retry_after(&self.kind, &mut response);
        response
    }
}

/// How a store error is told to the user: validation and conflicts as they are; database
/// trouble logged with its cause and answered as a plain internal error.
pub fn from_store(err: StoreError) -> (ErrorKind, String) {
    match err {
        StoreError::Invalid { field, message } => (ErrorKind::Validation { field: field.clone() }, format!("{field}: {message}")),
        StoreError::NotFound(what) => (ErrorKind::NotFound, format!("{what} not found")),
        StoreError::Conflict(msg) => (ErrorKind::Conflict, msg),
        other => {
            tracing::error!(error = ?other, "store error");
            (ErrorKind::Internal, "internal error".to_string())
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let (kind, message) = from_store(err);
        ApiError::new(kind, message)
    }
}

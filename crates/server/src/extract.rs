//! Extractors whose rejections are coded API errors instead of axum's plain-text ones.

use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// JSON body; `deny_unknown_fields` on the target type turns unknown fields into `unknown_field`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    let text = e.body_text();
    match e {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new("unsupported_media_type").msg("expected Content-Type: application/json")
        }
        JsonRejection::JsonDataError(_) if text.contains("unknown field") => {
            ApiError::new("unknown_field").msg(text)
        }
        JsonRejection::JsonDataError(_) => ApiError::new("validation_failed").msg(text),
        JsonRejection::JsonSyntaxError(_) => ApiError::new("malformed_json").msg(text),
        JsonRejection::BytesRejection(_) if text.contains("length limit") => {
            ApiError::new("payload_too_large")
        }
        _ => ApiError::new("malformed_json").msg(text),
    }
}

pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e: QueryRejection| ApiError::new("bad_parameter").msg(e.body_text()))
    }
}

pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| ApiError::new("bad_parameter").msg(e.body_text()))
    }
}

/// A raw upload (an import file, a photo); a body over the size limit is `payload_too_large`.
pub struct Upload(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Upload(b)),
            Err(e) => Err(match e.body_text() {
                t if t.contains("length limit") => ApiError::new("payload_too_large"),
                t => ApiError::new("bad_parameter").msg(t),
            }),
        }
    }
}

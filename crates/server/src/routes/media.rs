//! Photos and videos uploaded by staff, and reading them back (only for those who may read a
//! case that shows them).

use crate::auth::Caller;
use crate::cases::engine;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Path, Upload};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use wangge_store::Media;

/// Uploads a photo (JPEG, PNG, WebP) or video (MP4, QuickTime); the type is read from the bytes.
#[utoipa::path(post, path = "/api/v1/media", tag = "cases",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 415, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(st): State<AppState>,
    caller: Caller,
    Upload(bytes): Upload,
) -> ApiResult<(StatusCode, axum::Json<Media>)> {
    let m = crate::cases::media::store_upload(&st, &caller.actor(), bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, axum::Json(m)))
}

/// A stored photo or video. Its uploader's unattached files and the files of cases the caller
/// may read are served; others are not found.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/jpeg"), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let cases = st.store.media_cases(id).await?;
    let mut allowed = cases.is_empty();
    for case_id in cases {
        if allowed {
            break;
        }
        if let Ok(case) = st.store.case_get(case_id).await {
            let acting = engine::acting(&st, &caller, &case).await?;
            allowed = engine::may_read(&caller, &case, &acting);
        }
    }
    if !allowed {
        return Err(ApiError::new("not_found"));
    }
    super::public_cases::media_response(&st, id).await
}

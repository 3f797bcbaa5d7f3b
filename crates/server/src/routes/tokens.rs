use super::Items;
use crate::auth::{self as a, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wangge_store::{ApiToken, NewToken};

/// The caller's API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Items<ApiToken>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<ApiToken>>> {
    Ok(axum::Json(
        st.store.token_list(caller.user.id).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    /// 1-365.
    expires_in_days: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// Shown only in this response; only its hash is stored.
    token: String,
    info: ApiToken,
}

/// Creates a personal API token (`Authorization: Bearer wgt_…`).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateToken>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::field("name", "1-64 characters"));
    }
    if !(1..=365).contains(&req.expires_in_days) {
        return Err(ApiError::field("expires_in_days", "1-365"));
    }
    let token = format!("{}{}", a::TOKEN_PREFIX, a::random_token());
    let new = NewToken {
        user_id: caller.user.id,
        name: name.to_string(),
        prefix: token[..8].to_string(),
        hash: a::sha256_hex(&token),
        expires_at: st.clock.now_ms() + req.expires_in_days * 86_400_000,
    };
    let info = st.store.token_create(&caller.actor(), &new).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { token, info }),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    st.store
        .token_revoke(&caller.actor(), caller.user.id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

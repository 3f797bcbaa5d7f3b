//! The department register: departments with the territory each serves, and their staff.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use wangge_domain::roles::Permission::{CaseConfigure, CaseRead};
use wangge_store::{Department, NewDepartment};

/// Every department (dispatchers choose among them).
#[utoipa::path(get, path = "/api/v1/departments", tag = "catalogue",
    responses((status = 200, body = Object)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<Department>>> {
    if caller.scope(CaseRead).is_empty()
        && st
            .store
            .departments_of_user(caller.user.id)
            .await?
            .is_empty()
    {
        return Err(ApiError::new("forbidden"));
    }
    Ok(axum::Json(st.store.department_list().await?.into()))
}

/// Registers a department serving a unit of the caller's territory.
#[utoipa::path(post, path = "/api/v1/departments", tag = "catalogue", request_body = Object,
    responses((status = 201, body = Department), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(d): Json<NewDepartment>,
) -> ApiResult<(StatusCode, axum::Json<Department>)> {
    let scope = caller.require(CaseConfigure)?;
    let ok_code = !d.code.is_empty()
        && d.code.len() <= 32
        && d.code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok_code {
        return Err(ApiError::field("code", "1–32 letters, digits, - or _"));
    }
    if d.name.trim().is_empty() || d.name.chars().count() > 100 {
        return Err(ApiError::field("name", "1–100 characters"));
    }
    if st.cases.catalogue().department_kind(&d.kind).is_none() {
        return Err(ApiError::field(
            "kind",
            "not a department kind of the catalogue",
        ));
    }
    let dep = st
        .store
        .department_create(&scope, &caller.actor(), &d)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(dep)))
}

/// Adds a user to a department's staff (they then see and handle its cases).
#[utoipa::path(put, path = "/api/v1/departments/{id}/members/{user_id}", tag = "catalogue",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 200, body = Department), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(i64, i64)>,
) -> ApiResult<axum::Json<Department>> {
    let scope = caller.require(CaseConfigure)?;
    st.store
        .user_get(user_id)
        .await
        .map_err(|_| ApiError::new("user_not_found"))?;
    Ok(axum::Json(
        st.store
            .department_member_set(&scope, &caller.actor(), id, user_id, true)
            .await?,
    ))
}

/// Removes a user from a department's staff.
#[utoipa::path(delete, path = "/api/v1/departments/{id}/members/{user_id}", tag = "catalogue",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 200, body = Department), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(i64, i64)>,
) -> ApiResult<axum::Json<Department>> {
    let scope = caller.require(CaseConfigure)?;
    Ok(axum::Json(
        st.store
            .department_member_set(&scope, &caller.actor(), id, user_id, false)
            .await?,
    ))
}

use super::Items;
use super::auth::hash_blocking;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query, Upload};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::roles::Permission::UserManage;
use wangge_domain::roles::Role;
use wangge_store::{Grant, NewUser, User, UserPatch, mask_phone};

/// A user as the API shows it: the phone masked.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    user: User,
    phone_masked: Option<String>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        let phone_masked = user.phone.as_deref().map(mask_phone);
        UserView { user, phone_masked }
    }
}

fn check_username(u: &str) -> ApiResult<()> {
    let ok = (2..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(ApiError::field(
            "username",
            "2-64 of a-z, 0-9, '.', '_', '-'",
        ));
    }
    Ok(())
}

fn check_display_name(n: &str) -> ApiResult<()> {
    if n.trim().is_empty() || n.chars().count() > 64 {
        return Err(ApiError::field("display_name", "1-64 characters"));
    }
    Ok(())
}

fn check_phone(p: &str) -> ApiResult<()> {
    let ok =
        (5..=20).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit() || b"+-".contains(&b));
    if !ok {
        return Err(ApiError::field("phone", "5-20 digits, '+' or '-'"));
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    q: Option<String>,
}

/// Lists users (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, body = Items<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<Items<UserView>>> {
    caller.require_global(UserManage)?;
    let users = st
        .store
        .user_list(q.q.as_deref().map(str::trim), 500)
        .await?;
    Ok(axum::Json(
        users
            .into_iter()
            .map(UserView::from)
            .collect::<Vec<_>>()
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    display_name: String,
    password: String,
    phone: Option<String>,
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    caller.require_global(UserManage)?;
    let username = req.username.trim().to_lowercase();
    check_username(&username)?;
    check_display_name(&req.display_name)?;
    let phone = req.phone.filter(|p| !p.trim().is_empty());
    if let Some(p) = &phone {
        check_phone(p)?;
    }
    st.config.password_policy.check(&req.password)?;
    let new = NewUser {
        username,
        display_name: req.display_name.trim().to_string(),
        password_hash: hash_blocking(req.password).await?,
        phone,
    };
    let u = st.store.user_create(&caller.actor(), &new).await?;
    Ok((StatusCode::CREATED, axum::Json(u.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    display_name: Option<String>,
    disabled: Option<bool>,
    /// An empty string clears the phone; likewise the qualification fields.
    phone: Option<String>,
    /// YYYY-MM-DD.
    birth_date: Option<String>,
    /// An education key from `/api/v1/meta` (`educations`).
    education: Option<String>,
    /// Training certificate number (持证上岗).
    certificate_no: Option<String>,
}

/// `Some(None)` for an empty string (clear), after a check of the value.
fn clearable(
    v: Option<String>,
    check: impl Fn(&str) -> ApiResult<()>,
) -> ApiResult<Option<Option<String>>> {
    match v.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() => Ok(Some(None)),
        Some(v) => check(&v).map(|_| Some(Some(v))),
        None => Ok(None),
    }
}

/// Changes a user's name, phone, qualifications, or disables them (which ends their sessions).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    request_body = UpdateUser, responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<UpdateUser>,
) -> ApiResult<axum::Json<UserView>> {
    caller.require_global(UserManage)?;
    if let Some(n) = &req.display_name {
        check_display_name(n)?;
    }
    let phone = match req.phone {
        Some(p) if p.trim().is_empty() => Some(None),
        Some(p) => {
            check_phone(&p)?;
            Some(Some(p))
        }
        None => None,
    };
    if req.disabled == Some(true) && id == caller.user.id {
        return Err(ApiError::field("disabled", "you cannot disable yourself"));
    }
    let patch = UserPatch {
        display_name: req.display_name.map(|n| n.trim().to_string()),
        disabled: req.disabled,
        phone,
        birth_date: clearable(req.birth_date, |d| {
            if wangge_domain::clock::is_valid_date(d) {
                Ok(())
            } else {
                Err(ApiError::field("birth_date", "must be a YYYY-MM-DD date"))
            }
        })?,
        education: clearable(req.education, |e| {
            if wangge_domain::team::is_education(e) {
                Ok(())
            } else {
                Err(ApiError::field("education", "not an education key"))
            }
        })?,
        certificate_no: clearable(req.certificate_no, |c| {
            if c.chars().count() <= 64 {
                Ok(())
            } else {
                Err(ApiError::field("certificate_no", "at most 64 characters"))
            }
        })?,
    };
    let u = st.store.user_update(&caller.actor(), id, &patch).await?;
    if u.disabled {
        st.store.sessions_delete_for_user(id).await?;
    }
    Ok(axum::Json(u.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    new_password: String,
}

/// Sets a new password for a user (administrators); their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", params(("id" = i64, Path)),
    request_body = ResetPassword, responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn reset_password(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<ResetPassword>,
) -> ApiResult<StatusCode> {
    caller.require_global(UserManage)?;
    st.config.password_policy.check(&req.new_password)?;
    let hash = hash_blocking(req.new_password).await?;
    st.store
        .user_set_password(&caller.actor(), id, &hash)
        .await?;
    st.store.sessions_delete_for_user(id).await?;
    st.store
        .login_failures_clear(&st.store.user_get(id).await?.username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct PhoneView {
    phone: Option<String>,
}

/// The unmasked phone number. Every call is written to the audit log.
#[utoipa::path(get, path = "/api/v1/users/{id}/phone", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = PhoneView), (status = 404, body = ErrorBody)))]
pub async fn phone(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<PhoneView>> {
    caller.require_global(UserManage)?;
    Ok(axum::Json(PhoneView {
        phone: st.store.user_phone(&caller.actor(), id).await?,
    }))
}

/// A user's grants.
#[utoipa::path(get, path = "/api/v1/users/{id}/grants", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = Items<Grant>), (status = 404, body = ErrorBody)))]
pub async fn grants(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Items<Grant>>> {
    caller.require_global(UserManage)?;
    st.store.user_get(id).await?;
    Ok(axum::Json(st.store.grants_of(id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGrant {
    role: String,
    /// The unit whose subtree the grant covers; omit only for a global system administrator.
    unit_code: Option<String>,
}

/// Grants a role on a unit's subtree.
#[utoipa::path(post, path = "/api/v1/users/{id}/grants", tag = "users", params(("id" = i64, Path)),
    request_body = AddGrant, responses((status = 201, body = Grant), (status = 409, body = ErrorBody)))]
pub async fn add_grant(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<AddGrant>,
) -> ApiResult<(StatusCode, axum::Json<Grant>)> {
    caller.require_global(UserManage)?;
    let role = Role::parse(&req.role).ok_or_else(|| ApiError::field("role", "unknown role"))?;
    let scope = caller.scope(UserManage);
    let unit = req.unit_code.as_deref().filter(|c| !c.is_empty());
    let g = st
        .store
        .grant_add(&scope, &caller.actor(), id, role, unit)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(g)))
}

/// Removes a grant.
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_grant(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require_global(UserManage)?;
    st.store.grant_remove(&caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_phones_are_checked() {
        assert!(check_username("worker.full").is_ok());
        assert!(check_username("Admin").is_err());
        assert!(check_username("a").is_err());
        assert!(check_phone("13800000001").is_ok());
        assert!(check_phone("1380000000a").is_err());
    }
}

/// Largest photo.
pub const PHOTO_LIMIT: usize = 2 * 1024 * 1024;

/// Sets a user's photo for the grid boards (JPEG or PNG, at most 2 MB; administrators).
#[utoipa::path(put, path = "/api/v1/users/{id}/photo", tag = "users", params(("id" = i64, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 204), (status = 415, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put_photo(
    State(st): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    Upload(body): Upload,
) -> ApiResult<StatusCode> {
    caller.require_global(UserManage)?;
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The bytes must be what the type says: JPEG and PNG signatures.
    let ok = match ct {
        "image/jpeg" => body.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => {
            return Err(ApiError::new("unsupported_media_type").msg("send image/jpeg or image/png"));
        }
    };
    if !ok {
        return Err(
            ApiError::new("unsupported_media_type").msg("the file is not the image its type says")
        );
    }
    if body.len() > PHOTO_LIMIT {
        return Err(ApiError::new("payload_too_large"));
    }
    st.store
        .user_photo_set(&caller.actor(), id, ct, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's photo: for administrators, the user, and whoever may read a unit the user serves in
/// (it is printed on that grid's board).
#[utoipa::path(get, path = "/api/v1/users/{id}/photo", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn get_photo(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let own = caller.user.id == id || caller.require_global(UserManage).is_ok();
    if !own {
        let scope = caller.require(wangge_domain::roles::Permission::TerritoryRead)?;
        if !st.store.user_serves_in(&scope, id, &st.today()).await? {
            return Err(ApiError::new("photo_not_found"));
        }
    }
    let (ct, bytes) = st.store.user_photo_get(id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, ct)], bytes).into_response())
}

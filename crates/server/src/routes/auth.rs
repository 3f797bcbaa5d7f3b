use super::ClientIp;
use super::users::UserView;
use crate::auth::{self as a, Caller, Via};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wangge_domain::audit::{Actor, AuditEvent};
use wangge_store::{Grant, NewSession};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginReq {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResp {
    user: UserView,
    csrf_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResp {
    user: UserView,
    grants: Vec<Grant>,
    permissions: Vec<&'static str>,
    /// Empty when authenticated with an API token.
    csrf_token: String,
}

/// Starts a session. Wrong username and wrong password answer alike; repeated failures lock the
/// name for a while whether or not it exists.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginReq,
    responses((status = 200, body = LoginResp), (status = 401, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<LoginReq>,
) -> ApiResult<Response> {
    let now = st.clock.now_ms();
    let username = req.username.trim().to_lowercase();
    if username.is_empty() || username.len() > 64 || req.password.len() > 256 {
        return Err(ApiError::new("invalid_credentials"));
    }
    let locked = |until: i64| {
        ApiError::new("account_locked").details(serde_json::json!({
            "retry_after_seconds": ((until - now) / 1000).max(1)
        }))
    };
    if let Some(until) = st.store.login_failures(&username).await?.locked_until
        && until > now
    {
        return Err(locked(until));
    }
    let creds = st.store.user_credentials(&username).await?;
    // Verify against a dummy hash for unknown users so timing does not tell them apart.
    let hash = creds
        .as_ref()
        .map(|(_, h)| h.as_str())
        .unwrap_or(a::dummy_hash())
        .to_string();
    let password = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || a::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match creds {
        Some((u, _)) if ok && !u.disabled => u,
        _ => {
            let f = st
                .store
                .login_failure_add(&username, st.config.lockout_threshold, st.config.lockout_ms)
                .await?;
            let actor = Actor {
                user_id: None,
                name: username.clone(),
                ip,
            };
            st.store
                .audit_record(
                    &actor,
                    AuditEvent::new("auth.login_failed", "user", &username),
                )
                .await?;
            return Err(match f.locked_until {
                Some(until) if until > now => locked(until),
                _ => ApiError::new("invalid_credentials"),
            });
        }
    };
    st.store.login_failures_clear(&username).await?;
    st.store
        .sessions_purge_idle(now - st.config.session_idle_ms)
        .await?;
    let token = a::random_token();
    let csrf_token = a::random_token();
    st.store
        .session_create(&NewSession {
            id_hash: a::sha256_hex(&token),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            ip: ip.clone(),
        })
        .await?;
    let actor = Actor {
        user_id: Some(user.id),
        name: user.username.clone(),
        ip,
    };
    st.store
        .audit_record(
            &actor,
            AuditEvent::new("auth.login", "user", user.id.to_string()),
        )
        .await?;
    let secure = a::is_https(&headers, st.config.secure_cookies);
    let cookie = a::session_cookie(&token, secure, None);
    Ok((
        [(header::SET_COOKIE, cookie)],
        axum::Json(LoginResp {
            user: user.into(),
            csrf_token,
        }),
    )
        .into_response())
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Via::Session { id_hash, .. } = &caller.via {
        st.store.session_delete(id_hash).await?;
    }
    st.store
        .audit_record(
            &caller.actor(),
            AuditEvent::new("auth.logout", "user", caller.user.id.to_string()),
        )
        .await?;
    let secure = a::is_https(&headers, st.config.secure_cookies);
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, a::session_cookie("", secure, Some(0)))],
    )
        .into_response())
}

/// The caller, their grants and permissions, and the CSRF token of the session.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = MeResp), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> axum::Json<MeResp> {
    let csrf_token = match &caller.via {
        Via::Session { csrf_token, .. } => csrf_token.clone(),
        Via::Token { .. } => String::new(),
    };
    let permissions = caller.permissions();
    axum::Json(MeResp {
        user: caller.user.into(),
        grants: caller.grants,
        permissions,
        csrf_token,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReq {
    old_password: String,
    new_password: String,
}

/// Changes the caller's password; every other session of the user ends.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordReq,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<PasswordReq>,
) -> ApiResult<Response> {
    let (_, hash) = st
        .store
        .user_credentials(&caller.user.username)
        .await?
        .ok_or_else(|| ApiError::new("unauthenticated"))?;
    let old = req.old_password.clone();
    if !tokio::task::spawn_blocking(move || a::verify_password(&old, &hash))
        .await
        .unwrap_or(false)
    {
        return Err(ApiError::new("invalid_credentials").msg("the current password is wrong"));
    }
    st.config.password_policy.check(&req.new_password)?;
    let new_hash = hash_blocking(req.new_password).await?;
    st.store
        .user_set_password(&caller.actor(), caller.user.id, &new_hash)
        .await?;
    st.store.sessions_delete_for_user(caller.user.id).await?;
    // Keep this browser logged in with a fresh session.
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Via::Session { csrf_token, .. } = &caller.via {
        let token = a::random_token();
        st.store
            .session_create(&NewSession {
                id_hash: a::sha256_hex(&token),
                user_id: caller.user.id,
                csrf_token: csrf_token.clone(),
                ip: caller.ip.clone(),
            })
            .await?;
        let secure = a::is_https(&headers, st.config.secure_cookies);
        if let Ok(v) = a::session_cookie(&token, secure, None).parse() {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// Argon2 off the async threads.
pub async fn hash_blocking(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || a::hash_password(&password))
        .await
        .map_err(|_| ApiError::new("internal_error"))?
        .map_err(|_| ApiError::new("internal_error"))
}

//! The in-app notification centre, and the webhook outbox for administrators.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::roles::Permission::AuditRead;
use wangge_store::{Notification, OutboxItem};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    unread: Option<bool>,
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Notification>,
    unread: i64,
}

/// The caller's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "cases", params(ListQuery),
    responses((status = 200, body = NotificationPage)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<NotificationPage>> {
    let items = st
        .store
        .notifications(
            caller.user.id,
            q.unread.unwrap_or(false),
            q.limit.unwrap_or(50).clamp(1, 200),
        )
        .await?;
    let unread = st.store.notifications_unread(caller.user.id).await?;
    Ok(axum::Json(NotificationPage { items, unread }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// These notifications; all when absent.
    ids: Option<Vec<i64>>,
}

/// Marks notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "cases", request_body = MarkRead,
    responses((status = 200, body = NotificationPage)))]
pub async fn mark_read(
    State(st): State<AppState>,
    caller: Caller,
    Json(m): Json<MarkRead>,
) -> ApiResult<axum::Json<NotificationPage>> {
    st.store
        .notifications_read(caller.user.id, m.ids.as_deref())
        .await?;
    list(
        State(st),
        caller,
        Query(ListQuery {
            unread: None,
            limit: None,
        }),
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only messages that gave up (the dead-letter list).
    dead: Option<bool>,
}

/// Webhook messages, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/outbox", tag = "cases", params(OutboxQuery),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn outbox(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<axum::Json<Items<OutboxItem>>> {
    caller.require_global(AuditRead)?;
    Ok(axum::Json(
        st.store
            .outbox_list(q.dead.unwrap_or(false), None, 200)
            .await?
            .into(),
    ))
}

/// Sends a dead message again.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "cases", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn retry(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::http::StatusCode> {
    caller.require_global(AuditRead)?;
    st.store.outbox_retry(&caller.actor(), id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

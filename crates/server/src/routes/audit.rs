use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::audit::AuditEntry;
use wangge_domain::roles::Permission::AuditRead;
use wangge_store::AuditFilter;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Username of the actor.
    actor: Option<String>,
    /// Action prefix, e.g. `unit.`.
    action: Option<String>,
    /// Exact target id.
    target: Option<String>,
    /// Epoch ms, inclusive.
    from: Option<i64>,
    to: Option<i64>,
    /// Only entries with a smaller sequence number (the previous page's `next_before`).
    before: Option<i64>,
    /// 1-500, default 50.
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntry>,
    next_before: Option<i64>,
}

/// Searches the audit log, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)))]
pub async fn search(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditPage>> {
    caller.require_global(AuditRead)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new("bad_parameter").msg("limit must be 1-500"));
    }
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = AuditFilter {
        actor: nonempty(q.actor),
        action: nonempty(q.action),
        target: nonempty(q.target),
        from: q.from,
        to: q.to,
        before: q.before,
        limit,
    };
    let items = st.store.audit_search(&filter).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.seq))
        .flatten();
    Ok(axum::Json(AuditPage { items, next_before }))
}

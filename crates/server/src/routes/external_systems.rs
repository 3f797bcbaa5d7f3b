//! External systems (administrators): register one with its territory, channel, rate limit,
//! webhook and ingest rules; rotate its secrets (shown once); see its webhook deliveries.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::external::{self, webhook::EVENTS};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use wangge_domain::ingest::{self, IngestRule};
use wangge_domain::roles::Permission::UserManage;
use wangge_store::{ExternalPatch, ExternalSystem, NewExternalSystem, OutboxItem};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSystem {
    /// Slug (a–z, 0–9, - and _, 2–32); the ingest path is /api/v1/ingest/{name}.
    name: String,
    title: String,
    /// The channel its cases carry (same rule as the name).
    channel: String,
    /// The territory it may read and report in.
    unit_code: String,
    /// Requests per minute (default 60).
    rate_limit: Option<i64>,
    webhook_url: Option<String>,
    /// case.created, case.state_changed (default both).
    webhook_events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    rules: Vec<IngestRule>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    title: Option<String>,
    channel: Option<String>,
    unit_code: Option<String>,
    rate_limit: Option<i64>,
    /// null removes the webhook.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    webhook_url: Option<Option<String>>,
    webhook_events: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<Object>>)]
    rules: Option<Vec<IngestRule>>,
    active: Option<bool>,
}

/// A field that may be given as null (`Some(None)`) or left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Secrets, shown once when made.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Secrets {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingest_secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithSecrets {
    #[schema(value_type = Object)]
    system: ExternalSystem,
    secrets: Secrets,
}

fn check_slug(field: &str, v: &str) -> ApiResult<()> {
    let ok = (2..=32).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "2–32 lower-case letters, digits, - or _",
        ))
    }
}

fn check_title(t: &str) -> ApiResult<()> {
    if t.trim().is_empty() || t.chars().count() > 100 {
        return Err(ApiError::field("title", "1–100 characters"));
    }
    Ok(())
}

fn check_rate(r: i64) -> ApiResult<()> {
    if !(1..=100_000).contains(&r) {
        return Err(ApiError::field(
            "rate_limit",
            "1–100000 requests per minute",
        ));
    }
    Ok(())
}

fn check_url(u: &str) -> ApiResult<()> {
    match reqwest::Url::parse(u) {
        Ok(url) if ["http", "https"].contains(&url.scheme()) && url.host().is_some() => Ok(()),
        _ => Err(ApiError::field(
            "webhook_url",
            "an http:// or https:// address",
        )),
    }
}

fn check_events(events: &[String]) -> ApiResult<()> {
    match events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        Some(e) => Err(ApiError::field(
            "webhook_events",
            format!("{e} is not an event; use {}", EVENTS.join(", ")),
        )),
        None => Ok(()),
    }
}

fn check_rules(st: &AppState, rules: &[IngestRule]) -> ApiResult<()> {
    Ok(ingest::validate(rules, &st.cases.catalogue())?)
}

/// Every external system.
#[utoipa::path(get, path = "/api/v1/external-systems", tag = "external",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<ExternalSystem>>> {
    caller.require_global(UserManage)?;
    Ok(axum::Json(st.store.external_list().await?.into()))
}

/// Registers a system; the answer holds its API key and signing secrets, shown only now.
#[utoipa::path(post, path = "/api/v1/external-systems", tag = "external", request_body = NewSystem,
    responses((status = 201, body = WithSecrets), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(n): Json<NewSystem>,
) -> ApiResult<(StatusCode, axum::Json<WithSecrets>)> {
    caller.require_global(UserManage)?;
    check_slug("name", &n.name)?;
    check_slug("channel", &n.channel)?;
    check_title(&n.title)?;
    let rate_limit = n.rate_limit.unwrap_or(60);
    check_rate(rate_limit)?;
    if let Some(u) = &n.webhook_url {
        check_url(u)?;
    }
    let events = n
        .webhook_events
        .unwrap_or_else(|| EVENTS.map(String::from).to_vec());
    check_events(&events)?;
    check_rules(&st, &n.rules)?;
    let (api_key, key_hash, key_prefix) = external::new_key();
    let (webhook_secret, ingest_secret) = (external::new_secret(), external::new_secret());
    let system = st
        .store
        .external_create(
            &caller.actor(),
            &NewExternalSystem {
                name: n.name,
                title: n.title.trim().to_string(),
                channel: n.channel,
                unit_code: n.unit_code,
                rate_limit,
                webhook_url: n.webhook_url,
                webhook_events: events,
                rules: n.rules,
                key_hash,
                key_prefix,
                webhook_secret: webhook_secret.clone(),
                ingest_secret: ingest_secret.clone(),
            },
        )
        .await?;
    st.external.reload(&st).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WithSecrets {
            system,
            secrets: Secrets {
                api_key: Some(api_key),
                webhook_secret: Some(webhook_secret),
                ingest_secret: Some(ingest_secret),
            },
        }),
    ))
}

/// Changes a system (deactivating it stops its key, webhook and ingest at once).
#[utoipa::path(patch, path = "/api/v1/external-systems/{id}", tag = "external",
    params(("id" = i64, Path)), request_body = SystemPatch,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(p): Json<SystemPatch>,
) -> ApiResult<axum::Json<ExternalSystem>> {
    caller.require_global(UserManage)?;
    if let Some(c) = &p.channel {
        check_slug("channel", c)?;
    }
    if let Some(t) = &p.title {
        check_title(t)?;
    }
    if let Some(r) = p.rate_limit {
        check_rate(r)?;
    }
    if let Some(Some(u)) = &p.webhook_url {
        check_url(u)?;
    }
    if let Some(e) = &p.webhook_events {
        check_events(e)?;
    }
    if let Some(r) = &p.rules {
        check_rules(&st, r)?;
    }
    let system = st
        .store
        .external_update(
            &caller.actor(),
            id,
            &ExternalPatch {
                title: p.title.map(|t| t.trim().to_string()),
                channel: p.channel,
                unit_code: p.unit_code,
                rate_limit: p.rate_limit,
                webhook_url: p.webhook_url,
                webhook_events: p.webhook_events,
                rules: p.rules,
                active: p.active,
                ..Default::default()
            },
        )
        .await?;
    st.external.reload(&st).await?;
    Ok(axum::Json(system))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// api_key, webhook_secret or ingest_secret.
    secret: String,
}

/// Replaces one secret; the old one stops working at once. The new one is shown only now.
#[utoipa::path(post, path = "/api/v1/external-systems/{id}/rotate", tag = "external",
    params(("id" = i64, Path)), request_body = Rotate,
    responses((status = 200, body = WithSecrets), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rotate(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(r): Json<Rotate>,
) -> ApiResult<axum::Json<WithSecrets>> {
    caller.require_global(UserManage)?;
    let mut patch = ExternalPatch::default();
    let mut secrets = Secrets::default();
    match r.secret.as_str() {
        "api_key" => {
            let (key, hash, prefix) = external::new_key();
            patch.key = Some((hash, prefix));
            secrets.api_key = Some(key);
        }
        "webhook_secret" => {
            let s = external::new_secret();
            patch.webhook_secret = Some(s.clone());
            secrets.webhook_secret = Some(s);
        }
        "ingest_secret" => {
            let s = external::new_secret();
            patch.ingest_secret = Some(s.clone());
            secrets.ingest_secret = Some(s);
        }
        _ => {
            return Err(ApiError::field(
                "secret",
                "api_key, webhook_secret or ingest_secret",
            ));
        }
    }
    let system = st
        .store
        .external_update(&caller.actor(), id, &patch)
        .await?;
    st.external.reload(&st).await?;
    Ok(axum::Json(WithSecrets { system, secrets }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only the dead letters (deliveries that gave up).
    dead: Option<bool>,
}

/// The system's webhook deliveries, newest first; dead ones can be resent with
/// `POST /api/v1/outbox/{id}/retry`.
#[utoipa::path(get, path = "/api/v1/external-systems/{id}/deliveries", tag = "external",
    params(("id" = i64, Path), DeliveryQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<axum::Json<Items<OutboxItem>>> {
    caller.require_global(UserManage)?;
    let system = st.store.external_get(id).await?;
    let items = st
        .store
        .outbox_list(
            q.dead.unwrap_or(false),
            Some(&external::target(&system.name)),
            200,
        )
        .await?;
    Ok(axum::Json(items.into()))
}

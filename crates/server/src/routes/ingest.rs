//! Events from sensors and devices: `POST /api/v1/ingest/{source}`, signed by the source with
//! its ingest secret, turned into a case of the category its first matching rule names (or
//! none, for the command centre to classify), once per event id however often it is sent.

use super::ClientIp;
use crate::cases::intake::{self, Report, Reporter};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::external::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::extract::{Path, Upload};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};
use wangge_domain::ingest::first_match;
use wangge_store::ExternalSystem;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    case_id: i64,
    number: String,
    /// False when this event id was received before (the same case is returned).
    created: bool,
    category: Option<String>,
    /// The number (from 1) of the rule that matched.
    rule: Option<usize>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The signature check: a fresh timestamp and the HMAC of it and the body.
fn check_signature(
    st: &AppState,
    system: &ExternalSystem,
    h: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let bad = |why: &str| ApiError::new("invalid_signature").msg(why.to_string());
    let ts: i64 = header(h, TIMESTAMP_HEADER)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| bad("X-Wangge-Timestamp (unix seconds) is missing"))?;
    let sig = header(h, SIGNATURE_HEADER).ok_or_else(|| bad("X-Wangge-Signature is missing"))?;
    let now = st.clock.now_ms() / 1000;
    if (now - ts).abs() > st.config.external.signature_tolerance_s {
        return Err(bad(
            "the timestamp is too far from now (clock skew or a replay)",
        ));
    }
    if !external::verify(&system.ingest_secret, ts, body, sig) {
        return Err(bad(
            "the signature does not match: sha256=HMAC-SHA256(ingest secret, timestamp + \".\" + body)",
        ));
    }
    Ok(())
}

fn text_field<'a>(event: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    event
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The report an event makes.
fn report_of(
    system: &ExternalSystem,
    event: &Map<String, Value>,
) -> ApiResult<(Report, Option<usize>)> {
    let id = match event.get("event_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::field(
                "event_id",
                "each event needs its own event_id (text or number)",
            ));
        }
    };
    if id.chars().count() > 200 {
        return Err(ApiError::field("event_id", "at most 200 characters"));
    }
    let number = |name: &str| -> ApiResult<Option<f64>> {
        match event.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| ApiError::field(name, "must be a number")),
        }
    };
    let whole = Value::Object(event.clone());
    let matched = first_match(&system.rules, &whole);
    let kind = text_field(event, "type").unwrap_or("event");
    let description = match text_field(event, "description") {
        Some(d) => d.to_string(),
        None => format!("{}上报设备事件：{kind}（事件编号 {id}）", system.title),
    };
    // the client id is derived from the event id, so a resent event finds its case
    let digest = crate::auth::sha256_hex(&format!("{}\n{id}", system.name));
    let report = Report {
        client_id: format!("ing-{}", &digest[..40]),
        channel: None,
        lat: number("lat")?,
        lng: number("lng")?,
        crs: text_field(event, "crs").map(str::to_string),
        unit_code: text_field(event, "unit_code").map(str::to_string),
        handling_code: None,
        address: text_field(event, "address").unwrap_or("").to_string(),
        category: matched.map(|(_, r)| r.category.clone()),
        description,
        nature: None,
        urgent: matched.is_some_and(|(_, r)| r.urgent),
        answers: Map::new(),
        media: vec![],
        reporter_name: None,
        reporter_phone: None,
        on_spot: None,
        errand: None,
        source: Some(
            json!({ "system": system.name, "protocol": "ingest", "event_id": id, "event": whole }),
        ),
    };
    Ok((report, matched.map(|(i, _)| i + 1)))
}

/// Receives one event (JSON object with `event_id`, and `lat`/`lng` or `unit_code`; optional
/// `type`, `description`, `address`, `crs`, anything else for the rules).
#[utoipa::path(post, path = "/api/v1/ingest/{source}", tag = "external",
    params(("source" = String, Path, description = "The external system's name")),
    request_body(content = Object, description = "The event, signed: X-Wangge-Timestamp and X-Wangge-Signature"),
    responses((status = 201, body = Ingested), (status = 200, body = Ingested, description = "Seen before"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn ingest(
    State(st): State<AppState>,
    Path(source): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Upload(body): Upload,
) -> ApiResult<(StatusCode, axum::Json<Ingested>)> {
    let system = st
        .store
        .external_by_name(&source)
        .await?
        .filter(|s| s.active)
        .ok_or_else(|| ApiError::new("external_system_not_found"))?;
    let outcome = receive(&st, &system, &ip, &headers, &body).await;
    let detail = match &outcome {
        Ok((_, i)) => json!({ "case": i.case_id, "created": i.created, "rule": i.rule }),
        Err(e) => json!({ "error": e.code }),
    };
    external::audit_call(&st, &system, &ip, "ingest.event", detail).await?;
    outcome.map(|(s, i)| (s, axum::Json(i)))
}

async fn receive(
    st: &AppState,
    system: &ExternalSystem,
    ip: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(StatusCode, Ingested)> {
    if let Err(secs) = st.external.take(system, st.clock.now_ms()) {
        return Err(ApiError::new("rate_limited")
            .msg(format!(
                "more than {} requests a minute; wait {secs} s",
                system.rate_limit
            ))
            .details(json!({ "retry_after_s": secs })));
    }
    check_signature(st, system, headers, body)?;
    let event: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        ApiError::new("malformed_json").msg(format!("the event must be a JSON object: {e}"))
    })?;
    let (report, rule) = report_of(system, &event)?;
    let (case, report) = intake::submit(
        st,
        Reporter::External {
            system,
            ip: ip.to_string(),
        },
        report,
    )
    .await?;
    let created = report.is_some();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Ingested {
            case_id: case.id,
            number: case.number,
            created,
            category: case.category,
            rule,
        },
    ))
}

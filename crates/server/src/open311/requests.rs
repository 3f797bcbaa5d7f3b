//! Service requests: post one, list them, read one, resolve a token, and the update feed. These
//! need an API key; a system sees and reports only in its own territory. (`top_get` also routes
//! the public `discovery` and `services` documents, which share the URL pattern.)

use super::services::{discovery, leaf, services};
use super::{Doc, Fail, Format, Params, authenticate, check_jurisdiction, reply, split_format};
use crate::cases::intake::{self, Report, Reporter};
use crate::error::ApiError;
use crate::external::{self, webhook::is_closed};
use crate::routes::ClientIp;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use wangge_domain::case_flow::CaseState;
use wangge_domain::catalogue::QuestionType;
use wangge_domain::roles::Scope;
use wangge_store::{Case, CaseFilter, ExternalSystem, UpdateQuery};

/// At most this many requests or updates per answer (the spec's limit).
const MAX_ITEMS: i64 = 1000;
const DAY_MS: i64 = 86_400_000;
/// The longest span of a request search.
const MAX_SPAN_MS: i64 = 90 * DAY_MS;

/// GET {discovery,services,requests,servicerequestupdates}.{format}
pub async fn top_get(
    State(st): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, Fail> {
    let (name, f) = split_format(&file)?;
    let p = Params::parse(q.as_deref(), b"");
    match name {
        "discovery" => discovery(&st, &headers, f).await,
        "services" => services(&st, &p, f),
        "requests" => list(&st, &p, &ip, f).await,
        "servicerequestupdates" => updates(&st, &p, &ip, f).await,
        _ => Err(Fail(f, ApiError::new("not_found"))),
    }
}

/// Runs a keyed call: checks the jurisdiction and the key, runs `work`, and audits the call
/// with its outcome (what it returned or why it failed).
async fn keyed<F, Fut>(
    st: &AppState,
    p: &Params,
    ip: &str,
    f: Format,
    action: &str,
    work: F,
) -> Result<Response, Fail>
where
    F: FnOnce(ExternalSystem) -> Fut,
    Fut: std::future::Future<Output = Result<(Response, Value), Fail>>,
{
    check_jurisdiction(st, p, f)?;
    let system = authenticate(st, p, ip, f).await?;
    let outcome = work(system.clone()).await;
    let detail = match &outcome {
        Ok((_, d)) => d.clone(),
        Err(e) => json!({ "error": e.1.code }),
    };
    external::audit_call(st, &system, ip, action, detail)
        .await
        .map_err(|e| Fail(f, e.into()))?;
    outcome.map(|(r, _)| r)
}

fn scope_of(system: &ExternalSystem) -> Scope {
    Scope::Subtrees(vec![system.unit_path.clone()])
}

/// A request as Open311 shows it.
fn request_doc(st: &AppState, c: &Case, agency: Option<&str>) -> Doc {
    let cat = st.cases.catalogue();
    let service_name = c
        .category
        .as_deref()
        .and_then(|code| cat.get(code))
        .map(|x| x.name.clone())
        .or_else(|| c.category_name.clone());
    let closed = is_closed(c.state);
    let updated = if closed {
        c.closed_at.unwrap_or(c.updated_at)
    } else {
        c.updated_at
    };
    let media_url = c.detail["source"]["media_url"].as_str().map(str::to_string);
    Doc::Obj(vec![
        ("service_request_id", Doc::text(c.id.to_string())),
        ("status", Doc::text(if closed { "closed" } else { "open" })),
        ("status_notes", Doc::text(status_notes(c))),
        ("service_name", Doc::opt_text(service_name)),
        ("service_code", Doc::opt_text(c.category.clone())),
        ("description", Doc::text(c.description.clone())),
        (
            "agency_responsible",
            Doc::text(agency.unwrap_or(&c.handling_name).to_string()),
        ),
        ("service_notice", Doc::Null),
        (
            "requested_datetime",
            Doc::text(st.config.iso_time(c.created_at)),
        ),
        ("updated_datetime", Doc::text(st.config.iso_time(updated))),
        (
            "expected_datetime",
            Doc::opt_text(c.deadline_at.map(|d| st.config.iso_time(d))),
        ),
        (
            "address",
            Doc::opt_text(Some(c.address.clone()).filter(|a| !a.is_empty())),
        ),
        ("address_id", Doc::text(c.unit_code.clone())),
        ("zipcode", Doc::Null),
        ("lat", c.lat.map_or(Doc::Null, Doc::Number)),
        ("long", c.lng.map_or(Doc::Null, Doc::Number)),
        ("media_url", Doc::opt_text(media_url)),
    ])
}

/// The state in Chinese and English, and the case number.
fn status_notes(c: &Case) -> String {
    let (zh, en) = state_names(c.state);
    let mut s = format!("{zh} ({en}); 编号 {}", c.number);
    if let Some(into) = c.merged_into {
        s.push_str(&format!("; 已合并至案件 {into} (merged into {into})"));
    }
    s
}

pub fn state_names(s: CaseState) -> (&'static str, &'static str) {
    match s {
        CaseState::Draft => ("草稿", "draft"),
        CaseState::Reported => ("已上报", "reported"),
        CaseState::Accepted => ("已受理", "accepted"),
        CaseState::Filed => ("已立案", "filed"),
        CaseState::NotFiled => ("不予立案", "not filed"),
        CaseState::Dispatched => ("已派遣", "dispatched"),
        CaseState::InHandling => ("处置中", "in handling"),
        CaseState::Handled => ("已处置待核查", "handled, awaiting check"),
        CaseState::InCheck => ("核查中", "in check"),
        CaseState::Rework => ("返工中", "rework"),
        CaseState::Closed => ("已结案", "closed"),
        CaseState::Rated => ("已评价", "rated"),
        CaseState::Parked => ("挂账", "parked"),
        CaseState::Deferred => ("缓办", "deferred"),
        CaseState::Voided => ("已作废", "voided"),
    }
}

/// Requests with their lead departments, in one answer.
async fn requests_doc(st: &AppState, cases: &[Case], f: Format) -> Result<Doc, Fail> {
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let agencies: HashMap<i64, String> = st
        .store
        .case_lead_departments(&ids)
        .await
        .map_err(|e| Fail(f, e.into()))?
        .into_iter()
        .collect();
    Ok(Doc::List(
        "request",
        cases
            .iter()
            .map(|c| request_doc(st, c, agencies.get(&c.id).map(String::as_str)))
            .collect(),
    ))
}

/// An instant in the W3C profile of ISO 8601: with a time and an offset, or a date alone
/// (midnight in the deployment's time zone).
fn parse_time(st: &AppState, field: &str, v: &str, f: Format) -> Result<i64, Fail> {
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(d) = v.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(st.config.time_zone.clone())
    {
        return Ok(z.timestamp().as_millisecond());
    }
    Err(Fail(
        f,
        ApiError::field(
            field,
            format!("{v:?} is not a W3C date-time such as 2026-11-01T00:00:00+08:00"),
        ),
    ))
}

/// `[start, end)` from start_date and end_date: 90 days back from now by default, and no
/// longer than 90 days.
fn window(st: &AppState, p: &Params, f: Format, default_ms: i64) -> Result<(i64, i64), Fail> {
    let start = p
        .get("start_date")
        .map(|v| parse_time(st, "start_date", v, f))
        .transpose()?;
    let end = p
        .get("end_date")
        .map(|v| parse_time(st, "end_date", v, f))
        .transpose()?;
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s, e + 1),
        (Some(s), None) => (s, st.clock.now_ms() + 1),
        (None, Some(e)) => (e + 1 - default_ms, e + 1),
        (None, None) => (st.clock.now_ms() - default_ms, st.clock.now_ms() + 1),
    };
    if to <= from {
        return Err(Fail(
            f,
            ApiError::field("end_date", "end_date is before start_date"),
        ));
    }
    if to - from > MAX_SPAN_MS + 1 {
        return Err(Fail(
            f,
            ApiError::field("start_date", "the range may not span more than 90 days"),
        ));
    }
    Ok((from, to))
}

/// GET requests.{format}
async fn list(st: &AppState, p: &Params, ip: &str, f: Format) -> Result<Response, Fail> {
    keyed(st, p, ip, f, "open311.requests", |system| async move {
        let mut filter = CaseFilter {
            scope: Some(scope_of(&system)),
            limit: MAX_ITEMS,
            ..Default::default()
        };
        let ids = p.list("service_request_id");
        if ids.is_empty() {
            let cat = st.cases.catalogue();
            for code in p.list("service_code") {
                leaf(&cat, &code, f)?;
                filter.categories.push(code);
            }
            let (from, to) = window(st, p, f, MAX_SPAN_MS)?;
            filter.from = Some(from);
            filter.to = Some(to);
            let statuses = p.list("status");
            for s in &statuses {
                if s != "open" && s != "closed" {
                    return Err(Fail(f, ApiError::field("status", "open, closed or both")));
                }
            }
            let open = statuses.iter().any(|s| s == "open");
            let closed = statuses.iter().any(|s| s == "closed");
            if open != closed {
                filter.states = ALL_STATES
                    .iter()
                    .copied()
                    .filter(|s| is_closed(*s) == closed)
                    .collect();
            }
        } else {
            // service_request_id overrides every other argument
            for id in ids {
                let n: i64 = id.parse().map_err(|_| {
                    Fail(
                        f,
                        ApiError::field(
                            "service_request_id",
                            format!("{id:?} is not a request id"),
                        ),
                    )
                })?;
                filter.ids.push(n);
            }
        }
        let (cases, _) = st
            .store
            .case_list(&filter)
            .await
            .map_err(|e| Fail(f, e.into()))?;
        let doc = requests_doc(st, &cases, f).await?;
        Ok((
            reply(f, "service_requests", &doc),
            json!({ "count": cases.len() }),
        ))
    })
    .await
}

const ALL_STATES: [CaseState; 15] = [
    CaseState::Draft,
    CaseState::Reported,
    CaseState::Accepted,
    CaseState::Filed,
    CaseState::NotFiled,
    CaseState::Dispatched,
    CaseState::InHandling,
    CaseState::Handled,
    CaseState::InCheck,
    CaseState::Rework,
    CaseState::Closed,
    CaseState::Rated,
    CaseState::Parked,
    CaseState::Deferred,
    CaseState::Voided,
];

/// A case of the system's territory, or 404.
async fn case_in_scope(
    st: &AppState,
    system: &ExternalSystem,
    id: &str,
    f: Format,
) -> Result<Case, Fail> {
    let not_found = || {
        Fail(
            f,
            ApiError::new("case_not_found").msg(format!("no service request {id}")),
        )
    };
    let n: i64 = id.parse().map_err(|_| not_found())?;
    match st.store.case_get(n).await {
        Ok(c) if c.unit_path.starts_with(&system.unit_path) => Ok(c),
        Ok(_) | Err(wangge_store::StoreError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(Fail(f, e.into())),
    }
}

/// GET requests/{service_request_id}.{format}
pub async fn one(
    State(st): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    ClientIp(ip): ClientIp,
) -> Result<Response, Fail> {
    let (id, f) = split_format(&file)?;
    let p = Params::parse(q.as_deref(), b"");
    let st = &st;
    keyed(st, &p, &ip, f, "open311.request", |system| async move {
        let c = case_in_scope(st, &system, id, f).await?;
        let doc = requests_doc(st, std::slice::from_ref(&c), f).await?;
        Ok((reply(f, "service_requests", &doc), json!({ "case": c.id })))
    })
    .await
}

/// GET tokens/{token}.{format}: the request a client id made (the token of an Open311 post,
/// the `event_id` of an ingested event, or the client id of the JSON API).
pub async fn token(
    State(st): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    ClientIp(ip): ClientIp,
) -> Result<Response, Fail> {
    let (token, f) = split_format(&file)?;
    let p = Params::parse(q.as_deref(), b"");
    let st = &st;
    keyed(st, &p, &ip, f, "open311.token", |system| async move {
        let found = st
            .store
            .case_by_client_id(token)
            .await
            .map_err(|e| Fail(f, e.into()))?
            .filter(|c| c.unit_path.starts_with(&system.unit_path))
            .ok_or_else(|| {
                Fail(
                    f,
                    ApiError::new("case_not_found").msg(format!("no request with token {token}")),
                )
            })?;
        let doc = Doc::List(
            "request",
            vec![Doc::Obj(vec![
                ("service_request_id", Doc::text(found.id.to_string())),
                ("token", Doc::text(token.to_string())),
            ])],
        );
        Ok((
            reply(f, "service_requests", &doc),
            json!({ "case": found.id }),
        ))
    })
    .await
}

/// GET servicerequestupdates.{format}: every step of the territory's requests between
/// start_date (default: a day before end_date) and end_date (default: now), oldest first.
async fn updates(st: &AppState, p: &Params, ip: &str, f: Format) -> Result<Response, Fail> {
    keyed(st, p, ip, f, "open311.updates", |system| async move {
        let (from, to) = window(st, p, f, DAY_MS)?;
        let list = st
            .store
            .case_updates(&UpdateQuery {
                under_path: system.unit_path.clone(),
                from,
                to,
                limit: MAX_ITEMS,
            })
            .await
            .map_err(|e| Fail(f, e.into()))?;
        let items: Vec<Doc> = list
            .iter()
            .map(|u| {
                let (zh, en) = state_names(u.to_state);
                let mut description = format!("{zh} ({en})");
                if !u.note.trim().is_empty() {
                    description.push_str(&format!(": {}", u.note.trim()));
                }
                Doc::Obj(vec![
                    ("update_id", Doc::text(u.event_id.to_string())),
                    ("service_request_id", Doc::text(u.case_id.to_string())),
                    (
                        "status",
                        Doc::text(if is_closed(u.to_state) {
                            "closed"
                        } else {
                            "open"
                        }),
                    ),
                    ("updated_datetime", Doc::text(st.config.iso_time(u.at))),
                    ("description", Doc::Text(description)),
                    ("media_url", Doc::Null),
                ])
            })
            .collect();
        let doc = Doc::List("request_update", items);
        Ok((
            reply(f, "service_request_updates", &doc),
            json!({ "count": list.len() }),
        ))
    })
    .await
}

/// The answers of a service definition's attributes: `attribute[code]=v` and, for lists,
/// `attribute[code][]=v` repeated. Values are typed as the questions say, so the catalogue's
/// check sees numbers, booleans and lists.
fn answers(st: &AppState, code: &str, p: &Params) -> Map<String, Value> {
    let questions = st.cases.catalogue().effective_questions(code);
    let mut out = Map::new();
    for (k, v) in &p.0 {
        let Some(rest) = k.strip_prefix("attribute[") else {
            continue;
        };
        let (name, many) = match rest.strip_suffix("][]") {
            Some(n) => (n, true),
            None => (rest.trim_end_matches(']'), false),
        };
        if v.trim().is_empty() {
            continue;
        }
        let kind = questions.iter().find(|q| q.key == name).map(|q| q.kind);
        let value = match kind {
            Some(QuestionType::Number) => v
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(v.clone()), Value::Number),
            Some(QuestionType::Bool) => match v.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(v.clone()),
            },
            _ => Value::String(v.clone()),
        };
        if many || kind == Some(QuestionType::Multi) {
            match out
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(vec![]))
            {
                Value::Array(a) => a.push(value),
                other => *other = Value::Array(vec![other.clone(), value]),
            }
        } else {
            out.insert(name.to_string(), value);
        }
    }
    out
}

fn coordinate(p: &Params, name: &str, f: Format) -> Result<Option<f64>, Fail> {
    p.get(name)
        .map(|v| {
            v.parse::<f64>()
                .map_err(|_| Fail(f, ApiError::field(name, format!("{v:?} is not a number"))))
        })
        .transpose()
}

/// POST requests.{format} (application/x-www-form-urlencoded)
pub async fn post_request(
    State(st): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fail> {
    let (name, f) = split_format(&file)?;
    if name != "requests" {
        return Err(Fail(f, ApiError::new("not_found")));
    }
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(Fail(
            f,
            ApiError::new("unsupported_media_type")
                .msg("send the request as application/x-www-form-urlencoded"),
        ));
    }
    let p = Params::parse(q.as_deref(), &body);
    let (st, params, from) = (&st, &p, ip.clone());
    keyed(st, &p, &ip, f, "open311.post", |system| async move {
        let p = params;
        let report = report_of(st, p, &system, f)?;
        let (case, _) = intake::submit(
            st,
            Reporter::External {
                system: &system,
                ip: from,
            },
            report,
        )
        .await
        .map_err(|e| Fail(f, e))?;
        let notice = format!(
            "已受理，案件编号 {}，由{}办理 (received as case {}, handled by {})",
            case.number, case.handling_name, case.number, case.handling_name
        );
        let doc = Doc::List(
            "request",
            vec![Doc::Obj(vec![
                ("service_request_id", Doc::text(case.id.to_string())),
                ("service_notice", Doc::Text(notice)),
                ("account_id", Doc::opt_text(p.get("account_id"))),
            ])],
        );
        Ok((
            reply(f, "service_requests", &doc),
            json!({ "case": case.id, "number": case.number }),
        ))
    })
    .await
}

/// The report an Open311 post makes: located by lat/long or by address_id (a grid's code);
/// an address alone cannot be placed in a grid.
fn report_of(
    st: &AppState,
    p: &Params,
    system: &ExternalSystem,
    f: Format,
) -> Result<Report, Fail> {
    let code = p.get("service_code").ok_or_else(|| {
        Fail(
            f,
            ApiError::field("service_code", "service_code is required"),
        )
    })?;
    let cat = st.cases.catalogue();
    let service = leaf(&cat, code, f)?;
    let (lat, lng) = (coordinate(p, "lat", f)?, coordinate(p, "long", f)?);
    if lat.is_some() != lng.is_some() {
        return Err(Fail(
            f,
            ApiError::field("long", "send lat and long together"),
        ));
    }
    let address_id = p.get("address_id").map(str::to_string);
    if lat.is_none() && address_id.is_none() {
        return Err(Fail(
            f,
            ApiError::field(
                "lat",
                "send lat and long, or address_id (a grid's code); an address_string alone cannot be placed in a grid",
            ),
        ));
    }
    let name = [p.get("last_name"), p.get("first_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("");
    let description = p
        .get("description")
        .map(str::to_string)
        .unwrap_or_else(|| service.name.clone());
    let mut source = Map::new();
    source.insert("system".into(), json!(system.name));
    source.insert("protocol".into(), json!("open311"));
    for k in [
        "email",
        "device_id",
        "account_id",
        "media_url",
        "address_string",
    ] {
        if let Some(v) = p.get(k) {
            source.insert(k.into(), json!(v));
        }
    }
    Ok(Report {
        client_id: format!("o311-{}", &crate::auth::random_token()[..32]),
        channel: None,
        lat,
        lng,
        crs: None,
        unit_code: address_id,
        handling_code: None,
        address: p.get("address_string").unwrap_or("").to_string(),
        category: Some(service.code.clone()),
        description,
        nature: None,
        urgent: false,
        answers: answers(st, &service.code, p),
        media: vec![],
        reporter_name: Some(name).filter(|n| !n.is_empty()),
        reporter_phone: p.get("phone").map(str::to_string),
        on_spot: None,
        errand: None,
        source: Some(Value::Object(source)),
    })
}

//! What residents reach without an account: report from a grid's page (anonymous allowed),
//! follow a case by its tracking code, rate the result, and the grid's closed cases (公开),
//! anonymised.

use super::ClientIp;
use crate::cases::engine::{self, Acting, Step};
use crate::cases::intake::{self, Report, Reporter};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Upload};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wangge_domain::audit::Actor;
use wangge_domain::case_flow::{CaseAction, CaseState};
use wangge_domain::roles::Scope;
use wangge_store::{Case, CaseFilter, Media};

#[derive(Serialize, ToSchema)]
pub struct Receipt {
    number: String,
    /// Keep it: it opens the tracking page.
    tracking_code: String,
    #[schema(value_type = String)]
    state: CaseState,
}

/// A resident's report from the grid's page. Anonymous unless a name or phone is given; the
/// same `client_id` again returns the same receipt.
#[utoipa::path(post, path = "/api/v1/public/cases", tag = "public", request_body = Report,
    responses((status = 201, body = Receipt), (status = 200, body = Receipt), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(r): Json<Report>,
) -> ApiResult<(StatusCode, axum::Json<Receipt>)> {
    if r.channel.is_some() || r.handling_code.is_some() || r.on_spot.is_some() || r.errand.is_some()
    {
        return Err(ApiError::new("unknown_field")
            .msg("channel, handling_code, on_spot and errand are for staff"));
    }
    let (case, report) = intake::submit(&st, Reporter::Resident { ip }, r).await?;
    let status = if report.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(Receipt {
            number: case.number,
            tracking_code: case.tracking_code,
            state: case.state,
        }),
    ))
}

/// A photo or video for a resident's report (same limits as staff uploads).
#[utoipa::path(post, path = "/api/v1/public/media", tag = "public", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 415, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Upload(bytes): Upload,
) -> ApiResult<(StatusCode, axum::Json<Media>)> {
    // recorded as uploaded by this address: only a report from it may show the photo
    let acting = Acting::resident(&ip);
    let uploader = Actor {
        name: acting.uploader(),
        ..acting.actor
    };
    let m = crate::cases::media::store_upload(&st, &uploader, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, axum::Json(m)))
}

#[derive(Serialize, ToSchema)]
pub struct PublicStep {
    at: i64,
    action: String,
    #[schema(value_type = String)]
    state: CaseState,
    /// Only what is meant for the resident: results, reasons for not filing.
    note: Option<String>,
    media: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Tracking {
    number: String,
    #[schema(value_type = String)]
    state: CaseState,
    category: Option<String>,
    description: String,
    address: String,
    grid: String,
    created_at: i64,
    deadline_at: Option<i64>,
    rating: Option<String>,
    /// Closed and not yet rated: the resident may rate.
    can_rate: bool,
    media: Vec<i64>,
    steps: Vec<PublicStep>,
    /// A duplicate: the original case the resident now follows (the same shape).
    #[schema(value_type = Option<Object>)]
    merged_into: Option<Box<Tracking>>,
    /// 补办件: what the resident still has to bring.
    missing: Vec<String>,
}

/// Steps whose notes the resident may read.
const PUBLIC_NOTES: [&str; 5] = [
    "report_result",
    "not_file",
    "rate",
    "handle_on_spot",
    "merge",
];

async fn tracking(st: &AppState, case: Case, depth: u8) -> ApiResult<Tracking> {
    let events = st.store.case_events(case.id).await?;
    let steps = events
        .into_iter()
        .filter(|e| {
            !e.action.starts_with("warning") && e.action != "breached" && e.action != "supervise"
        })
        .map(|e| PublicStep {
            at: e.at,
            note: PUBLIC_NOTES
                .contains(&e.action.as_str())
                .then_some(e.note)
                .filter(|n| !n.is_empty()),
            media: if PUBLIC_NOTES.contains(&e.action.as_str()) {
                e.media
            } else {
                vec![]
            },
            action: e.action,
            state: e.to_state,
        })
        .collect();
    let merged_into = match (case.merged_into, depth) {
        (Some(id), 0) => {
            let original = st.store.case_get(id).await?;
            Some(Box::new(Box::pin(tracking(st, original, 1)).await?))
        }
        _ => None,
    };
    let missing = case
        .errand
        .as_ref()
        .and_then(|e| e.get("missing"))
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    Ok(Tracking {
        number: case.number,
        state: case.state,
        category: case.category_name,
        description: case.description,
        address: case.address,
        grid: case.unit_name,
        created_at: case.created_at,
        deadline_at: case.deadline_at,
        can_rate: case.state == CaseState::Closed,
        rating: case.rating,
        media: case.media,
        steps,
        merged_into,
        missing,
    })
}

async fn by_code(st: &AppState, code: &str) -> ApiResult<Case> {
    st.store
        .case_by_tracking(code.trim())
        .await
        .map_err(|_| ApiError::new("case_not_found"))
}

/// A case as its reporter follows it, by tracking code.
#[utoipa::path(get, path = "/api/v1/public/cases/{code}", tag = "public", params(("code" = String, Path)),
    responses((status = 200, body = Tracking), (status = 404, body = ErrorBody)))]
pub async fn track(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Tracking>> {
    let case = by_code(&st, &code).await?;
    Ok(axum::Json(tracking(&st, case, 0).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// satisfied, basically_satisfied or unsatisfied.
    rating: String,
    #[serde(default)]
    comment: String,
}

/// The resident rates the result; "unsatisfied" reopens the case where the rules say so.
#[utoipa::path(post, path = "/api/v1/public/cases/{code}/rate", tag = "public", params(("code" = String, Path)),
    request_body = Rating, responses((status = 200, body = Tracking), (status = 409, body = ErrorBody)))]
pub async fn rate(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    Json(r): Json<Rating>,
) -> ApiResult<axum::Json<Tracking>> {
    let case = by_code(&st, &code).await?;
    let acting = Acting::resident(&ip);
    let step = Step {
        version: case.version,
        note: r.comment,
        rating: Some(r.rating),
        ..Step::default()
    };
    let case = engine::act(&st, &acting, case.id, CaseAction::Rate, step).await?;
    let case = engine::after_rating(&st, &acting, case).await?;
    Ok(axum::Json(tracking(&st, case, 0).await?))
}

/// A photo or video of a case, for the holder of its tracking code.
#[utoipa::path(get, path = "/api/v1/public/cases/{code}/media/{id}", tag = "public",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, content_type = "image/jpeg"), (status = 404, body = ErrorBody)))]
pub async fn case_media(
    State(st): State<AppState>,
    Path((code, id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let case = by_code(&st, &code).await?;
    let owners = st.store.media_cases(id).await?;
    let original = case.merged_into.unwrap_or(case.id);
    if !owners.contains(&case.id) && !owners.contains(&original) {
        return Err(ApiError::new("not_found"));
    }
    media_response(&st, id).await
}

pub async fn media_response(st: &AppState, id: i64) -> ApiResult<Response> {
    let m = st
        .store
        .media_get(id)
        .await
        .map_err(|_| ApiError::new("not_found"))?;
    let bytes = crate::cases::media::read(st, &m).await?;
    Ok((
        [
            (header::CONTENT_TYPE, m.content_type.clone()),
            (header::CACHE_CONTROL, "private, max-age=86400".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct Disclosed {
    number: String,
    category: Option<String>,
    /// The start of the description, with phone and ID numbers starred out.
    summary: String,
    created_at: i64,
    closed_at: Option<i64>,
    rating: Option<String>,
}

/// Replaces runs of 7 or more digits (phones, ID numbers) with asterisks.
pub fn anonymise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 7 {
            out.push_str(&"*".repeat(run.chars().count()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() || (ch == 'X' || ch == 'x') && !run.is_empty() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The grid's closed cases of the last 90 days, anonymised (公开).
#[utoipa::path(get, path = "/api/v1/public/grids/{code}/cases", tag = "public", params(("code" = String, Path)),
    responses((status = 200, body = Vec<Disclosed>), (status = 404, body = ErrorBody)))]
pub async fn disclosed(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Vec<Disclosed>>> {
    let (unit, _) = st.store.unit_get(&Scope::All, &code).await?;
    if !st.config.levels.is_grid(&unit.level) {
        return Err(ApiError::new("unit_not_found"));
    }
    let f = CaseFilter {
        scope: Some(Scope::Subtrees(vec![unit.path.clone()])),
        states: vec![CaseState::Closed, CaseState::Rated],
        from: Some(st.clock.now_ms() - 90 * 86_400_000),
        limit: 100,
        ..Default::default()
    };
    let (items, _) = st.store.case_list(&f).await?;
    Ok(axum::Json(
        items
            .into_iter()
            .map(|c| Disclosed {
                number: c.number,
                category: c.category_name,
                summary: anonymise(&c.description.chars().take(80).collect::<String>()),
                created_at: c.created_at,
                closed_at: c.closed_at,
                rating: c.rating,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Notice {
    number: String,
    /// The matter applied for.
    matter: String,
    /// The applicant's family name only.
    applicant: Option<String>,
    /// The level that reviewed it and the text of its notice.
    unit_name: String,
    notice: String,
    notice_until: i64,
}

/// Approval matters of the grid's residents under public notice now (公示): objections go to the
/// grid team or the reviewing centre before the notice ends.
#[utoipa::path(get, path = "/api/v1/public/grids/{code}/notices", tag = "public", params(("code" = String, Path)),
    responses((status = 200, body = Vec<Notice>), (status = 404, body = ErrorBody)))]
pub async fn notices(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Vec<Notice>>> {
    let (unit, _) = st.store.unit_get(&Scope::All, &code).await?;
    if !st.config.levels.is_grid(&unit.level) {
        return Err(ApiError::new("unit_not_found"));
    }
    let f = CaseFilter {
        scope: Some(Scope::Subtrees(vec![unit.path.clone()])),
        channel: Some("errand".into()),
        states: vec![CaseState::Reported, CaseState::Accepted],
        limit: 200,
        ..Default::default()
    };
    let now = st.clock.now_ms();
    let items = st.store.case_list(&f).await?.0;
    Ok(axum::Json(
        items
            .into_iter()
            .filter_map(|c| {
                let e = c.errand.as_ref()?;
                let until = e.get("notice_until")?.as_i64().filter(|t| *t > now)?;
                let last = e.get("reviews")?.as_array()?.last()?;
                Some(Notice {
                    number: c.number.clone(),
                    matter: e
                        .get("matter")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    applicant: c
                        .reporter_name
                        .as_deref()
                        .and_then(|n| n.chars().next())
                        .map(|f| format!("{f}**")),
                    unit_name: last["unit_name"].as_str().unwrap_or_default().to_string(),
                    notice: anonymise(last["notice"].as_str().unwrap_or_default()),
                    notice_until: until,
                })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn phones_and_ids_are_hidden() {
        assert_eq!(
            super::anonymise("电话13800001234，身份证32010219900101123X，3号楼"),
            "电话***********，身份证******************，3号楼"
        );
    }
}

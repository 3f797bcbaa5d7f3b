//! The working calendar: office hours (configuration), public holidays and make-up working days
//! (调休) as data imported from CSV or iCal, and a deadline calculator to check it.

use crate::auth::Caller;
use crate::cases::engine;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Path, Query, Upload};
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::catalogue::parse_limit;
use wangge_domain::roles::Permission::{CaseConfigure, CaseRead};
use wangge_domain::worktime::{Calendar, DayKind};
use wangge_store::CalendarDay;

#[derive(Serialize, ToSchema)]
pub struct CalendarOut {
    office_hours: Vec<String>,
    /// Monday = 1.
    weekdays: Vec<u8>,
    #[schema(value_type = Vec<Object>)]
    days: Vec<CalendarDay>,
}

/// Office hours, working weekdays and the dated exceptions.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "catalogue", responses((status = 200, body = CalendarOut)))]
pub async fn get(State(st): State<AppState>, caller: Caller) -> ApiResult<axum::Json<CalendarOut>> {
    caller.require(CaseRead)?;
    Ok(axum::Json(CalendarOut {
        office_hours: st.config.cases.office_hours.clone(),
        weekdays: st.config.cases.weekdays.clone(),
        days: st.store.calendar_days().await?,
    }))
}

/// Imports holidays and make-up days from CSV (`date,kind[,name]`, kind holiday/休 or
/// workday/班) or iCal (events with 班 in the summary are working days). All or nothing.
#[utoipa::path(post, path = "/api/v1/calendar/import", tag = "catalogue",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = CalendarOut), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Upload(bytes): Upload,
) -> ApiResult<axum::Json<CalendarOut>> {
    caller.require_global(CaseConfigure)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::field("file", "the file is not UTF-8"))?;
    let text = text.trim_start_matches('\u{feff}');
    let parsed = if text.trim_start().starts_with("BEGIN:VCALENDAR") {
        Calendar::parse_ical(text)?
    } else {
        Calendar::parse_csv(text)?
    };
    if parsed.is_empty() {
        return Err(ApiError::field("file", "no dates in the file"));
    }
    let days: Vec<CalendarDay> = parsed
        .iter()
        .map(|(d, k)| CalendarDay {
            day: d.to_string(),
            kind: if *k == DayKind::Workday {
                "workday"
            } else {
                "holiday"
            }
            .into(),
            note: String::new(),
        })
        .collect();
    st.store.calendar_set(&caller.actor(), &days).await?;
    reload(&st).await?;
    get(State(st), caller).await
}

async fn reload(st: &AppState) -> ApiResult<()> {
    st.cases
        .reload_calendar(st.store.as_ref(), &st.config)
        .await
        .map_err(|e| ApiError::new("internal_error").msg(e.to_string()))
}

/// Removes one dated exception.
#[utoipa::path(delete, path = "/api/v1/calendar/days/{day}", tag = "catalogue", params(("day" = String, Path)),
    responses((status = 200, body = CalendarOut), (status = 404, body = ErrorBody)))]
pub async fn delete_day(
    State(st): State<AppState>,
    caller: Caller,
    Path(day): Path<String>,
) -> ApiResult<axum::Json<CalendarOut>> {
    caller.require_global(CaseConfigure)?;
    st.store.calendar_delete(&caller.actor(), &day).await?;
    reload(&st).await?;
    get(State(st), caller).await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeadlineQuery {
    /// `YYYY-MM-DDTHH:MM` local time.
    start: String,
    /// `4h` working hours or `5d` working days.
    limit: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeadlineOut {
    deadline: String,
    deadline_ms: Option<i64>,
}

/// When a limit started at `start` ends on this calendar.
#[utoipa::path(get, path = "/api/v1/calendar/deadline", tag = "catalogue", params(DeadlineQuery),
    responses((status = 200, body = DeadlineOut), (status = 400, body = ErrorBody)))]
pub async fn deadline(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<DeadlineQuery>,
) -> ApiResult<axum::Json<DeadlineOut>> {
    caller.require(CaseRead)?;
    let start: jiff::civil::DateTime = q
        .start
        .parse()
        .map_err(|_| ApiError::new("bad_parameter").msg("start must be YYYY-MM-DDTHH:MM"))?;
    let cal = st.cases.calendar();
    let limit = parse_limit(&q.limit)?;
    let d = cal
        .add_minutes(start, limit.minutes(&cal))
        .ok_or_else(|| ApiError::new("bad_parameter").msg("the calendar has no working time"))?;
    Ok(axum::Json(DeadlineOut {
        deadline: d.strftime("%Y-%m-%d %H:%M").to_string(),
        deadline_ms: engine::to_ms(&st, d),
    }))
}

//! Cases for staff: report, list, read, act, suggestions (category and duplicates), the
//! unreported (漏报) and overdue boards, and the reporter's contact (audited).

use crate::auth::Caller;
use crate::cases::engine::{self, Acting, Step};
use crate::cases::intake::{self, Report, Reporter};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::audit::AuditEvent;
use wangge_domain::case_flow::{CaseAction, CaseState, Party};
use wangge_domain::roles::Permission::CaseRead;
use wangge_domain::roles::Scope;
use wangge_store::{Case, CaseAssignment, CaseEvent, CaseFilter, NearbyQuery, mask_phone};

/// A case with everything its page shows.
#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    case: Case,
    /// The reporter as the caller may see them (hotline callers only to the command centre).
    reporter: Option<ReporterView>,
    #[schema(value_type = Vec<Object>)]
    events: Vec<CaseEvent>,
    #[schema(value_type = Vec<Object>)]
    assignments: Vec<CaseAssignment>,
    /// What the caller may do now.
    #[schema(value_type = Vec<String>)]
    allowed: Vec<CaseAction>,
    #[schema(value_type = Vec<String>)]
    parties: Vec<Party>,
    /// Duplicates merged into this case.
    merged: Vec<MergedCase>,
}

#[derive(Serialize, ToSchema)]
pub struct ReporterView {
    name: Option<String>,
    /// Masked; the full number is read through `/cases/{id}/reporter` (audited).
    phone: Option<String>,
    confidential: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MergedCase {
    id: i64,
    number: String,
}

fn sees_reporter(case: &Case, acting: &Acting) -> bool {
    let centre = acting
        .parties
        .iter()
        .any(|p| matches!(p, Party::Operator | Party::Leader));
    centre || (!case.confidential && !acting.parties.is_empty())
}

/// The case with its history, departments and merged duplicates. `report`: the case was made
/// just now with this event, so it has no other history, departments or duplicates yet (no reads
/// on the intake path).
async fn detail(
    st: &AppState,
    case: Case,
    acting: &Acting,
    report: Option<CaseEvent>,
) -> ApiResult<CaseDetail> {
    let (events, assignments, merged) = if let Some(e) = report {
        (vec![e], vec![], vec![])
    } else {
        let events = st.store.case_events(case.id).await?;
        let merged = st
            .store
            .case_list(&CaseFilter {
                merged_into: Some(case.id),
                limit: 100,
                ..Default::default()
            })
            .await?
            .0
            .into_iter()
            .map(|c| MergedCase {
                id: c.id,
                number: c.number,
            })
            .collect();
        (events, st.store.case_assignments(case.id).await?, merged)
    };
    let reporter = sees_reporter(&case, acting).then(|| ReporterView {
        name: case.reporter_name.clone(),
        phone: case.reporter_phone.as_deref().map(mask_phone),
        confidential: case.confidential,
    });
    Ok(CaseDetail {
        allowed: engine::allowed(st, &case, acting),
        parties: acting.parties.clone(),
        reporter,
        events,
        assignments,
        merged,
        case,
    })
}

/// A case the caller may read, and what the caller is to it.
async fn readable(st: &AppState, caller: &Caller, id: i64) -> ApiResult<(Case, Acting)> {
    let case = st
        .store
        .case_get(id)
        .await
        .map_err(|_| ApiError::new("case_not_found"))?;
    let acting = engine::acting(st, caller, &case).await?;
    if !engine::may_read(caller, &case, &acting) {
        return Err(ApiError::new("case_not_found"));
    }
    Ok((case, acting))
}

/// Reports a case as staff: a grid worker (possibly handled on the spot), a hotline operator, a
/// superior's assignment, a lower level's report, an errand. The same `client_id` again returns
/// the case already made (200 instead of 201).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = Report,
    responses((status = 201, body = CaseDetail), (status = 200, body = CaseDetail),
        (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(r): Json<Report>,
) -> ApiResult<(StatusCode, axum::Json<CaseDetail>)> {
    let (case, report) = intake::submit(&st, Reporter::Staff { caller: &caller }, r).await?;
    let (acting, status) = if report.is_some() {
        (engine::acting_on_new(&caller, &case), StatusCode::CREATED)
    } else {
        (engine::acting(&st, &caller, &case).await?, StatusCode::OK)
    };
    Ok((
        status,
        axum::Json(detail(&st, case, &acting, report).await?),
    ))
}

#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states.
    state: Option<String>,
    /// A category code or the code of a category above it.
    category: Option<String>,
    /// Cases whose place lies under this unit.
    unit: Option<String>,
    /// Cases handled now at this unit.
    handling: Option<String>,
    department: Option<i64>,
    channel: Option<String>,
    overdue: Option<bool>,
    supervised: Option<bool>,
    urgent: Option<bool>,
    /// YYYY-MM-DD, inclusive.
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    /// to_handle, to_check or reported: the caller's own work lists.
    view: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CasePage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Case>,
    /// Cases matching; a lower bound when `total_exact` is false (counting stops past
    /// 10,000 matches, which at millions of cases would cost seconds).
    total: i64,
    total_exact: bool,
}

impl CasePage {
    fn new(items: Vec<Case>, total: i64) -> Self {
        let total_exact = total <= wangge_store::LIST_COUNT_LIMIT;
        CasePage {
            items,
            total: total.min(wangge_store::LIST_COUNT_LIMIT),
            total_exact,
        }
    }
}

fn parse_states(s: &str) -> ApiResult<Vec<CaseState>> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            serde_json::from_value(Value::String(x.trim().to_string()))
                .map_err(|_| ApiError::new("bad_parameter").msg(format!("unknown state {x}")))
        })
        .collect()
}

fn day_start(st: &AppState, date: &str, field: &str) -> ApiResult<i64> {
    let d: jiff::civil::Date = date
        .parse()
        .map_err(|_| ApiError::new("bad_parameter").msg(format!("{field} must be YYYY-MM-DD")))?;
    engine::to_ms(st, d.to_datetime(jiff::civil::Time::midnight()))
        .ok_or_else(|| ApiError::new("bad_parameter"))
}

/// The unit paths of the caller's grid-team grants.
fn grid_paths(caller: &Caller) -> Vec<String> {
    caller
        .grants
        .iter()
        .filter(|g| engine::GRID_ROLES.contains(&g.role.key()))
        .filter_map(|g| g.unit_path.clone())
        .collect()
}

/// The case list with filters; territory and departments limit what anyone sees.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListQuery),
    responses((status = 200, body = CasePage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<CasePage>> {
    let scope = caller.scope(CaseRead);
    let departments = st.store.departments_of_user(caller.user.id).await?;
    if scope.is_empty() && departments.is_empty() {
        return Err(ApiError::new("forbidden").msg("requires case.read or a department"));
    }
    let mut f = CaseFilter {
        scope: Some(scope),
        department_ids: departments.clone(),
        limit: q.limit.unwrap_or(50).clamp(1, 500),
        offset: q.offset.unwrap_or(0).max(0),
        category: q.category.filter(|c| !c.is_empty()),
        channel: q.channel.filter(|c| !c.is_empty()),
        department_id: q.department,
        supervised: q.supervised,
        urgent: q.urgent,
        q: q.q,
        ..Default::default()
    };
    if let Some(s) = q.state.as_deref() {
        f.states = parse_states(s)?;
    }
    if let Some(code) = q.unit.filter(|c| !c.is_empty()) {
        f.under_path = Some(st.store.unit_get(&Scope::All, &code).await?.0.path);
    }
    if let Some(code) = q.handling.filter(|c| !c.is_empty()) {
        f.handling_paths = vec![st.store.unit_get(&Scope::All, &code).await?.0.path];
    }
    if q.overdue == Some(true) {
        f.overdue_at = Some(st.clock.now_ms());
    }
    if let Some(d) = q.from.as_deref().filter(|d| !d.is_empty()) {
        f.from = Some(day_start(&st, d, "from")?);
    }
    if let Some(d) = q.to.as_deref().filter(|d| !d.is_empty()) {
        f.to = Some(day_start(&st, d, "to")? + 86_400_000);
    }
    use CaseState as S;
    match q.view.as_deref() {
        None | Some("") => {}
        Some("to_handle") => {
            let grids = grid_paths(&caller);
            if !departments.is_empty() && grids.is_empty() {
                f.scope = None;
                f.states = vec![S::Dispatched, S::InHandling, S::Rework];
            } else {
                f.scope = Some(Scope::Subtrees(grids.clone()));
                f.department_ids = vec![];
                f.handling_under = grids;
                f.handling_levels = st.config.levels.grid_keys();
                f.states = vec![S::Reported, S::Accepted, S::Filed, S::InHandling, S::Rework];
            }
        }
        Some("to_check") => {
            f.scope = Some(Scope::Subtrees(grid_paths(&caller)));
            f.department_ids = vec![];
            f.states = vec![S::Handled, S::InCheck];
        }
        Some("reported") => {
            f.reporter_id = Some(caller.user.id);
        }
        Some(v) => return Err(ApiError::new("bad_parameter").msg(format!("unknown view {v}"))),
    }
    let (items, total) = st.store.case_list(&f).await?;
    Ok(axum::Json(CasePage::new(items, total)))
}

/// A case with its timeline, departments, and the actions the caller may take.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<CaseDetail>> {
    let (case, acting) = readable(&st, &caller, id).await?;
    Ok(axum::Json(detail(&st, case, &acting, None).await?))
}

fn parse_action(s: &str) -> ApiResult<CaseAction> {
    serde_json::from_value(Value::String(s.to_string()))
        .map_err(|_| ApiError::new("bad_parameter").msg(format!("unknown action {s}")))
}

/// Takes an action: accept, file, not_file, escalate, take, dispatch, dept_accept, return,
/// transfer, report_result, start_check, check_pass, check_fail, resume_rework, rate, reopen,
/// request_extension, approve_extension, park, defer, resume, supervise, void, merge.
/// `409 illegal_transition` when the state does not allow it, `409 case_conflict` when the case
/// changed since `version`.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions/{action}", tag = "cases",
    params(("id" = i64, Path), ("action" = String, Path)), request_body = Step,
    responses((status = 200, body = CaseDetail), (status = 409, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn act(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(i64, String)>,
    Json(step): Json<Step>,
) -> ApiResult<axum::Json<CaseDetail>> {
    let action = parse_action(&action)?;
    if action == CaseAction::Submit {
        return Err(ApiError::new("illegal_transition").msg("cases are reported with POST /cases"));
    }
    let (_, acting) = readable(&st, &caller, id).await?;
    engine::check_media(&st, &acting, &step.media).await?;
    let case = engine::act(&st, &acting, id, action, step).await?;
    if action == CaseAction::Rate {
        // an unsatisfied follow-up call reopens the case where the rules say so
        let case = crate::cases::engine::after_rating(&st, &acting, case).await?;
        return Ok(axum::Json(detail(&st, case, &acting, None).await?));
    }
    let acting = engine::acting(&st, &caller, &case).await?;
    Ok(axum::Json(detail(&st, case, &acting, None).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    description: String,
    lat: Option<f64>,
    lng: Option<f64>,
    crs: Option<String>,
    /// Look for duplicates of this category (the best suggestion otherwise).
    category: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CategorySuggestion {
    code: String,
    name: String,
    score: f64,
}

#[derive(Serialize, ToSchema)]
pub struct Suggestions {
    categories: Vec<CategorySuggestion>,
    #[schema(value_type = Vec<Object>)]
    duplicates: Vec<Case>,
}

/// Suggested categories (top 3) for a description, and open cases nearby that look the same.
pub async fn suggestions(
    st: &AppState,
    description: &str,
    point: Option<(f64, f64)>,
    category: Option<String>,
    exclude: Option<i64>,
) -> ApiResult<Suggestions> {
    let cat = st.cases.catalogue();
    let categories: Vec<CategorySuggestion> = st
        .cases
        .classifier()
        .suggest(description, 3)
        .into_iter()
        .filter_map(|(code, score)| {
            let names: Vec<&str> = cat.path(&code).iter().map(|c| c.name.as_str()).collect();
            (!names.is_empty()).then(|| CategorySuggestion {
                code,
                name: names.join(" / "),
                score,
            })
        })
        .collect();
    let category = category.or_else(|| categories.first().map(|c| c.code.clone()));
    let mut duplicates = Vec::new();
    if let (Some((lat, lng)), Some(code)) = (point, category) {
        let near = st
            .store
            .cases_nearby(&NearbyQuery {
                category: Some(code.clone()),
                lat,
                lng,
                radius_m: f64::from(cat.effective_radius(&code)),
                since: st.clock.now_ms() - 30 * 86_400_000,
                open_only: true,
                channel: None,
                exclude_id: exclude,
                limit: 20,
            })
            .await?;
        let words = wangge_text::tokens(description);
        // similar text: at least a fifth of the description's words in common
        duplicates = near
            .into_iter()
            .filter(|c| {
                let theirs = wangge_text::tokens(&c.description);
                let common = words.iter().filter(|w| theirs.contains(w)).count();
                words.is_empty() || common * 5 >= words.len().min(theirs.len()).max(1)
            })
            .take(5)
            .collect();
    }
    Ok(Suggestions {
        categories,
        duplicates,
    })
}

/// Category and duplicate suggestions for a report being written.
#[utoipa::path(post, path = "/api/v1/cases/suggest", tag = "cases", request_body = SuggestRequest,
    responses((status = 200, body = Suggestions)))]
pub async fn suggest(
    State(st): State<AppState>,
    caller: Caller,
    Json(r): Json<SuggestRequest>,
) -> ApiResult<axum::Json<Suggestions>> {
    caller.require(CaseRead)?;
    let point = match (r.lat, r.lng) {
        (Some(lat), Some(lng)) => {
            let (x, y) = wangge_geo::crs::to_wgs84(
                super::boundaries::parse_crs(r.crs.as_deref())?,
                lng,
                lat,
            );
            Some((y, x))
        }
        _ => None,
    };
    Ok(axum::Json(
        suggestions(&st, &r.description, point, r.category, None).await?,
    ))
}

/// Open cases that may duplicate this one (same category, within its radius, similar text).
#[utoipa::path(get, path = "/api/v1/cases/{id}/duplicates", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = Suggestions), (status = 404, body = ErrorBody)))]
pub async fn duplicates(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Suggestions>> {
    let (case, _) = readable(&st, &caller, id).await?;
    let point = case.lat.zip(case.lng);
    let mut s = suggestions(
        &st,
        &case.description,
        point,
        case.category.clone(),
        Some(case.id),
    )
    .await?;
    let scope = caller.scope(CaseRead);
    s.duplicates.retain(|c| scope.contains_path(&c.unit_path));
    Ok(axum::Json(s))
}

#[derive(Serialize, ToSchema)]
pub struct ReporterContact {
    name: Option<String>,
    phone: Option<String>,
}

/// The reporter's full contact, for the command centre (and grid staff when not confidential).
/// Every read is audited.
#[utoipa::path(get, path = "/api/v1/cases/{id}/reporter", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = ReporterContact), (status = 403, body = ErrorBody)))]
pub async fn reporter(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<ReporterContact>> {
    let (case, acting) = readable(&st, &caller, id).await?;
    if !sees_reporter(&case, &acting) {
        return Err(ApiError::new("forbidden").msg("the reporter is confidential"));
    }
    st.store
        .audit_record(
            &caller.actor(),
            AuditEvent::new("case.reporter_read", "case", case.number.clone()),
        )
        .await?;
    Ok(axum::Json(ReporterContact {
        name: case.reporter_name,
        phone: case.reporter_phone,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UnreportedQuery {
    /// Look back this many days (default 30).
    days: Option<i64>,
}

/// 漏报: cases from residents or the hotline where the grid reported nothing of the kind before.
#[utoipa::path(get, path = "/api/v1/cases/unreported", tag = "cases", params(UnreportedQuery),
    responses((status = 200, body = CasePage)))]
pub async fn unreported(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<UnreportedQuery>,
) -> ApiResult<axum::Json<CasePage>> {
    let scope = caller.require(CaseRead)?;
    let days = q.days.unwrap_or(30).clamp(1, 366);
    let since = st.clock.now_ms() - days * 86_400_000;
    let window = st.config.cases.unreported_days * 86_400_000;
    let items = st
        .store
        .cases_unreported(&scope, since, window, 500)
        .await?;
    let total = items.len() as i64;
    Ok(axum::Json(CasePage::new(items, total)))
}

#[derive(Serialize, ToSchema)]
pub struct OverdueRow {
    key: String,
    name: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OverdueBoard {
    by_unit: Vec<OverdueRow>,
    by_department: Vec<OverdueRow>,
    #[schema(value_type = Vec<Object>)]
    items: Vec<Case>,
}

/// Cases past their deadline, counted by handling unit and by department.
#[utoipa::path(get, path = "/api/v1/cases/overdue", tag = "cases",
    responses((status = 200, body = OverdueBoard)))]
pub async fn overdue(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<OverdueBoard>> {
    let scope = caller.require(CaseRead)?;
    let f = CaseFilter {
        scope: Some(scope),
        overdue_at: Some(st.clock.now_ms()),
        limit: 1000,
        ..Default::default()
    };
    let (items, _) = st.store.case_list(&f).await?;
    let mut by_unit: Vec<OverdueRow> = Vec::new();
    let mut by_department: Vec<OverdueRow> = Vec::new();
    fn bump(rows: &mut Vec<OverdueRow>, key: &str, name: &str) {
        match rows.iter_mut().find(|r| r.key == key) {
            Some(r) => r.count += 1,
            None => rows.push(OverdueRow {
                key: key.into(),
                name: name.into(),
                count: 1,
            }),
        }
    }
    for c in &items {
        bump(&mut by_unit, &c.handling_code, &c.handling_name);
        for a in st.store.case_assignments(c.id).await? {
            if a.status == "dispatched" || a.status == "accepted" {
                bump(&mut by_department, &a.department_code, &a.department_name);
            }
        }
    }
    by_unit.sort_by_key(|r| std::cmp::Reverse(r.count));
    by_department.sort_by_key(|r| std::cmp::Reverse(r.count));
    Ok(axum::Json(OverdueBoard {
        by_unit,
        by_department,
        items,
    }))
}

/// Retrains the category classifier on the catalogue and the closed cases.
#[utoipa::path(post, path = "/api/v1/catalogue/retrain", tag = "cases",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn retrain(State(st): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    caller.require(wangge_domain::roles::Permission::CaseConfigure)?;
    let n = st.cases.retrain(st.store.as_ref()).await?;
    st.store
        .audit_record(
            &caller.actor(),
            AuditEvent::new("classifier.retrain", "catalogue", ""),
        )
        .await?;
    Ok(axum::Json(json!({ "examples": n })))
}

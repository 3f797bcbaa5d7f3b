//! Each grid's team: assignments with dates (they drive the territory grants), the team rule
//! report and the qualification rules.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::clock::is_valid_date;
use wangge_domain::grid::Warning;
use wangge_domain::roles::Permission::{TerritoryRead, TerritoryWrite};
use wangge_domain::team::{Qualification, certificate_warning, exception_reasons, team_role};
use wangge_store::{Assignment, NewAssignment, mask_phone};

#[derive(Serialize, ToSchema)]
pub struct AssignmentOut {
    #[serde(flatten)]
    assignment: Assignment,
    /// Masked.
    phone: Option<String>,
    certified: bool,
    warnings: Vec<Warning>,
}

fn qualification(a: &Assignment) -> Qualification<'_> {
    Qualification {
        birth_date: a.birth_date.as_deref(),
        education: a.education.as_deref(),
        certificate_no: a.certificate_no.as_deref(),
    }
}

pub fn out(a: Assignment) -> AssignmentOut {
    let cert = certificate_warning(&qualification(&a));
    AssignmentOut {
        phone: a.phone.as_deref().map(mask_phone),
        certified: cert.is_none(),
        warnings: cert.into_iter().collect(),
        assignment: a,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TeamQuery {
    #[serde(default)]
    include_ended: bool,
}

/// The team of a grid (running assignments; ended ones too on request).
#[utoipa::path(get, path = "/api/v1/units/{code}/team", tag = "teams",
    params(("code" = String, Path), TeamQuery),
    responses((status = 200, body = Items<AssignmentOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<TeamQuery>,
) -> ApiResult<axum::Json<Items<AssignmentOut>>> {
    let scope = caller.require(TerritoryRead)?;
    let team = st
        .store
        .team_list(&scope, &code, q.include_ended, &st.today())
        .await?;
    Ok(axum::Json(
        team.into_iter().map(out).collect::<Vec<_>>().into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    user_id: i64,
    /// A team role key from `/api/v1/meta` (`team_roles`).
    role: String,
    /// YYYY-MM-DD; today when absent.
    start_date: Option<String>,
    duty: Option<String>,
    /// Why someone outside the age or education rule is taken on.
    exception_reason: Option<String>,
}

/// Assigns a person to a grid in a role; grants the matching territory role on the grid.
/// Needs write access to the level above the grid.
#[utoipa::path(post, path = "/api/v1/units/{code}/team", tag = "teams",
    params(("code" = String, Path)), request_body = AddMember,
    responses((status = 201, body = AssignmentOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(req): Json<AddMember>,
) -> ApiResult<(StatusCode, axum::Json<AssignmentOut>)> {
    let scope = caller.require(TerritoryWrite)?;
    let role = team_role(&req.role).ok_or_else(|| ApiError::field("role", "not a team role"))?;
    let (unit, _) = st.store.unit_get(&scope, &code).await?;
    let levels = &st.config.levels;
    if !levels.is_grid(&unit.level) {
        return Err(ApiError::field(
            "role",
            "teams belong to grids and micro-grids",
        ));
    }
    let micro_role = role.key.starts_with("micro_grid_");
    let grid_role = matches!(
        role.key,
        "grid_head" | "grid_worker_full" | "grid_worker_part" | "grid_instructor"
    );
    let micro = levels.is_micro(&unit.level);
    if (micro_role && !micro) || (grid_role && micro) {
        return Err(ApiError::field(
            "role",
            "this role does not belong to this level",
        ));
    }
    let start = req
        .start_date
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| st.today());
    if !is_valid_date(&start) {
        return Err(ApiError::field("start_date", "must be a YYYY-MM-DD date"));
    }
    let person = st.store.user_get(req.user_id).await?;
    let q = Qualification {
        birth_date: person.birth_date.as_deref(),
        education: person.education.as_deref(),
        certificate_no: person.certificate_no.as_deref(),
    };
    let reasons = exception_reasons(role.key, &q, &start);
    let exception = req
        .exception_reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if !reasons.is_empty() && exception.is_none() {
        return Err(ApiError::new("qualification_exception_required")
            .details(serde_json::json!({"reasons": reasons})));
    }
    let duty = req
        .duty
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if duty.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::field("duty", "at most 200 characters"));
    }
    let new = NewAssignment {
        user_id: req.user_id,
        role: role.key.to_string(),
        grant_role: role.grant,
        duty,
        start_date: start,
        exception_reason: exception,
    };
    let a = st
        .store
        .team_add(&scope, &caller.actor(), &code, &new, &st.today())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(out(a))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAssignment {
    /// The last day (YYYY-MM-DD); today when absent.
    end_date: Option<String>,
}

/// Ends an assignment; its grant goes when no other running assignment needs it.
#[utoipa::path(post, path = "/api/v1/team-assignments/{id}/end", tag = "teams",
    params(("id" = i64, Path)), request_body = EndAssignment,
    responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody)))]
pub async fn end(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<EndAssignment>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    let scope = caller.require(TerritoryWrite)?;
    let date = req
        .end_date
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| st.today());
    if !is_valid_date(&date) {
        return Err(ApiError::field("end_date", "must be a YYYY-MM-DD date"));
    }
    let a = st
        .store
        .team_end(&scope, &caller.actor(), id, &date, &st.today())
        .await?;
    Ok(axum::Json(out(a)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    unit: String,
}

#[derive(Serialize, ToSchema)]
pub struct GridGap {
    code: String,
    name: String,
    level: String,
    /// Team roles the rule asks for and nobody holds.
    missing: Vec<String>,
    micro_grid_heads: usize,
}

#[derive(Serialize, ToSchema)]
pub struct TeamReport {
    grids: Vec<GridGap>,
    uncertified: Vec<AssignmentOut>,
}

/// Grids under a unit that break the team rule, and members working without a certificate.
#[utoipa::path(get, path = "/api/v1/team-report", tag = "teams", params(ReportQuery),
    responses((status = 200, body = TeamReport), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportQuery>,
) -> ApiResult<axum::Json<TeamReport>> {
    let scope = caller.require(TerritoryRead)?;
    let levels = &st.config.levels;
    let grid_levels = levels.grid_keys();
    let teams = st
        .store
        .teams_under(&scope, &q.unit, &grid_levels, &st.today())
        .await?;
    let rule = &st.config.grids.team_rule;
    let mut grids = Vec::new();
    let mut uncertified = Vec::new();
    for (u, team) in teams {
        let micro = levels.is_micro(&u.level);
        let missing = rule.missing(micro, team.iter().map(|a| a.role.as_str()));
        if !missing.is_empty() {
            grids.push(GridGap {
                micro_grid_heads: team.iter().filter(|a| a.role == "micro_grid_head").count(),
                code: u.code,
                name: u.name,
                level: u.level,
                missing,
            });
        }
        uncertified.extend(team.into_iter().map(out).filter(|a| !a.certified));
    }
    Ok(axum::Json(TeamReport { grids, uncertified }))
}

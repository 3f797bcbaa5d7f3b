//! Grid changes (网格调整): propose a split, merge, redraw or retirement; the level above
//! approves or rejects; it takes effect on its date; the filing (备案) is recorded.

use super::Items;
use super::boundaries::drawn_geometry;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::topology_report::{self, Edit, stored_geometry};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::audit::Actor;
use wangge_domain::change::{ChangeKind, ChangeStatus};
use wangge_domain::clock::is_valid_date;
use wangge_domain::roles::Permission::{TerritoryRead, TerritoryWrite};
use wangge_domain::roles::Scope;
use wangge_geo::MultiPolygon;
use wangge_geo::boundary::geometry_to_geojson;
use wangge_geo::numbering::west_east_north_south;
use wangge_geo::topology::{area_m2, check_cover, difference, union_all};
use wangge_store::{ChangePart, Filing, GridChange, NewChange, Unit};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartIn {
    name: Option<String>,
    kind: Option<String>,
    #[schema(value_type = Option<Object>)]
    geometry: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    /// split, merge, redraw or retire.
    kind: String,
    units: Vec<String>,
    effective_date: String,
    reason: String,
    crs: Option<String>,
    #[serde(default)]
    accept_warnings: bool,
    #[serde(default)]
    parts: Vec<PartIn>,
}

fn invalid(reason: impl Into<String>) -> ApiError {
    let reason = reason.into();
    ApiError::new("change_invalid")
        .msg(reason.clone())
        .details(serde_json::json!({"reason": reason}))
}

/// The current boundary of a grid named in a change.
async fn current_geometry(st: &AppState, scope: &Scope, u: &Unit) -> ApiResult<MultiPolygon<f64>> {
    let b = st
        .store
        .boundary_at(scope, &u.code, &st.today())
        .await
        .map_err(|_| invalid(format!("{} has no boundary", u.code)))?;
    stored_geometry(&b.geometry).ok_or_else(|| ApiError::new("internal_error"))
}

/// Proposes a change. Split parts may leave the last geometry out: it is the rest of the grid.
#[utoipa::path(post, path = "/api/v1/grid-changes", tag = "grids", request_body = Propose,
    responses((status = 201, body = GridChange), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn propose(
    State(st): State<AppState>,
    caller: Caller,
    Json(req): Json<Propose>,
) -> ApiResult<(StatusCode, axum::Json<GridChange>)> {
    let scope = caller.require(TerritoryWrite)?;
    let kind = ChangeKind::parse(&req.kind)
        .ok_or_else(|| invalid("kind must be split, merge, redraw or retire"))?;
    let has_geom: Vec<bool> = req.parts.iter().map(|p| p.geometry.is_some()).collect();
    kind.check_shape(req.units.len(), &has_geom)?;
    let today = st.today();
    if !is_valid_date(&req.effective_date) || req.effective_date < today {
        return Err(ApiError::field(
            "effective_date",
            "must be a YYYY-MM-DD date, today or later",
        ));
    }
    let reason = req.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::field("reason", "must have 1-1000 characters"));
    }
    let mut units = Vec::new();
    for code in &req.units {
        let (u, _) = st.store.unit_get(&scope, code).await?;
        if !st.config.levels.is_grid(&u.level) {
            return Err(invalid(format!("{code} is not a grid")));
        }
        units.push(u);
    }
    let first = units[0].clone();
    let tol = &st.config.grids.tolerance;

    // The geometry of every part, in WGS-84.
    let mut geoms: Vec<MultiPolygon<f64>> = Vec::new();
    for p in &req.parts {
        if let Some(g) = &p.geometry {
            geoms.push(
                drawn_geometry(&st, &caller.actor(), g, req.crs.as_deref(), &first.code).await?,
            );
        }
    }
    let mut extra = Vec::new();
    match kind {
        ChangeKind::Split => {
            let old = current_geometry(&st, &scope, &first).await?;
            if geoms.len() < req.parts.len() {
                let rest = difference(&old, &union_all(&geoms.iter().collect::<Vec<_>>()));
                if area_m2(&rest) <= tol.gap_m2 {
                    return Err(invalid(
                        "the drawn parts cover the whole grid: nothing is left for the last part",
                    ));
                }
                geoms.push(rest);
            }
            let named: Vec<(String, &MultiPolygon<f64>)> = geoms
                .iter()
                .enumerate()
                .map(|(i, g)| (format!("part-{}", i + 1), g))
                .collect();
            let refs: Vec<(&str, &MultiPolygon<f64>)> =
                named.iter().map(|(c, g)| (c.as_str(), *g)).collect();
            extra = check_cover(&first.code, &old, &refs, tol);
        }
        ChangeKind::Merge => {
            let mut olds = Vec::new();
            for u in &units {
                olds.push(current_geometry(&st, &scope, u).await?);
            }
            geoms.push(union_all(&olds.iter().collect::<Vec<_>>()));
        }
        ChangeKind::Redraw | ChangeKind::Retire => {}
    }

    // Topology of the result against the neighbours (the replaced grids left out).
    let replaced: Vec<String> = match kind {
        ChangeKind::Split | ChangeKind::Merge => units.iter().map(|u| u.code.clone()).collect(),
        _ => Vec::new(),
    };
    let edits: Vec<Edit> = geoms
        .iter()
        .enumerate()
        .map(|(i, g)| Edit {
            code: if kind == ChangeKind::Redraw {
                first.code.clone()
            } else {
                format!("part-{}", i + 1)
            },
            parent_code: first.parent_code.clone(),
            feature_index: None,
            geometry: g.clone(),
        })
        .collect();
    let mut problems = topology_report::check_edits_replacing(&st, &edits, &replaced).await?;
    problems.extend(extra);
    let report = topology_report::judge(
        &st,
        Some(caller.user.id),
        &problems,
        "topology_invalid",
        req.accept_warnings,
    )
    .await?;

    // New grids are numbered west→east, north→south when the change takes effect.
    let order = match kind {
        ChangeKind::Split | ChangeKind::Merge => west_east_north_south(&geoms),
        _ => (0..geoms.len()).collect(),
    };
    let parts: Vec<ChangePart> = order
        .into_iter()
        .map(|i| {
            let input = req.parts.get(i);
            ChangePart {
                name: input
                    .and_then(|p| p.name.clone())
                    .filter(|n| !n.trim().is_empty()),
                kind: input.and_then(|p| p.kind.clone()).filter(|k| !k.is_empty()),
                geometry: Some(geometry_to_geojson(&geoms[i])),
                area_m2: Some(area_m2(&geoms[i])),
                code: None,
            }
        })
        .collect();
    let new = NewChange {
        kind,
        units: req.units.clone(),
        parts,
        reason,
        effective_date: req.effective_date,
        report,
    };
    let c = st
        .store
        .change_create(&scope, &caller.actor(), &new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Changes naming this unit (old or new).
    unit: Option<String>,
    /// proposed, approved, effective or rejected.
    status: Option<String>,
}

/// Grid changes in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/grid-changes", tag = "grids", params(ListQuery),
    responses((status = 200, body = Items<GridChange>)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<Items<GridChange>>> {
    let scope = caller.require(TerritoryRead)?;
    let status = q.status.filter(|s| !s.is_empty());
    if status
        .as_deref()
        .is_some_and(|s| ChangeStatus::parse(s).is_none())
    {
        return Err(ApiError::new("bad_parameter")
            .msg("status must be proposed, approved, effective or rejected"));
    }
    let items = st
        .store
        .change_list(
            &scope,
            q.unit.as_deref().filter(|u| !u.is_empty()),
            status.as_deref(),
        )
        .await?;
    Ok(axum::Json(items.into()))
}

#[utoipa::path(get, path = "/api/v1/grid-changes/{id}", tag = "grids", params(("id" = i64, Path)),
    responses((status = 200, body = GridChange), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<GridChange>> {
    let scope = caller.require(TerritoryRead)?;
    Ok(axum::Json(st.store.change_get(&scope, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    note: Option<String>,
}

/// Applies a change whose date has come and refreshes the point-to-grid index.
pub async fn apply(st: &AppState, actor: &Actor, id: i64) -> ApiResult<GridChange> {
    let c = st
        .store
        .change_apply(actor, &st.config.levels, id, &st.today())
        .await?;
    let mut codes = c.units.clone();
    codes.extend(c.result_codes.iter().cloned());
    st.grids_changed(&codes).await?;
    Ok(c)
}

async fn decide(
    st: AppState,
    caller: Caller,
    id: i64,
    approve: bool,
    note: Option<String>,
) -> ApiResult<GridChange> {
    let scope = caller.require(TerritoryWrite)?;
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if !approve && note.is_none() {
        return Err(ApiError::field("note", "say why the change is rejected"));
    }
    let c = st
        .store
        .change_decide(&scope, &caller.actor(), id, approve, note.as_deref())
        .await?;
    if approve && c.effective_date <= st.today() {
        return apply(&st, &caller.actor(), id).await;
    }
    Ok(c)
}

/// Approves a proposal (someone else, with write access to the level above). A change dated
/// today or earlier takes effect at once; a later one on its date.
#[utoipa::path(post, path = "/api/v1/grid-changes/{id}/approve", tag = "grids", params(("id" = i64, Path)),
    request_body = Decision,
    responses((status = 200, body = GridChange), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<Decision>,
) -> ApiResult<axum::Json<GridChange>> {
    Ok(axum::Json(decide(st, caller, id, true, req.note).await?))
}

/// Rejects a proposal, with the reason.
#[utoipa::path(post, path = "/api/v1/grid-changes/{id}/reject", tag = "grids", params(("id" = i64, Path)),
    request_body = Decision,
    responses((status = 200, body = GridChange), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<Decision>,
) -> ApiResult<axum::Json<GridChange>> {
    Ok(axum::Json(decide(st, caller, id, false, req.note).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileChange {
    filing_no: String,
    filed_to: String,
    note: Option<String>,
}

/// Records the filing (备案) of an approved change with the city.
#[utoipa::path(post, path = "/api/v1/grid-changes/{id}/file", tag = "grids", params(("id" = i64, Path)),
    request_body = FileChange,
    responses((status = 200, body = GridChange), (status = 409, body = ErrorBody)))]
pub async fn file(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<FileChange>,
) -> ApiResult<axum::Json<GridChange>> {
    let scope = caller.require(TerritoryWrite)?;
    let filing_no = req.filing_no.trim().to_string();
    let filed_to = req.filed_to.trim().to_string();
    if filing_no.is_empty() || filing_no.chars().count() > 64 {
        return Err(ApiError::field("filing_no", "must have 1-64 characters"));
    }
    if filed_to.is_empty() || filed_to.chars().count() > 100 {
        return Err(ApiError::field("filed_to", "must have 1-100 characters"));
    }
    let f = Filing {
        filing_no,
        filed_to,
        note: req.note.filter(|n| !n.trim().is_empty()),
        filed_by: String::new(),
        filed_at: 0,
    };
    Ok(axum::Json(
        st.store
            .change_file(&scope, &caller.actor(), id, &f)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TimelineItem {
    /// YYYY-MM-DD the event took effect.
    date: String,
    /// When it was recorded (epoch ms), if known.
    at: Option<i64>,
    /// unit.create, unit.update, unit.move, unit.retire, boundary, change.split, change.merge, …
    kind: String,
    title: String,
    title_zh: String,
    detail: Option<String>,
    change_id: Option<i64>,
    /// For boundary versions.
    version_id: Option<i64>,
}

/// A grid's history on one timeline: unit changes, boundary versions and grid changes.
#[utoipa::path(get, path = "/api/v1/units/{code}/timeline", tag = "grids", params(("code" = String, Path)),
    responses((status = 200, body = Items<TimelineItem>), (status = 404, body = ErrorBody)))]
pub async fn timeline(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Items<TimelineItem>>> {
    let scope = caller.require(TerritoryRead)?;
    let tz = &st.config.time_zone;
    let mut items = Vec::new();
    for h in st.store.unit_history(&scope, &code).await? {
        let (en, zh) = match h.action.as_str() {
            "create" => ("Created", "设立"),
            "update" => ("Edited", "修改"),
            "move" => ("Moved", "调整隶属"),
            "retire" => ("Retired", "撤销"),
            _ => ("Changed", "变更"),
        };
        let date = match h.action.as_str() {
            "create" => h.valid_from.clone(),
            "retire" => h.valid_to.clone(),
            _ => None,
        }
        .unwrap_or_else(|| wangge_domain::clock::local_date(h.at, tz));
        items.push(TimelineItem {
            date,
            at: Some(h.at),
            kind: format!("unit.{}", h.action),
            title: format!("{en}: {} ({})", h.name, h.actor_name),
            title_zh: format!("{zh}:{}({})", h.name, h.actor_name),
            detail: h.kind.clone(),
            change_id: None,
            version_id: None,
        });
    }
    for b in st.store.boundary_versions(&scope, &code).await? {
        let until = b
            .valid_to
            .clone()
            .map(|t| format!(" – {t}"))
            .unwrap_or_default();
        items.push(TimelineItem {
            date: b.valid_from.clone(),
            at: None,
            kind: "boundary".into(),
            title: format!(
                "Boundary version {} ({:.0} m², {}){until}",
                b.version_id, b.area_m2, b.source
            ),
            title_zh: format!(
                "边界第{}版({:.0}平方米,{}){until}",
                b.version_id,
                b.area_m2,
                source_zh(&b.source)
            ),
            detail: None,
            change_id: b.change_id,
            version_id: Some(b.version_id),
        });
    }
    for c in st.store.change_list(&scope, Some(&code), None).await? {
        let (en, zh) = match c.kind.as_str() {
            "split" => ("Split", "拆分"),
            "merge" => ("Merge", "合并"),
            "redraw" => ("Redraw", "重新划定"),
            _ => ("Retirement", "撤销"),
        };
        let result = if c.result_codes.is_empty() {
            String::new()
        } else {
            format!(" → {}", c.result_codes.join(", "))
        };
        items.push(TimelineItem {
            date: c.effective_date.clone(),
            at: Some(c.proposed_at),
            kind: format!("change.{}", c.kind),
            title: format!("{en} ({}): {}{result}", c.status, c.reason),
            title_zh: format!("{zh}({}):{}{result}", status_zh(&c.status), c.reason),
            detail: c
                .filing
                .as_ref()
                .map(|f| format!("{} {}", f.filed_to, f.filing_no)),
            change_id: Some(c.id),
            version_id: None,
        });
    }
    items.sort_by(|a, b| (&b.date, b.at).cmp(&(&a.date, a.at)));
    Ok(axum::Json(items.into()))
}

fn source_zh(s: &str) -> &'static str {
    match s {
        "drawn" => "绘制",
        "import" => "导入",
        "change" => "网格调整",
        "demo" => "演示数据",
        _ => "其他",
    }
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "proposed" => "待审批",
        "approved" => "已批准",
        "effective" => "已生效",
        "rejected" => "已驳回",
        _ => "未知",
    }
}

use super::Items;
use super::boundaries::{drawn_geometry, parse_crs};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query, Upload};
use crate::state::AppState;
use crate::territory_file::{self, FileKind};
use crate::topology_report::{self, Edit};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::clock::is_valid_date;
use wangge_domain::grid::{AreaType, Counts, next_code};
use wangge_domain::roles::Permission::{TerritoryRead, TerritoryWrite};
use wangge_domain::roles::Scope;
use wangge_geo::MultiPolygon;
use wangge_geo::boundary::{geometry_to_geojson, parse_geometry};
use wangge_geo::numbering::west_east_north_south;
use wangge_geo::topology::area_m2;
use wangge_store::{NewBoundary, NewUnit, StoreError, Unit, UnitChange, UnitHit, UnitPatch};

/// Errors listed inline in an import rejection; the downloadable report has all of them.
const INLINE_ERRORS: usize = 200;

/// The unit with its sizing warnings (grids and micro-grids only).
pub fn with_warnings(st: &AppState, mut u: Unit) -> Unit {
    let levels = &st.config.levels;
    if levels.is_grid(&u.level) {
        let area = u.area_type.as_deref().and_then(AreaType::parse);
        let counts = Counts {
            households: u.households,
            population: u.population,
            enterprises: u.enterprises,
        };
        u.warnings = st
            .config
            .grids
            .sizing
            .check(levels.is_micro(&u.level), area, counts);
    }
    u
}

#[derive(Serialize, ToSchema)]
pub struct UnitWithAncestors {
    unit: Unit,
    ancestors: Vec<Unit>,
}

/// The top units the caller can see.
#[utoipa::path(get, path = "/api/v1/units/roots", tag = "territory",
    responses((status = 200, body = Items<Unit>), (status = 401, body = ErrorBody)))]
pub async fn roots(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<Unit>>> {
    let scope = caller.require(TerritoryRead)?;
    Ok(axum::Json(st.store.unit_roots(&scope).await?.into()))
}

/// One unit with its ancestors inside the caller's scope.
#[utoipa::path(get, path = "/api/v1/units/{code}", tag = "territory", params(("code" = String, Path)),
    responses((status = 200, body = UnitWithAncestors), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<UnitWithAncestors>> {
    let scope = caller.require(TerritoryRead)?;
    let (unit, ancestors) = st.store.unit_get(&scope, &code).await?;
    let unit = with_warnings(&st, unit);
    Ok(axum::Json(UnitWithAncestors { unit, ancestors }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChildrenQuery {
    #[serde(default)]
    include_retired: bool,
}

/// The children of a unit, ordered by code.
#[utoipa::path(get, path = "/api/v1/units/{code}/children", tag = "territory",
    params(("code" = String, Path), ChildrenQuery),
    responses((status = 200, body = Items<Unit>), (status = 404, body = ErrorBody)))]
pub async fn children(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<ChildrenQuery>,
) -> ApiResult<axum::Json<Items<Unit>>> {
    let scope = caller.require(TerritoryRead)?;
    let children = st
        .store
        .unit_children(&scope, &code, q.include_retired)
        .await?;
    Ok(axum::Json(
        children
            .into_iter()
            .map(|u| with_warnings(&st, u))
            .collect::<Vec<_>>()
            .into(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Part of a name, or the start of a code.
    q: String,
    /// 1-200, default 50.
    limit: Option<i64>,
}

/// Finds units by name or code inside the caller's scope.
#[utoipa::path(get, path = "/api/v1/units", tag = "territory", params(SearchQuery),
    responses((status = 200, body = Items<UnitHit>), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<Items<UnitHit>>> {
    let scope = caller.require(TerritoryRead)?;
    let text = q.q.trim();
    if text.is_empty() || text.chars().count() > 64 {
        return Err(ApiError::new("bad_parameter").msg("q must have 1-64 characters"));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::new("bad_parameter").msg("limit must be 1-200"));
    }
    Ok(axum::Json(
        st.store.unit_search(&scope, text, limit).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    /// May be left out for levels whose codes extend the parent's: the next free sequence.
    code: Option<String>,
    name: String,
    level: String,
    parent_code: Option<String>,
    kind: Option<String>,
    /// YYYY-MM-DD; today when absent.
    valid_from: Option<String>,
    /// The new unit's boundary (GeoJSON Polygon or MultiPolygon), checked like a drawn one.
    #[schema(value_type = Option<Object>)]
    geometry: Option<serde_json::Value>,
    crs: Option<String>,
    #[serde(default)]
    accept_warnings: bool,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NextCodeQuery {
    /// The level of the new unit.
    level: String,
}

#[derive(Serialize, ToSchema)]
pub struct NextCode {
    code: String,
}

/// The next free code below `parent` at `level` (codes of retired units are never reused).
async fn next_free_code(
    st: &AppState,
    scope: &Scope,
    parent: &str,
    level: &str,
) -> ApiResult<String> {
    let digits =
        st.config.levels.sequence_digits(level).ok_or_else(|| {
            ApiError::field("code", "this level has no code sequence: give the code")
        })?;
    let children = st.store.unit_children(scope, parent, true).await?;
    Ok(next_code(
        parent,
        digits,
        children.iter().map(|u| u.code.as_str()),
    )?)
}

/// The code a new unit below this one would get.
#[utoipa::path(get, path = "/api/v1/units/{code}/next-code", tag = "territory",
    params(("code" = String, Path), NextCodeQuery),
    responses((status = 200, body = NextCode), (status = 404, body = ErrorBody)))]
pub async fn next_code_of(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<NextCodeQuery>,
) -> ApiResult<axum::Json<NextCode>> {
    let scope = caller.require(TerritoryWrite)?;
    Ok(axum::Json(NextCode {
        code: next_free_code(&st, &scope, &code, &q.level).await?,
    }))
}

fn check_date(field: &str, d: &Option<String>) -> ApiResult<()> {
    match d {
        Some(d) if !is_valid_date(d) => Err(ApiError::field(field, "must be a YYYY-MM-DD date")),
        _ => Ok(()),
    }
}

/// Creates a unit below a parent inside the caller's write scope.
#[utoipa::path(post, path = "/api/v1/units", tag = "territory", request_body = CreateUnit,
    responses((status = 201, body = Unit), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUnit>,
) -> ApiResult<(StatusCode, axum::Json<Unit>)> {
    let scope = caller.require(TerritoryWrite)?;
    check_date("valid_from", &req.valid_from)?;
    let parent_code = req.parent_code.clone().filter(|p| !p.is_empty());
    let code = match (
        req.code
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
        &parent_code,
    ) {
        (Some(c), _) => c,
        (None, Some(p)) => next_free_code(&st, &scope, p, &req.level).await?,
        (None, None) => return Err(ApiError::field("code", "a top unit needs its code")),
    };
    let geometry = match &req.geometry {
        Some(g) => Some(drawn_geometry(&st, &caller.actor(), g, req.crs.as_deref(), &code).await?),
        None => None,
    };
    let new = NewUnit {
        code,
        name: req.name.trim().to_string(),
        level: req.level,
        parent_code,
        kind: req.kind.filter(|k| !k.is_empty()),
        valid_from: Some(req.valid_from.unwrap_or_else(|| st.today())),
    };
    let u = match geometry {
        None => {
            st.store
                .unit_create(&scope, &caller.actor(), &st.config.levels, &new)
                .await?
        }
        Some(g) => {
            let (mut made, _) = create_with_boundaries(
                &st,
                &caller,
                &scope,
                vec![(new, g, None)],
                req.accept_warnings,
            )
            .await?;
            made.pop().ok_or_else(|| ApiError::new("internal_error"))?
        }
    };
    Ok((StatusCode::CREATED, axum::Json(u)))
}

/// Creates units with their boundaries in one transaction, after the topology checks (errors and
/// unaccepted warnings refuse before anything is written). `(unit, geometry, feature index)`.
async fn create_with_boundaries(
    st: &AppState,
    caller: &Caller,
    scope: &Scope,
    items: Vec<(NewUnit, MultiPolygon<f64>, Option<usize>)>,
    accept_warnings: bool,
) -> ApiResult<(Vec<Unit>, serde_json::Value)> {
    let edits: Vec<Edit> = items
        .iter()
        .map(|(n, g, i)| Edit {
            code: n.code.clone(),
            parent_code: n.parent_code.clone(),
            feature_index: *i,
            geometry: g.clone(),
        })
        .collect();
    let problems = topology_report::check_edits(st, &edits).await?;
    let report = topology_report::judge(
        st,
        Some(caller.user.id),
        &problems,
        "topology_invalid",
        accept_warnings,
    )
    .await?;
    let rows: Vec<(NewUnit, Option<NewBoundary>)> = items
        .into_iter()
        .map(|(n, g, _)| {
            let b = NewBoundary {
                code: n.code.clone(),
                geometry: geometry_to_geojson(&g).to_string(),
                area_m2: area_m2(&g),
            };
            (n, Some(b))
        })
        .collect();
    let made = st
        .store
        .units_create_with_boundaries(scope, &caller.actor(), &st.config.levels, &rows, "drawn")
        .await?;
    let codes: Vec<String> = made.iter().map(|u| u.code.clone()).collect();
    st.grids_changed(&codes).await?;
    Ok((made, report))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrid {
    name: String,
    kind: Option<String>,
    #[schema(value_type = Object)]
    geometry: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkGrids {
    /// The level of the new units; the grid level below the parent when absent.
    level: Option<String>,
    crs: Option<String>,
    #[serde(default)]
    accept_warnings: bool,
    grids: Vec<NewGrid>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkCreated {
    items: Vec<Unit>,
    #[schema(value_type = Object)]
    report: serde_json::Value,
}

/// Creates several grids below a unit at once, with their boundaries, all or nothing. Their codes
/// are the next free sequences, numbered west→east, north→south.
#[utoipa::path(post, path = "/api/v1/units/{code}/grids", tag = "grids", params(("code" = String, Path)),
    request_body = BulkGrids,
    responses((status = 201, body = BulkCreated), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_grids(
    State(st): State<AppState>,
    caller: Caller,
    Path(parent): Path<String>,
    Json(req): Json<BulkGrids>,
) -> ApiResult<(StatusCode, axum::Json<BulkCreated>)> {
    let scope = caller.require(TerritoryWrite)?;
    let (p, _) = st.store.unit_get(&scope, &parent).await?;
    let levels = &st.config.levels;
    let level = match req.level.filter(|l| !l.is_empty()) {
        Some(l) => l,
        None => levels
            .child_of(&p.level)
            .map(|l| l.key.clone())
            .ok_or_else(|| ApiError::field("level", "nothing can be placed below this unit"))?,
    };
    if !levels.is_grid(&level) {
        return Err(ApiError::field("level", "not a grid level"));
    }
    if req.grids.is_empty() || req.grids.len() > 1000 {
        return Err(ApiError::field("grids", "1 to 1,000 grids"));
    }
    // Every geometry is read first, and all problems reported together.
    let crs = parse_crs(req.crs.as_deref())?;
    let mut geoms = Vec::with_capacity(req.grids.len());
    let mut problems = Vec::new();
    for (i, g) in req.grids.iter().enumerate() {
        match parse_geometry(&g.geometry, crs) {
            Ok(m) => geoms.push(m),
            Err(ps) => problems.extend(ps.into_iter().map(|mut p| {
                p.feature_index = Some(i);
                p
            })),
        }
    }
    if !problems.is_empty() {
        return topology_report::refuse(&st, Some(caller.user.id), &problems, "topology_invalid")
            .await;
    }
    let digits = levels
        .sequence_digits(&level)
        .ok_or_else(|| ApiError::field("level", "this level has no code sequence"))?;
    let children = st.store.unit_children(&scope, &parent, true).await?;
    let mut taken: Vec<String> = children.into_iter().map(|u| u.code).collect();
    let mut items = Vec::with_capacity(geoms.len());
    for i in west_east_north_south(&geoms) {
        let code = next_code(&parent, digits, taken.iter().map(String::as_str))?;
        taken.push(code.clone());
        let g = &req.grids[i];
        let new = NewUnit {
            code,
            name: g.name.trim().to_string(),
            level: level.clone(),
            parent_code: Some(parent.clone()),
            kind: g.kind.clone().filter(|k| !k.is_empty()),
            valid_from: Some(st.today()),
        };
        items.push((new, geoms[i].clone(), Some(i)));
    }
    let (items, report) =
        create_with_boundaries(&st, &caller, &scope, items, req.accept_warnings).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(BulkCreated { items, report }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    name: Option<String>,
    kind: Option<String>,
    /// Business-line keys from `/api/v1/meta`.
    business_lines: Option<Vec<String>>,
    /// urban, rural, industrial; an empty string clears it.
    area_type: Option<String>,
    /// Counts; a negative number is refused, `null` leaves the value as it is.
    households: Option<i64>,
    population: Option<i64>,
    enterprises: Option<i64>,
}

/// Renames a unit or changes its kind.
#[utoipa::path(patch, path = "/api/v1/units/{code}", tag = "territory", params(("code" = String, Path)),
    request_body = UpdateUnit, responses((status = 200, body = Unit), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(req): Json<UpdateUnit>,
) -> ApiResult<axum::Json<Unit>> {
    let scope = caller.require(TerritoryWrite)?;
    let grids = &st.config.grids;
    if let Some(lines) = &req.business_lines
        && let Some(bad) = lines
            .iter()
            .find(|l| !grids.business_lines.iter().any(|e| &e.key == *l))
    {
        return Err(ApiError::field(
            "business_lines",
            format!("unknown business line {bad}"),
        ));
    }
    if let Some(k) = req.kind.as_deref().filter(|k| !k.is_empty()) {
        let (unit, _) = st.store.unit_get(&scope, &code).await?;
        if st.config.levels.is_grid(&unit.level) && !grids.grid_kinds.iter().any(|e| e.key == k) {
            return Err(ApiError::field("kind", format!("unknown grid kind {k}")));
        }
    }
    let area_type = match req.area_type.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(a) => match AreaType::parse(a) {
            Some(t) => Some(Some(t.key().to_string())),
            None => return Err(ApiError::field("area_type", "urban, rural or industrial")),
        },
    };
    for (field, v) in [
        ("households", req.households),
        ("population", req.population),
        ("enterprises", req.enterprises),
    ] {
        if v.is_some_and(|n| !(0..=10_000_000).contains(&n)) {
            return Err(ApiError::field(field, "0 to 10,000,000"));
        }
    }
    let patch = UnitPatch {
        name: req.name.map(|n| n.trim().to_string()),
        kind: req.kind,
        business_lines: req.business_lines,
        area_type,
        households: req.households.map(Some),
        population: req.population.map(Some),
        enterprises: req.enterprises.map(Some),
    };
    let u = st
        .store
        .unit_update(&scope, &caller.actor(), &code, &patch)
        .await?;
    Ok(axum::Json(with_warnings(&st, u)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveUnit {
    parent_code: String,
}

/// Moves a unit (with its subtree) below another parent.
#[utoipa::path(post, path = "/api/v1/units/{code}/move", tag = "territory", params(("code" = String, Path)),
    request_body = MoveUnit, responses((status = 200, body = Unit), (status = 422, body = ErrorBody)))]
pub async fn move_unit(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(req): Json<MoveUnit>,
) -> ApiResult<axum::Json<Unit>> {
    let scope = caller.require(TerritoryWrite)?;
    let levels = &st.config.levels;
    Ok(axum::Json(
        st.store
            .unit_move(&scope, &caller.actor(), levels, &code, &req.parent_code)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireUnit {
    /// YYYY-MM-DD; today when absent.
    valid_to: Option<String>,
}

/// Retires a unit (it has no active children). Units are never deleted.
#[utoipa::path(post, path = "/api/v1/units/{code}/retire", tag = "territory", params(("code" = String, Path)),
    request_body = RetireUnit, responses((status = 200, body = Unit), (status = 409, body = ErrorBody)))]
pub async fn retire(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(req): Json<RetireUnit>,
) -> ApiResult<axum::Json<Unit>> {
    let scope = caller.require(TerritoryWrite)?;
    check_date("valid_to", &req.valid_to)?;
    let valid_to = req.valid_to.unwrap_or_else(|| st.today());
    Ok(axum::Json(
        st.store
            .unit_retire(&scope, &caller.actor(), &code, &valid_to)
            .await?,
    ))
}

/// Every recorded state of a unit, oldest first.
#[utoipa::path(get, path = "/api/v1/units/{code}/history", tag = "territory", params(("code" = String, Path)),
    responses((status = 200, body = Items<UnitChange>), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Items<UnitChange>>> {
    let scope = caller.require(TerritoryRead)?;
    Ok(axum::Json(
        st.store.unit_history(&scope, &code).await?.into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ImportDone {
    imported: u64,
}

/// Imports units from a CSV or .xlsx body (columns code, name, parent_code, level; optional kind,
/// valid_from), all or nothing. A rejection lists the first errors and a report id.
#[utoipa::path(post, path = "/api/v1/units/import", tag = "territory",
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 200, body = ImportDone), (status = 422, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Upload(body): Upload,
) -> ApiResult<axum::Json<ImportDone>> {
    let scope = caller.require(TerritoryWrite)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let kind = FileKind::detect(ct, None).ok_or_else(|| {
        ApiError::new("unsupported_media_type")
            .msg(format!("send text/csv or {}", territory_file::XLSX_MIME))
    })?;
    let rows = tokio::task::spawn_blocking(move || territory_file::parse(kind, &body))
        .await
        .map_err(|_| ApiError::new("internal_error"))??;
    let noop = |_| {};
    match st
        .store
        .unit_import(&scope, &caller.actor(), &st.config.levels, rows, &noop)
        .await
    {
        Ok(n) => Ok(axum::Json(ImportDone { imported: n })),
        Err(StoreError::ImportRejected(errors)) => {
            let report_id = crate::auth::random_token()[..24].to_string();
            let csv = territory_file::error_report_csv(&errors);
            st.store
                .import_report_save(&report_id, Some(caller.user.id), &csv)
                .await?;
            let inline: Vec<serde_json::Value> = errors
                .iter()
                .take(INLINE_ERRORS)
                .map(|e| {
                    let zh = crate::error::message_zh(&e.error);
                    serde_json::json!({"row": e.row, "code": e.code, "error": e.error, "message": e.message, "message_zh": zh})
                })
                .collect();
            Err(ApiError::new("import_rejected").details(serde_json::json!({
                "error_count": errors.len(),
                "errors": inline,
                "report_id": report_id,
            })))
        }
        Err(e) => Err(e.into()),
    }
}

/// The full row-by-row error report of a rejected import, as CSV.
#[utoipa::path(get, path = "/api/v1/units/import/reports/{report_id}", tag = "territory",
    params(("report_id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
pub async fn import_report(
    State(st): State<AppState>,
    caller: Caller,
    Path(report_id): Path<String>,
) -> ApiResult<Response> {
    let csv = st
        .store
        .import_report_get(&report_id, Some(caller.user.id))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-errors-{report_id}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

//! Boundaries: versions, drawing, the map view, GeoJSON/Shapefile import and export, and the
//! topology reports.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query, Upload};
use crate::state::AppState;
use crate::topology_report::{self, Edit, stored_geometry};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::audit::Actor;
use wangge_domain::clock::is_valid_date;
use wangge_domain::roles::Permission::{TerritoryRead, TerritoryWrite};
use wangge_domain::roles::Scope;
use wangge_geo::MultiPolygon;
use wangge_geo::boundary::{
    Feature, Problem, geometry_to_geojson, parse_feature_collection, parse_geometry,
};
use wangge_geo::crs::Crs;
use wangge_geo::topology::area_m2;
use wangge_store::{Boundary, NewBoundary, Unit};

/// `at` (a date, default today) of map and boundary reads.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    /// YYYY-MM-DD; today when absent.
    at: Option<String>,
}

/// The date asked for, checked; today by default.
pub fn date_or_today(st: &AppState, at: Option<String>) -> ApiResult<String> {
    match at.filter(|a| !a.is_empty()) {
        Some(a) if is_valid_date(&a) => Ok(a),
        Some(_) => Err(ApiError::new("bad_parameter").msg("at must be a YYYY-MM-DD date")),
        None => Ok(st.today()),
    }
}

pub fn parse_crs(crs: Option<&str>) -> ApiResult<Crs> {
    match crs.filter(|c| !c.is_empty()) {
        None => Ok(Crs::Wgs84),
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::new("bad_parameter").msg("crs must be wgs84, gcj02 or bd09")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct BoundaryOut {
    #[serde(flatten)]
    version: Boundary,
    #[schema(value_type = Object)]
    geometry: serde_json::Value,
}

impl From<Boundary> for BoundaryOut {
    fn from(b: Boundary) -> Self {
        let geometry = serde_json::from_str(&b.geometry).unwrap_or_default();
        BoundaryOut {
            version: b,
            geometry,
        }
    }
}

/// The unit's boundary valid on a date.
#[utoipa::path(get, path = "/api/v1/units/{code}/boundary", tag = "grids",
    params(("code" = String, Path), AtQuery),
    responses((status = 200, body = BoundaryOut), (status = 404, body = ErrorBody)))]
pub async fn get_boundary(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> ApiResult<axum::Json<BoundaryOut>> {
    let scope = caller.require(TerritoryRead)?;
    let at = date_or_today(&st, q.at)?;
    Ok(axum::Json(
        st.store.boundary_at(&scope, &code, &at).await?.into(),
    ))
}

/// Every version of the unit's boundary, oldest first.
#[utoipa::path(get, path = "/api/v1/units/{code}/boundaries", tag = "grids",
    params(("code" = String, Path)),
    responses((status = 200, body = Items<BoundaryOut>), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Items<BoundaryOut>>> {
    let scope = caller.require(TerritoryRead)?;
    let v = st.store.boundary_versions(&scope, &code).await?;
    Ok(axum::Json(
        v.into_iter()
            .map(BoundaryOut::from)
            .collect::<Vec<_>>()
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawBoundary {
    #[schema(value_type = Object)]
    geometry: serde_json::Value,
    crs: Option<String>,
    #[serde(default)]
    accept_warnings: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Drawn {
    unit: Unit,
    #[schema(value_type = Object)]
    report: serde_json::Value,
}

/// A drawn geometry in WGS-84, or the 422 report of why it is invalid.
pub async fn drawn_geometry(
    st: &AppState,
    actor: &Actor,
    value: &serde_json::Value,
    crs: Option<&str>,
    code: &str,
) -> ApiResult<MultiPolygon<f64>> {
    let crs = parse_crs(crs)?;
    match parse_geometry(value, crs) {
        Ok(g) => Ok(g),
        Err(mut problems) => {
            for p in &mut problems {
                p.code.get_or_insert_with(|| code.to_string());
            }
            topology_report::refuse(st, actor.user_id, &problems, "topology_invalid").await
        }
    }
}

/// Checks edits against the stored boundaries, then stores them all or nothing. Errors refuse
/// with `error_code`; unaccepted warnings with `topology_warnings`.
pub async fn store_edits(
    st: &AppState,
    actor: &Actor,
    scope: &Scope,
    edits: Vec<Edit>,
    accept_warnings: bool,
    source: &str,
    error_code: &'static str,
) -> ApiResult<serde_json::Value> {
    let problems = topology_report::check_edits(st, &edits).await?;
    let report =
        topology_report::judge(st, actor.user_id, &problems, error_code, accept_warnings).await?;
    let items: Vec<NewBoundary> = edits
        .iter()
        .map(|e| NewBoundary {
            code: e.code.clone(),
            geometry: geometry_to_geojson(&e.geometry).to_string(),
            area_m2: area_m2(&e.geometry),
        })
        .collect();
    st.store
        .boundaries_set(scope, actor, &items, &st.today(), source)
        .await?;
    let codes: Vec<String> = edits.into_iter().map(|e| e.code).collect();
    st.grids_changed(&codes).await?;
    Ok(report)
}

/// Draws a unit's boundary. A grid that already has one is redrawn through a grid change.
#[utoipa::path(put, path = "/api/v1/units/{code}/boundary", tag = "grids",
    params(("code" = String, Path)), request_body = DrawBoundary,
    responses((status = 200, body = Drawn), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_boundary(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(req): Json<DrawBoundary>,
) -> ApiResult<axum::Json<Drawn>> {
    let scope = caller.require(TerritoryWrite)?;
    let (unit, _) = st.store.unit_get(&scope, &code).await?;
    if unit.retired {
        return Err(ApiError::new("unit_retired"));
    }
    if st.config.levels.is_grid(&unit.level) && unit.has_boundary {
        return Err(ApiError::new("boundary_change_required"));
    }
    let geometry = drawn_geometry(
        &st,
        &caller.actor(),
        &req.geometry,
        req.crs.as_deref(),
        &code,
    )
    .await?;
    let edit = Edit {
        code: code.clone(),
        parent_code: unit.parent_code.clone(),
        feature_index: None,
        geometry,
    };
    let report = store_edits(
        &st,
        &caller.actor(),
        &scope,
        vec![edit],
        req.accept_warnings,
        "drawn",
        "topology_invalid",
    )
    .await?;
    let (unit, _) = st.store.unit_get(&scope, &code).await?;
    Ok(axum::Json(Drawn { unit, report }))
}

fn feature(u: &Unit, b: &Boundary) -> serde_json::Value {
    serde_json::json!({
        "type": "Feature",
        "geometry": serde_json::from_str::<serde_json::Value>(&b.geometry).unwrap_or_default(),
        "properties": {
            "code": u.code, "name": u.name, "level": u.level, "kind": u.kind,
            "business_lines": u.business_lines, "retired": u.retired,
            "valid_from": b.valid_from, "valid_to": b.valid_to, "area_m2": b.area_m2,
            "has_children": u.child_count > 0, "parent_code": u.parent_code,
        },
    })
}

#[derive(Serialize, ToSchema)]
pub struct MapOut {
    /// The unit's own boundary as a GeoJSON Feature, or null.
    #[schema(value_type = Object)]
    unit: serde_json::Value,
    /// The children's boundaries: a GeoJSON FeatureCollection.
    #[schema(value_type = Object)]
    children: serde_json::Value,
    /// Children without a boundary on that date.
    missing: Vec<Missing>,
}

#[derive(Serialize, ToSchema)]
pub struct Missing {
    code: String,
    name: String,
}

/// A unit's boundary and its children's, as they were on a date.
#[utoipa::path(get, path = "/api/v1/units/{code}/map", tag = "grids",
    params(("code" = String, Path), AtQuery),
    responses((status = 200, body = MapOut), (status = 404, body = ErrorBody)))]
pub async fn map(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> ApiResult<axum::Json<MapOut>> {
    let scope = caller.require(TerritoryRead)?;
    let at = date_or_today(&st, q.at)?;
    let view = st.store.map_at(&scope, &code, &at).await?;
    let mut features = Vec::new();
    let mut missing = Vec::new();
    for (u, b) in &view.children {
        match b {
            Some(b) => features.push(feature(u, b)),
            None => missing.push(Missing {
                code: u.code.clone(),
                name: u.name.clone(),
            }),
        }
    }
    let unit = view
        .boundary
        .as_ref()
        .map(|b| feature(&view.unit, b))
        .unwrap_or(serde_json::Value::Null);
    Ok(axum::Json(MapOut {
        unit,
        children: serde_json::json!({"type": "FeatureCollection", "features": features}),
        missing,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `geojson` or `shapefile` (a zip); from the Content-Type when absent.
    format: Option<String>,
    /// The attribute holding the unit code; default `code`.
    code_field: Option<String>,
    /// wgs84 (default), gcj02 or bd09.
    crs: Option<String>,
    #[serde(default)]
    accept_warnings: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    pub report_id: Option<String>,
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// Checks that every feature names a unit that may take this boundary.
async fn resolve_units(
    st: &AppState,
    scope: &Scope,
    features: &[Feature],
) -> ApiResult<(Vec<Edit>, Vec<Problem>)> {
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    for f in features {
        let code = f.code.clone().unwrap_or_default();
        let refuse =
            |kind: &'static str, why: &str| Problem::error(kind, Some(f.index), Some(&code), why);
        match st.store.unit_get(scope, &code).await {
            Ok((u, _)) if u.retired => problems.push(refuse("unit_retired", "the unit is retired")),
            Ok((u, _)) if st.config.levels.is_grid(&u.level) && u.has_boundary => {
                problems.push(refuse(
                    "boundary_change_required",
                    "the grid already has a boundary: redraw it through a grid change",
                ))
            }
            Ok((u, _)) => edits.push(Edit {
                code: u.code,
                parent_code: u.parent_code,
                feature_index: Some(f.index),
                geometry: f.geometry.clone(),
            }),
            Err(wangge_store::StoreError::NotFound(_)) => {
                problems.push(refuse("unknown_code", "no such unit in your scope"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((edits, problems))
}

/// Imports boundaries from a GeoJSON FeatureCollection or a zipped Shapefile, matching features
/// to units by a code attribute. All or nothing; the report lists every problem.
#[utoipa::path(post, path = "/api/v1/boundaries/import", tag = "grids", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/geo+json"),
    responses((status = 200, body = Imported), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    Upload(body): Upload,
) -> ApiResult<axum::Json<Imported>> {
    let scope = caller.require(TerritoryWrite)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let shapefile = match q.format.as_deref().filter(|f| !f.is_empty()) {
        Some("shapefile") => true,
        Some("geojson") => false,
        Some(_) => {
            return Err(ApiError::new("bad_parameter").msg("format must be geojson or shapefile"));
        }
        None if ct.starts_with("application/zip") => true,
        None if ct.contains("json") => false,
        None => {
            return Err(ApiError::new("unsupported_media_type")
                .msg("send application/geo+json, application/json or application/zip"));
        }
    };
    let options = ImportOptions {
        shapefile,
        code_field: q.code_field.filter(|c| !c.is_empty()),
        crs: parse_crs(q.crs.as_deref())?,
        accept_warnings: q.accept_warnings,
    };
    let done = import_file(&st, &caller.actor(), &scope, body.to_vec(), options).await?;
    Ok(axum::Json(done))
}

/// How to read a boundary file.
pub struct ImportOptions {
    /// A zipped Shapefile; otherwise GeoJSON.
    pub shapefile: bool,
    /// The attribute holding the unit code; `code` when `None`.
    pub code_field: Option<String>,
    pub crs: Crs,
    pub accept_warnings: bool,
}

/// Reads, checks and stores a boundary file, all or nothing (the API and the CLI).
pub async fn import_file(
    st: &AppState,
    actor: &Actor,
    scope: &Scope,
    body: Vec<u8>,
    o: ImportOptions,
) -> ApiResult<Imported> {
    let code_field = o.code_field.unwrap_or_else(|| "code".into());
    let (shapefile, crs) = (o.shapefile, o.crs);
    let parsed = tokio::task::spawn_blocking(move || {
        if shapefile {
            wangge_geo::shp::read_zip(&body, &code_field, crs)
        } else {
            let text = String::from_utf8_lossy(&body);
            parse_feature_collection(&text, &code_field, crs)
        }
    })
    .await
    .map_err(|_| ApiError::new("internal_error"))?;
    let features = match parsed {
        Ok(f) => f,
        Err(problems) => {
            return topology_report::refuse(
                st,
                actor.user_id,
                &problems,
                "boundary_import_rejected",
            )
            .await;
        }
    };
    let (edits, refused) = resolve_units(st, scope, &features).await?;
    if !refused.is_empty() {
        return topology_report::refuse(st, actor.user_id, &refused, "boundary_import_rejected")
            .await;
    }
    let n = edits.len();
    let report = store_edits(
        st,
        actor,
        scope,
        edits,
        o.accept_warnings,
        "import",
        "boundary_import_rejected",
    )
    .await?;
    Ok(Imported {
        imported: n,
        report_id: report["id"].as_str().map(str::to_string),
        report,
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    root: String,
    /// `geojson` (default) or `shapefile`.
    format: Option<String>,
    at: Option<String>,
}

/// The boundaries of a unit and everything below it, as GeoJSON or a zipped Shapefile.
#[utoipa::path(get, path = "/api/v1/boundaries/export", tag = "grids", params(ExportQuery),
    responses((status = 200, content_type = "application/geo+json", body = String), (status = 404, body = ErrorBody)))]
pub async fn export(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let scope = caller.require(TerritoryRead)?;
    let at = date_or_today(&st, q.at)?;
    let rows = st.store.boundaries_under(&scope, &q.root, &at).await?;
    let name = format!("boundaries-{}-{at}", q.root);
    match q.format.as_deref().unwrap_or("geojson") {
        "geojson" => {
            let features: Vec<_> = rows.iter().map(|(u, b)| feature(u, b)).collect();
            let body =
                serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
            Ok(attachment(
                "application/geo+json",
                &format!("{name}.geojson"),
                body.into_bytes(),
            ))
        }
        "shapefile" => {
            let items: Vec<(wangge_geo::shp::Attributes, MultiPolygon<f64>)> = rows
                .iter()
                .filter_map(|(u, b)| {
                    let attrs = vec![
                        ("code".to_string(), u.code.clone()),
                        ("name".to_string(), u.name.clone()),
                        ("level".to_string(), u.level.clone()),
                        (
                            "parent".to_string(),
                            u.parent_code.clone().unwrap_or_default(),
                        ),
                        ("kind".to_string(), u.kind.clone().unwrap_or_default()),
                        ("valid_from".to_string(), b.valid_from.clone()),
                    ];
                    stored_geometry(&b.geometry).map(|g| (attrs, g))
                })
                .collect();
            let base = name.clone();
            let zip =
                tokio::task::spawn_blocking(move || wangge_geo::shp::write_zip(&base, &items))
                    .await
                    .map_err(|_| ApiError::new("internal_error"))?
                    .map_err(|e| ApiError::new("internal_error").msg(e))?;
            Ok(attachment("application/zip", &format!("{name}.zip"), zip))
        }
        _ => Err(ApiError::new("bad_parameter").msg("format must be geojson or shapefile")),
    }
}

fn attachment(content_type: &str, filename: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A saved topology report (JSON).
#[utoipa::path(get, path = "/api/v1/topology-reports/{id}", tag = "grids", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (json, _) = st
        .store
        .topology_report_get(&id, Some(caller.user.id))
        .await?;
    Ok(attachment(
        "application/json",
        &format!("topology-{id}.json"),
        json.into_bytes(),
    ))
}

/// A saved topology report's problem areas (GeoJSON).
#[utoipa::path(get, path = "/api/v1/topology-reports/{id}/geojson", tag = "grids", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/geo+json", body = String), (status = 404, body = ErrorBody)))]
pub async fn report_geojson(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (_, geojson) = st
        .store
        .topology_report_get(&id, Some(caller.user.id))
        .await?;
    Ok(attachment(
        "application/geo+json",
        &format!("topology-{id}.geojson"),
        geojson.into_bytes(),
    ))
}

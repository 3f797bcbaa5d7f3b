//! Point to grid: which micro-grid, grid, village, town and county a point lies in on a date.

use super::boundaries::{date_or_today, parse_crs};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::roles::Permission::TerritoryRead;
use wangge_domain::roles::Scope;
use wangge_geo::crs::to_wgs84;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LocateQuery {
    lat: f64,
    lng: f64,
    /// wgs84 (default), gcj02 or bd09.
    crs: Option<String>,
    /// YYYY-MM-DD; today when absent.
    at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChainItem {
    code: String,
    name: String,
    level: String,
}

#[derive(Serialize, ToSchema)]
pub struct Located {
    /// The point in WGS-84.
    lng: f64,
    lat: f64,
    at: String,
    unit: ChainItem,
    /// Deepest first: micro-grid, grid, village, town, county, …
    chain: Vec<ChainItem>,
}

/// The grid chain of a point on a date. A point on an edge shared by two grids gets the one
/// with the smaller code.
#[utoipa::path(get, path = "/api/v1/locate", tag = "grids", params(LocateQuery),
    responses((status = 200, body = Located), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn locate(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<LocateQuery>,
) -> ApiResult<axum::Json<Located>> {
    caller.require(TerritoryRead)?;
    if !(q.lat.is_finite() && q.lng.is_finite() && q.lat.abs() <= 90.0 && q.lng.abs() <= 180.0) {
        return Err(
            ApiError::new("bad_parameter").msg("lat must be within ±90 and lng within ±180")
        );
    }
    let crs = parse_crs(q.crs.as_deref())?;
    let at = date_or_today(&st, q.at)?;
    let (lng, lat) = to_wgs84(crs, q.lng, q.lat);
    let index = st.grids.snapshot();
    let code = index
        .locate(lng, lat, &at)
        .map(|e| e.code.clone())
        .ok_or_else(|| ApiError::new("outside_grids"))?;
    let (unit, ancestors) = st.store.unit_get(&Scope::All, &code).await?;
    let item = |u: &wangge_store::Unit| ChainItem {
        code: u.code.clone(),
        name: u.name.clone(),
        level: u.level.clone(),
    };
    let mut chain = vec![item(&unit)];
    chain.extend(ancestors.iter().rev().map(item));
    Ok(axum::Json(Located {
        lng,
        lat,
        at,
        unit: item(&unit),
        chain,
    }))
}

//! Publicity (公示): the printable board of a grid, contact cards, the QR code that opens the
//! grid's mobile page, and that public page's data.

use super::Items;
use crate::auth::{Caller, is_https};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use wangge_domain::audit::AuditEvent;
use wangge_domain::roles::Permission::TerritoryRead;
use wangge_domain::roles::Scope;
use wangge_store::{Assignment, Unit};

/// Where the grid's mobile page lives: `public_url` from the configuration, or this request's host.
fn grid_page_url(st: &AppState, headers: &HeaderMap, code: &str) -> String {
    let base = st.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if is_https(headers, st.config.secure_cookies) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    });
    format!("{base}/m/grid/{code}")
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    user_id: i64,
    display_name: String,
    role: String,
    duty: Option<String>,
    /// Full number (on the board and cards only; the read is audited).
    phone: Option<String>,
    has_photo: bool,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct ChainUnit {
    code: String,
    name: String,
    level: String,
}

#[derive(Serialize, ToSchema)]
pub struct Board {
    unit: Unit,
    /// Top first: county, town, village, …
    chain: Vec<ChainUnit>,
    #[schema(value_type = Option<Object>)]
    geometry: Option<serde_json::Value>,
    team: Vec<Member>,
    public_url: String,
}

fn member(a: Assignment) -> Member {
    Member {
        user_id: a.user_id,
        display_name: a.display_name,
        role: a.role,
        duty: a.duty,
        phone: a.phone,
        has_photo: a.has_photo,
    }
}

fn chain(ancestors: &[Unit]) -> Vec<ChainUnit> {
    ancestors
        .iter()
        .map(|u| ChainUnit {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level.clone(),
        })
        .collect()
}

/// The printable public board of a grid: code, name, map, team with photos, phones and duties.
#[utoipa::path(get, path = "/api/v1/units/{code}/board", tag = "teams", params(("code" = String, Path)),
    responses((status = 200, body = Board), (status = 404, body = ErrorBody)))]
pub async fn board(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Board>> {
    let scope = caller.require(TerritoryRead)?;
    let today = st.today();
    let (unit, ancestors) = st.store.unit_get(&scope, &code).await?;
    let geometry = match st.store.boundary_at(&scope, &code, &today).await {
        Ok(b) => serde_json::from_str(&b.geometry).ok(),
        Err(wangge_store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let team = st.store.team_list(&scope, &code, false, &today).await?;
    st.store
        .audit_record(
            &caller.actor(),
            AuditEvent::new("unit.board.read", "unit", &code),
        )
        .await?;
    Ok(axum::Json(Board {
        public_url: grid_page_url(&st, &headers, &code),
        chain: chain(&ancestors),
        geometry,
        team: team.into_iter().filter(|a| a.active).map(member).collect(),
        unit,
    }))
}

/// Contact cards (服务联系卡) of every grid and micro-grid under a unit.
#[utoipa::path(get, path = "/api/v1/units/{code}/cards", tag = "teams", params(("code" = String, Path)),
    responses((status = 200, body = Items<Board>), (status = 404, body = ErrorBody)))]
pub async fn cards(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Items<Board>>> {
    let scope = caller.require(TerritoryRead)?;
    let grid_levels = st.config.levels.grid_keys();
    let teams = st
        .store
        .teams_under(&scope, &code, &grid_levels, &st.today())
        .await?;
    let (root, ancestors) = st.store.unit_get(&scope, &code).await?;
    let mut base_chain = chain(&ancestors);
    base_chain.extend(chain(std::slice::from_ref(&root)));
    st.store
        .audit_record(
            &caller.actor(),
            AuditEvent::new("unit.cards.read", "unit", &code),
        )
        .await?;
    let items = teams
        .into_iter()
        .map(|(u, team)| Board {
            public_url: grid_page_url(&st, &headers, &u.code),
            chain: base_chain.clone(),
            geometry: None,
            team: team.into_iter().map(member).collect(),
            unit: u,
        })
        .collect::<Vec<_>>();
    Ok(axum::Json(items.into()))
}

/// An SVG QR code of the grid's mobile page.
#[utoipa::path(get, path = "/api/v1/units/{code}/qr.svg", tag = "teams", params(("code" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = ErrorBody)))]
pub async fn qr(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.require(TerritoryRead)?;
    let (unit, _) = st.store.unit_get(&scope, &code).await?;
    let url = grid_page_url(&st, &headers, &unit.code);
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| ApiError::new("internal_error").msg(e.to_string()))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct PublicMember {
    display_name: String,
    role: String,
    duty: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicGrid {
    code: String,
    name: String,
    level: String,
    chain: Vec<ChainUnit>,
    team: Vec<PublicMember>,
}

/// What the grid's QR code opens, without login: the grid, where it is, and who serves it
/// (names, roles and duties; phones only on the printed board and cards).
#[utoipa::path(get, path = "/api/v1/public/grids/{code}", tag = "teams", params(("code" = String, Path)),
    responses((status = 200, body = PublicGrid), (status = 404, body = ErrorBody)))]
pub async fn public_grid(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<PublicGrid>> {
    let (unit, ancestors) = st.store.unit_get(&Scope::All, &code).await?;
    if unit.retired || !st.config.levels.is_grid(&unit.level) {
        return Err(ApiError::new("unit_not_found"));
    }
    let team = st
        .store
        .team_list(&Scope::All, &code, false, &st.today())
        .await?;
    Ok(axum::Json(PublicGrid {
        code: unit.code,
        name: unit.name,
        level: unit.level,
        chain: chain(&ancestors),
        team: team
            .into_iter()
            .filter(|a| a.active)
            .map(|a| PublicMember {
                display_name: a.display_name,
                role: a.role,
                duty: a.duty,
            })
            .collect(),
    }))
}

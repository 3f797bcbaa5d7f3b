//! The Wangge HTTP server: JSON API, authentication, and the embedded web app.

pub mod auth;
pub mod cache;
pub mod cases;
pub mod config;
pub mod error;
pub mod external;
mod extract;
pub mod grid_index;
pub mod jobs;
pub mod memory;
mod open311;
mod routes;
pub mod state;
pub mod territory_file;
mod topology_report;
mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::get;
pub use routes::{ImportOptions, Imported, import_boundaries};
pub use state::AppState;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest JSON body.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest import file (the national village list is about 40 MB as CSV).
pub const IMPORT_LIMIT: usize = 200 * 1024 * 1024;

/// The content security policy; map tiles may come from the deployment's own tile service.
fn csp(tile_url: Option<&str>) -> String {
    let tiles = tile_url
        .and_then(|u| {
            let rest = u.split_once("://")?;
            let host = rest.1.split('/').next()?;
            Some(format!(" {}://{}", rest.0, host.replace(['{', '}'], "")))
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data: blob:{tiles}; style-src 'self' 'unsafe-inline'; \
         font-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"
    )
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let csp_value = HeaderValue::from_str(&csp(state.config.map.tile_url.as_deref()))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let (api, openapi) = routes::api();
    let openapi_json = serde_json::to_string(&openapi).unwrap_or_default();
    let api = api.fallback(|| async { error::ApiError::new("not_found") });
    Router::new()
        .merge(api)
        .merge(open311::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cache::invalidate_after_writes,
        ))
        .layer(axum::middleware::from_fn(body_limit))
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .route(
            "/api/openapi.json",
            get(
                move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi_json) },
            ),
        )
        .route("/api/docs", get(web::api_docs))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { error::ApiError::new("not_found") }),
        )
        .fallback(get(web::static_or_index))
        .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp_value,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Admits an API request while fewer than `max_requests_in_flight` are being served, else
/// answers `503 overloaded` at once: under overload the admitted requests keep their latency and
/// the server its memory, and clients retry (an intake client with the same client id).
async fn admit(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    match st.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => error::ApiError::new("overloaded")
            .details(serde_json::json!({ "retry_after_s": 1 }))
            .into_response(),
    }
}

/// Runs every API request to its end even when the client goes away: a dropped connection must
/// not cancel a handler between two statements of a write (leaving a transaction, and on
/// PostgreSQL the write lock, behind) or between a commit and its follow-up (the grid index).
async fn run_to_completion(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::spawn(next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!("request task failed: {e}");
            error::ApiError::new("internal_error").into_response()
        }
    }
}

/// Limits request bodies: imports to [`IMPORT_LIMIT`], everything else to [`BODY_LIMIT`]. A declared
/// length over the limit is refused at once; a body without one is cut off while it is read.
async fn body_limit(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    let limit = if path == "/api/v1/units/import" || path == "/api/v1/boundaries/import" {
        IMPORT_LIMIT
    } else if path == "/api/v1/media" || path == "/api/v1/public/media" {
        // the configured media limit is checked by the handler, with its own error code
        IMPORT_LIMIT
    } else if path.starts_with("/api/v1/users/") && path.ends_with("/photo") {
        routes::users::PHOTO_LIMIT + 1
    } else {
        BODY_LIMIT
    };
    let len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if len.is_some_and(|l| l > limit) {
        return error::ApiError::new("payload_too_large").into_response();
    }
    let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, limit)));
    next.run(req).await
}

/// Serves until ctrl-c, with the point-to-grid index loaded and the scheduled work running.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    state.load_grids().await?;
    state
        .cases
        .load(state.store.as_ref(), &state.config)
        .await?;
    jobs::spawn(state.clone());
    cases::notify::spawn_outbox(state.clone());
    let app = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    state.store.close().await;
    Ok(())
}

//! The JSON API under `/api/v1`, with its OpenAPI description generated from the handlers.

mod audit;
mod auth;
pub(crate) mod boundaries;
mod calendar;
mod cases;
mod catalogue;
mod changes;
mod departments;
mod external_systems;
mod health;
mod ingest;
mod locate;
mod media;
mod meta;
mod notifications;
mod public_cases;
mod publicity;
mod stats;
mod teams;
mod tokens;
mod units;
pub(crate) mod users;

pub use boundaries::{ImportOptions, Imported, import_file as import_boundaries};
pub use changes::apply as apply_change;

use crate::auth::client_ip;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Wangge API", description = "网格化服务管理平台 API. Errors: `{code, message, message_zh, details}`."),
    tags(
        (name = "auth", description = "Login, sessions, passwords"),
        (name = "territory", description = "The territory tree: units and grids"),
        (name = "grids", description = "Boundaries, the map, point-to-grid lookup, grid changes"),
        (name = "teams", description = "Grid teams, the team report, publicity boards and QR codes"),
        (name = "cases", description = "Cases: report, list, act, suggestions, boards, media, notifications"),
        (name = "catalogue", description = "The case catalogue, departments and the working calendar"),
        (name = "external", description = "External systems: API keys, webhooks, signed device events (Open311 is under /open311/v2)"),
        (name = "public", description = "For residents without an account: report, track, rate, disclosure"),
        (name = "users", description = "Users and grants (administrators)"),
        (name = "tokens", description = "Personal API tokens"),
        (name = "audit", description = "The audit log (administrators)"),
        (name = "meta", description = "Levels, roles, policy"),
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and the OpenAPI document describing them.
pub fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(meta::meta))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(units::roots))
        .routes(routes!(units::search, units::create))
        .routes(routes!(units::get, units::update))
        .routes(routes!(units::children))
        .routes(routes!(units::move_unit))
        .routes(routes!(units::retire))
        .routes(routes!(units::history))
        .routes(routes!(units::import))
        .routes(routes!(units::import_report))
        .routes(routes!(units::next_code_of))
        .routes(routes!(units::create_grids))
        .routes(routes!(boundaries::get_boundary, boundaries::put_boundary))
        .routes(routes!(boundaries::versions))
        .routes(routes!(boundaries::map))
        .routes(routes!(boundaries::import))
        .routes(routes!(boundaries::export))
        .routes(routes!(boundaries::report))
        .routes(routes!(boundaries::report_geojson))
        .routes(routes!(locate::locate))
        .routes(routes!(changes::list, changes::propose))
        .routes(routes!(changes::get))
        .routes(routes!(changes::approve))
        .routes(routes!(changes::reject))
        .routes(routes!(changes::file))
        .routes(routes!(changes::timeline))
        .routes(routes!(teams::list, teams::add))
        .routes(routes!(teams::end))
        .routes(routes!(teams::report))
        .routes(routes!(publicity::board))
        .routes(routes!(publicity::cards))
        .routes(routes!(publicity::qr))
        .routes(routes!(publicity::public_grid))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::phone))
        .routes(routes!(users::grants, users::add_grant))
        .routes(routes!(users::remove_grant))
        .routes(routes!(users::get_photo, users::put_photo))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(audit::search))
        .routes(routes!(cases::list, cases::create))
        .routes(routes!(cases::suggest))
        .routes(routes!(cases::unreported))
        .routes(routes!(cases::overdue))
        .routes(routes!(cases::get))
        .routes(routes!(cases::act))
        .routes(routes!(cases::duplicates))
        .routes(routes!(cases::reporter))
        .routes(routes!(cases::retrain))
        .routes(routes!(stats::cases))
        .routes(routes!(catalogue::get))
        .routes(routes!(catalogue::put_category, catalogue::delete_category))
        .routes(routes!(catalogue::import))
        .routes(routes!(catalogue::export))
        .routes(routes!(catalogue::versions))
        .routes(routes!(departments::list, departments::create))
        .routes(routes!(departments::add_member, departments::remove_member))
        .routes(routes!(calendar::get))
        .routes(routes!(calendar::import))
        .routes(routes!(calendar::delete_day))
        .routes(routes!(calendar::deadline))
        .routes(routes!(media::upload))
        .routes(routes!(media::get))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::outbox))
        .routes(routes!(notifications::retry))
        .routes(routes!(external_systems::list, external_systems::create))
        .routes(routes!(external_systems::update))
        .routes(routes!(external_systems::rotate))
        .routes(routes!(external_systems::deliveries))
        .routes(routes!(ingest::ingest))
        .routes(routes!(public_cases::report))
        .routes(routes!(public_cases::upload))
        .routes(routes!(public_cases::track))
        .routes(routes!(public_cases::rate))
        .routes(routes!(public_cases::case_media))
        .routes(routes!(public_cases::disclosed))
        .routes(routes!(public_cases::notices))
        .split_for_parts()
}

/// The caller's network address, for the audit log.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// `{"items": [...]}`, the shape of every list.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> From<Vec<T>> for Items<T> {
    fn from(items: Vec<T>) -> Self {
        Items { items }
    }
}

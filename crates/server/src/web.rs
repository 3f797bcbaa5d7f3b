//! The web app built by Vite into `web/dist`, served from the binary with an SPA fallback:
//! `/m/…` gets the mobile app, every other page path the PC app.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Assets;

fn file(path: &str) -> Option<Response> {
    let f = Assets::get(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut r = Response::new(Body::from(f.data.into_owned()));
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(r)
}

fn missing_build() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The web app was not built into this binary (web/dist was empty at build time).",
    )
        .into_response()
}

/// Any non-API GET: the file if it exists, else the app's index page.
pub async fn static_or_index(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(r) = file(path) {
        return r;
    }
    let index = if path == "m" || path.starts_with("m/") {
        "m/index.html"
    } else {
        "index.html"
    };
    file(index).unwrap_or_else(missing_build)
}

/// Swagger UI, vendored from the npm package `swagger-ui-dist` by the web build.
pub async fn api_docs() -> Response {
    file("api-docs/index.html").unwrap_or_else(missing_build)
}

//! Open311 GeoReport v2 under `/open311/v2`, in XML and JSON: discovery, services, service
//! definitions, requests (post, list, one), tokens and the update feed
//! (`servicerequestupdates`). Reading and posting requests needs an external system's API key
//! (`api_key` in the query string or the form body); every such call is rate-limited and
//! audited. See docs/open311.md.

mod doc;
mod requests;
mod services;

use crate::error::{ApiError, message_en, message_zh};
use crate::external;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
pub use doc::Doc;
use wangge_store::ExternalSystem;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/open311/v2/{file}",
            get(requests::top_get).post(requests::post_request),
        )
        .route("/open311/v2/services/{file}", get(services::definition))
        .route("/open311/v2/requests/{file}", get(requests::one))
        .route("/open311/v2/tokens/{file}", get(requests::token))
        .route("/open311/{*rest}", axum::routing::any(not_found))
}

async fn not_found() -> Response {
    Fail(Format::Json, ApiError::new("not_found")).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Json,
    Xml,
}

/// `services.json` → ("services", Json); an unknown or missing extension is a 404.
pub fn split_format(file: &str) -> Result<(&str, Format), Fail> {
    match file.rsplit_once('.') {
        Some((name, "json")) => Ok((name, Format::Json)),
        Some((name, "xml")) => Ok((name, Format::Xml)),
        _ => Err(Fail(
            Format::Json,
            ApiError::new("not_found").msg("add the format to the resource: .json or .xml"),
        )),
    }
}

/// An answer in the requested format; `root` names the XML root element.
pub fn reply(format: Format, root: &str, doc: &Doc) -> Response {
    match format {
        Format::Json => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            doc.to_json().to_string(),
        )
            .into_response(),
        Format::Xml => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )],
            doc.to_xml(root),
        )
            .into_response(),
    }
}

/// An error as Open311 lists them: `[{code, description}]` with the HTTP status as the code.
/// The description says it in English and Chinese and ends with our stable error code.
pub struct Fail(pub Format, pub ApiError);

impl Fail {
    /// The HTTP status: the spec's 400, 403 (keys) and 404 (unknown resources), and 429 and
    /// 5xx as they are; any other refusal is a 400.
    pub fn status(&self) -> StatusCode {
        let s = self.1.status();
        match s.as_u16() {
            404 if self.1.code.ends_with("not_found") || self.1.code == "unknown_service" => s,
            403 if self.1.code == "invalid_api_key" => s,
            429 => s,
            400..=499 => StatusCode::BAD_REQUEST,
            _ => s,
        }
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Fail(Format::Json, e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let status = self.status();
        let err = self.1;
        let english = err
            .message
            .clone()
            .unwrap_or_else(|| message_en(err.code).to_string());
        let zh = message_zh(err.code).unwrap_or("错误");
        let description = format!("{english} / {zh} ({})", err.code);
        let doc = Doc::List(
            "error",
            vec![Doc::Obj(vec![
                ("code", Doc::Int(i64::from(status.as_u16()))),
                ("description", Doc::Text(description)),
            ])],
        );
        let mut resp = reply(self.0, "errors", &doc);
        *resp.status_mut() = status;
        if let Some(secs) = err.details.get("retry_after_s").and_then(|v| v.as_i64())
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The parameters of a call: the query string, then the form body. An empty value counts as
/// absent ("Optional Arguments" in the spec).
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        pairs.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        Params(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// A comma-separated list, given once or several times.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Checks `jurisdiction_id` against the configured one (any is accepted when none is set).
pub fn check_jurisdiction(st: &AppState, p: &Params, f: Format) -> Result<(), Fail> {
    match (
        p.get("jurisdiction_id"),
        &st.config.external.jurisdiction_id,
    ) {
        (Some(given), Some(ours)) if given != ours => Err(Fail(
            f,
            ApiError::new("jurisdiction_not_found").msg(format!(
                "jurisdiction_id {given} is not served here; use {ours}"
            )),
        )),
        _ => Ok(()),
    }
}

/// The system whose `api_key` the call carries, if it may call now. Refusals are audited too.
pub async fn authenticate(
    st: &AppState,
    p: &Params,
    ip: &str,
    f: Format,
) -> Result<ExternalSystem, Fail> {
    let denied = |why: &str| {
        Fail(
            f,
            ApiError::new("invalid_api_key")
                .msg(format!("{why}: send api_key=… of an external system")),
        )
    };
    let Some(key) = p.get("api_key") else {
        return Err(denied("missing api_key"));
    };
    let hash = crate::auth::sha256_hex(key);
    let Some(system) = st
        .store
        .external_by_key(&hash)
        .await
        .map_err(|e| Fail(f, e.into()))?
    else {
        let mut ev = wangge_domain::audit::AuditEvent::new("open311.denied", "external_system", "");
        ev.detail = serde_json::json!({ "key_prefix": key.chars().take(10).collect::<String>() });
        let anon = wangge_domain::audit::Actor {
            user_id: None,
            name: "external:unknown".into(),
            ip: ip.to_string(),
        };
        st.store
            .audit_record(&anon, ev)
            .await
            .map_err(|e| Fail(f, e.into()))?;
        return Err(denied("unknown or inactive api_key"));
    };
    if let Err(secs) = st.external.take(&system, st.clock.now_ms()) {
        external::audit_call(
            st,
            &system,
            ip,
            "open311.rate_limited",
            serde_json::json!({}),
        )
        .await
        .map_err(|e| Fail(f, e.into()))?;
        return Err(Fail(
            f,
            ApiError::new("rate_limited")
                .msg(format!(
                    "more than {} requests a minute; wait {secs} s",
                    system.rate_limit
                ))
                .details(serde_json::json!({ "retry_after_s": secs })),
        ));
    }
    Ok(system)
}

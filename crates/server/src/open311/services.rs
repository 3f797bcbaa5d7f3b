//! Discovery, the service list (the catalogue's leaf categories) and service definitions (a
//! category's extra questions as Open311 attributes). Public: no key needed.

use super::{Doc, Fail, Format, Params, check_jurisdiction, reply, split_format};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use wangge_domain::catalogue::{Catalogue, Category, QuestionType};

const SPEC: &str = "http://wiki.open311.org/GeoReport_v2";

/// The base URL clients reached us at: the configured public URL, or the request's host.
fn base_url(st: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &st.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if crate::auth::is_https(headers, st.config.secure_cookies) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// The discovery document; its changeset is when the catalogue (the service list) last changed.
pub async fn discovery(st: &AppState, headers: &HeaderMap, f: Format) -> Result<Response, Fail> {
    let saved = st
        .store
        .catalogue_current()
        .await
        .map_err(|e| Fail(f, e.into()))?
        .map_or(0, |v| v.created_at);
    let changeset = st.config.iso_time(saved);
    let doc = Doc::Obj(vec![
        ("changeset", Doc::text(changeset.clone())),
        ("contact", Doc::text(format!("{}/", base_url(st, headers)))),
        (
            "key_service",
            Doc::text(
                "API keys are issued to registered external systems by the administrators (外部系统)",
            ),
        ),
        (
            "endpoints",
            Doc::List(
                "endpoint",
                vec![Doc::Obj(vec![
                    ("specification", Doc::text(SPEC)),
                    (
                        "url",
                        Doc::text(format!("{}/open311/v2", base_url(st, headers))),
                    ),
                    ("changeset", Doc::text(changeset)),
                    ("type", Doc::text("production")),
                    (
                        "formats",
                        Doc::List(
                            "format",
                            vec![Doc::text("text/xml"), Doc::text("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ]);
    Ok(reply(f, "discovery", &doc))
}

fn service(cat: &Catalogue, c: &Category) -> Doc {
    let path = cat.path(&c.code);
    let group = path
        .first()
        .filter(|g| g.code != c.code)
        .map(|g| g.name.clone());
    let description = if c.filing.trim().is_empty() {
        path.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    } else {
        c.filing.trim().to_string()
    };
    Doc::Obj(vec![
        ("service_code", Doc::text(c.code.clone())),
        ("service_name", Doc::text(c.name.clone())),
        ("description", Doc::text(description)),
        (
            "metadata",
            Doc::Bool(!cat.effective_questions(&c.code).is_empty()),
        ),
        ("type", Doc::text("realtime")),
        ("keywords", Doc::text(c.keywords.join(", "))),
        ("group", Doc::opt_text(group)),
    ])
}

pub fn services(st: &AppState, p: &Params, f: Format) -> Result<Response, Fail> {
    check_jurisdiction(st, p, f)?;
    let cat = st.cases.catalogue();
    let list: Vec<Doc> = cat.leaves().into_iter().map(|c| service(&cat, c)).collect();
    Ok(reply(f, "services", &Doc::List("service", list)))
}

/// A leaf category by its code, or `unknown_service`.
pub fn leaf<'a>(cat: &'a Catalogue, code: &str, f: Format) -> Result<&'a Category, Fail> {
    match cat.get(code) {
        Some(c) if cat.children(code).is_empty() => Ok(c),
        _ => Err(Fail(
            f,
            ApiError::new("unknown_service").msg(format!("no service with service_code {code}")),
        )),
    }
}

/// Open311's datatype of a question.
fn datatype(kind: QuestionType) -> &'static str {
    match kind {
        QuestionType::String => "string",
        QuestionType::Number => "number",
        QuestionType::Datetime => "datetime",
        QuestionType::Text => "text",
        QuestionType::Single | QuestionType::Bool => "singlevaluelist",
        QuestionType::Multi => "multivaluelist",
    }
}

/// GET services/{service_code}.{format}
pub async fn definition(
    State(st): State<AppState>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Fail> {
    let (code, f) = split_format(&file)?;
    let p = Params::parse(q.as_deref(), b"");
    check_jurisdiction(&st, &p, f)?;
    let cat = st.cases.catalogue();
    let c = leaf(&cat, code, f)?;
    let attributes: Vec<Doc> = cat
        .effective_questions(&c.code)
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let values: Vec<(String, String)> = match q.kind {
                QuestionType::Bool => {
                    vec![("true".into(), "是".into()), ("false".into(), "否".into())]
                }
                _ => q.options.iter().map(|o| (o.clone(), o.clone())).collect(),
            };
            let mut fields = vec![
                ("variable", Doc::Bool(true)),
                ("code", Doc::text(q.key.clone())),
                ("datatype", Doc::text(datatype(q.kind))),
                ("required", Doc::Bool(q.required)),
                ("datatype_description", Doc::Null),
                ("order", Doc::Int(i as i64 + 1)),
                ("description", Doc::text(q.label.clone())),
            ];
            if !values.is_empty() {
                fields.push((
                    "values",
                    Doc::List(
                        "value",
                        values
                            .into_iter()
                            .map(|(k, n)| {
                                Doc::Obj(vec![("key", Doc::Text(k)), ("name", Doc::Text(n))])
                            })
                            .collect(),
                    ),
                ));
            }
            Doc::Obj(fields)
        })
        .collect();
    let doc = Doc::Obj(vec![
        ("service_code", Doc::text(c.code.clone())),
        ("attributes", Doc::List("attribute", attributes)),
    ]);
    Ok(reply(f, "service_definition", &doc))
}

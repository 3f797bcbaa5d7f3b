//! The case catalogue: read it, edit one category, import or export a whole tree as TOML.
//! Every save is a new version (the old ones stay as history); the classifier is retrained.

use super::Items;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Upload};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use wangge_domain::catalogue::{Catalogue, Category, TreeFile};
use wangge_domain::roles::Permission::{CaseConfigure, CaseRead};
use wangge_store::CatalogueVersion;

#[derive(Serialize, ToSchema)]
pub struct CatalogueOut {
    version: i64,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    catalogue: Catalogue,
}

fn out(st: &AppState) -> CatalogueOut {
    CatalogueOut {
        version: st.cases.catalogue_version(),
        catalogue: (*st.cases.catalogue()).clone(),
    }
}

/// The whole catalogue in use: trees, categories with limits and questions, department kinds.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    responses((status = 200, body = CatalogueOut)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<CatalogueOut>> {
    if caller.scope(CaseRead).is_empty()
        && st
            .store
            .departments_of_user(caller.user.id)
            .await?
            .is_empty()
    {
        return Err(ApiError::new("forbidden"));
    }
    Ok(axum::Json(out(&st)))
}

/// Validates and saves a changed catalogue as a new version, then retrains the classifier.
async fn save(
    st: &AppState,
    caller: &Caller,
    cat: Catalogue,
    note: String,
) -> ApiResult<CatalogueOut> {
    let problems = cat.validate();
    if !problems.is_empty() {
        return Err(ApiError::new("catalogue_invalid")
            .msg(
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.subject, p.message_en))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .details(serde_json::to_value(&problems).unwrap_or_default()));
    }
    let data = serde_json::to_string(&cat)
        .map_err(|e| ApiError::new("internal_error").msg(e.to_string()))?;
    st.store
        .catalogue_save(&caller.actor(), &note, &data)
        .await?;
    st.cases
        .reload_catalogue(st.store.as_ref())
        .await
        .map_err(|e| ApiError::new("internal_error").msg(e.to_string()))?;
    st.cases.retrain(st.store.as_ref()).await?;
    Ok(out(st))
}

/// Adds or replaces one category (its code in the path must match the body).
#[utoipa::path(put, path = "/api/v1/catalogue/categories/{code}", tag = "catalogue",
    params(("code" = String, Path)), request_body = Object,
    responses((status = 200, body = CatalogueOut), (status = 422, body = ErrorBody)))]
pub async fn put_category(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Json(c): Json<Category>,
) -> ApiResult<axum::Json<CatalogueOut>> {
    caller.require_global(CaseConfigure)?;
    if c.code != code {
        return Err(ApiError::field(
            "code",
            "the code in the path and the body differ",
        ));
    }
    let mut cat = (*st.cases.catalogue()).clone();
    let note = match cat.categories.iter_mut().find(|x| x.code == code) {
        Some(x) => {
            *x = c;
            format!("edit {code}")
        }
        None => {
            cat.categories.push(c);
            format!("add {code}")
        }
    };
    Ok(axum::Json(save(&st, &caller, cat, note).await?))
}

/// Removes a category that has no categories below it (cases keep its code and name).
#[utoipa::path(delete, path = "/api/v1/catalogue/categories/{code}", tag = "catalogue",
    params(("code" = String, Path)),
    responses((status = 200, body = CatalogueOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_category(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<CatalogueOut>> {
    caller.require_global(CaseConfigure)?;
    let mut cat = (*st.cases.catalogue()).clone();
    if cat.get(&code).is_none() {
        return Err(ApiError::new("unknown_category"));
    }
    if !cat.children(&code).is_empty() {
        return Err(
            ApiError::new("catalogue_invalid").msg(format!("{code} still has categories below it"))
        );
    }
    cat.categories.retain(|c| c.code != code);
    Ok(axum::Json(
        save(&st, &caller, cat, format!("remove {code}")).await?,
    ))
}

/// Replaces a whole tree from its TOML file (the format of `data/catalogue/`), all or nothing.
#[utoipa::path(post, path = "/api/v1/catalogue/import", tag = "catalogue",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = CatalogueOut), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Upload(bytes): Upload,
) -> ApiResult<axum::Json<CatalogueOut>> {
    caller.require_global(CaseConfigure)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::new("catalogue_invalid").msg("the file is not UTF-8"))?;
    let file = TreeFile::parse(text)?;
    let mut cat = (*st.cases.catalogue()).clone();
    let tree = file.tree.clone();
    cat.trees.retain(|t| t.tree != tree);
    cat.categories.retain(|c| c.tree != tree);
    cat.trees.push(file.info());
    cat.categories.extend(file.category);
    Ok(axum::Json(
        save(&st, &caller, cat, format!("import tree {tree}")).await?,
    ))
}

/// One tree as a TOML file, ready to edit and import again.
#[utoipa::path(get, path = "/api/v1/catalogue/export/{tree}", tag = "catalogue",
    params(("tree" = String, Path)), responses((status = 200, content_type = "application/toml"), (status = 404, body = ErrorBody)))]
pub async fn export(
    State(st): State<AppState>,
    caller: Caller,
    Path(tree): Path<String>,
) -> ApiResult<axum::response::Response> {
    caller.require(CaseRead)?;
    let cat = st.cases.catalogue();
    if cat.tree(&tree).is_none() {
        return Err(ApiError::new("not_found"));
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/toml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{tree}.toml\""),
            ),
        ],
        cat.to_tree_toml(&tree),
    )
        .into_response())
}

/// Saved versions of the catalogue, newest first.
#[utoipa::path(get, path = "/api/v1/catalogue/versions", tag = "catalogue",
    responses((status = 200, body = Object)))]
pub async fn versions(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Items<CatalogueVersion>>> {
    caller.require(CaseConfigure)?;
    Ok(axum::Json(st.store.catalogue_versions(100).await?.into()))
}

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use wangge_domain::password::PasswordPolicy;
use wangge_domain::roles::Role;
use wangge_domain::territory::Level;

#[derive(Serialize, ToSchema)]
pub struct RoleInfo {
    key: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    permissions: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct Meta {
    levels: Vec<Level>,
    roles: Vec<RoleInfo>,
    password_policy: PasswordPolicy,
    version: &'static str,
}

/// Configured levels, roles with their permissions, and the password policy. No login needed.
#[utoipa::path(get, path = "/api/v1/meta", tag = "meta", responses((status = 200, body = Meta)))]
pub async fn meta(State(st): State<AppState>) -> Json<Meta> {
    let roles = Role::ALL
        .into_iter()
        .map(|r| {
            let (zh, en) = r.names();
            RoleInfo {
                key: r.key(),
                name_zh: zh,
                name_en: en,
                permissions: r.permissions().iter().map(|p| p.key()).collect(),
            }
        })
        .collect();
    Json(Meta {
        levels: st.config.levels.all().to_vec(),
        roles,
        password_policy: st.config.password_policy,
        version: env!("CARGO_PKG_VERSION"),
    })
}

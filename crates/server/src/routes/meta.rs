use crate::config::MapConfig;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use wangge_domain::grid::{AreaType, Entry};
use wangge_domain::password::PasswordPolicy;
use wangge_domain::roles::Role;
use wangge_domain::team::{TEAM_ROLES, TeamRule, educations};
use wangge_domain::territory::Level;

#[derive(Serialize, ToSchema)]
pub struct RoleInfo {
    key: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    permissions: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct TeamRoleInfo {
    key: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    /// The territory role the assignment grants on the grid.
    grant_role: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct AreaTypeInfo {
    key: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Meta {
    levels: Vec<Level>,
    /// Levels whose units are grids or micro-grids.
    grid_levels: Vec<String>,
    roles: Vec<RoleInfo>,
    password_policy: PasswordPolicy,
    grid_kinds: Vec<Entry>,
    business_lines: Vec<Entry>,
    area_types: Vec<AreaTypeInfo>,
    team_roles: Vec<TeamRoleInfo>,
    team_rule: TeamRule,
    educations: Vec<Entry>,
    map: MapConfig,
    version: &'static str,
}

/// Configured levels, roles with their permissions, the password policy, the grid catalogues
/// and rules, and the map settings. No login needed.
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
    let levels = st.config.levels.all().to_vec();
    let grids = &st.config.grids;
    Json(Meta {
        grid_levels: st.config.levels.grid_keys(),
        levels,
        roles,
        password_policy: st.config.password_policy,
        grid_kinds: grids.grid_kinds.clone(),
        business_lines: grids.business_lines.clone(),
        area_types: AreaType::ALL
            .into_iter()
            .map(|a| {
                let (zh, en) = a.names();
                AreaTypeInfo {
                    key: a.key(),
                    name_zh: zh,
                    name_en: en,
                }
            })
            .collect(),
        team_roles: TEAM_ROLES
            .iter()
            .map(|r| TeamRoleInfo {
                key: r.key,
                name_zh: r.name_zh,
                name_en: r.name_en,
                grant_role: r.grant.key(),
            })
            .collect(),
        team_rule: grids.team_rule.clone(),
        educations: educations(),
        map: st.config.map.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

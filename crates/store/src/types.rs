//! Records as the store hands them out.

use serde::{Deserialize, Serialize};
use wangge_domain::roles::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    #[serde(skip)]
    pub id: i64,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub kind: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub retired: bool,
    /// Active children.
    pub child_count: i64,
    #[serde(skip)]
    pub path: String,
    /// Business lines carried (多网合一), catalogue keys.
    pub business_lines: Vec<String>,
    /// `urban`, `rural` or `industrial`: chooses the sizing rule.
    pub area_type: Option<String>,
    pub households: Option<i64>,
    pub population: Option<i64>,
    pub enterprises: Option<i64>,
    /// A boundary is valid now.
    pub has_boundary: bool,
    /// Sizing warnings, filled in by the server from its configured rules.
    pub warnings: Vec<wangge_domain::grid::Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitHit {
    #[serde(flatten)]
    pub unit: Unit,
    pub parent_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUnit {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub kind: Option<String>,
    pub valid_from: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub business_lines: Option<Vec<String>>,
    /// `Some(None)` clears the value; likewise for the counts.
    pub area_type: Option<Option<String>>,
    pub households: Option<Option<i64>>,
    pub population: Option<Option<i64>>,
    pub enterprises: Option<Option<i64>>,
}

/// One entry of a unit's history: the state after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitChange {
    pub at: i64,
    pub action: String,
    pub actor_name: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub kind: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    Checking,
    Writing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub stage: ImportStage,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub phone: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub birth_date: Option<String>,
    pub education: Option<String>,
    pub certificate_no: Option<String>,
    pub has_photo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the phone; likewise the qualification fields.
    pub phone: Option<Option<String>>,
    pub birth_date: Option<Option<String>>,
    pub education: Option<Option<String>>,
    pub certificate_no: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    pub id: i64,
    pub user_id: i64,
    pub role: Role,
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    pub unit_level: Option<String>,
    #[serde(skip)]
    pub unit_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Username of the actor.
    pub actor: Option<String>,
    /// Prefix of the action, e.g. `unit.`.
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only entries with a smaller sequence number (paging).
    pub before: Option<i64>,
    pub limit: i64,
}

//! Records of grids as the store hands them out: boundary versions, grid changes, team assignments.

use serde::{Deserialize, Serialize};

/// One version of a unit's boundary. `geometry` is GeoJSON text (WGS-84).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Boundary {
    pub version_id: i64,
    #[serde(skip)]
    pub unit_id: i64,
    pub code: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub area_m2: f64,
    pub source: String,
    pub change_id: Option<i64>,
    #[serde(skip)]
    pub geometry: String,
}

/// A boundary to store for the unit `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBoundary {
    pub code: String,
    pub geometry: String,
    pub area_m2: f64,
}

/// A unit's boundary and its children's, valid at one date.
#[derive(Debug, Clone)]
pub struct MapView {
    pub unit: crate::Unit,
    pub boundary: Option<Boundary>,
    pub children: Vec<(crate::Unit, Option<Boundary>)>,
}

/// A boundary version of a grid-level unit, for the point-to-grid index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    pub unit_id: i64,
    pub code: String,
    pub level: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub geometry: String,
}

/// A new grid made by a split or merge (or the new geometry of a redraw).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePart {
    pub name: Option<String>,
    pub kind: Option<String>,
    /// GeoJSON geometry (WGS-84), complete once the change is proposed.
    pub geometry: Option<serde_json::Value>,
    pub area_m2: Option<f64>,
    /// The code given when the change took effect.
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filing {
    pub filing_no: String,
    pub filed_to: String,
    pub note: Option<String>,
    pub filed_by: String,
    pub filed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GridChange {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub parent_code: String,
    pub units: Vec<String>,
    pub parts: Vec<ChangePart>,
    pub result_codes: Vec<String>,
    pub reason: String,
    pub effective_date: String,
    /// The topology report made when the change was proposed.
    pub report: serde_json::Value,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
    pub applied_at: Option<i64>,
    pub filing: Option<Filing>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub kind: wangge_domain::change::ChangeKind,
    pub units: Vec<String>,
    pub parts: Vec<ChangePart>,
    pub reason: String,
    pub effective_date: String,
    pub report: serde_json::Value,
}

/// A person's role in a grid's team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub unit_level: String,
    pub user_id: i64,
    pub display_name: String,
    /// Full number; the API masks it unless the read is an audited one.
    #[serde(skip)]
    pub phone: Option<String>,
    pub role: String,
    pub duty: Option<String>,
    pub start_date: String,
    pub end_date: Option<String>,
    pub exception_reason: Option<String>,
    pub active: bool,
    #[serde(skip)]
    pub birth_date: Option<String>,
    #[serde(skip)]
    pub education: Option<String>,
    #[serde(skip)]
    pub certificate_no: Option<String>,
    pub has_photo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub user_id: i64,
    pub role: String,
    pub grant_role: wangge_domain::roles::Role,
    pub duty: Option<String>,
    pub start_date: String,
    pub exception_reason: Option<String>,
}

//! Records of the case loop as the store hands them out: cases, their events and department
//! assignments, departments, media, notifications and outbox messages.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wangge_domain::case_flow::{CaseState, Flow};
use wangge_domain::sla::{Alert, StageClock};

/// A case as stored. The engine in the server reads one, changes a copy and saves it back with
/// [`CaseWrite`]; `version` makes concurrent saves of one case fail instead of overwrite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub id: i64,
    pub number: String,
    pub client_id: String,
    #[serde(skip)]
    pub tracking_code: String,
    pub channel: String,
    pub state: CaseState,
    pub resume_to: Option<CaseState>,
    /// The grid (or micro-grid) where it happened.
    pub unit_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    #[serde(skip)]
    pub unit_path: String,
    /// The level handling it now (grid, village/community, town/street, county).
    pub handling_unit_id: i64,
    pub handling_code: String,
    pub handling_name: String,
    pub handling_level: String,
    #[serde(skip)]
    pub handling_path: String,
    pub category: Option<String>,
    pub category_name: Option<String>,
    pub nature: String,
    pub urgent: bool,
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub answers: Value,
    #[serde(skip)]
    pub reporter_id: Option<i64>,
    #[serde(skip)]
    pub reporter_name: Option<String>,
    #[serde(skip)]
    pub reporter_phone: Option<String>,
    pub confidential: bool,
    pub media: Vec<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub stage: Option<String>,
    #[serde(skip)]
    pub clock: Option<StageClock>,
    pub deadline_at: Option<i64>,
    #[serde(skip)]
    pub next_alert_at: Option<i64>,
    pub alert: Alert,
    pub supervision: Option<Value>,
    pub merged_into: Option<i64>,
    pub rework_count: i64,
    pub reopen_count: i64,
    pub extension_count: i64,
    /// A pending extension request `{minutes, reason, by}`.
    pub extension: Option<Value>,
    pub rating: Option<String>,
    pub closed_at: Option<i64>,
    pub first_report: bool,
    pub errand: Option<Value>,
    /// Not-filed reason, void reason, escalation trail and the like.
    pub detail: Value,
}

impl Case {
    pub fn flow(&self) -> Flow {
        Flow {
            state: self.state,
            resume_to: self.resume_to,
        }
    }

    pub fn set_flow(&mut self, f: Flow) {
        self.state = f.state;
        self.resume_to = f.resume_to;
    }
}

/// A new case; its number is given by the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub case: Case,
    pub event: NewCaseEvent,
}

/// One step in a case's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseEvent {
    pub id: i64,
    pub at: i64,
    #[serde(skip)]
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub party: String,
    pub action: String,
    pub from_state: CaseState,
    pub to_state: CaseState,
    pub note: String,
    pub data: Value,
    pub media: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct NewCaseEvent {
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub party: String,
    pub action: String,
    pub from_state: CaseState,
    pub to_state: CaseState,
    pub note: String,
    pub data: Value,
    pub media: Vec<i64>,
}

/// A department's share of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseAssignment {
    pub id: i64,
    pub case_id: i64,
    pub department_id: i64,
    pub department_code: String,
    pub department_name: String,
    pub lead: bool,
    /// dispatched | accepted | returned | transferred | handled
    pub status: String,
    pub dispatched_at: i64,
    pub deadline_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub note: String,
}

/// Changes to a case's assignments saved with it.
#[derive(Debug, Clone)]
pub enum AssignmentOp {
    Add {
        department_id: i64,
        lead: bool,
        deadline_at: Option<i64>,
    },
    /// Sets the status of an assignment (and its finish time when it ends).
    Status {
        id: i64,
        status: String,
        note: String,
        finished: bool,
    },
}

/// An in-app notification to write with a case step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    pub user_id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A message for a configured webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub target: String,
    /// A JSON event. When a case is created, the store fills in `case.id` and `case.number`,
    /// which the caller cannot know yet.
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub target: String,
    pub payload: Value,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub dead: bool,
}

/// Everything one step of a case writes, in one transaction.
#[derive(Debug, Clone)]
pub struct CaseWrite {
    /// The case as it is after the step; saved only if the stored version is still
    /// `case.version` (the saved row gets `version + 1`).
    pub case: Case,
    pub event: NewCaseEvent,
    pub assignments: Vec<AssignmentOp>,
    pub notifications: Vec<NewNotification>,
    pub outbox: Vec<NewOutbox>,
}

/// Filters of the case list. Territory: `scope_paths` limits `unit_path` (the case's grid) to
/// the caller's subtrees; `department_ids` adds the cases assigned to these departments.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub scope: Option<wangge_domain::roles::Scope>,
    pub department_ids: Vec<i64>,
    /// Only these cases.
    pub ids: Vec<i64>,
    pub states: Vec<CaseState>,
    /// Cases of exactly one of these categories.
    pub categories: Vec<String>,
    /// A category code or the code of a category above it.
    pub category: Option<String>,
    /// Cases whose grid lies under this unit path.
    pub under_path: Option<String>,
    /// Cases handled now at one of these unit paths (exactly).
    pub handling_paths: Vec<String>,
    /// Cases handled now at a unit below one of these paths, on one of `handling_levels`.
    pub handling_under: Vec<String>,
    pub handling_levels: Vec<String>,
    /// Cases with an open assignment to this department.
    pub department_id: Option<i64>,
    pub channel: Option<String>,
    pub overdue_at: Option<i64>,
    pub supervised: Option<bool>,
    pub urgent: Option<bool>,
    pub reporter_id: Option<i64>,
    /// Duplicates merged into this case.
    pub merged_into: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Words of the description or the number.
    pub q: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub unit_code: String,
    pub unit_name: String,
    #[serde(skip)]
    pub unit_path: String,
    pub phone: Option<String>,
    pub retired: bool,
    pub members: Vec<DepartmentMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepartmentMember {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewDepartment {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub unit_code: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media {
    pub id: i64,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    #[serde(skip)]
    pub path: String,
    pub created_at: i64,
}

/// A dated exception of the working calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub day: String,
    /// holiday | workday
    pub kind: String,
    pub note: String,
}

/// A saved catalogue version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogueVersion {
    pub id: i64,
    pub created_at: i64,
    pub created_by: String,
    pub note: String,
    #[serde(skip)]
    pub data: String,
}

/// Open cases near a point, for duplicate and first-report checks.
#[derive(Debug, Clone)]
pub struct NearbyQuery {
    pub category: Option<String>,
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    pub since: i64,
    pub open_only: bool,
    pub channel: Option<String>,
    pub exclude_id: Option<i64>,
    pub limit: i64,
}

/// One cell of a unit's case figures: cases in `state` of `category` (`None`: not classified
/// yet), overdue or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseCount {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: CaseState,
    pub category: Option<String>,
    pub overdue: bool,
    pub n: i64,
}

/// Cases reported and closed under a unit on one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseDay {
    pub day: String,
    pub reported: i64,
    pub closed: i64,
}

/// At most this many differences are listed (a wiped table at ten million cases has millions).
pub const DIFFERENCES_LISTED: usize = 1_000;

/// The stored aggregates next to a full recount of the cases (`wangge check`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AggregateCheck {
    /// Cases recounted.
    pub cases: i64,
    /// Non-zero cells of the recount (counts, days).
    pub count_cells: usize,
    pub day_cells: usize,
    /// How many cells differ (0: the aggregates are right).
    pub difference_count: usize,
    /// The first [`DIFFERENCES_LISTED`] differences, one line each.
    pub differences: Vec<String>,
    /// Whether the stored aggregates were replaced by the recount.
    pub repaired: bool,
}

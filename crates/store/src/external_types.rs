//! Records of external systems (hotline and city platforms, sensors, Open311 clients) and of
//! the case updates they read.

use serde::Serialize;
use serde_json::Value;
use wangge_domain::case_flow::CaseState;
use wangge_domain::ingest::IngestRule;

/// A registered external system. The secrets are never serialised; the API key is kept only
/// as its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalSystem {
    pub id: i64,
    /// Slug: lower-case letters, digits, `-` and `_`; the ingest path is `/api/v1/ingest/{name}`.
    pub name: String,
    pub title: String,
    /// The channel of the cases it reports.
    pub channel: String,
    /// The first characters of the API key, to recognise it.
    pub key_prefix: String,
    /// The territory it may read and report in.
    pub unit_code: String,
    pub unit_name: String,
    #[serde(skip)]
    pub unit_path: String,
    /// Requests per minute.
    pub rate_limit: i64,
    pub webhook_url: Option<String>,
    /// `case.created`, `case.state_changed`.
    pub webhook_events: Vec<String>,
    #[serde(skip)]
    pub webhook_secret: String,
    #[serde(skip)]
    pub ingest_secret: String,
    pub rules: Vec<IngestRule>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewExternalSystem {
    pub name: String,
    pub title: String,
    pub channel: String,
    pub unit_code: String,
    pub rate_limit: i64,
    pub webhook_url: Option<String>,
    pub webhook_events: Vec<String>,
    pub rules: Vec<IngestRule>,
    pub key_hash: String,
    pub key_prefix: String,
    pub webhook_secret: String,
    pub ingest_secret: String,
}

/// A change to an external system; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct ExternalPatch {
    pub title: Option<String>,
    pub channel: Option<String>,
    pub unit_code: Option<String>,
    pub rate_limit: Option<i64>,
    /// `Some(None)` removes the webhook.
    pub webhook_url: Option<Option<String>>,
    pub webhook_events: Option<Vec<String>>,
    pub rules: Option<Vec<IngestRule>>,
    pub active: Option<bool>,
    /// New API key (hash, prefix).
    pub key: Option<(String, String)>,
    pub webhook_secret: Option<String>,
    pub ingest_secret: Option<String>,
}

/// One step of a case, for the update feed: the event with its case's id and current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseUpdate {
    pub event_id: i64,
    pub case_id: i64,
    pub at: i64,
    pub action: String,
    pub from_state: CaseState,
    pub to_state: CaseState,
    pub note: String,
    pub data: Value,
    pub media: Vec<i64>,
}

/// Which updates to read: events in `[from, to)` of cases whose grid lies under one of the paths.
#[derive(Debug, Clone)]
pub struct UpdateQuery {
    pub under_path: String,
    pub from: i64,
    pub to: i64,
    pub limit: i64,
}

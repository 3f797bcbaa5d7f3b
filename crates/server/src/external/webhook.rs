//! Webhooks to external systems: a `case.created` or `case.state_changed` event for every
//! system whose territory holds the case, written to the outbox in the step's transaction and
//! delivered signed (see [`super::sign`]), with the outbox's retries and dead letters.

use super::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, target};
use crate::cases::notify::{Notice, key};
use crate::state::AppState;
use serde_json::{Value, json};
use wangge_domain::case_flow::CaseState;
use wangge_store::{Case, ExternalSystem, NewOutbox, OutboxItem, StoreResult};

pub const CREATED: &str = "case.created";
pub const STATE_CHANGED: &str = "case.state_changed";
pub const EVENTS: [&str; 2] = [CREATED, STATE_CHANGED];

/// Whether a case is open or closed in Open311's terms.
pub fn is_closed(state: CaseState) -> bool {
    matches!(
        state,
        CaseState::Closed | CaseState::Rated | CaseState::NotFiled | CaseState::Voided
    )
}

/// The case as external systems see it (no reporter, no tracking code).
pub fn case_json(st: &AppState, c: &Case) -> Value {
    json!({
        "id": c.id,
        "number": c.number,
        "state": key(&c.state),
        "status": if is_closed(c.state) { "closed" } else { "open" },
        "category": c.category,
        "category_name": c.category_name,
        "unit_code": c.unit_code,
        "unit_name": c.unit_name,
        "handling_code": c.handling_code,
        "handling_name": c.handling_name,
        "channel": c.channel,
        "urgent": c.urgent,
        "description": c.description,
        "address": c.address,
        "lat": c.lat,
        "lng": c.lng,
        "created_at": st.config.iso_time(c.created_at),
        "deadline_at": c.deadline_at.map(|d| st.config.iso_time(d)),
        "merged_into": c.merged_into,
    })
}

/// The outbox messages of one step for the systems that asked for its event. A case not yet
/// saved (id 0) is being created; the store fills in its id and number.
pub fn messages(
    st: &AppState,
    systems: &[ExternalSystem],
    case: &Case,
    notices: &[Notice],
) -> Vec<NewOutbox> {
    let event = if case.id == 0 {
        CREATED
    } else if notices.iter().any(|n| n.kind == "state") {
        STATE_CHANGED
    } else {
        return vec![];
    };
    let now = st.clock.now_ms();
    systems
        .iter()
        .filter(|s| {
            s.active
                && s.webhook_url.is_some()
                && s.webhook_events.iter().any(|e| e == event)
                && case.unit_path.starts_with(&s.unit_path)
        })
        .map(|s| NewOutbox {
            target: target(&s.name),
            payload: json!({
                "event": event,
                "occurred_at": st.config.iso_time(now),
                "system": s.name,
                "case": case_json(st, case),
            }),
        })
        .collect()
}

/// Sends one message to its system, signed; an error says why it failed.
pub async fn deliver(
    st: &AppState,
    client: &reqwest::Client,
    item: &OutboxItem,
    name: &str,
) -> Result<(), String> {
    let systems = st.external.systems(st).await.map_err(|e| e.to_string())?;
    let system = systems
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no external system named {name}"))?;
    let url = system
        .webhook_url
        .as_deref()
        .filter(|_| system.active)
        .ok_or_else(|| format!("external system {name} has no active webhook"))?;
    let body = serde_json::to_vec(&item.payload).map_err(|e| e.to_string())?;
    let ts = st.clock.now_ms() / 1000;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, sign(&system.webhook_secret, ts, &body))
        .header(EVENT_HEADER, item.payload["event"].as_str().unwrap_or(""))
        .header(DELIVERY_HEADER, item.id.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        let text = resp.text().await.unwrap_or_default();
        Err(format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ))
    }
}

/// Messages for the systems, as [`messages`] but loading the systems first.
pub async fn render(st: &AppState, case: &Case, notices: &[Notice]) -> StoreResult<Vec<NewOutbox>> {
    let systems = st.external.systems(st).await?;
    Ok(messages(st, &systems, case, notices))
}

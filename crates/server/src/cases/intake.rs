//! A report becomes a case: checked in full (no silent truncation), located to its grid chain,
//! given its handling level, category, stage clock and tracking code, and saved once per client
//! id however often the client retries.

use super::engine::{self, Acting};
use super::notify::Notice;
use crate::error::{ApiError, ApiResult};
use crate::routes::boundaries::parse_crs;
use crate::state::AppState;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use wangge_domain::case_flow::{CaseAction, CaseState, Flow, Party};
use wangge_domain::sla::Alert;
use wangge_geo::crs::to_wgs84;
use wangge_store::{Case, CaseEvent, NearbyQuery, NewCase, NewCaseEvent, Unit};

/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 4000;

/// Channels staff may report through (residents always use `resident`).
pub const STAFF_CHANNELS: [&str; 6] = ["grid", "hotline", "assigned", "lower", "api", "errand"];

/// Errand kinds (代办): 即办件, 承诺件, 补办件, 联办件, 上报件, and approval-type matters (审批类事项)
/// reviewed level by level with a public notice at each.
pub const ERRAND_KINDS: [&str; 6] = [
    "immediate",
    "promised",
    "supplement",
    "joint",
    "report_up",
    "approval",
];

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Made by the client (a UUID, say); sending the same id again returns the same case.
    pub client_id: String,
    /// grid, hotline, assigned (上级交办), lower (下级上报), api or errand (代办); staff only.
    pub channel: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
    /// The grid from the QR code, or a unit an operator assigns by hand.
    pub unit_code: Option<String>,
    /// Operators: the level that handles it (superior assignments, reports from below).
    pub handling_code: Option<String>,
    #[serde(default)]
    pub address: String,
    pub category: Option<String>,
    pub description: String,
    /// demand (求决), complaint, inquiry, suggestion, thanks.
    pub nature: Option<String>,
    #[serde(default)]
    pub urgent: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    #[serde(default)]
    pub media: Vec<i64>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    /// A grid worker settled it on the spot: what was done, with photos.
    pub on_spot: Option<OnSpot>,
    pub errand: Option<Errand>,
    /// Where an external system's report came from (its name, the Open311 contact fields or the
    /// device event); kept in the case's detail.
    #[serde(skip)]
    pub source: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnSpot {
    pub note: String,
    #[serde(default)]
    pub media: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Errand {
    /// immediate, promised, supplement, joint, report_up or approval.
    pub kind: String,
    /// promised: the date promised to the resident (YYYY-MM-DD).
    pub promised_date: Option<String>,
    /// supplement: what the resident still has to bring (one list, once).
    #[serde(default)]
    pub missing: Vec<String>,
    /// joint: the other units that take part.
    #[serde(default)]
    pub units: Vec<String>,
    /// approval: the matter applied for (最低生活保障 …), shown in public notices.
    pub matter: Option<String>,
}

/// Who reports: a member of staff (with their scope) or a resident.
pub enum Reporter<'a> {
    Staff {
        caller: &'a crate::auth::Caller,
    },
    /// From the grid's public page, at this network address.
    Resident {
        ip: String,
    },
    /// An external system (Open311 client, device gateway) within its territory.
    External {
        system: &'a wangge_store::ExternalSystem,
        ip: String,
    },
}

fn check_text(field: &str, text: &str, max: usize, required: bool) -> ApiResult<()> {
    let n = text.chars().count();
    if required && text.trim().is_empty() {
        return Err(ApiError::field(field, "must not be empty"));
    }
    if n > max {
        return Err(ApiError::field(
            field,
            format!("has {n} characters; at most {max}"),
        ));
    }
    Ok(())
}

fn check_client_id(id: &str) -> ApiResult<()> {
    let ok = (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "client_id",
            "8–64 letters, digits, - or _ (a UUID will do)",
        ))
    }
}

/// The unit a report belongs to (where its point lies, or the unit given), with its ancestors.
async fn locate(st: &AppState, r: &Report, may_assign: bool) -> ApiResult<Arc<(Unit, Vec<Unit>)>> {
    let chain =
        |code: String| async move { Ok(st.caches.unit_chain(st.store.as_ref(), &code).await?) };
    if let (Some(lat), Some(lng)) = (r.lat, r.lng) {
        if !(lat.is_finite() && lng.is_finite() && lat.abs() <= 90.0 && lng.abs() <= 180.0) {
            return Err(ApiError::field(
                "lat",
                "lat must be within ±90 and lng within ±180",
            ));
        }
        let (x, y) = to_wgs84(parse_crs(r.crs.as_deref())?, lng, lat);
        let found = st
            .grids
            .snapshot()
            .locate(x, y, &st.today())
            .map(|e| e.code.clone());
        match (found, &r.unit_code) {
            (Some(code), _) => return chain(code).await,
            (None, Some(code)) if may_assign => return chain(code.clone()).await,
            (None, _) => {
                return Err(ApiError::new("outside_grids").msg(
                    "the point lies outside every grid; an operator may assign the unit by hand",
                ));
            }
        }
    }
    match &r.unit_code {
        Some(code) => chain(code.clone()).await,
        None => Err(ApiError::field(
            "lat",
            "give a location (lat, lng) or the grid's unit_code",
        )),
    }
}

fn random_code(n: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The grid a case starts at: the unit's grid (a micro-grid's parent grid), or the unit.
fn first_handler(st: &AppState, unit: &Unit, ancestors: &[Unit]) -> Unit {
    if st.config.levels.is_micro(&unit.level)
        && let Some(p) = ancestors.last()
    {
        return p.clone();
    }
    unit.clone()
}

/// End of the office day of `date` in milliseconds, or of the next working day.
fn office_end(st: &AppState, date: jiff::civil::Date, now_ms: i64) -> Option<i64> {
    let cal = st.cases.calendar();
    let start = date.to_datetime(jiff::civil::Time::midnight());
    let day_end = cal.add_minutes(start, cal.hours.daily_minutes())?;
    let ms = engine::to_ms(st, day_end)?;
    if ms > now_ms {
        Some(ms)
    } else {
        let next = cal.add_minutes(engine::civil(st, now_ms), cal.hours.daily_minutes())?;
        engine::to_ms(st, next)
    }
}

fn errand_detail(st: &AppState, e: &Errand, now_ms: i64) -> ApiResult<Value> {
    if !ERRAND_KINDS.contains(&e.kind.as_str()) {
        return Err(ApiError::field("errand.kind", ERRAND_KINDS.join(", ")));
    }
    let today = engine::civil(st, now_ms).date();
    let due = match e.kind.as_str() {
        "immediate" => office_end(st, today, now_ms),
        "promised" => {
            let d: jiff::civil::Date = e
                .promised_date
                .as_deref()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    ApiError::field(
                        "errand.promised_date",
                        "a promise needs a date (YYYY-MM-DD)",
                    )
                })?;
            if d < today {
                return Err(ApiError::field(
                    "errand.promised_date",
                    "the promised date has passed",
                ));
            }
            office_end(st, d, now_ms)
        }
        _ => None,
    };
    if e.kind == "supplement" && e.missing.iter().all(|m| m.trim().is_empty()) {
        return Err(ApiError::field(
            "errand.missing",
            "list what the resident still has to bring",
        ));
    }
    let matter = e.matter.as_deref().map(str::trim).filter(|m| !m.is_empty());
    if e.kind == "approval" && matter.is_none_or(|m| m.chars().count() > 50) {
        return Err(ApiError::field(
            "errand.matter",
            "name the matter applied for (up to 50 characters)",
        ));
    }
    if e.kind == "joint" && e.units.is_empty() {
        return Err(ApiError::field(
            "errand.units",
            "name the units that take part",
        ));
    }
    Ok(json!({
        "kind": e.kind,
        "promised_date": e.promised_date,
        "due_at": due,
        "missing": e.missing.iter().map(|m| m.trim()).filter(|m| !m.is_empty()).collect::<Vec<_>>(),
        "units": e.units,
        "matter": matter,
    }))
}

/// Creates the case for a report and answers it with its report event, or answers the one its
/// client id already made (no event).
pub async fn submit(
    st: &AppState,
    who: Reporter<'_>,
    r: Report,
) -> ApiResult<(Case, Option<CaseEvent>)> {
    check_client_id(&r.client_id)?;
    check_text("description", &r.description, DESCRIPTION_MAX, true)?;
    check_text("address", &r.address, 200, false)?;
    for (f, v) in [
        ("reporter_name", &r.reporter_name),
        ("reporter_phone", &r.reporter_phone),
    ] {
        check_text(f, v.as_deref().unwrap_or(""), 50, false)?;
    }
    let (channel, acting, may_assign) = match &who {
        Reporter::Resident { ip } => ("resident".to_string(), Acting::resident(ip), false),
        Reporter::External { system, ip } => (
            system.channel.clone(),
            Acting {
                actor: crate::external::actor(system, ip),
                parties: vec![Party::System],
                shares: vec![],
                was_assigned: false,
            },
            false,
        ),
        Reporter::Staff { caller } => {
            let ch = r.channel.clone().unwrap_or_else(|| "grid".into());
            if !STAFF_CHANNELS.contains(&ch.as_str()) {
                return Err(ApiError::field("channel", STAFF_CHANNELS.join(", ")));
            }
            let centre = caller.grants.iter().any(|g| {
                matches!(
                    g.role,
                    wangge_domain::roles::Role::CenterOperator
                        | wangge_domain::roles::Role::CenterLeader
                        | wangge_domain::roles::Role::SystemAdmin
                )
            });
            (
                ch,
                Acting {
                    actor: caller.actor(),
                    parties: vec![],
                    shares: vec![],
                    was_assigned: false,
                },
                centre,
            )
        }
    };
    let located = locate(st, &r, may_assign).await?;
    let (unit, ancestors) = (&located.0, &located.1);
    if matches!(who, Reporter::Resident { .. } | Reporter::External { .. })
        && !st.config.levels.is_grid(&unit.level)
    {
        return Err(ApiError::field(
            "unit_code",
            "reports without an account belong to a grid: give its code or a location",
        ));
    }
    if let Reporter::External { system, .. } = &who
        && !unit.path.starts_with(&system.unit_path)
    {
        return Err(ApiError::new("outside_territory").msg(format!(
            "{} ({}) lies outside {}, the territory of {}",
            unit.name, unit.code, system.unit_name, system.name
        )));
    }
    let mut handling = first_handler(st, unit, ancestors);
    let now = st.clock.now_ms();
    let mut party = match who {
        Reporter::External { .. } => Party::System,
        _ => Party::Resident,
    };
    let mut on_spot = false;
    if let Reporter::Staff { caller } = &who {
        let scope = caller.require(wangge_domain::roles::Permission::CaseRead)?;
        if !scope.contains_path(&unit.path) {
            // outside the caller's territory looks the same as not existing
            return Err(ApiError::new("unit_not_found"));
        }
        let team = caller.grants.iter().any(|g| {
            engine::GRID_ROLES.contains(&g.role.key())
                && g.unit_path
                    .as_deref()
                    .is_some_and(|p| unit.path.starts_with(p))
        });
        // grid reports come from the grid's own team; errands from the team or the centre;
        // the other channels from the command centre
        party = match channel.as_str() {
            "grid" if team => Party::GridStaff,
            "errand" if team && !may_assign => Party::GridStaff,
            "grid" => {
                return Err(
                    ApiError::new("forbidden").msg("grid reports come from the grid's own team")
                );
            }
            _ if may_assign => Party::Operator,
            _ => {
                return Err(ApiError::new("forbidden")
                    .msg("only command-centre staff report through this channel"));
            }
        };
        if let Some(code) = r.handling_code.as_deref().filter(|_| may_assign) {
            let (h, _) = st.store.unit_get(&scope, code).await?;
            if !unit.path.starts_with(&h.path) {
                return Err(ApiError::field(
                    "handling_code",
                    "the handling unit must lie above the case's place",
                ));
            }
            handling = h;
        }
        on_spot = r.on_spot.is_some();
        if on_spot && channel != "grid" {
            return Err(ApiError::field(
                "on_spot",
                "only grid staff handle on the spot",
            ));
        }
    }
    let attached: Vec<i64> = r
        .media
        .iter()
        .chain(r.on_spot.iter().flat_map(|o| o.media.iter()))
        .copied()
        .collect();
    engine::check_media(st, &acting, &attached).await?;
    let nature = r.nature.clone().unwrap_or_else(|| "demand".into());
    engine::check_nature(&nature)?;

    let mut case = blank_case(&r, &channel, unit, &handling, nature, now);
    case.tracking_code = random_code(12);
    if let Some(code) = &r.category {
        engine::set_category(st, &mut case, code)?;
        let questions = st.cases.catalogue().effective_questions(code);
        wangge_domain::catalogue::check_answers(&questions, &r.answers)?;
    } else if !r.answers.is_empty() {
        return Err(ApiError::field(
            "answers",
            "answers belong to a category; choose one",
        ));
    }
    if let Some(e) = &r.errand {
        if channel != "errand" {
            return Err(ApiError::field("errand", "errands use the errand channel"));
        }
        case.errand = Some(errand_detail(st, e, now)?);
        if e.kind == "report_up"
            && let Some(up) = ancestors
                .iter()
                .rev()
                .find(|a| a.path.len() < handling.path.len())
        {
            handling = up.clone();
        }
    }
    if let Reporter::Staff { caller } = &who {
        case.reporter_id = Some(caller.user.id);
        if case.reporter_name.is_none() && channel == "grid" {
            case.reporter_name = Some(caller.user.display_name.clone());
        }
    }
    // urgent cases start higher up and every level hears at once
    let mut notices = vec![Notice::handlers("created"), Notice::state_changed()];
    if case.urgent {
        if let Some(level) = &st.config.cases.urgent_level
            && let Some(u) = ancestors.iter().find(|a| &a.level == level)
            && handling.path.starts_with(&u.path)
        {
            handling = u.clone();
        }
        notices.push(Notice::every_level("urgent"));
    }
    set_handling(&mut case, &handling);
    first_report(st, &mut case, now).await?;

    let (action, flow) = if on_spot {
        (
            CaseAction::HandleOnSpot,
            Flow::new().apply(CaseAction::HandleOnSpot, party)?,
        )
    } else {
        (
            CaseAction::Submit,
            Flow::new().apply(CaseAction::Submit, party)?,
        )
    };
    case.set_flow(flow);
    engine::sync_clock(st, &mut case, Flow::new(), true, now);
    let spot = r.on_spot.as_ref();
    if let Some(s) = spot {
        check_text("on_spot.note", &s.note, DESCRIPTION_MAX, true)?;
        notices = vec![Notice::checkers("handled"), Notice::state_changed()];
    }
    let event = NewCaseEvent {
        actor_id: acting.actor.user_id,
        actor_name: acting.actor.name.clone(),
        party: super::notify::key(&party),
        action: super::notify::key(&action),
        from_state: CaseState::Draft,
        to_state: case.state,
        note: spot.map(|s| s.note.trim().to_string()).unwrap_or_default(),
        data: json!({ "channel": channel }),
        media: spot.map(|s| s.media.clone()).unwrap_or_default(),
    };
    let (notifications, outbox) = super::notify::render(st, &case, &notices).await?;
    case.number = wangge_domain::clock::local_date(now, &st.config.time_zone).replace('-', "");
    Ok(st
        .store
        .case_create(
            &acting.actor,
            NewCase { case, event },
            &notifications,
            &outbox,
        )
        .await?)
}

fn set_handling(case: &mut Case, h: &Unit) {
    case.handling_unit_id = h.id;
    case.handling_path = h.path.clone();
    case.handling_code = h.code.clone();
    case.handling_name = h.name.clone();
    case.handling_level = h.level.clone();
}

/// 首报: a grid worker's report of a reward category with no other report of it nearby lately.
async fn first_report(st: &AppState, case: &mut Case, now: i64) -> ApiResult<()> {
    let cat = st.cases.catalogue();
    let (Some(code), Some(lat), Some(lng)) = (case.category.clone(), case.lat, case.lng) else {
        return Ok(());
    };
    if case.channel != "grid" || !cat.is_reward(&code) {
        return Ok(());
    }
    let earlier = st
        .store
        .cases_nearby(&NearbyQuery {
            category: Some(code.clone()),
            lat,
            lng,
            radius_m: f64::from(cat.effective_radius(&code)),
            since: now - st.config.cases.first_report_days * 86_400_000,
            open_only: false,
            channel: None,
            exclude_id: None,
            limit: 1,
        })
        .await?;
    case.first_report = earlier.is_empty();
    Ok(())
}

fn blank_case(
    r: &Report,
    channel: &str,
    unit: &Unit,
    handling: &Unit,
    nature: String,
    now: i64,
) -> Case {
    let (lat, lng) = match (r.lat, r.lng) {
        (Some(lat), Some(lng)) => {
            let (x, y) = to_wgs84(
                parse_crs(r.crs.as_deref()).unwrap_or(wangge_geo::crs::Crs::Wgs84),
                lng,
                lat,
            );
            (Some(y), Some(x))
        }
        _ => (None, None),
    };
    Case {
        id: 0,
        number: String::new(),
        client_id: r.client_id.clone(),
        tracking_code: String::new(),
        channel: channel.to_string(),
        state: CaseState::Draft,
        resume_to: None,
        unit_id: unit.id,
        unit_code: unit.code.clone(),
        unit_name: unit.name.clone(),
        unit_path: unit.path.clone(),
        handling_unit_id: handling.id,
        handling_code: handling.code.clone(),
        handling_name: handling.name.clone(),
        handling_level: handling.level.clone(),
        handling_path: handling.path.clone(),
        category: None,
        category_name: None,
        nature,
        urgent: r.urgent,
        description: r.description.trim().to_string(),
        address: r.address.trim().to_string(),
        lat,
        lng,
        answers: Value::Object(r.answers.clone()),
        reporter_id: None,
        reporter_name: r.reporter_name.clone().filter(|n| !n.trim().is_empty()),
        reporter_phone: r.reporter_phone.clone().filter(|n| !n.trim().is_empty()),
        confidential: channel == "hotline",
        media: r.media.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
        stage: None,
        clock: None,
        deadline_at: None,
        next_alert_at: None,
        alert: Alert::OnTime,
        supervision: None,
        merged_into: None,
        rework_count: 0,
        reopen_count: 0,
        extension_count: 0,
        extension: None,
        rating: None,
        closed_at: None,
        first_report: false,
        errand: None,
        detail: match &r.source {
            Some(src) => json!({ "source": src }),
            None => json!({}),
        },
    }
}

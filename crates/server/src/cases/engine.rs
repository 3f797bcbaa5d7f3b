//! Takes a case from step to step: who the caller is to this case (the parties of the state
//! machine), what each action changes besides the state (levels, departments, ratings,
//! extensions), the stage clock on the working calendar, and who is told.
//!
//! Every step reads the case, computes the new case with its event, assignment changes,
//! notifications and webhook messages, and saves them together; the store refuses the save if
//! the case changed meanwhile (`case_conflict`).

use super::notify::{self, Notice};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};
use wangge_domain::audit::Actor;
use wangge_domain::case_flow::{CaseAction, CaseState, Flow, Party};
use wangge_domain::catalogue::Stage;
use wangge_domain::roles::Role;
use wangge_domain::sla::{Alert, Limit, StageClock};
use wangge_store::{AssignmentOp, Case, CaseAssignment, CaseWrite, NewCaseEvent};

/// Team roles that make someone grid staff of the grids below their grant.
pub const GRID_ROLES: [&str; 5] = [
    "grid_head",
    "grid_worker_full",
    "grid_worker_part",
    "grid_instructor",
    "micro_grid_head",
];
pub const CENTRE_ROLES: [&str; 2] = ["center_operator", "center_leader"];

/// Ratings a resident or a follow-up call may give.
pub const RATINGS: [&str; 3] = ["satisfied", "basically_satisfied", "unsatisfied"];

/// Actions grid staff may take only while the case is handled at grid level.
const GRID_LEVEL_ACTIONS: [CaseAction; 9] = [
    CaseAction::Accept,
    CaseAction::File,
    CaseAction::NotFile,
    CaseAction::Take,
    CaseAction::Escalate,
    CaseAction::ReportResult,
    CaseAction::ResumeRework,
    CaseAction::RequestExtension,
    CaseAction::Merge,
];

/// What the caller is to one case.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub parties: Vec<Party>,
    /// The open assignments of the case to the caller's departments.
    pub shares: Vec<CaseAssignment>,
    /// One of the caller's departments had the case at some time (it may still read it).
    pub was_assigned: bool,
}

impl Acting {
    /// The resident who reported the case, known by its tracking code, from this address.
    pub fn resident(ip: &str) -> Self {
        Acting {
            actor: Actor {
                user_id: None,
                name: "resident".into(),
                ip: ip.into(),
            },
            parties: vec![Party::Resident],
            shares: vec![],
            was_assigned: false,
        }
    }

    /// Who the store records as the uploader of this actor's files: the username, or
    /// `resident@<address>` for the public.
    pub fn uploader(&self) -> String {
        if self.actor.user_id.is_none() && self.parties == [Party::Resident] {
            format!("resident@{}", self.actor.ip)
        } else {
            self.actor.name.clone()
        }
    }

    pub fn system() -> Self {
        Acting {
            actor: Actor::system("scheduler"),
            parties: vec![Party::System],
            shares: vec![],
            was_assigned: false,
        }
    }
}

fn covers(grant_path: Option<&str>, path: &str) -> bool {
    grant_path.is_none_or(|g| path.starts_with(g))
}

fn is_open_assignment(a: &CaseAssignment) -> bool {
    a.status == "dispatched" || a.status == "accepted"
}

/// The parties the caller is to this case by role and territory (departments aside).
fn role_parties(caller: &Caller, case: &Case) -> Vec<Party> {
    let mut parties = Vec::new();
    let has = |roles: &[Role], path: &str| {
        caller
            .grants
            .iter()
            .any(|g| roles.contains(&g.role) && covers(g.unit_path.as_deref(), path))
    };
    if has(
        &[Role::CenterLeader, Role::SystemAdmin],
        &case.handling_path,
    ) {
        parties.push(Party::Leader);
    }
    if has(&[Role::CenterOperator], &case.handling_path) {
        parties.push(Party::Operator);
    }
    let grid_roles = [
        Role::GridHead,
        Role::GridWorkerFull,
        Role::GridWorkerPart,
        Role::GridInstructor,
        Role::MicroGridHead,
    ];
    if caller.grants.iter().any(|g| {
        grid_roles.contains(&g.role)
            && g.unit_path
                .as_deref()
                .is_some_and(|p| case.unit_path.starts_with(p))
    }) {
        parties.push(Party::GridStaff);
    }
    parties
}

/// The parties the caller is to this case.
pub async fn acting(st: &AppState, caller: &Caller, case: &Case) -> ApiResult<Acting> {
    let mut parties = role_parties(caller, case);
    let mine = st.store.departments_of_user(caller.user.id).await?;
    let assignments = st.store.case_assignments(case.id).await?;
    let was_assigned = assignments.iter().any(|a| mine.contains(&a.department_id));
    let shares: Vec<CaseAssignment> = assignments
        .into_iter()
        .filter(|a| is_open_assignment(a) && mine.contains(&a.department_id))
        .collect();
    if !shares.is_empty() {
        parties.push(Party::Department);
    }
    Ok(Acting {
        actor: caller.actor(),
        parties,
        shares,
        was_assigned,
    })
}

/// [`acting`] for a case created just now: it has no assignments yet, so no department is a
/// party and nothing needs reading.
pub fn acting_on_new(caller: &Caller, case: &Case) -> Acting {
    Acting {
        actor: caller.actor(),
        parties: role_parties(caller, case),
        shares: vec![],
        was_assigned: false,
    }
}

/// Checks that the actor uploaded each of these files: a report or a step may only show the
/// actor's own photos (ids are guessable; the files of others stay theirs).
pub async fn check_media(st: &AppState, acting: &Acting, ids: &[i64]) -> ApiResult<()> {
    let uploader = acting.uploader();
    for id in ids {
        if !st.store.media_uploaded_by(*id, &uploader).await? {
            return Err(ApiError::field(
                "media",
                format!("no file {id} uploaded by you"),
            ));
        }
    }
    Ok(())
}

/// Whether the caller may read the case at all.
pub fn may_read(caller: &Caller, case: &Case, acting: &Acting) -> bool {
    !acting.parties.is_empty()
        || acting.was_assigned
        || caller
            .scope(wangge_domain::roles::Permission::CaseRead)
            .contains_path(&case.unit_path)
}

/// The actions the caller may take now, as the UI shows them.
pub fn allowed(st: &AppState, case: &Case, acting: &Acting) -> Vec<CaseAction> {
    let mut out: Vec<CaseAction> = Vec::new();
    let grid_level = st.config.levels.is_grid(&case.handling_level);
    for p in &acting.parties {
        for a in case.flow().allowed(*p) {
            if *p == Party::GridStaff && !grid_level && GRID_LEVEL_ACTIONS.contains(&a) {
                continue;
            }
            if !fits(case, a) {
                continue;
            }
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    // the other departments of a joint case act on their own share: sign it, then report on it
    if matches!(case.state, CaseState::InHandling | CaseState::Rework) {
        for share in acting.shares.iter().filter(|s| !s.lead) {
            let a = if share.status == "dispatched" {
                CaseAction::DeptAccept
            } else {
                CaseAction::ReportResult
            };
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Whether the case has what an action needs besides its state: an approval matter to review,
/// a pending extension request to decide (and none yet to request).
fn fits(case: &Case, a: CaseAction) -> bool {
    match a {
        CaseAction::Review => {
            case.errand
                .as_ref()
                .and_then(|e| e.get("kind"))
                .and_then(Value::as_str)
                == Some("approval")
        }
        CaseAction::ApproveExtension => case.extension.is_some(),
        CaseAction::RequestExtension => case.extension.is_none(),
        _ => true,
    }
}

/// One step as the API receives it; which fields count depends on the action.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The case version the caller saw.
    pub version: i64,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub media: Vec<i64>,
    /// Dispatch: the departments, one of them the lead.
    #[serde(default)]
    pub departments: Vec<DepartmentPick>,
    /// Transfer: the department that takes over.
    pub department_id: Option<i64>,
    /// Accept: the category, urgency and nature decided at acceptance.
    pub category: Option<String>,
    pub urgent: Option<bool>,
    pub nature: Option<String>,
    /// Rate: satisfied, basically_satisfied or unsatisfied.
    pub rating: Option<String>,
    /// Request extension: how long, in working hours or days.
    pub hours: Option<u32>,
    pub days: Option<u32>,
    /// Approve extension: false rejects the request.
    pub approve: Option<bool>,
    /// Supervise: the new deadline, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (end of that day).
    pub deadline: Option<String>,
    /// Merge: the original case this one duplicates.
    pub into: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPick {
    pub id: i64,
    #[serde(default)]
    pub lead: bool,
}

pub fn civil(st: &AppState, ms: i64) -> DateTime {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(st.config.time_zone.clone())
        .datetime()
}

pub fn to_ms(st: &AppState, dt: DateTime) -> Option<i64> {
    dt.to_zoned(st.config.time_zone.clone())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// The stage whose clock runs in a state.
pub fn stage_of(state: CaseState) -> Option<Stage> {
    match state {
        CaseState::Reported | CaseState::Accepted => Some(Stage::Accept),
        CaseState::Filed => Some(Stage::Dispatch),
        CaseState::Dispatched => Some(Stage::Receive),
        CaseState::InHandling | CaseState::Rework => Some(Stage::Handle),
        CaseState::Handled | CaseState::InCheck => Some(Stage::Check),
        _ => None,
    }
}

/// A stage's limit for the case: its errand's promise, its category's, or the defaults.
fn stage_limit(st: &AppState, case: &Case, stage: Stage, now_ms: i64) -> Limit {
    if stage == Stage::Handle
        && let Some(due) = case
            .errand
            .as_ref()
            .and_then(|e| e.get("due_at"))
            .and_then(Value::as_i64)
    {
        let cal = st.cases.calendar();
        let mins = cal.minutes_between(civil(st, now_ms), civil(st, due));
        return Limit::WorkingHours(u32::try_from((mins + 59) / 60).unwrap_or(1).max(1));
    }
    let cat = st.cases.catalogue();
    let code = case.category.as_deref().unwrap_or("");
    let from_category = if cat.get(code).is_some() {
        cat.effective_limits(code).get(stage)
    } else {
        cat.trees.first().and_then(|t| t.defaults.limits.get(stage))
    };
    from_category.unwrap_or(match stage {
        Stage::Handle => Limit::WorkingDays(5),
        Stage::Check => Limit::WorkingDays(1),
        _ => Limit::WorkingHours(4),
    })
}

/// Brings the stage clock in line with the case's new state: a new stage starts a new clock,
/// parking and deferral stop it, resuming starts it again, the end removes it.
pub fn sync_clock(st: &AppState, case: &mut Case, before: Flow, restart: bool, now_ms: i64) {
    let now = civil(st, now_ms);
    match case.state {
        CaseState::Parked | CaseState::Deferred => {
            if let Some(c) = case.clock.as_mut()
                && c.parked.last().is_none_or(|(_, end)| end.is_some())
            {
                c.parked.push((now, None));
            }
        }
        s => match stage_of(s) {
            None => case.clock = None,
            Some(stage) => {
                let resumed = matches!(before.state, CaseState::Parked | CaseState::Deferred);
                let same_stage = case.stage.as_deref() == Some(stage.key());
                if resumed && same_stage {
                    if let Some(c) = case.clock.as_mut()
                        && let Some(last) = c.parked.last_mut()
                    {
                        last.1 = Some(now);
                    }
                } else if restart || !same_stage || case.clock.is_none() {
                    case.clock = Some(StageClock::new(now, stage_limit(st, case, stage, now_ms)));
                }
                case.stage = Some(stage.key().to_string());
            }
        },
    }
    if case.clock.is_none() {
        case.stage = None;
    }
    refresh_alert(st, case, now_ms);
}

/// Recomputes the deadline, the warning level and when the next warning is due.
pub fn refresh_alert(st: &AppState, case: &mut Case, now_ms: i64) {
    let now = civil(st, now_ms);
    let cal = st.cases.calendar();
    match &case.clock {
        Some(c) => {
            case.deadline_at = c.deadline(&cal, now).and_then(|d| to_ms(st, d));
            case.alert = c.alert(&cal, now);
            case.next_alert_at = c.next_alert(&cal, now).and_then(|(_, at)| to_ms(st, at));
        }
        None => {
            case.deadline_at = None;
            case.alert = Alert::OnTime;
            case.next_alert_at = None;
        }
    }
}

fn require_note(step: &Step, what: &str) -> ApiResult<()> {
    if step.note.trim().is_empty() {
        return Err(ApiError::field("note", format!("{what} needs a reason")));
    }
    Ok(())
}

/// Parses `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (the end of that day) in the deployment's zone.
fn parse_local(st: &AppState, s: &str) -> ApiResult<i64> {
    let s = s.trim();
    let dt: Option<DateTime> = if s.len() == 10 {
        s.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::new(23, 59, 0, 0).unwrap_or_default()))
    } else {
        s.replacen(' ', "T", 1).parse::<DateTime>().ok()
    };
    dt.and_then(|d| to_ms(st, d))
        .ok_or_else(|| ApiError::field("deadline", "want YYYY-MM-DD or YYYY-MM-DD HH:MM"))
}

/// The outcome of working out a step, before it is saved.
struct Outcome {
    case: Case,
    event_data: Value,
    ops: Vec<AssignmentOp>,
    notices: Vec<Notice>,
    /// The party in whose name the state machine was asked.
    party: Party,
    /// The state before the step.
    from: CaseState,
}

/// Takes `action` on the case for `acting`; saves and returns the case.
pub async fn act(
    st: &AppState,
    acting: &Acting,
    case_id: i64,
    action: CaseAction,
    step: Step,
) -> ApiResult<Case> {
    let case = st.store.case_get(case_id).await?;
    if case.version != step.version {
        return Err(ApiError::new("case_conflict"));
    }
    let assignments = st.store.case_assignments(case_id).await?;
    let now = st.clock.now_ms();
    let out = work_out(st, acting, case, &assignments, action, &step, now).await?;
    save(st, acting, out, action, &step).await
}

async fn save(
    st: &AppState,
    acting: &Acting,
    out: Outcome,
    action: CaseAction,
    step: &Step,
) -> ApiResult<Case> {
    let (notifications, outbox) = notify::render(st, &out.case, &out.notices).await?;
    let event = NewCaseEvent {
        actor_id: acting.actor.user_id,
        actor_name: acting.actor.name.clone(),
        party: crate::cases::notify::key(&out.party),
        action: crate::cases::notify::key(&action),
        from_state: out.from,
        to_state: out.case.state,
        note: step.note.trim().to_string(),
        data: out.event_data,
        media: step.media.clone(),
    };
    Ok(st
        .store
        .case_save(
            &acting.actor,
            CaseWrite {
                case: out.case,
                event,
                assignments: out.ops,
                notifications,
                outbox,
            },
        )
        .await?)
}

/// The party to act as: the first of the caller's parties the state machine lets act.
fn pick_party(
    st: &AppState,
    case: &Case,
    acting: &Acting,
    action: CaseAction,
) -> ApiResult<(Party, Flow)> {
    let grid_level = st.config.levels.is_grid(&case.handling_level);
    let mut last_err = None;
    for p in &acting.parties {
        if *p == Party::GridStaff && !grid_level && GRID_LEVEL_ACTIONS.contains(&action) {
            last_err = Some(
                ApiError::new("forbidden")
                    .msg("grid staff act on this only while the case is at grid level"),
            );
            continue;
        }
        match case.flow().apply(action, *p) {
            Ok(f) => return Ok((*p, f)),
            Err(e) => last_err = Some(e.into()),
        }
    }
    Err(last_err.unwrap_or_else(|| ApiError::new("forbidden")))
}

async fn work_out(
    st: &AppState,
    acting: &Acting,
    mut case: Case,
    assignments: &[CaseAssignment],
    action: CaseAction,
    step: &Step,
    now: i64,
) -> ApiResult<Outcome> {
    use CaseAction as A;
    let before = case.flow();
    let mine: Vec<&CaseAssignment> = assignments
        .iter()
        .filter(|a| is_open_assignment(a) && acting.shares.iter().any(|s| s.id == a.id))
        .collect();
    let lead_open = assignments.iter().find(|a| a.lead && is_open_assignment(a));
    let i_lead = mine.iter().any(|a| a.lead);
    let mut ops = Vec::new();
    let mut notices = Vec::new();
    let mut data = json!({});
    let mut restart = false;

    // A joint case's other departments accept and report on their own share only.
    if acting.parties.contains(&Party::Department)
        && !i_lead
        && matches!(action, A::DeptAccept | A::ReportResult | A::Return)
        && lead_open.is_some()
    {
        let a = mine.first().ok_or_else(|| ApiError::new("forbidden"))?;
        let status = match action {
            A::DeptAccept if a.status == "dispatched" => "accepted",
            A::ReportResult if a.status == "accepted" => "handled",
            A::Return if a.status == "dispatched" => {
                require_note(step, "returning a case")?;
                "returned"
            }
            _ => return Err(ApiError::new("illegal_transition")),
        };
        ops.push(AssignmentOp::Status {
            id: a.id,
            status: status.into(),
            note: step.note.trim().into(),
            finished: status != "accepted",
        });
        data = json!({ "department_id": a.department_id, "share": status });
        if status == "returned" {
            notices.push(Notice::operators("returned"));
        }
        return Ok(Outcome {
            case,
            event_data: data,
            ops,
            notices,
            party: Party::Department,
            from: before.state,
        });
    }

    let (party, flow) = pick_party(st, &case, acting, action)?;
    match action {
        A::Accept => {
            if let Some(code) = &step.category {
                set_category(st, &mut case, code)?;
            }
            if let Some(u) = step.urgent {
                case.urgent = u;
            }
            if let Some(n) = &step.nature {
                check_nature(n)?;
                case.nature = n.clone();
            }
        }
        A::File => {
            if let Some(code) = &step.category {
                set_category(st, &mut case, code)?;
            }
            if case.category.is_none() {
                return Err(ApiError::field(
                    "category",
                    "a case needs a category to be filed",
                ));
            }
        }
        A::NotFile => {
            require_note(step, "not filing")?;
            case.detail["not_filed_reason"] = json!(step.note.trim());
            notices.push(Notice::reporter("not_filed"));
        }
        A::Escalate => {
            require_note(step, "escalating")?;
            let (parent, ancestors) = st
                .store
                .unit_get(&wangge_domain::roles::Scope::All, &case.handling_code)
                .await?;
            let up = ancestors
                .last()
                .ok_or_else(|| ApiError::new("no_higher_level"))?;
            data = json!({ "from": parent.code, "to": up.code, "reason": step.note.trim() });
            push_trail(
                &mut case,
                "escalations",
                json!({ "from": parent.code, "to": up.code, "at": now }),
            );
            case.handling_unit_id = up.id;
            case.handling_path = up.path.clone();
            case.handling_code = up.code.clone();
            case.handling_name = up.name.clone();
            case.handling_level = up.level.clone();
            restart = true;
            notices.push(Notice::operators("escalated"));
        }
        A::Dispatch => {
            let picks = &step.departments;
            if picks.is_empty() {
                return Err(ApiError::field(
                    "departments",
                    "choose at least one department",
                ));
            }
            let leads = picks.iter().filter(|p| p.lead).count();
            if picks.len() > 1 && leads != 1 {
                return Err(ApiError::field(
                    "departments",
                    "a joint case needs exactly one lead department",
                ));
            }
            let mut ids = Vec::new();
            for p in picks {
                let d = st
                    .store
                    .department_get(p.id)
                    .await
                    .map_err(|_| ApiError::new("department_not_found"))?;
                if d.retired || !serves(&d, &case) {
                    return Err(ApiError::new("department_not_found"));
                }
                if ids.contains(&p.id) {
                    return Err(ApiError::field(
                        "departments",
                        "a department is listed twice",
                    ));
                }
                ids.push(p.id);
            }
            let deadline = assignment_deadline(st, &case, now);
            for p in picks {
                ops.push(AssignmentOp::Add {
                    department_id: p.id,
                    lead: p.lead || picks.len() == 1,
                    deadline_at: deadline,
                });
            }
            data = json!({ "departments": picks.iter().map(|p| json!({"id": p.id, "lead": p.lead || picks.len() == 1})).collect::<Vec<_>>() });
            notices.push(Notice::departments("dispatched", ids));
        }
        A::DeptAccept => {
            let a = mine.first().ok_or_else(|| ApiError::new("forbidden"))?;
            ops.push(AssignmentOp::Status {
                id: a.id,
                status: "accepted".into(),
                note: step.note.trim().into(),
                finished: false,
            });
            data = json!({ "department_id": a.department_id });
        }
        A::Return => {
            require_note(step, "returning a case")?;
            for a in assignments.iter().filter(|a| is_open_assignment(a)) {
                ops.push(AssignmentOp::Status {
                    id: a.id,
                    status: "returned".into(),
                    note: step.note.trim().into(),
                    finished: true,
                });
            }
            notices.push(Notice::operators("returned"));
        }
        A::Transfer => {
            require_note(step, "transferring a case")?;
            let to = step.department_id.ok_or_else(|| {
                ApiError::field("department_id", "choose the department that takes over")
            })?;
            let d = st
                .store
                .department_get(to)
                .await
                .ok()
                .filter(|d| !d.retired && serves(d, &case))
                .ok_or_else(|| ApiError::new("department_not_found"))?;
            let from = lead_open.ok_or_else(|| ApiError::new("illegal_transition"))?;
            if from.department_id == d.id {
                return Err(ApiError::field(
                    "department_id",
                    "the case is already with this department",
                ));
            }
            ops.push(AssignmentOp::Status {
                id: from.id,
                status: "transferred".into(),
                note: step.note.trim().into(),
                finished: true,
            });
            ops.push(AssignmentOp::Add {
                department_id: d.id,
                lead: true,
                deadline_at: assignment_deadline(st, &case, now),
            });
            data = json!({ "from": from.department_id, "to": d.id });
            notices.push(Notice::departments("dispatched", vec![d.id]));
        }
        A::ReportResult | A::ResumeRework if party == Party::Operator && lead_open.is_some() => {
            return Err(ApiError::new("forbidden").msg("the departments handle a dispatched case"));
        }
        A::ReportResult => {
            require_note(step, "reporting a result")?;
            if party == Party::Department {
                for a in &mine {
                    ops.push(AssignmentOp::Status {
                        id: a.id,
                        status: "handled".into(),
                        note: step.note.trim().into(),
                        finished: true,
                    });
                }
            }
            notices.push(Notice::checkers("handled"));
        }
        A::CheckPass => {
            case.closed_at = Some(now);
            notices.push(Notice::reporter("closed"));
        }
        A::CheckFail => {
            require_note(step, "failing a check")?;
            case.rework_count += 1;
            reopen_lead(assignments, &mut ops, step);
            notices.push(Notice::handlers("check_failed"));
        }
        A::Rate => {
            let r = step
                .rating
                .as_deref()
                .ok_or_else(|| ApiError::field("rating", "choose a rating"))?;
            if !RATINGS.contains(&r) {
                return Err(ApiError::field(
                    "rating",
                    "satisfied, basically_satisfied or unsatisfied",
                ));
            }
            case.rating = Some(r.to_string());
            data = json!({ "rating": r });
        }
        A::Reopen => {
            case.reopen_count += 1;
            case.closed_at = None;
            reopen_lead(assignments, &mut ops, step);
            notices.push(Notice::handlers("reopened"));
        }
        A::RequestExtension => {
            require_note(step, "an extension")?;
            let minutes = match (step.hours, step.days) {
                (Some(h), None) if h > 0 => Limit::WorkingHours(h),
                (None, Some(d)) if d > 0 => Limit::WorkingDays(d),
                _ => return Err(ApiError::field("hours", "give hours or days (more than 0)")),
            }
            .minutes(&st.cases.calendar());
            if case.extension.is_some() {
                return Err(ApiError::new("extension_pending"));
            }
            case.extension = Some(
                json!({ "minutes": minutes, "reason": step.note.trim(), "by": acting.actor.name }),
            );
            data = json!({ "minutes": minutes });
            notices.push(Notice::leaders("extension_requested"));
        }
        A::ApproveExtension => {
            let req = case
                .extension
                .take()
                .ok_or_else(|| ApiError::new("no_extension_request"))?;
            let minutes = req.get("minutes").and_then(Value::as_i64).unwrap_or(0);
            let approve = step.approve.unwrap_or(true);
            if approve {
                if let Some(c) = case.clock.as_mut() {
                    c.extended_minutes += minutes;
                }
                case.extension_count += 1;
            }
            data = json!({ "minutes": minutes, "approved": approve });
            notices.push(Notice::handlers(if approve {
                "extension_approved"
            } else {
                "extension_rejected"
            }));
        }
        A::Park | A::Defer | A::Void => {
            require_note(step, "this step")?;
            if action == A::Void {
                case.detail["void_reason"] = json!(step.note.trim());
            }
        }
        A::Review => {
            require_note(step, "a public notice")?;
            if case
                .errand
                .as_ref()
                .and_then(|e| e.get("kind"))
                .and_then(Value::as_str)
                != Some("approval")
            {
                return Err(ApiError::new("illegal_transition")
                    .msg("only approval matters are reviewed level by level"));
            }
            let days = step.days.unwrap_or(5).clamp(1, 30);
            let cal = st.cases.calendar();
            let until = cal
                .add_days(civil(st, now), i64::from(days))
                .and_then(|d| to_ms(st, d))
                .ok_or_else(|| {
                    ApiError::new("bad_parameter").msg("the calendar has no working time")
                })?;
            let review = json!({ "unit": case.handling_code, "unit_name": case.handling_name, "level": case.handling_level,
                "by": acting.actor.name, "at": now, "notice": step.note.trim(), "notice_until": until });
            if let Some(e) = case.errand.as_mut() {
                e["notice_until"] = json!(until);
                match e.get_mut("reviews").and_then(Value::as_array_mut) {
                    Some(list) => list.push(review),
                    None => e["reviews"] = json!([review]),
                }
            }
            // the level's clock stops while the public waits to object
            if let Some(c) = case.clock.as_mut() {
                c.parked.push((civil(st, now), None));
            }
            data = json!({ "notice_until": until, "days": days });
        }
        A::Supervise => {
            require_note(step, "supervision")?;
            let deadline = step
                .deadline
                .as_deref()
                .map(|d| parse_local(st, d))
                .transpose()?;
            case.supervision = Some(
                json!({ "by": acting.actor.name, "note": step.note.trim(), "deadline": deadline, "at": now }),
            );
            data = json!({ "deadline": deadline });
            notices.push(Notice::handlers("supervised"));
        }
        A::Merge => {
            let into = step
                .into
                .ok_or_else(|| ApiError::field("into", "choose the original case"))?;
            let original = st.store.case_get(into).await?;
            if original.id == case.id
                || original.merged_into.is_some()
                || matches!(
                    original.state,
                    CaseState::Closed
                        | CaseState::Rated
                        | CaseState::NotFiled
                        | CaseState::Voided
                        | CaseState::Draft
                )
            {
                return Err(ApiError::field(
                    "into",
                    "the original must be another open case",
                ));
            }
            case.merged_into = Some(original.id);
            data = json!({ "into": original.id, "number": original.number });
            notices.push(Notice::reporter("merged"));
        }
        A::HandleOnSpot => {
            require_note(step, "handling on the spot")?;
            notices.push(Notice::checkers("handled"));
        }
        A::Submit | A::Take | A::StartCheck | A::ResumeRework | A::Resume => {}
    }
    case.set_flow(flow);
    sync_clock(st, &mut case, before, restart, now);
    if before.state != case.state || action == A::Escalate {
        notices.push(Notice::state_changed());
    }
    Ok(Outcome {
        case,
        event_data: data,
        ops,
        notices,
        party,
        from: before.state,
    })
}

/// Whether a department's territory covers the place of the case.
fn serves(d: &wangge_store::Department, case: &Case) -> bool {
    case.unit_path.starts_with(&d.unit_path)
}

/// Back to work after a failed check or a reopening: the lead department's share reopens.
fn reopen_lead(assignments: &[CaseAssignment], ops: &mut Vec<AssignmentOp>, step: &Step) {
    if let Some(a) = assignments
        .iter()
        .rev()
        .find(|a| a.lead && a.status == "handled")
    {
        ops.push(AssignmentOp::Status {
            id: a.id,
            status: "accepted".into(),
            note: step.note.trim().into(),
            finished: false,
        });
    }
}

/// A department's deadline: the receive and handle limits from now.
fn assignment_deadline(st: &AppState, case: &Case, now: i64) -> Option<i64> {
    let cal = st.cases.calendar();
    let total = stage_limit(st, case, Stage::Receive, now).minutes(&cal)
        + stage_limit(st, case, Stage::Handle, now).minutes(&cal);
    cal.add_minutes(civil(st, now), total)
        .and_then(|d| to_ms(st, d))
}

fn push_trail(case: &mut Case, key: &str, item: Value) {
    if !case.detail.is_object() {
        case.detail = json!({});
    }
    match case.detail.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => list.push(item),
        None => case.detail[key] = json!([item]),
    }
}

pub const NATURES: [&str; 5] = ["demand", "complaint", "inquiry", "suggestion", "thanks"];

pub fn check_nature(n: &str) -> ApiResult<()> {
    if NATURES.contains(&n) {
        Ok(())
    } else {
        Err(ApiError::field(
            "nature",
            "demand, complaint, inquiry, suggestion or thanks",
        ))
    }
}

/// Sets a leaf category of the catalogue (and its urgency).
pub fn set_category(st: &AppState, case: &mut Case, code: &str) -> ApiResult<()> {
    let cat = st.cases.catalogue();
    let c = cat
        .get(code)
        .ok_or_else(|| ApiError::new("unknown_category").msg(format!("no category {code}")))?;
    if !cat.children(code).is_empty() {
        return Err(ApiError::new("unknown_category").msg(format!("{code} is not a leaf category")));
    }
    case.category = Some(c.code.clone());
    case.category_name = Some(
        cat.path(code)
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" / "),
    );
    if cat.is_urgent(code) {
        case.urgent = true;
    }
    Ok(())
}

/// After a rating: an unsatisfied one reopens the case by itself when the configuration leaves
/// that to the resident (up to `reopen_limit` times); otherwise an operator decides.
pub async fn after_rating(st: &AppState, acting: &Acting, case: Case) -> ApiResult<Case> {
    let cfg = &st.config.cases;
    if case.rating.as_deref() != Some("unsatisfied")
        || cfg.reopen_by != "resident"
        || case.reopen_count >= cfg.reopen_limit
    {
        return Ok(case);
    }
    let step = Step {
        version: case.version,
        note: "群众评价不满意，重新处置 / unsatisfied rating: reopened".into(),
        ..Step::default()
    };
    act(st, acting, case.id, CaseAction::Reopen, step).await
}

/// The platform escalates a case by itself, with the reason in `note`.
async fn system_escalate(st: &AppState, case: Case, note: &str, now: i64) -> ApiResult<Case> {
    let acting = Acting::system();
    let step = Step {
        version: case.version,
        note: note.into(),
        ..Step::default()
    };
    let assignments = st.store.case_assignments(case.id).await?;
    let out = work_out(
        st,
        &acting,
        case,
        &assignments,
        CaseAction::Escalate,
        &step,
        now,
    )
    .await?;
    save(st, &acting, out, CaseAction::Escalate, &step).await
}

/// Saves a change the platform made to a case without moving its state (a warning, the end of
/// a public notice), as an event named `action`, telling whom `notices` say.
async fn system_event(
    st: &AppState,
    case: Case,
    action: &str,
    notices: &[Notice],
) -> ApiResult<Case> {
    let (notifications, outbox) = notify::render(st, &case, notices).await?;
    let state = case.state;
    let acting = Acting::system();
    Ok(st
        .store
        .case_save(
            &acting.actor,
            CaseWrite {
                case,
                event: NewCaseEvent {
                    actor_id: None,
                    actor_name: acting.actor.name.clone(),
                    party: "system".into(),
                    action: action.into(),
                    from_state: state,
                    to_state: state,
                    note: String::new(),
                    data: json!({}),
                    media: vec![],
                },
                assignments: vec![],
                notifications,
                outbox,
            },
        )
        .await?)
}

/// The level that decides approval matters.
const APPROVAL_TOP_LEVEL: &str = "county";

/// Approval matters whose public notice (公示) ended go up to the next level for its review; at
/// the top level the notice simply ends and the centre decides.
pub async fn notices_round(st: &AppState) -> anyhow::Result<usize> {
    let now = st.clock.now_ms();
    let f = wangge_store::CaseFilter {
        channel: Some("errand".into()),
        states: vec![CaseState::Reported, CaseState::Accepted],
        limit: 1000,
        ..Default::default()
    };
    let mut n = 0;
    for mut case in st.store.case_list(&f).await?.0 {
        let ended = case
            .errand
            .as_mut()
            .and_then(Value::as_object_mut)
            .filter(|e| {
                e.get("notice_until")
                    .and_then(Value::as_i64)
                    .is_some_and(|t| t <= now)
            })
            .and_then(|e| e.remove("notice_until"))
            .is_some();
        if !ended {
            continue;
        }
        let number = case.number.clone();
        let (_, ancestors) = st
            .store
            .unit_get(&wangge_domain::roles::Scope::All, &case.handling_code)
            .await?;
        // reviews go up to the county at most, which decides
        let result = if ancestors.is_empty() || case.handling_level == APPROVAL_TOP_LEVEL {
            // the top level: the notice ends and the clock runs again
            if let Some(c) = case.clock.as_mut()
                && let Some(last) = c.parked.last_mut()
            {
                last.1 = Some(civil(st, now));
            }
            refresh_alert(st, &mut case, now);
            system_event(
                st,
                case,
                "notice_ended",
                &[Notice::operators("notice_ended")],
            )
            .await
        } else {
            system_escalate(
                st,
                case,
                "公示期满，报上级审核 / public notice ended: up for the next review",
                now,
            )
            .await
        };
        match result {
            Ok(_) => n += 1,
            Err(e) => tracing::warn!(
                "public notice of case {number}: {} ({:?})",
                e.code,
                e.message
            ),
        }
    }
    Ok(n)
}

/// Warnings and breaches whose time has come: the case's alert level moves on, the handler is
/// told (and at a breach the level above), and a breached case at a level that escalates by
/// itself goes up.
pub async fn alerts_round(st: &AppState) -> anyhow::Result<usize> {
    let now = st.clock.now_ms();
    let due = st.store.cases_alert_due(now, 500).await?;
    let mut n = 0;
    for case in due {
        let id = case.id;
        if let Err(e) = one_alert(st, case, now).await {
            tracing::warn!(
                "deadline warning for case {id}: {} ({:?})",
                e.code,
                e.message
            );
        } else {
            n += 1;
        }
    }
    Ok(n)
}

async fn one_alert(st: &AppState, mut case: Case, now: i64) -> ApiResult<()> {
    let before = case.alert;
    refresh_alert(st, &mut case, now);
    let escalates = case.alert == Alert::Breached
        && st.config.cases.auto_escalate.contains(&case.handling_level)
        && case
            .flow()
            .apply(CaseAction::Escalate, Party::System)
            .is_ok();
    if escalates {
        system_escalate(
            st,
            case,
            "超过时限，自动升级 / deadline passed, escalated automatically",
            now,
        )
        .await?;
        return Ok(());
    }
    let kind = match case.alert {
        Alert::Half => "warning_half",
        Alert::ThreeQuarters => "warning_three_quarters",
        Alert::Breached => "breached",
        Alert::OnTime => "on_time",
    };
    let mut notices = Vec::new();
    if case.alert != before {
        notices.push(Notice::handlers(kind));
        if case.alert == Alert::Breached {
            notices.push(Notice::level_above(kind));
        }
    }
    system_event(st, case, kind, &notices).await?;
    Ok(())
}

//! Fuzz harnesses for the parsers and rules of `wangge-domain`: each takes arbitrary bytes, must
//! never panic, and checks what it parsed against the rules it should keep.
//!
//! Shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the corpus replay in
//! `crates/domain/tests/properties.rs`, which includes this file with `#[path]`; it may only use
//! crates that `wangge-domain` itself depends on.

use jiff::civil::DateTime;
use serde_json::Value;
use std::sync::OnceLock;
use wangge_domain::DomainError;
use wangge_domain::case_flow::{CaseAction, CaseState, Flow, Party, replay};
use wangge_domain::catalogue::{
    Catalogue, TreeFile, department_kinds_toml, parse_department_kinds, parse_limit,
};
use wangge_domain::import::{ExistingUnit, validate_import};
use wangge_domain::ingest::{IngestRule, RuleOp, field_text, first_match};
use wangge_domain::territory::{Level, Levels, check_kind, check_name, path};
use wangge_domain::worktime::{Calendar, OfficeHours};

/// Longest span of one iCalendar event, in days (see `Calendar::parse_ical`).
const MAX_EVENT_DAYS: usize = wangge_domain::worktime::MAX_EVENT_DAYS as usize;

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

// ───────────────────────────── territory codes ─────────────────────────────

/// Lines: code, level, parent code, parent level, name, kind; an optional JSON list of levels
/// after them replaces the default levels.
pub fn codes(data: &[u8]) {
    let text = text(data);
    let mut lines = text.splitn(7, '\n');
    let mut next = || lines.next().unwrap_or("");
    let (code, level, parent_code, parent_level, name, kind) =
        (next(), next(), next(), next(), next(), next());
    let rest = next();

    let mut all = vec![Levels::default_levels(), Levels::digital_urban_levels()];
    if let Ok(list) = serde_json::from_str::<Vec<Level>>(rest) {
        match Levels::new(list.clone()) {
            Ok(l) => all.push(l),
            Err(e) => assert_eq!(e.code(), "validation_failed"),
        }
    }
    let parent = (!parent_code.is_empty()).then_some((parent_code, parent_level));
    for levels in &all {
        match levels.check_placement(code, level, parent) {
            Ok(()) => {
                let lvl = levels.get(level);
                assert!(lvl.is_ok(), "placed at an unknown level {level:?}");
                if let Ok(lvl) = lvl {
                    match lvl.code_length {
                        Some(n) => assert!(
                            code.len() == n && code.bytes().all(|b| b.is_ascii_digit()),
                            "{code:?} accepted at {level} ({n} digits)"
                        ),
                        None => assert!(
                            (1..=64).contains(&code.len())
                                && code
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                            "{code:?} accepted as a free code"
                        ),
                    }
                    if let Some((pc, pl)) = parent {
                        assert!(levels.index_of(pl).ok() < levels.index_of(level).ok());
                        if lvl.code_extends_parent {
                            assert!(code.starts_with(pc), "{code:?} below {pc:?}");
                        }
                    }
                }
            }
            Err(e) => assert!(
                ["unknown_level", "bad_code_format", "level_out_of_order"].contains(&e.code()),
                "{e:?}"
            ),
        }
        let _ = (levels.sequence_digits(level), levels.is_grid(level));
        let _ = (levels.is_micro(level), levels.child_of(level));
    }

    if check_name(name).is_ok() {
        assert!((1..=100).contains(&name.chars().count()) && name.trim() == name);
    }
    if check_kind(kind).is_ok() {
        assert!((1..=32).contains(&kind.chars().count()));
    }

    // materialised paths, as stored for every unit
    for p in [code, parent_code] {
        if let Some(up) = path::parent(p) {
            assert!(p.starts_with(up) && up.len() < p.len());
        }
        let ids = path::ancestor_ids(p);
        assert!(ids.len() <= p.split('/').count());
        let upper = path::subtree_upper(p);
        if p.ends_with('/') {
            assert!(p < upper.as_str());
        }
    }

    // the same cells as an import batch
    let rows = vec![wangge_domain::import::ImportRow {
        row: 2,
        code: code.into(),
        name: name.into(),
        parent_code: parent_code.into(),
        level: level.into(),
        kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
        valid_from: None,
    }];
    let existing = |c: &str| {
        (c == parent_code).then(|| ExistingUnit {
            level: parent_level.into(),
            writable: true,
            retired: false,
        })
    };
    match validate_import(rows, &all[0], &existing, true) {
        Ok(rows) => assert_eq!(rows.len(), 1),
        Err(errors) => assert!(!errors.is_empty() && errors.iter().all(|e| e.row == 2)),
    }
}

// ───────────────────────────── working-time calendar ─────────────────────────────

fn assert_validation(e: &DomainError) {
    assert_eq!(e.code(), "validation_failed", "{e:?}");
}

/// `Calendar::parse_csv` on the text.
pub fn calendar_csv(data: &[u8]) {
    let text = text(data);
    match Calendar::parse_csv(&text) {
        Ok(days) => assert!(days.len() <= text.lines().count()),
        Err(e) => {
            assert_validation(&e);
            assert!(e.to_string().contains("line "), "{e}");
        }
    }
}

/// `Calendar::parse_ical` on the text.
pub fn calendar_ical(data: &[u8]) {
    let text = text(data);
    match Calendar::parse_ical(&text) {
        Ok(days) => {
            let events = text.matches("VEVENT").count();
            assert!(
                days.len() <= events * MAX_EVENT_DAYS,
                "{} days from {events} events",
                days.len()
            );
        }
        Err(e) => assert_validation(&e),
    }
}

/// Lines: office hours (`08:30-12:00,13:30-17:30`), working weekdays (`12345`, Monday = 1), a
/// start (`2026-10-01T09:00`), minutes, days, a second date-time; then calendar CSV lines.
/// Checks the deadline arithmetic: `minutes_between(s, add_minutes(s, m)) == m`, deadlines never
/// before their start, and longer limits never end earlier.
pub fn worktime(data: &[u8]) {
    let text = text(data);
    let mut lines = text.splitn(7, '\n');
    let mut next = || lines.next().unwrap_or("").trim();
    let (hours, weekdays, start, minutes, days, other) =
        (next(), next(), next(), next(), next(), next());
    let exceptions = lines.next().unwrap_or("");

    let periods: Vec<&str> = hours.split(',').collect();
    let mut cal = Calendar::standard();
    match OfficeHours::parse(&periods) {
        Ok(h) => {
            assert!((1..=1440).contains(&h.daily_minutes()), "{hours:?}");
            cal.hours = h;
        }
        Err(e) => assert_validation(&e),
    }
    if !weekdays.is_empty() {
        cal.weekdays = [false; 7];
        for b in weekdays.bytes() {
            if let Some(i) = b.checked_sub(b'1').filter(|i| *i < 7) {
                cal.weekdays[usize::from(i)] = true;
            }
        }
    }
    if let Ok(d) = Calendar::parse_csv(exceptions) {
        cal.days = d;
    }

    let Ok(start) = start.parse::<DateTime>() else {
        return;
    };
    let minutes: i64 = minutes.parse().unwrap_or(0);
    let days: i64 = days.parse().unwrap_or(0);
    let _ = cal.add_days(start, days);
    if let Some(end) = cal.add_minutes(start, minutes) {
        assert!(end >= start, "{start} + {minutes} = {end}");
        let used = cal.minutes_between(start, end);
        assert_eq!(used, minutes.max(0), "{start} + {minutes} = {end}");
        // a shorter limit never ends later
        if minutes > 0
            && let Some(earlier) = cal.add_minutes(start, minutes / 2)
        {
            assert!(earlier <= end);
        }
    }
    if let Ok(other) = other.parse::<DateTime>() {
        let used = cal.minutes_between(start, other);
        assert!(used >= 0);
        if other <= start {
            assert_eq!(used, 0);
        }
        for d in [start.date(), other.date()] {
            let _ = cal.is_working_day(d);
        }
    }
}

// ───────────────────────────── the case state machine ─────────────────────────────

pub const ACTIONS: [CaseAction; 27] = [
    CaseAction::Submit,
    CaseAction::Accept,
    CaseAction::File,
    CaseAction::NotFile,
    CaseAction::HandleOnSpot,
    CaseAction::Escalate,
    CaseAction::Dispatch,
    CaseAction::Take,
    CaseAction::DeptAccept,
    CaseAction::Return,
    CaseAction::Transfer,
    CaseAction::ReportResult,
    CaseAction::StartCheck,
    CaseAction::CheckPass,
    CaseAction::CheckFail,
    CaseAction::ResumeRework,
    CaseAction::Rate,
    CaseAction::Reopen,
    CaseAction::RequestExtension,
    CaseAction::ApproveExtension,
    CaseAction::Park,
    CaseAction::Defer,
    CaseAction::Resume,
    CaseAction::Supervise,
    CaseAction::Void,
    CaseAction::Merge,
    CaseAction::Review,
];

pub const PARTIES: [Party; 6] = [
    Party::GridStaff,
    Party::Operator,
    Party::Leader,
    Party::Department,
    Party::Resident,
    Party::System,
];

/// Where an action leads by the documented loop (docs/cases.md), whoever takes it: written out
/// again here, independently of the rule table in `case_flow.rs`, as the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    To(CaseState),
    Same,
    Back,
}

fn model(s: CaseState, a: CaseAction) -> Option<Next> {
    use CaseAction as A;
    use CaseState as S;
    let open = !matches!(s, S::Draft | S::NotFiled | S::Closed | S::Rated | S::Voided);
    let working = matches!(s, S::InHandling | S::Rework);
    let parkable = matches!(s, S::Filed | S::Dispatched | S::InHandling | S::Rework);
    Some(match (a, s) {
        (A::Submit, S::Draft) => Next::To(S::Reported),
        (A::Accept, S::Reported) => Next::To(S::Accepted),
        (A::File, S::Accepted) => Next::To(S::Filed),
        (A::NotFile, S::Accepted) => Next::To(S::NotFiled),
        (A::HandleOnSpot, S::Draft | S::Reported) => Next::To(S::InCheck),
        (A::Escalate, S::Reported | S::Accepted | S::Filed | S::InHandling | S::Rework) => {
            Next::To(S::Reported)
        }
        (A::Take, S::Filed) => Next::To(S::InHandling),
        (A::Dispatch, S::Filed) => Next::To(S::Dispatched),
        (A::DeptAccept, S::Dispatched) => Next::To(S::InHandling),
        (A::Return, S::Dispatched) => Next::To(S::Filed),
        (A::Transfer, S::Dispatched | S::InHandling) => Next::To(S::Dispatched),
        (A::ReportResult, _) if working => Next::To(S::Handled),
        (A::StartCheck, S::Handled) => Next::To(S::InCheck),
        (A::CheckPass, S::InCheck) => Next::To(S::Closed),
        (A::CheckFail, S::InCheck) => Next::To(S::Rework),
        (A::ResumeRework, S::Rework) => Next::To(S::InHandling),
        (A::Rate, S::Closed) => Next::To(S::Rated),
        (A::Reopen, S::Closed | S::Rated) => Next::To(S::Rework),
        (A::RequestExtension | A::ApproveExtension, _) if working => Next::Same,
        (A::Park, _) if parkable => Next::To(S::Parked),
        (A::Defer, _) if parkable => Next::To(S::Deferred),
        (A::Resume, S::Parked | S::Deferred) => Next::Back,
        (A::Supervise, _) if open => Next::Same,
        (A::Void, _) if open => Next::To(S::Voided),
        (A::Review, S::Reported | S::Accepted) => Next::Same,
        (A::Merge, S::Reported | S::Accepted | S::Filed) => Next::To(S::Voided),
        _ => return None,
    })
}

/// Each byte pair is an action and a party, applied in turn to a new case. Checks every step
/// against the model, `allowed`, the error codes and `replay`.
pub fn case_flow(data: &[u8]) {
    let mut flow = Flow::new();
    let mut history: Vec<(CaseAction, Party)> = Vec::new();
    for pair in data.chunks_exact(2) {
        let a = ACTIONS[usize::from(pair[0]) % ACTIONS.len()];
        let p = PARTIES[usize::from(pair[1]) % PARTIES.len()];
        let expected = model(flow.state, a);
        match flow.apply(a, p) {
            Ok(next) => {
                assert!(flow.allowed(p).contains(&a), "{a:?} by {p:?} not listed");
                assert!(
                    expected.is_some(),
                    "{a:?} moved {:?} to {:?}",
                    flow.state,
                    next.state
                );
                let want = match expected {
                    Some(Next::To(s)) => s,
                    Some(Next::Same) => flow.state,
                    Some(Next::Back) => flow.resume_to.unwrap_or(CaseState::Filed),
                    None => return,
                };
                assert_eq!(next.state, want, "{a:?} by {p:?} from {:?}", flow.state);
                // the resident only reports, rates and reopens; parking, deferring, supervising
                // and voiding are for leaders
                if p == Party::Resident {
                    assert!(matches!(
                        a,
                        CaseAction::Submit | CaseAction::Rate | CaseAction::Reopen
                    ));
                }
                if matches!(
                    a,
                    CaseAction::Park | CaseAction::Defer | CaseAction::Supervise | CaseAction::Void
                ) {
                    assert_eq!(p, Party::Leader);
                }
                history.push((a, p));
                flow = next;
            }
            Err(e) => {
                assert!(!flow.allowed(p).contains(&a), "{a:?} by {p:?} listed");
                assert!(
                    ["illegal_transition", "forbidden"].contains(&e.code()),
                    "unexpected error {e:?}"
                );
                if e.code() == "illegal_transition" {
                    assert!(expected.is_none(), "{a:?} refused in {:?}", flow.state);
                    assert!(PARTIES.iter().all(|q| !flow.allowed(*q).contains(&a)));
                } else {
                    assert!(expected.is_some(), "{a:?} forbidden in {:?}", flow.state);
                }
            }
        }
        assert_eq!(
            flow.resume_to.is_some(),
            matches!(flow.state, CaseState::Parked | CaseState::Deferred)
        );
        if flow.is_final() {
            assert!(PARTIES.iter().all(|q| flow.allowed(*q).is_empty()));
        }
    }
    assert_eq!(replay(&history), Ok(flow));
    // a history with one step of the input changed either replays or names the bad step
    if let Some(((a, _), rest)) = history.split_first() {
        let mut bad = vec![(*a, Party::Resident)];
        bad.extend_from_slice(rest);
        if let Err((i, e)) = replay(&bad) {
            assert!(i < bad.len());
            assert!(["illegal_transition", "forbidden"].contains(&e.code()));
        }
    }
}

// ───────────────────────────── the catalogue ─────────────────────────────

fn builtin() -> Option<&'static Catalogue> {
    static CAT: OnceLock<Option<Catalogue>> = OnceLock::new();
    CAT.get_or_init(|| Catalogue::builtin().ok()).as_ref()
}

/// The text as a tree file and as department kinds: parsing never panics, what parses writes
/// back to TOML that parses equal, and a catalogue with the tree validates and answers its
/// inherited values without looping.
pub fn catalogue(data: &[u8]) {
    let text = text(data);
    let _ = parse_limit(&text);
    match TreeFile::parse(&text) {
        Ok(file) => {
            let again = TreeFile::parse(&file.to_toml());
            assert_eq!(again.as_ref(), Ok(&file), "{}", file.to_toml());
            let mut files = vec![file];
            if let Some(b) = builtin() {
                files.extend(b.trees.iter().filter_map(|t| b.tree_file(&t.tree)));
            }
            let kinds = builtin()
                .map(|b| b.department_kinds.clone())
                .unwrap_or_default();
            let cat = Catalogue::from_files(files, kinds);
            let problems = cat.validate();
            assert!(problems.iter().all(|p| !p.code.is_empty()));
            for c in cat.categories.iter().take(64) {
                let path = cat.path(&c.code);
                assert!(path.len() <= cat.categories.len());
                let _ = cat.effective_limits(&c.code);
                let _ = cat.effective_radius(&c.code);
                let _ = cat.effective_questions(&c.code);
                let _ = (cat.is_urgent(&c.code), cat.effective_department(&c.code));
            }
            if problems.is_empty() {
                for t in &cat.trees {
                    let back = TreeFile::parse(&cat.to_tree_toml(&t.tree));
                    assert_eq!(back.ok(), cat.tree_file(&t.tree));
                }
            }
        }
        Err(e) => assert_eq!(e.code(), "catalogue_invalid"),
    }
    if let Ok(kinds) = parse_department_kinds(&text) {
        assert_eq!(
            parse_department_kinds(&department_kinds_toml(&kinds)),
            Ok(kinds)
        );
    }
}

// ───────────────────────────── ingest rules ─────────────────────────────

/// Lines: a dotted field path, a value, then JSON: an event object, or a list of rules.
pub fn ingest(data: &[u8]) {
    let text = text(data);
    let mut lines = text.splitn(3, '\n');
    let (path, value) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let json = lines.next().unwrap_or("");
    let Ok(event) = serde_json::from_str::<Value>(json) else {
        return;
    };
    let found = field_text(&event, path);
    for op in [
        RuleOp::Eq,
        RuleOp::Prefix,
        RuleOp::Contains,
        RuleOp::Gte,
        RuleOp::Lte,
    ] {
        let rule = IngestRule {
            field: path.into(),
            op,
            value: value.into(),
            category: "G0502".into(),
            urgent: false,
        };
        let hit = rule.matches(&event);
        if hit {
            let t = found.as_deref().unwrap_or_default();
            assert!(found.is_some());
            match op {
                RuleOp::Eq => assert_eq!(t, value),
                RuleOp::Prefix => assert!(t.starts_with(value)),
                RuleOp::Contains => assert!(t.contains(value)),
                RuleOp::Gte | RuleOp::Lte => {
                    assert!(t.trim().parse::<f64>().is_ok() && value.trim().parse::<f64>().is_ok())
                }
            }
        }
        let rules = [rule];
        assert_eq!(first_match(&rules, &event).is_some(), hit);
    }
    if let Ok(rules) = serde_json::from_value::<Vec<IngestRule>>(event.clone()) {
        if let Some(cat) = builtin() {
            let _ = wangge_domain::ingest::validate(&rules, cat);
        }
        let _ = first_match(&rules, &Value::Null);
        let _ = first_match(
            &rules,
            &serde_json::json!({"type": value, "data": {"level": 3}}),
        );
    }
}

//! Property tests of the domain's parsers and rules (territory codes, the working-time calendar,
//! the case state machine, the catalogue, ingest rules), and the replay of the fuzz corpus
//! (`fuzz/corpus/<target>/`) through the fuzz harnesses, so that every kept input, crash
//! reproducers included, is a regression test. `PROPTEST_CASES=10000` runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../../../fuzz/src/domain_targets.rs"]
mod targets;

use jiff::civil::{Date, DateTime, date};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wangge_domain::case_flow::{CaseAction, CaseState, Flow, Party, replay};
use wangge_domain::catalogue::{
    Category, Defaults, Question, QuestionType, Stage, StageLimits, TreeFile, limit_text,
    parse_limit,
};
use wangge_domain::ingest::field_text;
use wangge_domain::sla::Limit;
use wangge_domain::territory::Levels;
use wangge_domain::worktime::{Calendar, DayKind, OfficeHours};

// ───────────────────────────── the fuzz corpus ─────────────────────────────

/// The fuzz targets and which crate's tests replay their corpus.
const REPLAYED: [(&str, &str); 13] = [
    ("calendar_csv", "domain"),
    ("calendar_ical", "domain"),
    ("case_flow", "domain"),
    ("catalogue", "domain"),
    ("codes", "domain"),
    ("ingest", "domain"),
    ("worktime", "domain"),
    ("crs", "geo"),
    ("geojson", "geo"),
    ("shapefile_parts", "geo"),
    ("shapefile_zip", "geo"),
    ("territory_csv", "server"),
    ("territory_xlsx", "server"),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn names_in(dir: &Path, ext: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[path = "../../../fuzz/src/replay.rs"]
mod replay;
use replay::replay_corpus;

#[test]
fn every_fuzz_target_has_a_corpus_that_a_test_replays() {
    let targets = names_in(&fuzz_dir().join("fuzz_targets"), Some("rs"));
    let corpora = names_in(&fuzz_dir().join("corpus"), None);
    let mut replayed: Vec<String> = REPLAYED.iter().map(|(t, _)| t.to_string()).collect();
    replayed.sort();
    assert_eq!(targets, replayed);
    assert_eq!(corpora, replayed);
}

#[test]
fn fuzz_corpus_replays() {
    replay_corpus("calendar_csv", targets::calendar_csv);
    replay_corpus("calendar_ical", targets::calendar_ical);
    replay_corpus("case_flow", targets::case_flow);
    replay_corpus("catalogue", targets::catalogue);
    replay_corpus("codes", targets::codes);
    replay_corpus("ingest", targets::ingest);
    replay_corpus("worktime", targets::worktime);
}

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

// ───────────────────────────── territory codes ─────────────────────────────

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn codes_never_panic(text in "(?s).{0,80}") {
        targets::codes(text.as_bytes());
    }

    #[test]
    fn codes_of_the_national_scheme_are_accepted(
        county in "[0-9]{6}", town in "[0-9]{3}", village in "[0-9]{3}", grid in "[0-9]{3}",
        micro in "[0-9]{2}",
    ) {
        let l = Levels::default_levels();
        let city = &county[..4];
        let town = format!("{county}{town}");
        let village = format!("{town}{village}");
        let grid = format!("{village}{grid}");
        let micro = format!("{grid}{micro}");
        let chain = [
            (city, "city"), (&county, "county"), (&town, "town"), (&village, "village"),
            (&grid, "grid"), (&micro, "micro_grid"),
        ];
        for w in chain.windows(2) {
            let ((pc, pl), (c, lvl)) = (w[0], w[1]);
            prop_assert!(l.check_placement(c, lvl, Some((pc, pl))).is_ok(), "{c} {lvl}");
            // one digit more or less, or a letter, is refused
            let longer = format!("{c}0");
            prop_assert_eq!(
                l.check_placement(&longer, lvl, Some((pc, pl))).unwrap_err().code(),
                "bad_code_format"
            );
            let letter = format!("{}A", &c[..c.len() - 1]);
            prop_assert!(l.check_placement(&letter, lvl, Some((pc, pl))).is_err());
            // upside down is refused
            prop_assert!(l.check_placement(pc, pl, Some((c, lvl))).is_err());
        }
    }
}

// ───────────────────────────── working-time calendar ─────────────────────────────

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// 1–3 office periods between 00:00 and 24:00, as text.
fn periods() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(0u16..=1440, 2..=6).prop_map(|set| {
        let v: Vec<u16> = set.into_iter().collect();
        v.chunks_exact(2)
            .map(|p| format!("{}-{}", hhmm(p[0]), hhmm(p[1])))
            .collect()
    })
}

fn day(offset: u16) -> Date {
    date(2024, 1, 1)
        .checked_add(jiff::Span::new().days(i64::from(offset)))
        .unwrap()
}

fn calendar() -> impl Strategy<Value = Calendar> {
    (
        periods(),
        any::<[bool; 7]>(),
        prop::collection::vec((0u16..1200, any::<bool>()), 0..40),
    )
        .prop_map(|(periods, weekdays, days)| {
            let p: Vec<&str> = periods.iter().map(String::as_str).collect();
            Calendar {
                hours: OfficeHours::parse(&p).unwrap(),
                weekdays,
                days: days
                    .into_iter()
                    .map(|(d, w)| {
                        let kind = if w {
                            DayKind::Workday
                        } else {
                            DayKind::Holiday
                        };
                        (day(d), kind)
                    })
                    .collect(),
            }
        })
}

fn moment() -> impl Strategy<Value = DateTime> {
    (0u16..1000, 0i8..24, 0i8..60, 0i8..60).prop_map(|(d, h, m, s)| day(d).at(h, m, s, 0))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn deadlines_and_elapsed_time_agree(
        cal in calendar(), start in moment(), a in 0i64..20_000, b in 1i64..20_000,
    ) {
        let end = cal.add_minutes(start, a);
        if !cal.weekdays.contains(&true) && !cal.days.values().any(|k| *k == DayKind::Workday) {
            prop_assert!(a == 0 || end.is_none());
        }
        let Some(end) = end else { return Ok(()) };
        prop_assert!(end >= start);
        // add_minutes then minutes_between gives the minutes back
        prop_assert_eq!(cal.minutes_between(start, end), a);
        // adding in two steps is adding at once; a longer limit never ends earlier
        if let Some(total) = cal.add_minutes(start, a + b) {
            prop_assert!(total >= end);
            if a > 0 {
                prop_assert_eq!(cal.add_minutes(end, b), Some(total));
            }
        }
    }

    #[test]
    fn office_hours_parse_what_they_print(periods in periods()) {
        let p: Vec<&str> = periods.iter().map(String::as_str).collect();
        let hours = OfficeHours::parse(&p).unwrap();
        let sum: i64 = periods
            .iter()
            .map(|p| {
                let m = |s: &str| {
                    let (h, m) = s.split_once(':').unwrap();
                    h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
                };
                let (a, b) = p.split_once('-').unwrap();
                m(b) - m(a)
            })
            .sum();
        prop_assert_eq!(hours.daily_minutes(), sum);
    }

    #[test]
    fn office_hours_never_panic(periods in prop::collection::vec("[0-9:+ -]{0,14}|(?s).{0,8}", 0..4)) {
        let p: Vec<&str> = periods.iter().map(String::as_str).collect();
        if let Ok(h) = OfficeHours::parse(&p) {
            prop_assert!((1..=1440).contains(&h.daily_minutes()));
        }
    }

    #[test]
    fn csv_calendars_read_back(
        days in prop::collection::btree_map(0u16..2000, any::<bool>(), 0..30),
        bom in any::<bool>(), header in any::<bool>(),
    ) {
        let want: BTreeMap<Date, DayKind> = days
            .iter()
            .map(|(d, w)| (day(*d), if *w { DayKind::Workday } else { DayKind::Holiday }))
            .collect();
        let mut text = String::new();
        if bom { text.push('\u{feff}'); }
        if header { text.push_str("date,kind,name\n"); }
        for (i, (d, k)) in want.iter().enumerate() {
            let kind = match (k, i % 3) {
                (DayKind::Holiday, 0) => "休",
                (DayKind::Holiday, 1) => "holiday",
                (DayKind::Holiday, _) => "假",
                (DayKind::Workday, 0) => "班",
                (DayKind::Workday, 1) => "workday",
                (DayKind::Workday, _) => "补班",
            };
            text.push_str(&format!(" {d} , {kind} ,节日 {i}\r\n\n"));
        }
        prop_assert_eq!(Calendar::parse_csv(&text), Ok(want));
    }

    #[test]
    fn ical_calendars_read_back(
        events in prop::collection::vec((0u16..2000, 1u16..20, any::<bool>(), any::<bool>()), 0..12),
    ) {
        let mut want = BTreeMap::new();
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        for (start, len, work, fold) in &events {
            let (first, end) = (day(*start), day(start + len));
            let kind = if *work { DayKind::Workday } else { DayKind::Holiday };
            let mut d = first;
            while d < end {
                want.insert(d, kind);
                d = d.tomorrow().unwrap();
            }
            let summary = if *work { "春节调休补班" } else { "春节假期" };
            let summary = if *fold { format!("{}\r\n {}", &summary[..6], &summary[6..]) } else { summary.to_string() };
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n",
                first.strftime("%Y%m%d"), end.strftime("%Y%m%d"),
            ));
        }
        text.push_str("END:VCALENDAR\r\n");
        prop_assert_eq!(Calendar::parse_ical(&text), Ok(want));
    }

    #[test]
    fn calendar_files_never_panic(text in "(?s).{0,200}") {
        targets::calendar_csv(text.as_bytes());
        targets::calendar_ical(text.as_bytes());
    }

    #[test]
    fn ical_like_text_never_panics(
        lines in prop::collection::vec(
            "BEGIN:VEVENT|END:VEVENT|DTSTART(;VALUE=DATE)?:[0-9é年]{0,10}|DTEND:[0-9é]{0,10}|SUMMARY:.{0,6}| [0-9]{0,4}",
            0..12,
        ),
    ) {
        targets::calendar_ical(lines.join("\r\n").as_bytes());
    }

    #[test]
    fn worktime_text_never_panics(text in "(?s).{0,120}") {
        targets::worktime(text.as_bytes());
    }
}

// ───────────────────────────── the case state machine ─────────────────────────────

proptest! {
    #![proptest_config(config(256))]

    /// Any actions by any parties: coded errors or moves the rules allow; replay explains the state.
    #[test]
    fn any_actions_by_anyone(steps in prop::collection::vec(any::<[u8; 2]>(), 0..80)) {
        targets::case_flow(&steps.concat());
    }

    /// Walks that only take allowed actions never fail, and replaying them gives the same flow.
    #[test]
    fn allowed_walks(choices in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6), 0..60)) {
        let mut flow = Flow::new();
        let mut history: Vec<(CaseAction, Party)> = Vec::new();
        for (pick, p) in choices {
            let party = targets::PARTIES[p];
            let allowed = flow.allowed(party);
            if allowed.is_empty() {
                continue;
            }
            let action = allowed[pick.index(allowed.len())];
            flow = flow.apply(action, party).unwrap();
            history.push((action, party));
            prop_assert!(flow.state != CaseState::Draft);
        }
        prop_assert_eq!(replay(&history), Ok(flow));
        if let Some(last) = history.last() {
            // the step that led here cannot be taken from a final state
            if flow.is_final() {
                prop_assert!(flow.apply(last.0, last.1).is_err());
            }
        }
    }
}

// ───────────────────────────── the catalogue ─────────────────────────────

fn limit() -> impl Strategy<Value = Option<Limit>> {
    prop::option::of((1u32..=9999, any::<bool>()).prop_map(|(n, d)| {
        if d {
            Limit::WorkingDays(n)
        } else {
            Limit::WorkingHours(n)
        }
    }))
}

fn limits() -> impl Strategy<Value = StageLimits> {
    prop::collection::vec(limit(), 5).prop_map(|v| {
        let mut l = StageLimits::default();
        for (s, x) in Stage::ALL.into_iter().zip(v) {
            l.set(s, x);
        }
        l
    })
}

/// Any text, quotes, backslashes, control characters and newlines included.
fn words() -> impl Strategy<Value = String> {
    "(?s).{0,12}"
}

fn question() -> impl Strategy<Value = Question> {
    (
        words(),
        words(),
        prop::sample::select(QuestionType::ALL.to_vec()),
        any::<bool>(),
        prop::collection::vec(words(), 0..3),
    )
        .prop_map(|(key, label, kind, required, options)| Question {
            key,
            label,
            kind,
            required,
            options,
        })
}

fn category(tree: String) -> impl Strategy<Value = Category> {
    (
        (
            words(),
            prop::option::of(words()),
            words(),
            prop::option::of(words()),
        ),
        (
            prop::collection::vec(words(), 0..3),
            words(),
            words(),
            prop::option::of(words()),
        ),
        (
            limits(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(any::<u32>()),
        ),
        prop::collection::vec(question(), 0..2),
    )
        .prop_map(
            move |(
                (code, parent, name, key),
                (keywords, filing, closing, department),
                (limits, reward, urgent, radius_m),
                questions,
            )| Category {
                code,
                parent,
                tree: tree.clone(),
                name,
                key,
                keywords,
                filing,
                closing,
                department,
                limits,
                reward,
                urgent,
                radius_m,
                questions,
            },
        )
}

fn tree_file() -> impl Strategy<Value = TreeFile> {
    (words(), words(), words(), limits(), any::<u32>()).prop_flat_map(
        |(tree, name, prefix, limits, radius_m)| {
            prop::collection::vec(category(tree.clone()), 0..4).prop_map(move |category| TreeFile {
                tree: tree.clone(),
                name: name.clone(),
                prefix: prefix.clone(),
                defaults: Defaults { limits, radius_m },
                category,
            })
        },
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn tree_files_read_back_what_they_write(file in tree_file()) {
        prop_assert_eq!(TreeFile::parse(&file.to_toml()), Ok(file));
    }

    #[test]
    fn limits_read_back(l in limit()) {
        if let Some(l) = l {
            prop_assert_eq!(parse_limit(&limit_text(l)), Ok(l));
        }
    }

    #[test]
    fn catalogue_text_never_panics(text in "(?s).{0,200}") {
        targets::catalogue(text.as_bytes());
    }

    #[test]
    fn toml_like_text_never_panics(
        lines in prop::collection::vec(
            "\\[\\[category\\]\\]|\\[defaults\\]|(code|parent|name|tree|prefix|key) = \"[A-Za-z0-9]{0,3}\"|limits = \\{ handle = \"[0-9]{0,5}[hd]\" \\}|radius_m = [0-9]{1,3}",
            0..16,
        ),
    ) {
        targets::catalogue(lines.join("\n").as_bytes());
    }
}

// ───────────────────────────── ingest rules ─────────────────────────────

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

proptest! {
    #![proptest_config(config(256))]

    /// A dotted path into a nested event finds the leaf, written out as text.
    #[test]
    fn field_paths_find_their_leaf(
        steps in prop::collection::vec(prop_oneof![
            "[a-z_]{1,6}".prop_map(Step::Key),
            (0usize..4).prop_map(Step::Index),
        ], 1..5),
        leaf in prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(|n| json!(n)),
            any::<bool>().prop_map(Value::Bool),
        ],
    ) {
        let mut v = leaf.clone();
        for s in steps.iter().rev() {
            v = match s {
                Step::Key(k) => json!({ k.clone(): v, "other": 1 }),
                Step::Index(i) => {
                    let mut a = vec![Value::Null; *i];
                    a.push(v);
                    Value::Array(a)
                }
            };
        }
        let path: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => i.to_string(),
            })
            .collect();
        let want = match &leaf {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        prop_assert_eq!(field_text(&v, &path.join(".")), Some(want));
        prop_assert_eq!(field_text(&v, &format!("{}.x", path.join("."))), None);
    }

    #[test]
    fn ingest_never_panics(path in "[a-z0-9.]{0,12}", value in ".{0,8}", event in "(?s).{0,80}") {
        targets::ingest(format!("{path}\n{value}\n{event}").as_bytes());
    }
}

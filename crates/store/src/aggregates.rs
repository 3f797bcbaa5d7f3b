//! Incremental aggregates of the cases for the dashboards (`case_counts`, `case_daily`).
//!
//! The figures are a pure function of the case rows: each case adds one to
//! (unit, state, category, overdue) and to the reported (and closed) day, at its own unit and
//! at every ancestor. A write removes the old row's contribution and adds the new one in the
//! same transaction, so `wangge check` can compare the tables with a full recount exactly.

use crate::CaseFilter;
use crate::case_queries::Args;
use crate::queries::values_list;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use wangge_domain::case_flow::CaseState;
use wangge_domain::clock::local_date;
use wangge_domain::roles::Scope;

/// What one case row adds to the aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub units: Vec<i64>,
    pub state: String,
    pub category: String,
    pub overdue: bool,
    pub reported_day: String,
    pub closed_day: Option<String>,
}

/// The stored keys of the states whose cases are no longer open (for the overdue flag).
static NOT_OPEN: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    CaseState::NOT_OPEN
        .iter()
        .filter_map(|s| crate::case_queries::key_of(s).ok())
        .collect()
});

impl Contribution {
    /// The contribution of a row: its stored keys (`state`, `alert`) and times.
    pub fn of_row(
        unit_path: &str,
        state: &str,
        category: Option<&str>,
        alert: &str,
        created_at: i64,
        closed_at: Option<i64>,
        tz: &TimeZone,
    ) -> Self {
        Contribution {
            units: units_of(unit_path),
            state: state.to_string(),
            category: category.unwrap_or_default().to_string(),
            overdue: is_overdue(state, alert),
            reported_day: local_date(created_at, tz),
            closed_day: closed_at.map(|t| local_date(t, tz)),
        }
    }
}

/// `(unit, state, category, overdue)` → change of `n`.
pub type CountKey = (i64, String, String, bool);
/// `(unit, day)` → change of (reported, closed).
pub type DayKey = (i64, String);

/// The changes of a write, merged by key (a multi-row upsert must not name a row twice).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub counts: BTreeMap<CountKey, i64>,
    pub days: BTreeMap<DayKey, (i64, i64)>,
}

impl Delta {
    /// Adds `sign` × the contribution.
    pub(crate) fn add(&mut self, c: &Contribution, sign: i64) {
        for &u in &c.units {
            *self
                .counts
                .entry((u, c.state.clone(), c.category.clone(), c.overdue))
                .or_default() += sign;
            self.days.entry((u, c.reported_day.clone())).or_default().0 += sign;
            if let Some(d) = &c.closed_day {
                self.days.entry((u, d.clone())).or_default().1 += sign;
            }
        }
    }

    /// The change from `old` (none for a new case) to `new`.
    pub(crate) fn between(old: Option<&Contribution>, new: &Contribution) -> Self {
        let mut d = Delta::default();
        if old == Some(new) {
            return d;
        }
        if let Some(o) = old {
            d.add(o, -1);
        }
        d.add(new, 1);
        d.counts.retain(|_, n| *n != 0);
        d.days.retain(|_, (r, c)| *r != 0 || *c != 0);
        d
    }

    /// The upserts applying the change, one chunk at a time: (SQL, arguments) of chunk `i` of
    /// `self.counts` then `self.days`, built only when asked for (a rebuild has millions).
    /// `positional`: `?` placeholders (SQLite), else `$n`.
    pub(crate) fn statements(&self, positional: bool) -> impl Iterator<Item = (String, Args)> + '_ {
        let counts: Vec<_> = self.counts.iter().collect();
        let days: Vec<_> = self.days.iter().collect();
        let n_counts = counts.len().div_ceil(UPSERT_ROWS);
        let n_days = days.len().div_ceil(UPSERT_ROWS);
        (0..n_counts + n_days).map(move |i| {
            let mut a = Args::default();
            if i < n_counts {
                let chunk = &counts[i * UPSERT_ROWS..((i + 1) * UPSERT_ROWS).min(counts.len())];
                for ((u, s, c, o), n) in chunk {
                    a.int(*u);
                    a.text(s.clone());
                    a.text(c.clone());
                    a.int(i64::from(*o));
                    a.int(**n);
                }
                let sql = format!(
                    "INSERT INTO case_counts (unit_id, state, category, overdue, n) VALUES {} \
                     ON CONFLICT (unit_id, state, category, overdue) DO UPDATE SET n = case_counts.n + excluded.n",
                    values_list(chunk.len(), 5, positional)
                );
                (sql, a)
            } else {
                let i = i - n_counts;
                let chunk = &days[i * UPSERT_ROWS..((i + 1) * UPSERT_ROWS).min(days.len())];
                for ((u, day), (r, c)) in chunk {
                    a.int(*u);
                    a.text(day.clone());
                    a.int(*r);
                    a.int(*c);
                }
                let sql = format!(
                    "INSERT INTO case_daily (unit_id, day, reported, closed) VALUES {} \
                     ON CONFLICT (unit_id, day) DO UPDATE SET reported = case_daily.reported + excluded.reported, \
                     closed = case_daily.closed + excluded.closed",
                    values_list(chunk.len(), 4, positional)
                );
                (sql, a)
            }
        })
    }
}

/// Rows per upsert statement (5 arguments each, well under SQLite's 32,766).
const UPSERT_ROWS: usize = 1_000;

/// The day of an instant in a time zone, remembering the last day seen (a recount reads the
/// cases in id order, which is nearly time order).
pub(crate) struct DayCache {
    tz: TimeZone,
    from: i64,
    to: i64,
    day: String,
}

impl DayCache {
    pub fn new(tz: &TimeZone) -> Self {
        DayCache {
            tz: tz.clone(),
            from: 0,
            to: 0,
            day: String::new(),
        }
    }

    pub fn day(&mut self, ms: i64) -> String {
        if ms >= self.from && ms < self.to {
            return self.day.clone();
        }
        let day = local_date(ms, &self.tz);
        let bounds = jiff::Timestamp::from_millisecond(ms).ok().and_then(|t| {
            let start = t.to_zoned(self.tz.clone()).start_of_day().ok()?;
            let end = start.tomorrow().ok()?;
            Some((
                start.timestamp().as_millisecond(),
                end.timestamp().as_millisecond(),
            ))
        });
        (self.from, self.to) = bounds.unwrap_or((0, 0));
        self.day = day.clone();
        day
    }
}

/// Case rows grouped by their own unit, expanded to the ancestors once per group: the bulk
/// generator of the benchmarks writes the tables from it (`wangge check` recounts with
/// [`UnitCells`] directly, one unit at a time).
pub struct Grouped {
    units: std::collections::HashMap<String, UnitCells>,
    day: DayCache,
}

impl Grouped {
    pub fn new(tz: &TimeZone) -> Self {
        Grouped {
            units: Default::default(),
            day: DayCache::new(tz),
        }
    }

    /// Adds one row, as [`Contribution::of_row`] reads it.
    pub fn add(
        &mut self,
        unit_path: String,
        state: String,
        category: Option<String>,
        alert: &str,
        created_at: i64,
        closed_at: Option<i64>,
    ) {
        self.units.entry(unit_path).or_default().add(
            state,
            category,
            alert,
            created_at,
            closed_at,
            &mut self.day,
        );
    }

    /// The figures of every unit.
    pub fn into_delta(self) -> Delta {
        let mut d = Delta::default();
        for (path, cells) in &self.units {
            for u in units_of(path) {
                cells.add_to(&mut d, u);
            }
        }
        d
    }
}

/// The recounted cells of one unit (`wangge check` settles the units one at a time, so its memory
/// does not grow with the number of cases).
#[derive(Debug, Default)]
pub(crate) struct UnitCells {
    counts: BTreeMap<(String, String, bool), i64>,
    days: BTreeMap<String, (i64, i64)>,
}

impl UnitCells {
    /// Adds one case row, as [`Contribution::of_row`] reads it.
    pub fn add(
        &mut self,
        state: String,
        category: Option<String>,
        alert: &str,
        created_at: i64,
        closed_at: Option<i64>,
        day: &mut DayCache,
    ) {
        let overdue = is_overdue(&state, alert);
        *self
            .counts
            .entry((state, category.unwrap_or_default(), overdue))
            .or_default() += 1;
        self.days.entry(day.day(created_at)).or_default().0 += 1;
        if let Some(t) = closed_at {
            self.days.entry(day.day(t)).or_default().1 += 1;
        }
    }

    pub fn merge(&mut self, other: &UnitCells) {
        for (k, n) in &other.counts {
            *self.counts.entry(k.clone()).or_default() += n;
        }
        for (k, (r, c)) in &other.days {
            let e = self.days.entry(k.clone()).or_default();
            e.0 += r;
            e.1 += c;
        }
    }

    /// Adds the cells to `d` as figures of `unit`.
    pub fn add_to(&self, d: &mut Delta, unit: i64) {
        for ((s, c, o), n) in &self.counts {
            *d.counts
                .entry((unit, s.clone(), c.clone(), *o))
                .or_default() += n;
        }
        for (day, (r, c)) in &self.days {
            let e = d.days.entry((unit, day.clone())).or_default();
            e.0 += r;
            e.1 += c;
        }
    }
}

/// The unit of a path and its ancestors.
pub(crate) fn units_of(unit_path: &str) -> Vec<i64> {
    // a path lists the ancestors' ids and the unit's own: `/1/7/42/`
    unit_path
        .split('/')
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn is_overdue(state: &str, alert: &str) -> bool {
    alert == "breached" && !NOT_OPEN.iter().any(|k| k == state)
}

/// A recount next to the stored tables.
#[derive(Debug, Default)]
pub(crate) struct Recount {
    pub expected: Delta,
    pub stored: Delta,
}

impl Recount {
    /// The differences, as lines `case_counts unit 7 reported/G0401/overdue: stored 3, recount 4`.
    pub fn differences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let keys: std::collections::BTreeSet<&CountKey> = self
            .expected
            .counts
            .keys()
            .chain(self.stored.counts.keys())
            .collect();
        for k in keys {
            let e = self.expected.counts.get(k).copied().unwrap_or(0);
            let s = self.stored.counts.get(k).copied().unwrap_or(0);
            if e != s {
                let overdue = if k.3 { "/overdue" } else { "" };
                out.push(format!(
                    "case_counts unit {} {}/{}{overdue}: stored {s}, recount {e}",
                    k.0, k.1, k.2
                ));
            }
        }
        let keys: std::collections::BTreeSet<&DayKey> = self
            .expected
            .days
            .keys()
            .chain(self.stored.days.keys())
            .collect();
        for k in keys {
            let e = self.expected.days.get(k).copied().unwrap_or((0, 0));
            let s = self.stored.days.get(k).copied().unwrap_or((0, 0));
            if e != s {
                out.push(format!(
                    "case_daily unit {} {}: stored {}/{} reported/closed, recount {}/{}",
                    k.0, k.1, s.0, s.1, e.0, e.1
                ));
            }
        }
        out
    }
}

/// The search-index token of a unit: a case is indexed with the tokens of its unit and every
/// unit above, so a search within a territory is one index intersection.
pub(crate) fn unit_token(id: i64) -> String {
    format!("wgu{id}")
}

/// The unit tokens of a case in unit `unit_path`, space-separated.
pub fn unit_tokens(unit_path: &str) -> String {
    units_of(unit_path)
        .into_iter()
        .map(unit_token)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The units whose subtrees make up the territory part of a case list filter (the scope's tops
/// intersected with `under_path`), without nested duplicates; `None` for every unit.
pub(crate) fn territory_units(f: &CaseFilter) -> Option<Vec<String>> {
    let tops: Option<Vec<String>> = match &f.scope {
        Some(Scope::Subtrees(t)) => {
            let mut t = t.clone();
            t.sort();
            t.dedup();
            let kept: Vec<String> = t
                .iter()
                .filter(|p| !t.iter().any(|q| q != *p && p.starts_with(q.as_str())))
                .cloned()
                .collect();
            Some(kept)
        }
        _ => None,
    };
    match (&f.under_path, tops) {
        (None, tops) => tops,
        (Some(u), None) => Some(vec![u.clone()]),
        (Some(u), Some(tops)) => {
            if tops.iter().any(|t| u.starts_with(t.as_str())) {
                Some(vec![u.clone()])
            } else {
                Some(
                    tops.into_iter()
                        .filter(|t| t.starts_with(u.as_str()))
                        .collect(),
                )
            }
        }
    }
}

/// The id of the unit of a path (its last id).
pub(crate) fn unit_of_path(p: &str) -> Option<i64> {
    p.split('/').rev().find_map(|x| x.parse().ok())
}

/// Whether the aggregates answer the filter's count exactly: territory, states and category
/// only (departments, words, dates … need the rows).
pub(crate) fn counted_by_aggregates(f: &CaseFilter) -> bool {
    f.department_ids.is_empty()
        && f.ids.is_empty()
        && f.categories.is_empty()
        && f.handling_paths.is_empty()
        && f.handling_under.is_empty()
        && f.handling_levels.is_empty()
        && f.department_id.is_none()
        && f.channel.is_none()
        && f.overdue_at.is_none()
        && f.supervised.is_none()
        && f.urgent.is_none()
        && f.reporter_id.is_none()
        && f.merged_into.is_none()
        && f.from.is_none()
        && f.to.is_none()
        && f.q.as_deref().is_none_or(|q| q.trim().is_empty())
}

/// Sums the cells of the aggregates that the filter's states and category select.
pub(crate) fn sum_cells(
    cells: &[(String, String, i64)],
    states: &[String],
    category: Option<&str>,
) -> i64 {
    cells
        .iter()
        .filter(|(s, c, _)| {
            (states.is_empty() || states.contains(s)) && category.is_none_or(|k| c.starts_with(k))
        })
        .map(|(_, _, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_open_keys_are_the_stored_state_keys() {
        assert_eq!(
            *NOT_OPEN,
            ["closed", "rated", "not_filed", "voided", "draft"]
        );
        assert!(!is_overdue("closed", "breached"));
        assert!(is_overdue("dispatched", "breached"));
    }

    fn row(state: &str, alert: &str, closed: Option<i64>) -> Contribution {
        Contribution::of_row(
            "/1/7/42/",
            state,
            Some("G0401"),
            alert,
            0,
            closed,
            &TimeZone::UTC,
        )
    }

    #[test]
    fn a_case_counts_at_every_level_and_moves_between_keys() {
        let new = row("reported", "on_time", None);
        assert_eq!(new.units, vec![1, 7, 42]);
        let d = Delta::between(None, &new);
        assert_eq!(d.counts.len(), 3);
        assert_eq!(d.days[&(7, "1970-01-01".to_string())], (1, 0));
        let closed = row("closed", "breached", Some(86_400_000));
        assert!(!closed.overdue, "a closed case is not overdue");
        let d = Delta::between(Some(&new), &closed);
        assert_eq!(
            d.counts[&(42, "reported".into(), "G0401".into(), false)],
            -1
        );
        assert_eq!(d.counts[&(42, "closed".into(), "G0401".into(), false)], 1);
        assert_eq!(d.days[&(42, "1970-01-02".to_string())], (0, 1));
        assert!(!d.days.contains_key(&(42, "1970-01-01".to_string())));
        assert!(row("in_handling", "breached", None).overdue);
        assert_eq!(Delta::between(Some(&new), &new), Delta::default());
        let (sql, args) = &d.statements(false).next().unwrap();
        assert!(sql.contains("ON CONFLICT"));
        assert_eq!(args.0.len(), 6 * 5);
    }

    #[test]
    fn grouping_gives_what_the_rows_add_up_to() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let rows = [
            ("/1/7/42/", "reported", "on_time", 0, None),
            ("/1/7/42/", "in_handling", "breached", 15 * 3_600_000, None),
            (
                "/1/7/43/",
                "closed",
                "breached",
                16 * 3_600_000,
                Some(40 * 3_600_000),
            ),
        ];
        let mut g = Grouped::new(&tz);
        let mut d = Delta::default();
        // the recount of `wangge check`: the cells of unit 7 (above both grids)
        let mut cells = UnitCells::default();
        let mut day = DayCache::new(&tz);
        for (p, s, a, t, c) in rows {
            g.add(p.into(), s.into(), Some("G".into()), a, t, c);
            d.add(&Contribution::of_row(p, s, Some("G"), a, t, c, &tz), 1);
            let mut own = UnitCells::default();
            own.add(s.into(), Some("G".into()), a, t, c, &mut day);
            cells.merge(&own);
        }
        let grouped = g.into_delta();
        assert_eq!(grouped, d);
        let mut seven = Delta::default();
        cells.add_to(&mut seven, 7);
        d.counts.retain(|k, _| k.0 == 7);
        d.days.retain(|k, _| k.0 == 7);
        assert_eq!(seven, d);
        // 16:00 UTC is midnight in Shanghai
        assert_eq!(grouped.days[&(1, "1970-01-01".to_string())], (2, 0));
        assert_eq!(grouped.days[&(1, "1970-01-02".to_string())], (1, 0));
        assert_eq!(grouped.days[&(1, "1970-01-03".to_string())], (0, 1));
    }

    #[test]
    fn the_territory_of_a_filter() {
        let f = |scope: Option<Scope>, under: Option<&str>| CaseFilter {
            scope,
            under_path: under.map(str::to_string),
            ..Default::default()
        };
        let s = |v: &[&str]| Some(Scope::Subtrees(v.iter().map(|p| p.to_string()).collect()));
        assert_eq!(territory_units(&f(None, None)), None);
        assert_eq!(
            territory_units(&f(Some(Scope::All), Some("/1/7/"))),
            Some(vec!["/1/7/".into()])
        );
        assert_eq!(
            territory_units(&f(s(&["/1/7/", "/1/7/42/", "/1/9/"]), None)),
            Some(vec!["/1/7/".into(), "/1/9/".into()]),
            "nested tops count once"
        );
        assert_eq!(
            territory_units(&f(s(&["/1/7/"]), Some("/1/7/42/"))),
            Some(vec!["/1/7/42/".into()])
        );
        assert_eq!(
            territory_units(&f(s(&["/1/7/42/", "/1/9/"]), Some("/1/7/"))),
            Some(vec!["/1/7/42/".into()])
        );
        assert_eq!(
            territory_units(&f(s(&["/1/9/"]), Some("/1/7/"))),
            Some(vec![])
        );
        assert_eq!(unit_tokens("/1/7/42/"), "wgu1 wgu7 wgu42");
        let cells = vec![
            ("reported".to_string(), "G0401".to_string(), 3),
            ("closed".to_string(), "G0502".to_string(), 4),
        ];
        assert_eq!(sum_cells(&cells, &[], None), 7);
        assert_eq!(sum_cells(&cells, &["closed".into()], Some("G05")), 4);
        assert_eq!(sum_cells(&cells, &[], Some("G04")), 3);
    }
}

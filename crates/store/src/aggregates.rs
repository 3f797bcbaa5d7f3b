//! Incremental aggregates of the cases for the dashboards (`case_counts`, `case_daily`).
//!
//! The figures are a pure function of the case rows: each case adds one to
//! (unit, state, category, overdue) and to the reported (and closed) day, at its own unit and
//! at every ancestor. A write removes the old row's contribution and adds the new one in the
//! same transaction, so `wangge check` can compare the tables with a full recount exactly.

use crate::case_queries::Args;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use wangge_domain::clock::local_date;
use wangge_domain::territory::path;

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

/// States whose cases are no longer open (for the overdue flag).
const NOT_OPEN: [&str; 5] = ["closed", "rated", "not_filed", "voided", "draft"];

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
        let mut units = path::ancestor_ids(unit_path);
        units.extend(
            unit_path
                .split('/')
                .filter_map(|p| p.parse::<i64>().ok())
                .last(),
        );
        Contribution {
            units,
            state: state.to_string(),
            category: category.unwrap_or_default().to_string(),
            overdue: alert == "breached" && !NOT_OPEN.contains(&state),
            reported_day: local_date(created_at, tz),
            closed_day: closed_at.map(|t| local_date(t, tz)),
        }
    }
}

/// `(unit, state, category, overdue)` → change of `n`.
pub(crate) type CountKey = (i64, String, String, bool);
/// `(unit, day)` → change of (reported, closed).
pub(crate) type DayKey = (i64, String);

/// The changes of a write, merged by key (a multi-row upsert must not name a row twice).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    pub counts: BTreeMap<CountKey, i64>,
    pub days: BTreeMap<DayKey, (i64, i64)>,
}

impl Delta {
    /// Adds `sign` × the contribution.
    pub fn add(&mut self, c: &Contribution, sign: i64) {
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
    pub fn between(old: Option<&Contribution>, new: &Contribution) -> Self {
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

    /// The upserts applying the change: (SQL, arguments) for each table that changes.
    pub fn statements(&self) -> Vec<(String, Args)> {
        let mut out = Vec::new();
        for chunk in self.counts.iter().collect::<Vec<_>>().chunks(UPSERT_ROWS) {
            let mut a = Args::default();
            let rows: Vec<String> = chunk
                .iter()
                .map(|((u, s, c, o), n)| {
                    format!(
                        "({}, {}, {}, {}, {})",
                        a.int(*u),
                        a.text(s.clone()),
                        a.text(c.clone()),
                        a.int(i64::from(*o)),
                        a.int(**n)
                    )
                })
                .collect();
            out.push((
                format!(
                    "INSERT INTO case_counts (unit_id, state, category, overdue, n) VALUES {} \
                     ON CONFLICT (unit_id, state, category, overdue) DO UPDATE SET n = case_counts.n + excluded.n",
                    rows.join(", ")
                ),
                a,
            ));
        }
        for chunk in self.days.iter().collect::<Vec<_>>().chunks(UPSERT_ROWS) {
            let mut a = Args::default();
            let rows: Vec<String> = chunk
                .iter()
                .map(|((u, day), (r, c))| {
                    format!(
                        "({}, {}, {}, {})",
                        a.int(*u),
                        a.text(day.clone()),
                        a.int(*r),
                        a.int(*c)
                    )
                })
                .collect();
            out.push((
                format!(
                    "INSERT INTO case_daily (unit_id, day, reported, closed) VALUES {} \
                     ON CONFLICT (unit_id, day) DO UPDATE SET reported = case_daily.reported + excluded.reported, \
                     closed = case_daily.closed + excluded.closed",
                    rows.join(", ")
                ),
                a,
            ));
        }
        out
    }
}

/// Rows per upsert statement (5 arguments each, well under SQLite's 32,766).
const UPSERT_ROWS: usize = 1_000;

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

#[cfg(test)]
mod tests {
    use super::*;

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
        let (sql, args) = &d.statements()[0];
        assert!(sql.contains("ON CONFLICT"));
        assert_eq!(args.0.len(), 6 * 5);
    }
}

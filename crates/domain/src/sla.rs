//! Stage time limits and their clocks: a limit in working hours or days, counted on the working
//! calendar from the stage's start, stopped while the case is parked (挂账) and lengthened by
//! approved extensions (延期); warnings at 50 % and 75 % of the time and at the breach.

use crate::worktime::Calendar;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

/// A stage's limit: e.g. 暴露垃圾 4 working hours, 绿地养护 5 working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "amount")]
pub enum Limit {
    WorkingHours(u32),
    WorkingDays(u32),
}

impl Limit {
    /// In working minutes of `cal`.
    pub fn minutes(self, cal: &Calendar) -> i64 {
        match self {
            Limit::WorkingHours(h) => i64::from(h) * 60,
            Limit::WorkingDays(d) => i64::from(d) * cal.hours.daily_minutes(),
        }
    }
}

/// How far a running clock has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    OnTime,
    /// Half the time used: the handler is told.
    Half,
    /// Three quarters used: the handler is told again.
    ThreeQuarters,
    /// The deadline passed: the handler and the level above are told.
    Breached,
}

/// One stage's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    pub started: DateTime,
    pub limit: Limit,
    /// Working minutes granted by approved extensions.
    pub extended_minutes: i64,
    /// Parked periods; the last one may still be open.
    pub parked: Vec<(DateTime, Option<DateTime>)>,
}

impl StageClock {
    pub fn new(started: DateTime, limit: Limit) -> Self {
        StageClock {
            started,
            limit,
            extended_minutes: 0,
            parked: Vec::new(),
        }
    }

    /// Working minutes the stage may use in all.
    pub fn allowed(&self, cal: &Calendar) -> i64 {
        self.limit.minutes(cal) + self.extended_minutes
    }

    /// Working minutes spent parked up to `now`.
    fn parked_minutes(&self, cal: &Calendar, now: DateTime) -> i64 {
        self.parked
            .iter()
            .map(|(a, b)| cal.minutes_between(*a, b.unwrap_or(now).min(now)))
            .sum()
    }

    /// Working minutes used up to `now` (parked time does not count).
    pub fn used(&self, cal: &Calendar, now: DateTime) -> i64 {
        (cal.minutes_between(self.started, now) - self.parked_minutes(cal, now)).max(0)
    }

    /// The deadline as it stands at `now`: `None` while parked (the clock is stopped) or when the
    /// calendar has no working time.
    pub fn deadline(&self, cal: &Calendar, now: DateTime) -> Option<DateTime> {
        if self.parked.last().is_some_and(|(_, end)| end.is_none()) {
            return None;
        }
        let total = self.allowed(cal) + self.parked_minutes(cal, now);
        cal.add_minutes(self.started, total)
    }

    /// The next warning this clock will raise after `now`, and when: `None` once breached, while
    /// parked, or without working time.
    pub fn next_alert(&self, cal: &Calendar, now: DateTime) -> Option<(Alert, DateTime)> {
        let deadline = self.deadline(cal, now)?;
        let allowed = self.allowed(cal);
        let parked = self.parked_minutes(cal, now);
        // the first whole minute at which `alert` reaches the share (rounded up, so the level
        // has changed when the warning is due)
        let at_share =
            |pct: i64| cal.add_minutes(self.started, (allowed * pct + 99) / 100 + parked);
        match self.alert(cal, now) {
            Alert::OnTime => Some((Alert::Half, at_share(50)?)),
            Alert::Half => Some((Alert::ThreeQuarters, at_share(75)?)),
            Alert::ThreeQuarters => Some((Alert::Breached, deadline)),
            Alert::Breached => None,
        }
    }

    /// Past the deadline is a breach (a parked clock never breaches); otherwise the share of the
    /// allowed time used.
    pub fn alert(&self, cal: &Calendar, now: DateTime) -> Alert {
        if self.deadline(cal, now).is_some_and(|d| now > d) {
            return Alert::Breached;
        }
        match self.used(cal, now) * 100 / self.allowed(cal).max(1) {
            p if p >= 75 => Alert::ThreeQuarters,
            p if p >= 50 => Alert::Half,
            _ => Alert::OnTime,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(m: i8, d: i8, h: i8, min: i8) -> DateTime {
        date(2026, m, d).at(h, min, 0, 0)
    }

    #[test]
    fn a_four_hour_limit_with_warnings() {
        let cal = Calendar::standard();
        // Monday 2026-11-23 10:00, 4 working hours: 2 before noon, 2 after 13:30 → 15:30
        let c = StageClock::new(at(11, 23, 10, 0), Limit::WorkingHours(4));
        assert_eq!(
            c.deadline(&cal, at(11, 23, 10, 0)),
            Some(at(11, 23, 15, 30))
        );
        assert_eq!(c.alert(&cal, at(11, 23, 11, 0)), Alert::OnTime);
        assert_eq!(c.alert(&cal, at(11, 23, 13, 0)), Alert::Half); // lunch does not count: 2 h used
        assert_eq!(c.alert(&cal, at(11, 23, 14, 30)), Alert::ThreeQuarters);
        assert_eq!(c.alert(&cal, at(11, 23, 15, 30)), Alert::ThreeQuarters);
        assert_eq!(c.alert(&cal, at(11, 23, 15, 31)), Alert::Breached);
    }

    #[test]
    fn parking_stops_the_clock_and_extensions_lengthen_it() {
        let cal = Calendar::standard();
        let mut c = StageClock::new(at(11, 23, 9, 0), Limit::WorkingDays(1));
        // one day = 450 working minutes → Tuesday 09:00
        assert_eq!(c.deadline(&cal, at(11, 23, 9, 0)), Some(at(11, 24, 9, 0)));
        // parked from Monday 10:00: no deadline while parked
        c.parked.push((at(11, 23, 10, 0), None));
        assert_eq!(c.deadline(&cal, at(11, 23, 16, 0)), None);
        assert_eq!(c.used(&cal, at(11, 23, 16, 0)), 60);
        // resumed Tuesday 10:00: the 450 working minutes parked (Monday 10:00 to Tuesday 10:00)
        // move the deadline a working day on
        c.parked[0].1 = Some(at(11, 24, 10, 0));
        assert_eq!(c.deadline(&cal, at(11, 24, 10, 0)), Some(at(11, 25, 9, 0)));
        // an approved extension of two working hours
        c.extended_minutes = 120;
        assert_eq!(c.deadline(&cal, at(11, 24, 10, 0)), Some(at(11, 25, 11, 0)));
        assert_eq!(c.alert(&cal, at(11, 24, 12, 0)), Alert::OnTime);
    }

    #[test]
    fn the_next_warning_and_when() {
        let cal = Calendar::standard();
        let c = StageClock::new(at(11, 23, 10, 0), Limit::WorkingHours(4));
        let t0 = at(11, 23, 10, 0);
        assert_eq!(
            c.next_alert(&cal, t0),
            Some((Alert::Half, at(11, 23, 12, 0)))
        );
        assert_eq!(
            c.next_alert(&cal, at(11, 23, 13, 0)),
            Some((Alert::ThreeQuarters, at(11, 23, 14, 30)))
        );
        assert_eq!(
            c.next_alert(&cal, at(11, 23, 14, 30)),
            Some((Alert::Breached, at(11, 23, 15, 30)))
        );
        assert_eq!(c.next_alert(&cal, at(11, 23, 16, 0)), None);
        // the clock survives storage as JSON
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<StageClock>(&text).unwrap(), c);
    }

    #[test]
    fn limits_serialise_as_data() {
        let l: Limit = serde_json::from_str(r#"{"unit":"working_days","amount":5}"#).unwrap();
        assert_eq!(l, Limit::WorkingDays(5));
        assert_eq!(l.minutes(&Calendar::standard()), 2250);
    }
}

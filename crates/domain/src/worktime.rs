//! The working-time calendar: office hours, weekends, public holidays and make-up working days
//! (调休), and deadline arithmetic in working minutes. Times are civil (local) date-times; the
//! caller converts instants with the deployment's time zone.

use crate::DomainError;
use jiff::civil::{Date, DateTime, Time, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a date is, overriding the weekly pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday (or any day off) falling on a working weekday.
    Holiday,
    /// A make-up working day (调休上班) falling on a weekend.
    Workday,
}

/// Office hours of a working day as minutes after midnight, sorted and not overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours(Vec<(u16, u16)>);

impl OfficeHours {
    /// `["08:30-12:00", "13:30-17:30"]`.
    pub fn parse(periods: &[&str]) -> Result<Self, DomainError> {
        let bad = |p: &str| {
            DomainError::validation(
                "office_hours",
                format!("bad period `{p}`, want HH:MM-HH:MM"),
            )
        };
        let minute = |s: &str| -> Option<u16> {
            let (h, m) = s.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 1440).then(|| h * 60 + m)
        };
        let mut out = Vec::with_capacity(periods.len());
        for p in periods {
            let (a, b) = p.split_once('-').ok_or_else(|| bad(p))?;
            let (a, b) = (
                minute(a).ok_or_else(|| bad(p))?,
                minute(b).ok_or_else(|| bad(p))?,
            );
            if a >= b {
                return Err(bad(p));
            }
            out.push((a, b));
        }
        out.sort_unstable();
        if out.is_empty() || out.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(DomainError::validation(
                "office_hours",
                "periods must exist and not overlap",
            ));
        }
        Ok(OfficeHours(out))
    }

    /// 08:30–12:00 and 13:30–17:30.
    pub fn standard() -> Self {
        OfficeHours(vec![(510, 720), (810, 1050)])
    }

    /// Working minutes in one working day.
    pub fn daily_minutes(&self) -> i64 {
        self.0.iter().map(|(a, b)| i64::from(b - a)).sum()
    }
}

/// Office hours, the working weekdays, and the dated exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub hours: OfficeHours,
    /// Monday to Sunday.
    pub weekdays: [bool; 7],
    pub days: BTreeMap<Date, DayKind>,
}

/// No calendar has more than this many days off in a row; a search past it means the calendar
/// has no working time at all.
const SEARCH_DAYS: usize = 3700;

/// The longest iCalendar event read, in days: holidays last days or weeks, and one bad DTEND
/// must not turn a small upload into a million dated exceptions.
pub const MAX_EVENT_DAYS: i32 = 366;

fn minute_of(t: DateTime) -> i64 {
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

fn at_minute(d: Date, m: u16) -> DateTime {
    let t = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap_or(Time::MAX);
    if m >= 1440 {
        d.tomorrow()
            .map(|n| n.to_datetime(Time::MIN))
            .unwrap_or(DateTime::MAX)
    } else {
        d.to_datetime(t)
    }
}

impl Calendar {
    /// Standard office hours, Monday to Friday, no exceptions yet.
    pub fn standard() -> Self {
        Calendar {
            hours: OfficeHours::standard(),
            weekdays: [true, true, true, true, true, false, false],
            days: BTreeMap::new(),
        }
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        match self.days.get(&d) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => {
                let i = match d.weekday() {
                    Weekday::Monday => 0,
                    Weekday::Tuesday => 1,
                    Weekday::Wednesday => 2,
                    Weekday::Thursday => 3,
                    Weekday::Friday => 4,
                    Weekday::Saturday => 5,
                    Weekday::Sunday => 6,
                };
                self.weekdays[i]
            }
        }
    }

    /// The moment `minutes` working minutes after `start`: a deadline. Ending exactly at the end
    /// of a period gives that end (12:00, not 13:30). `None` if the calendar has no working time.
    pub fn add_minutes(&self, start: DateTime, minutes: i64) -> Option<DateTime> {
        if minutes <= 0 {
            return Some(start);
        }
        let mut left = minutes;
        let mut day = start.date();
        let mut from = minute_of(start);
        for _ in 0..SEARCH_DAYS {
            if self.is_working_day(day) {
                for &(a, b) in &self.hours.0 {
                    let s = from.max(i64::from(a));
                    if s >= i64::from(b) {
                        continue;
                    }
                    let avail = i64::from(b) - s;
                    if left <= avail {
                        return Some(at_minute(day, (s + left) as u16));
                    }
                    left -= avail;
                }
            }
            day = day.tomorrow().ok()?;
            from = 0;
        }
        None
    }

    /// `days` working days after `start`, a working day being the office hours of one day.
    /// `None` past what the calendar can count (see [`Calendar::add_minutes`]).
    pub fn add_days(&self, start: DateTime, days: i64) -> Option<DateTime> {
        self.add_minutes(start, days.saturating_mul(self.hours.daily_minutes()))
    }

    /// Working minutes from `a` to `b` (0 if `b` is not after `a`): time used, for the 50 %/75 %
    /// warnings and for shifting a deadline by a parked period.
    pub fn minutes_between(&self, a: DateTime, b: DateTime) -> i64 {
        if b <= a {
            return 0;
        }
        let mut total = 0;
        let mut day = a.date();
        loop {
            if self.is_working_day(day) {
                let lo = if day == a.date() { minute_of(a) } else { 0 };
                let hi = if day == b.date() { minute_of(b) } else { 1440 };
                for &(p, q) in &self.hours.0 {
                    let (s, e) = (lo.max(i64::from(p)), hi.min(i64::from(q)));
                    total += (e - s).max(0);
                }
            }
            if day >= b.date() {
                return total;
            }
            match day.tomorrow() {
                Ok(n) => day = n,
                Err(_) => return total,
            }
        }
    }

    /// Reads dated exceptions from CSV lines `date,kind[,name]`: kind `holiday`/`休` or
    /// `workday`/`班`; a header line and blank lines are skipped. Errors name the line (from 1).
    pub fn parse_csv(text: &str) -> Result<BTreeMap<Date, DayKind>, DomainError> {
        let mut out = BTreeMap::new();
        for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            let line = line.trim();
            let mut cols = line.split(',').map(str::trim);
            let (Some(date), kind) = (cols.next(), cols.next()) else {
                continue;
            };
            if line.is_empty() || (i == 0 && date.parse::<Date>().is_err()) {
                continue;
            }
            let bad =
                |why: &str| DomainError::validation("calendar", format!("line {}: {why}", i + 1));
            let date: Date = date
                .parse()
                .map_err(|_| bad("the date must be YYYY-MM-DD"))?;
            let kind = match kind {
                Some("holiday" | "休" | "假") => DayKind::Holiday,
                Some("workday" | "班" | "补班") => DayKind::Workday,
                _ => return Err(bad("the kind must be holiday (休) or workday (班)")),
            };
            out.insert(date, kind);
        }
        Ok(out)
    }

    /// Reads dated exceptions from an iCalendar file of all-day events: a summary with 班 (补班,
    /// 上班) marks make-up working days, any other event days off. DTEND is exclusive; an event
    /// of more than [`MAX_EVENT_DAYS`] days is an error.
    pub fn parse_ical(text: &str) -> Result<BTreeMap<Date, DayKind>, DomainError> {
        // Folded lines continue with a leading space or tab.
        let mut lines: Vec<String> = Vec::new();
        for raw in text.lines() {
            match raw.strip_prefix([' ', '\t']) {
                Some(cont) if !lines.is_empty() => {
                    if let Some(last) = lines.last_mut() {
                        last.push_str(cont.trim_end_matches('\r'));
                    }
                }
                _ => lines.push(raw.trim_end_matches('\r').to_string()),
            }
        }
        // `20261001`, or the date of `20261001T090000Z`
        let date_of = |v: &str| -> Option<Date> {
            let d = v.as_bytes().get(..8)?;
            let n = |r: std::ops::Range<usize>| {
                d[r].iter().try_fold(0i32, |n, b| {
                    b.is_ascii_digit().then(|| n * 10 + i32::from(b - b'0'))
                })
            };
            let (y, m, day) = (n(0..4)?, n(4..6)?, n(6..8)?);
            Date::new(
                i16::try_from(y).ok()?,
                i8::try_from(m).ok()?,
                i8::try_from(day).ok()?,
            )
            .ok()
        };
        let mut out = BTreeMap::new();
        let (mut start, mut end, mut summary, mut inside) = (None, None, String::new(), false);
        for (i, line) in lines.iter().enumerate() {
            let (key, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let name = key.split(';').next().unwrap_or("");
            match name {
                "BEGIN" if value == "VEVENT" => {
                    (start, end, summary, inside) = (None, None, String::new(), true);
                }
                "DTSTART" if inside => start = date_of(value),
                "DTEND" if inside => end = date_of(value),
                "SUMMARY" if inside => summary = value.to_string(),
                "END" if value == "VEVENT" => {
                    inside = false;
                    let first = start.ok_or_else(|| {
                        DomainError::validation(
                            "calendar",
                            format!("line {}: event without a DTSTART date", i + 1),
                        )
                    })?;
                    let kind = if summary.contains('班') {
                        DayKind::Workday
                    } else {
                        DayKind::Holiday
                    };
                    let last = end
                        .and_then(|e| e.yesterday().ok())
                        .filter(|e| *e >= first)
                        .unwrap_or(first);
                    let span = first.until(last).map_or(i32::MAX, |s| s.get_days());
                    if span >= MAX_EVENT_DAYS {
                        return Err(DomainError::validation(
                            "calendar",
                            format!(
                                "line {}: the event from {first} to {last} is longer than {MAX_EVENT_DAYS} days",
                                i + 1
                            ),
                        ));
                    }
                    let mut d = first;
                    while d <= last {
                        out.insert(d, kind);
                        d = match d.tomorrow() {
                            Ok(n) => n,
                            Err(_) => break,
                        };
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> DateTime {
        date(y, m, d).at(h, min, 0, 0)
    }

    /// 2026-10-01 (Thursday) to 10-07 off, Sunday 2026-09-27 and Saturday 10-10 make-up days.
    fn national_day() -> Calendar {
        let mut c = Calendar::standard();
        for d in 1..=7 {
            c.days.insert(date(2026, 10, d), DayKind::Holiday);
        }
        c.days.insert(date(2026, 9, 27), DayKind::Workday);
        c.days.insert(date(2026, 10, 10), DayKind::Workday);
        c
    }

    #[test]
    fn office_hour_boundaries() {
        let c = Calendar::standard();
        // Monday 2026-11-23: four working hours from 09:00 are three before noon, one after 13:30.
        assert_eq!(
            c.add_minutes(at(2026, 11, 23, 9, 0), 240),
            Some(at(2026, 11, 23, 14, 30))
        );
        // before the office opens: counting starts at 08:30
        assert_eq!(
            c.add_minutes(at(2026, 11, 23, 7, 0), 60),
            Some(at(2026, 11, 23, 9, 30))
        );
        // at lunch: counting starts at 13:30
        assert_eq!(
            c.add_minutes(at(2026, 11, 23, 12, 30), 30),
            Some(at(2026, 11, 23, 14, 0))
        );
        // ending exactly at noon gives noon, not 13:30
        assert_eq!(
            c.add_minutes(at(2026, 11, 23, 11, 0), 60),
            Some(at(2026, 11, 23, 12, 0))
        );
        // after hours: the next morning
        assert_eq!(
            c.add_minutes(at(2026, 11, 23, 18, 0), 30),
            Some(at(2026, 11, 24, 9, 0))
        );
        assert_eq!(c.hours.daily_minutes(), 450);
    }

    #[test]
    fn weekends_holidays_and_make_up_days() {
        let c = national_day();
        // Friday 16:30 + 2 h: one hour on Friday, one on Monday
        assert_eq!(
            c.add_minutes(at(2026, 11, 20, 16, 30), 120),
            Some(at(2026, 11, 23, 9, 30))
        );
        // Saturday 2026-09-26 is a weekend; Sunday 09-27 is a make-up working day
        assert_eq!(
            c.add_minutes(at(2026, 9, 26, 10, 0), 60),
            Some(at(2026, 9, 27, 9, 30))
        );
        // Wednesday 09-30 16:00 + 4 h: 1.5 h that day, then the holiday week, then Thursday 10-08
        assert_eq!(
            c.add_minutes(at(2026, 9, 30, 16, 0), 240),
            Some(at(2026, 10, 8, 11, 0))
        );
        // 5 working days from Wednesday 09-30 10:00 end at the same hour on the fifth working day
        // after it: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
        assert_eq!(
            c.add_days(at(2026, 9, 30, 10, 0), 5),
            Some(at(2026, 10, 13, 10, 0))
        );
        assert!(!c.is_working_day(date(2026, 10, 5)));
        assert!(c.is_working_day(date(2026, 10, 10)));
    }

    #[test]
    fn minutes_between_inverts_add_minutes() {
        let c = national_day();
        let starts = [
            at(2026, 9, 25, 7, 3),
            at(2026, 9, 30, 12, 10),
            at(2026, 10, 3, 15, 0),
            at(2026, 10, 9, 17, 29),
        ];
        for s in starts {
            for m in [1, 29, 210, 240, 450, 451, 2000, 10_000] {
                let end = c.add_minutes(s, m).unwrap();
                assert_eq!(c.minutes_between(s, end), m, "{s} + {m} = {end}");
            }
        }
        assert_eq!(
            c.minutes_between(at(2026, 11, 23, 12, 0), at(2026, 11, 23, 13, 30)),
            0
        );
        assert_eq!(
            c.minutes_between(at(2026, 11, 24, 9, 0), at(2026, 11, 23, 9, 0)),
            0
        );
    }

    #[test]
    fn a_calendar_without_working_time_gives_no_deadline() {
        let mut c = Calendar::standard();
        c.weekdays = [false; 7];
        assert_eq!(c.add_minutes(at(2026, 1, 1, 9, 0), 60), None);
    }

    #[test]
    fn office_hours_are_checked() {
        assert!(OfficeHours::parse(&["08:30-12:00", "13:30-17:30"]).is_ok());
        assert!(OfficeHours::parse(&["09:00-08:00"]).is_err());
        assert!(OfficeHours::parse(&["08:00-12:00", "11:00-13:00"]).is_err());
        assert!(OfficeHours::parse(&["8h-12h"]).is_err());
        assert!(OfficeHours::parse(&[]).is_err());
        // found by fuzzing (fuzz/corpus/worktime/crash-f5ed0a…): `then_some` computed h * 60
        // for any hour and overflowed
        assert!(OfficeHours::parse(&["05913:30-17:30"]).is_err());
        assert!(OfficeHours::parse(&["08:00-65535:00"]).is_err());
    }

    #[test]
    fn exceptions_from_csv_and_ical() {
        let csv = "\u{feff}date,kind,name\n2026-10-01,休,国庆节\n2026-10-10,班,国庆节调休\n\n2026-10-02,holiday\n";
        let days = Calendar::parse_csv(csv).unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days[&date(2026, 10, 10)], DayKind::Workday);
        let err = Calendar::parse_csv("date,kind\n2026-10-01,休\n2026-13-01,休\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(Calendar::parse_csv("2026-10-01,maybe\n").is_err());

        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261001\r\nDTEND;VALUE=DATE:20261008\r\nSUMMARY:国庆\r\n 节\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261010\r\nSUMMARY:国庆节补班\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let days = Calendar::parse_ical(ics).unwrap();
        assert_eq!(days.len(), 8);
        assert_eq!(days[&date(2026, 10, 7)], DayKind::Holiday);
        assert!(!days.contains_key(&date(2026, 10, 8)));
        assert_eq!(days[&date(2026, 10, 10)], DayKind::Workday);
        assert!(Calendar::parse_ical("BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n").is_err());
    }

    /// Found by fuzzing (fuzz/corpus/calendar_ical): a date with a multi-byte character in its
    /// first eight bytes panicked on a char boundary, and a DTEND left over from a broken event
    /// turned a 300-byte upload into 370,000 dated exceptions.
    #[test]
    fn ical_dates_and_spans_are_bounded() {
        for v in [
            "202é1001",
            "2é261001",
            "2026100é",
            "２０２６1001",
            "20261301",
            "2026",
        ] {
            let ics = format!("BEGIN:VEVENT\nDTSTART;VALUE=DATE:{v}\nEND:VEVENT\n");
            let err = Calendar::parse_ical(&ics).unwrap_err();
            assert!(err.to_string().contains("without a DTSTART"), "{v}: {err}");
        }
        let ics = "BEGIN:VEVENT\nDTSTART:20261001T090000Z\nSUMMARY:x\nEND:VEVENT\n";
        assert_eq!(Calendar::parse_ical(ics).unwrap().len(), 1);
        let year = "BEGIN:VEVENT\nDTSTART:20260101\nDTEND:20270102\nEND:VEVENT\n";
        assert_eq!(Calendar::parse_ical(year).unwrap().len(), 366);
        let long = "BEGIN:VEVENT\nDTSTART:10130505\nDTEND:20261008\nEND:VEVENT\n";
        let err = Calendar::parse_ical(long).unwrap_err().to_string();
        assert!(err.contains("longer than 366 days"), "{err}");
    }

    /// Found while writing the worktime fuzz harness: a limit of many days overflowed
    /// `days * minutes` (a panic in debug builds, a wrong deadline in release builds).
    #[test]
    fn huge_day_limits_give_no_deadline() {
        let c = Calendar::standard();
        assert_eq!(c.add_days(at(2026, 1, 5, 9, 0), i64::MAX / 2), None);
        assert_eq!(
            c.add_days(at(2026, 1, 5, 9, 0), i64::MIN),
            Some(at(2026, 1, 5, 9, 0))
        );
    }
}

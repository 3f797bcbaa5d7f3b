//! Time as a parameter: code asks a [`Clock`], tests pass a fixed one.

use jiff::{Timestamp, tz::TimeZone};
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch (UTC).
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Timestamp::now().as_millisecond()
    }
}

/// A clock that only moves when told to; for tests.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(ms: i64) -> Self {
        ManualClock(AtomicI64::new(ms))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The calendar date (`YYYY-MM-DD`) of an instant in the given time zone.
pub fn local_date(ms: i64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz.clone()).date().to_string(),
        Err(_) => "1970-01-01".to_string(),
    }
}

/// Checks a `YYYY-MM-DD` calendar date.
pub fn is_valid_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

/// The day before a `YYYY-MM-DD` date (`None` if it is not a date).
pub fn previous_day(date: &str) -> Option<String> {
    let d: jiff::civil::Date = date.parse().ok()?;
    d.yesterday().ok().map(|y| y.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_days() {
        assert_eq!(previous_day("2026-03-01").as_deref(), Some("2026-02-28"));
        assert_eq!(previous_day("2024-03-01").as_deref(), Some("2024-02-29"));
        assert_eq!(previous_day("2026-13-01"), None);
    }

    #[test]
    fn local_date_uses_the_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-01-01T16:30:00Z is already 2026-01-02 in Shanghai.
        assert_eq!(local_date(1_767_285_000_000, &tz), "2026-01-02");
        assert_eq!(local_date(1_767_285_000_000, &TimeZone::UTC), "2026-01-01");
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2024-2-1"));
    }
}

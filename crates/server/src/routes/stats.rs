//! Dashboard figures of a unit: cases by state × category × overdue and the 90-day trend, read
//! from the incremental aggregates (a few hundred rows whatever the number of cases).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wangge_domain::case_flow::CaseState;
use wangge_domain::roles::Permission::CaseRead;
use wangge_store::{CaseCount, CaseDay};

/// Days of the trend, ending today.
const TREND_DAYS: i64 = 90;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Unit code (default: the caller's top unit).
    unit: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatsUnit {
    code: String,
    name: String,
    level: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatsCell {
    #[schema(value_type = String)]
    state: CaseState,
    category: Option<String>,
    category_name: Option<String>,
    overdue: bool,
    n: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CaseStats {
    unit: StatsUnit,
    as_of: i64,
    total: i64,
    /// Not closed, rated, not filed, voided or a draft.
    open: i64,
    /// Open with the running stage's deadline breached.
    overdue: i64,
    /// Closed or rated.
    closed: i64,
    counts: Vec<StatsCell>,
    /// One entry per day, oldest first, days without cases included.
    trend: Vec<CaseDay>,
}

/// The case figures of a unit for the dashboard.
#[utoipa::path(get, path = "/api/v1/stats/cases", tag = "cases", params(StatsQuery),
    responses((status = 200, body = CaseStats), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn cases(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<axum::Json<CaseStats>> {
    let scope = caller.require(CaseRead)?;
    let unit = match q.unit.filter(|c| !c.is_empty()) {
        Some(code) => st.store.unit_get(&scope, &code).await?.0,
        None => st
            .store
            .unit_roots(&scope)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::new("forbidden").msg("no unit to show"))?,
    };
    let counts: Vec<CaseCount> = st.store.case_counts(unit.id).await?;
    let now = st.clock.now_ms();
    let today = st.config.today(now);
    let first = st.config.today(now - (TREND_DAYS - 1) * 86_400_000);
    let stored = st.store.case_days(unit.id, &first, &today).await?;
    let trend = trend_days(&first, TREND_DAYS, &stored);

    let catalogue = st.cases.catalogue();
    let mut s = CaseStats {
        unit: StatsUnit {
            code: unit.code,
            name: unit.name,
            level: unit.level,
        },
        as_of: now,
        total: 0,
        open: 0,
        overdue: 0,
        closed: 0,
        counts: Vec::with_capacity(counts.len()),
        trend,
    };
    for c in counts {
        s.total += c.n;
        if c.state.is_open() {
            s.open += c.n;
        }
        if c.overdue {
            s.overdue += c.n;
        }
        if matches!(c.state, CaseState::Closed | CaseState::Rated) {
            s.closed += c.n;
        }
        let category_name = c
            .category
            .as_deref()
            .and_then(|code| catalogue.get(code))
            .map(|k| k.name.clone());
        s.counts.push(StatsCell {
            state: c.state,
            category: c.category,
            category_name,
            overdue: c.overdue,
            n: c.n,
        });
    }
    Ok(axum::Json(s))
}

/// `days` consecutive days from `first`, with the stored figures and zeros elsewhere.
fn trend_days(first: &str, days: i64, stored: &[CaseDay]) -> Vec<CaseDay> {
    let Ok(mut d) = first.parse::<jiff::civil::Date>() else {
        return stored.to_vec();
    };
    let mut out = Vec::with_capacity(days as usize);
    let mut it = stored.iter().peekable();
    for _ in 0..days {
        let day = d.to_string();
        let (reported, closed) = match it.peek() {
            Some(s) if s.day == day => {
                let v = (s.reported, s.closed);
                it.next();
                v
            }
            _ => (0, 0),
        };
        out.push(CaseDay {
            day,
            reported,
            closed,
        });
        match d.tomorrow() {
            Ok(t) => d = t,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_has_every_day() {
        let stored = vec![CaseDay {
            day: "2026-03-01".into(),
            reported: 4,
            closed: 1,
        }];
        let t = trend_days("2026-02-27", 4, &stored);
        let days: Vec<&str> = t.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(
            days,
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!((t[2].reported, t[2].closed), (4, 1));
        assert_eq!(t[3].reported, 0);
    }
}

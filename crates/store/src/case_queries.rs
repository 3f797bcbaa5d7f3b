//! The SQL of [`crate::CaseStore`], shared by both backends like `queries.rs`: the macro is
//! expanded inside each backend's `shared` module, next to `append_audit` and `begin_write`.

use crate::{StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wangge_domain::roles::Scope;
use wangge_domain::territory::path;

/// The case list counts its matches up to this many (and answers one more when there are more).
pub const LIST_COUNT_LIMIT: i64 = 10_000;

pub(crate) const CASE_SELECT: &str = "SELECT c.*, u.code AS unit_code, u.name AS unit_name, \
    h.code AS handling_code, h.name AS handling_name, h.level AS handling_level \
    FROM cases c JOIN units u ON u.id = c.unit_id JOIN units h ON h.id = c.handling_unit_id";

pub(crate) const ASSIGNMENT_SELECT: &str = "SELECT a.*, d.code AS department_code, \
    d.name AS department_name FROM case_assignments a JOIN departments d ON d.id = a.department_id";

pub(crate) const DEPARTMENT_SELECT: &str = "SELECT d.id, d.code, d.name, d.kind, d.phone, d.retired, \
    u.code AS unit_code, u.name AS unit_name, u.path AS unit_path \
    FROM departments d JOIN units u ON u.id = d.unit_id";

pub(crate) const OUTBOX_SELECT: &str = "SELECT id, target, payload, created_at, attempts, \
    next_attempt_at, last_error, delivered_at, dead FROM outbox";

/// The columns a case step may change, bound in this order by `bind_changing`.
pub(crate) const CHANGING: [&str; 30] = [
    "state",
    "resume_to",
    "unit_id",
    "unit_path",
    "handling_unit_id",
    "handling_path",
    "category",
    "category_name",
    "nature",
    "urgent",
    "answers",
    "address",
    "lat",
    "lng",
    "stage",
    "clock",
    "deadline_at",
    "next_alert_at",
    "alert",
    "supervision",
    "merged_into",
    "rework_count",
    "reopen_count",
    "extension_count",
    "extension",
    "rating",
    "closed_at",
    "first_report",
    "errand",
    "detail",
];

/// Columns of `INSERT INTO cases` before [`CHANGING`].
pub(crate) const CASE_FIXED: [&str; 13] = [
    "number",
    "client_id",
    "tracking_code",
    "channel",
    "description",
    "reporter_id",
    "reporter_name",
    "reporter_phone",
    "confidential",
    "media",
    "created_at",
    "updated_at",
    "version",
];

// a whole group of creations fits in one INSERT (SQLite allows 32,766 arguments)
const _: () =
    assert!((CASE_FIXED.len() + CHANGING.len()) * crate::case_store::GROUP_COMMIT_MAX <= 32_766);

/// `INSERT INTO cases` of `rows` cases, the [`CASE_FIXED`] columns first, then [`CHANGING`].
pub(crate) fn case_insert_sql(rows: usize, positional: bool) -> String {
    let cols: Vec<&str> = CASE_FIXED.iter().chain(CHANGING.iter()).copied().collect();
    format!(
        "INSERT INTO cases ({}) VALUES {} RETURNING id, client_id",
        cols.join(", "),
        crate::queries::values_list(rows, cols.len(), positional)
    )
}

/// `UPDATE cases` of the [`CHANGING`] columns, then `updated_at`, for one id and version.
pub(crate) fn case_update_sql() -> String {
    let n = CHANGING.len();
    let sets: Vec<String> = CHANGING
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE cases SET {}, updated_at = ${}, version = version + 1 WHERE id = ${} AND version = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
}

/// A value to bind to a numbered placeholder.
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// Placeholders numbered in the order their values are pushed.
#[derive(Default)]
pub(crate) struct Args(pub(crate) Vec<Arg>);

impl Args {
    pub(crate) fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Arg::Text(v.into()));
        format!("${}", self.0.len())
    }

    pub(crate) fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }

    /// A condition keeping `column` (a materialised path) inside the scope.
    pub(crate) fn in_scope(&mut self, scope: &Scope, column: &str) -> String {
        match scope {
            Scope::All => "1=1".into(),
            Scope::Subtrees(tops) if tops.is_empty() => "1=0".into(),
            Scope::Subtrees(tops) => {
                let parts: Vec<String> = tops
                    .iter()
                    .map(|t| {
                        let lo = self.text(t.clone());
                        let hi = self.text(path::subtree_upper(t));
                        format!("({column} >= {lo} AND {column} < {hi})")
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
        }
    }
}

/// A serde enum as its stored key (`in_handling`).
pub(crate) fn key_of<T: Serialize>(v: &T) -> StoreResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Database("enum without a key".into())),
    }
}

pub(crate) fn from_key<T: DeserializeOwned>(key: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(key.to_owned()))
        .map_err(|e| StoreError::Database(format!("stored key `{key}`: {e}")))
}

/// Distance in metres between two WGS-84 points (haversine).
pub(crate) fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let r = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

/// The conflict when a case changed between reading and saving it.
pub(crate) fn case_conflict() -> StoreError {
    StoreError::rejected(
        "case_conflict",
        "the case was changed by someone else; reload it and try again",
    )
}

macro_rules! impl_case_store {
    ($store:ident, $db:ty, $positional:literal) => {
        use $crate::case_queries::{
            ASSIGNMENT_SELECT as CASE_ASSIGNMENT_SELECT, Arg, Args, CASE_SELECT, DEPARTMENT_SELECT,
            LIST_COUNT_LIMIT, OUTBOX_SELECT, case_conflict, case_insert_sql, case_update_sql, distance_m, from_key, key_of,
        };
        use $crate::case_store::{CaseStore, CreateJob, GROUP_COMMIT_MAX, NewMedia};
        use $crate::aggregates::{
            Contribution, DayCache, Delta, Recount, UnitCells, counted_by_aggregates, units_of, sum_cells, territory_units,
            unit_of_path, unit_token, unit_tokens,
        };
        use $crate::case_types::*;

        type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

        fn bind_args(mut q: Query<'_>, args: Args) -> Query<'_> {
            for a in args.0 {
                q = match a {
                    Arg::Text(s) => q.bind(s),
                    Arg::Int(v) => q.bind(v),
                };
            }
            q
        }

        /// Binds the [`CHANGING`] columns of a case, in their order.
        fn bind_changing<'q>(q: Query<'q>, c: &'q Case) -> StoreResult<Query<'q>> {
            Ok(q.bind(key_of(&c.state)?)
                .bind(c.resume_to.as_ref().map(key_of).transpose()?)
                .bind(c.unit_id)
                .bind(&c.unit_path)
                .bind(c.handling_unit_id)
                .bind(&c.handling_path)
                .bind(&c.category)
                .bind(&c.category_name)
                .bind(&c.nature)
                .bind(c.urgent)
                .bind(json_text(&c.answers)?)
                .bind(&c.address)
                .bind(c.lat)
                .bind(c.lng)
                .bind(&c.stage)
                .bind(c.clock.as_ref().map(json_text).transpose()?)
                .bind(c.deadline_at)
                .bind(c.next_alert_at)
                .bind(key_of(&c.alert)?)
                .bind(opt_json_text(&c.supervision)?)
                .bind(c.merged_into)
                .bind(c.rework_count)
                .bind(c.reopen_count)
                .bind(c.extension_count)
                .bind(opt_json_text(&c.extension)?)
                .bind(&c.rating)
                .bind(c.closed_at)
                .bind(c.first_report)
                .bind(opt_json_text(&c.errand)?)
                .bind(json_text(&c.detail)?))
        }

        fn opt_json(r: &DbRow, col: &str) -> StoreResult<Option<serde_json::Value>> {
            let t: Option<String> = r.try_get(col)?;
            t.map(|t| $crate::grid_queries::json_parse(&t)).transpose()
        }

        fn case_from_row(r: &DbRow) -> StoreResult<Case> {
            let state: String = r.try_get("state")?;
            let resume: Option<String> = r.try_get("resume_to")?;
            let clock: Option<String> = r.try_get("clock")?;
            let alert: String = r.try_get("alert")?;
            Ok(Case {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                client_id: r.try_get("client_id")?,
                tracking_code: r.try_get("tracking_code")?,
                channel: r.try_get("channel")?,
                state: from_key(&state)?,
                resume_to: resume.as_deref().map(from_key).transpose()?,
                unit_id: r.try_get("unit_id")?,
                unit_code: r.try_get("unit_code")?,
                unit_name: r.try_get("unit_name")?,
                unit_path: r.try_get("unit_path")?,
                handling_unit_id: r.try_get("handling_unit_id")?,
                handling_code: r.try_get("handling_code")?,
                handling_name: r.try_get("handling_name")?,
                handling_level: r.try_get("handling_level")?,
                handling_path: r.try_get("handling_path")?,
                category: r.try_get("category")?,
                category_name: r.try_get("category_name")?,
                nature: r.try_get("nature")?,
                urgent: r.try_get("urgent")?,
                description: r.try_get("description")?,
                address: r.try_get("address")?,
                lat: r.try_get("lat")?,
                lng: r.try_get("lng")?,
                answers: json_parse(&r.try_get::<String, _>("answers")?)?,
                reporter_id: r.try_get("reporter_id")?,
                reporter_name: r.try_get("reporter_name")?,
                reporter_phone: r.try_get("reporter_phone")?,
                confidential: r.try_get("confidential")?,
                media: json_parse(&r.try_get::<String, _>("media")?)?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                version: r.try_get("version")?,
                stage: r.try_get("stage")?,
                clock: clock.as_deref().map(json_parse).transpose()?,
                deadline_at: r.try_get("deadline_at")?,
                next_alert_at: r.try_get("next_alert_at")?,
                alert: from_key(&alert)?,
                supervision: opt_json(r, "supervision")?,
                merged_into: r.try_get("merged_into")?,
                rework_count: r.try_get("rework_count")?,
                reopen_count: r.try_get("reopen_count")?,
                extension_count: r.try_get("extension_count")?,
                extension: opt_json(r, "extension")?,
                rating: r.try_get("rating")?,
                closed_at: r.try_get("closed_at")?,
                first_report: r.try_get("first_report")?,
                errand: opt_json(r, "errand")?,
                detail: json_parse(&r.try_get::<String, _>("detail")?)?,
            })
        }

        fn event_from_row(r: &DbRow) -> StoreResult<CaseEvent> {
            Ok(CaseEvent {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor_id: r.try_get("actor_id")?,
                actor_name: r.try_get("actor_name")?,
                party: r.try_get("party")?,
                action: r.try_get("action")?,
                from_state: from_key(&r.try_get::<String, _>("from_state")?)?,
                to_state: from_key(&r.try_get::<String, _>("to_state")?)?,
                note: r.try_get("note")?,
                data: json_parse(&r.try_get::<String, _>("data")?)?,
                media: json_parse(&r.try_get::<String, _>("media")?)?,
            })
        }

        fn case_assignment_from_row(r: &DbRow) -> StoreResult<CaseAssignment> {
            Ok(CaseAssignment {
                id: r.try_get("id")?,
                case_id: r.try_get("case_id")?,
                department_id: r.try_get("department_id")?,
                department_code: r.try_get("department_code")?,
                department_name: r.try_get("department_name")?,
                lead: r.try_get("lead")?,
                status: r.try_get("status")?,
                dispatched_at: r.try_get("dispatched_at")?,
                deadline_at: r.try_get("deadline_at")?,
                finished_at: r.try_get("finished_at")?,
                note: r.try_get("note")?,
            })
        }

        fn outbox_from_row(r: &DbRow) -> StoreResult<OutboxItem> {
            Ok(OutboxItem {
                id: r.try_get("id")?,
                target: r.try_get("target")?,
                payload: json_parse(&r.try_get::<String, _>("payload")?)?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_error: r.try_get("last_error")?,
                delivered_at: r.try_get("delivered_at")?,
                dead: r.try_get("dead")?,
            })
        }

        fn catalogue_from_row(r: &DbRow, with_data: bool) -> StoreResult<CatalogueVersion> {
            Ok(CatalogueVersion {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                note: r.try_get("note")?,
                data: if with_data { r.try_get("data")? } else { String::new() },
            })
        }

        async fn department_in(tx: &mut Tx<'_>, id: i64) -> StoreResult<Department> {
            let sql = format!("{DEPARTMENT_SELECT} WHERE d.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?
                .ok_or(StoreError::NotFound("department"))?;
            let members = sqlx::query(
                "SELECT u.id, u.username, u.display_name FROM department_members m \
                 JOIN users u ON u.id = m.user_id WHERE m.department_id = $1 ORDER BY u.id",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|m| Ok(DepartmentMember {
                user_id: m.try_get("id")?,
                username: m.try_get("username")?,
                display_name: m.try_get("display_name")?,
            }))
            .collect::<StoreResult<Vec<_>>>()?;
            Ok(Department {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                unit_code: r.try_get("unit_code")?,
                unit_name: r.try_get("unit_name")?,
                unit_path: r.try_get("unit_path")?,
                phone: r.try_get("phone")?,
                retired: r.try_get("retired")?,
                members,
            })
        }

        async fn case_in(tx: &mut Tx<'_>, id: i64) -> StoreResult<Case> {
            let sql = format!("{CASE_SELECT} WHERE c.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?
                .ok_or(StoreError::NotFound("case"))?;
            case_from_row(&r)
        }

        /// Events, each with its case id (one event per case), in one statement (at most
        /// 1,000: 11,000 arguments); answers the saved events in the order given.
        async fn insert_events(tx: &mut Tx<'_>, now: i64, events: &[(i64, &NewCaseEvent)]) -> StoreResult<Vec<CaseEvent>> {
            let sql = format!(
                "INSERT INTO case_events (case_id, at, actor_id, actor_name, party, action, \
                 from_state, to_state, note, data, media) VALUES {} RETURNING id, case_id",
                $crate::queries::values_list(events.len(), 11, $positional)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (case_id, e) in events {
                q = q
                    .bind(case_id)
                    .bind(now)
                    .bind(e.actor_id)
                    .bind(&e.actor_name)
                    .bind(&e.party)
                    .bind(&e.action)
                    .bind(key_of(&e.from_state)?)
                    .bind(key_of(&e.to_state)?)
                    .bind(&e.note)
                    .bind(json_text(&e.data)?)
                    .bind(json_text(&e.media)?);
            }
            // RETURNING gives no order: match the ids by case id
            let mut ids: HashMap<i64, i64> = HashMap::new();
            for r in q.fetch_all(&mut **tx).await? {
                ids.insert(r.try_get("case_id")?, r.try_get("id")?);
            }
            events
                .iter()
                .map(|(case_id, e)| {
                    Ok(CaseEvent {
                        id: *ids.get(case_id).ok_or_else(|| StoreError::Database("an event's id was not returned".into()))?,
                        at: now,
                        actor_id: e.actor_id,
                        actor_name: e.actor_name.clone(),
                        party: e.party.clone(),
                        action: e.action.clone(),
                        from_state: e.from_state,
                        to_state: e.to_state,
                        note: e.note.clone(),
                        data: e.data.clone(),
                        media: e.media.clone(),
                    })
                })
                .collect()
        }

        /// Notifications (each with its case id) and outbox messages, up to 1,000 rows per
        /// statement.
        async fn insert_side_effects(
            tx: &mut Tx<'_>,
            now: i64,
            notes: &[(i64, NewNotification)],
            outbox: &[NewOutbox],
        ) -> StoreResult<()> {
            for chunk in notes.chunks(1_000) {
                let sql = format!(
                    "INSERT INTO notifications (user_id, case_id, kind, title, body, created_at) VALUES {}",
                    $crate::queries::values_list(chunk.len(), 6, $positional)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (case_id, n) in chunk {
                    q = q.bind(n.user_id).bind(case_id).bind(&n.kind).bind(&n.title).bind(&n.body).bind(now);
                }
                q.execute(&mut **tx).await?;
            }
            for chunk in outbox.chunks(1_000) {
                let sql = format!(
                    "INSERT INTO outbox (target, payload, created_at, attempts, next_attempt_at, dead) VALUES {}",
                    $crate::queries::values_list(chunk.len(), 6, $positional)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for o in chunk {
                    q = q.bind(&o.target).bind(json_text(&o.payload)?).bind(now).bind(0i64).bind(now).bind(false);
                }
                q.execute(&mut **tx).await?;
            }
            Ok(())
        }

        fn opt_json_text(v: &Option<serde_json::Value>) -> StoreResult<Option<String>> {
            v.as_ref().map(json_text).transpose()
        }

        /// What a case adds to the dashboards' aggregates.
        fn contribution_of(c: &Case, created_at: i64, tz: &jiff::tz::TimeZone) -> StoreResult<Contribution> {
            Ok(Contribution::of_row(
                &c.unit_path,
                &key_of(&c.state)?,
                c.category.as_deref(),
                &key_of(&c.alert)?,
                created_at,
                c.closed_at,
                tz,
            ))
        }

        async fn apply_delta(tx: &mut Tx<'_>, d: &Delta) -> StoreResult<()> {
            for (sql, args) in d.statements($positional) {
                bind_args(sqlx::query(AssertSqlSafe(sql)), args).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// The words a case is found by, and its units' tokens (jieba runs before the write
        /// transaction).
        fn case_words(c: &Case) -> String {
            words_of(&c.description, &c.address, &c.unit_path)
        }

        fn words_of(description: &str, address: &str, unit_path: &str) -> String {
            let words = wangge_text::search_words(&format!("{description}\n{address}"));
            format!("{words} {}", unit_tokens(unit_path))
        }

        async fn index_words(tx: &mut Tx<'_>, id: i64, words: &str, replace: bool) -> StoreResult<()> {
            if replace {
                sqlx::query($store::FTS_DELETE).bind(id).execute(&mut **tx).await?;
            }
            sqlx::query(AssertSqlSafe($store::fts_insert(1))).bind(id).bind(words).execute(&mut **tx).await?;
            Ok(())
        }

        /// What happens to one creation of a group.
        enum Plan {
            /// Its client id has a case already (saved before, read back).
            Existing(Box<Case>),
            /// New: the `k`th case inserted.
            New(usize),
            /// Its client id came earlier in the group: the answer of the `k`th new case.
            Again(usize),
        }

        /// Creates the cases of `jobs` in `tx` with the same few statements however many they
        /// are; a client id seen before answers the case it made. Any error fails them all (the
        /// writer then runs them one by one to find the culprit).
        async fn cases_create_in(
            tx: &mut Tx<'_>,
            now: i64,
            tz: &jiff::tz::TimeZone,
            jobs: &[&CreateJob],
        ) -> StoreResult<Vec<(Case, Option<CaseEvent>)>> {
            // client ids with a case already, in the database or earlier in the group
            let sql = format!(
                "SELECT id, client_id FROM cases WHERE client_id IN {}",
                $crate::queries::values_list(1, jobs.len(), $positional)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for j in jobs {
                q = q.bind(&j.new.case.client_id);
            }
            let mut saved: HashMap<String, i64> = HashMap::new();
            for r in q.fetch_all(&mut **tx).await? {
                saved.insert(r.try_get("client_id")?, r.try_get("id")?);
            }
            let mut first: HashMap<&str, usize> = HashMap::new();
            let mut plans = Vec::with_capacity(jobs.len());
            let mut fresh: Vec<&CreateJob> = Vec::new();
            for j in jobs {
                let client = j.new.case.client_id.as_str();
                plans.push(if let Some(&id) = saved.get(client) {
                    Plan::Existing(Box::new(case_in(tx, id).await?))
                } else if let Some(&k) = first.get(client) {
                    Plan::Again(k)
                } else {
                    first.insert(client, fresh.len());
                    fresh.push(j);
                    Plan::New(fresh.len() - 1)
                });
            }
            let mut made = if fresh.is_empty() { Vec::new() } else { insert_cases(tx, now, tz, &fresh).await? };
            Ok(plans
                .into_iter()
                .map(|p| match p {
                    Plan::Existing(c) => (*c, None),
                    Plan::New(k) => (made[k].0.clone(), made[k].1.take()),
                    Plan::Again(k) => (made[k].0.clone(), None),
                })
                .collect())
        }

        /// The last number given on the day of `prefix`: from `case_number_days`, else (a day
        /// numbered before that table, or by the generator) the day's longest, then highest,
        /// number (text order alone puts -99999 after -100000).
        async fn last_number(tx: &mut Tx<'_>, prefix: &str) -> StoreResult<i64> {
            let kept: Option<i64> = sqlx::query_scalar("SELECT last FROM case_number_days WHERE prefix = $1")
                .bind(prefix)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(n) = kept {
                return Ok(n);
            }
            let highest: Option<String> = sqlx::query_scalar(
                "SELECT number FROM cases WHERE number > $1 AND number < $2 \
                 ORDER BY LENGTH(number) DESC, number DESC LIMIT 1",
            )
            .bind(format!("{prefix}-"))
            .bind(format!("{prefix}."))
            .fetch_optional(&mut **tx)
            .await?;
            Ok(highest
                .and_then(|n| n.rsplit('-').next().and_then(|s| s.parse::<i64>().ok()))
                .unwrap_or(0))
        }

        /// Inserts new cases (distinct client ids, none saved yet) with their report events,
        /// search words, notifications, outbox messages, audit entries and aggregates. The
        /// answers are the cases as given with what the store sets (id, number and times), and
        /// their report events.
        async fn insert_cases(
            tx: &mut Tx<'_>,
            now: i64,
            tz: &jiff::tz::TimeZone,
            jobs: &[&CreateJob],
        ) -> StoreResult<Vec<(Case, Option<CaseEvent>)>> {
            // numbers run per day: <prefix>-00001; the caller gives the prefix (the local date)
            let mut next: HashMap<&str, i64> = HashMap::new();
            let mut cases = Vec::with_capacity(jobs.len());
            for j in jobs {
                let prefix = j.new.case.number.as_str();
                if !next.contains_key(prefix) {
                    let last = last_number(tx, prefix).await?;
                    next.insert(prefix, last);
                }
                let seq = next.get_mut(prefix).expect("inserted above");
                *seq += 1;
                let mut c = j.new.case.clone();
                c.number = format!("{prefix}-{seq:05}");
                c.created_at = now;
                c.updated_at = now;
                c.version = 1;
                cases.push(c);
            }
            for (prefix, last) in &next {
                sqlx::query(
                    "INSERT INTO case_number_days (prefix, last) VALUES ($1, $2) \
                     ON CONFLICT (prefix) DO UPDATE SET last = excluded.last",
                )
                .bind(*prefix)
                .bind(*last)
                .execute(&mut **tx)
                .await?;
            }

            let mut q = sqlx::query(AssertSqlSafe(case_insert_sql(cases.len(), $positional)));
            for c in &cases {
                q = q
                    .bind(&c.number)
                    .bind(&c.client_id)
                    .bind(&c.tracking_code)
                    .bind(&c.channel)
                    .bind(&c.description)
                    .bind(c.reporter_id)
                    .bind(&c.reporter_name)
                    .bind(&c.reporter_phone)
                    .bind(c.confidential)
                    .bind(json_text(&c.media)?)
                    .bind(now)
                    .bind(now)
                    .bind(1i64);
                q = bind_changing(q, c)?;
            }
            // RETURNING gives no order: match the ids by client id
            let mut ids: HashMap<String, i64> = HashMap::new();
            for r in q.fetch_all(&mut **tx).await? {
                ids.insert(r.try_get("client_id")?, r.try_get("id")?);
            }
            for c in &mut cases {
                c.id = *ids.get(&c.client_id).ok_or_else(|| StoreError::Database("a new case's id was not returned".into()))?;
            }

            let events: Vec<(i64, &NewCaseEvent)> = cases.iter().zip(jobs).map(|(c, j)| (c.id, &j.new.event)).collect();
            let reports = insert_events(tx, now, &events).await?;

            let mut q = sqlx::query(AssertSqlSafe($store::fts_insert(cases.len())));
            for (c, j) in cases.iter().zip(jobs) {
                q = q.bind(c.id).bind(&j.words);
            }
            q.execute(&mut **tx).await?;

            // the number is known only now: it heads the notification and fills the outbox's case
            let mut notes = Vec::new();
            let mut outbox = Vec::new();
            for (c, j) in cases.iter().zip(jobs) {
                for n in &j.notifications {
                    let body = if n.body.is_empty() { c.number.clone() } else { format!("{} {}", c.number, n.body) };
                    notes.push((c.id, NewNotification { body, ..n.clone() }));
                }
                for o in &j.outbox {
                    let mut o = o.clone();
                    if let Some(p) = o.payload.get_mut("case").and_then(|p| p.as_object_mut()) {
                        p.insert("id".into(), c.id.into());
                        p.insert("number".into(), c.number.clone().into());
                    }
                    outbox.push(o);
                }
            }
            insert_side_effects(tx, now, &notes, &outbox).await?;

            let audits: Vec<AuditEvent> = cases
                .iter()
                .map(|c| {
                    let mut ev = AuditEvent::new("case.create", "case", c.number.clone());
                    ev.detail = serde_json::json!({ "channel": c.channel, "unit": c.unit_path, "client_id": c.client_id });
                    ev
                })
                .collect();
            let entries: Vec<(&Actor, &AuditEvent)> = jobs.iter().map(|j| &j.actor).zip(&audits).collect();
            append_audits(tx, now, &entries).await?;

            let mut aggregates = Delta::default();
            for c in &cases {
                aggregates.add(&contribution_of(c, now, tz)?, 1);
            }
            apply_delta(tx, &aggregates).await?;
            Ok(cases.into_iter().zip(reports.into_iter().map(Some)).collect())
        }

        /// Starts the case writer: it takes the creations waiting (up to [`GROUP_COMMIT_MAX`]),
        /// writes them in one transaction and answers each only after the commit is on disk, so
        /// concurrent reports share one durable commit without weakening what an acknowledgement
        /// means.
        ///
        /// With `wal` (SQLite), a group commits without waiting for the disk and a syncer flushes
        /// the WAL file before answering, so the next group is written while the last one is
        /// flushed; one flush may cover several groups. Every other write keeps committing with
        /// its own flush (and flushes the groups before it). The SQLite writer also runs on a
        /// thread of its own (its connection's statements then follow each other without waiting
        /// behind the requests: +10 % intake at 128 clients, B1); a PostgreSQL connection stays
        /// with the runtime that made it.
        pub(super) fn spawn_case_writer(
            pool: sqlx::Pool<$db>,
            clock: std::sync::Arc<dyn wangge_domain::clock::Clock>,
            tz: jiff::tz::TimeZone,
            wal: Option<std::path::PathBuf>,
        ) -> tokio::sync::mpsc::Sender<CreateJob> {
            let (send, mut jobs) = tokio::sync::mpsc::channel::<CreateJob>(4 * GROUP_COMMIT_MAX);
            // groups committed and waiting for the flush (a few, so the writer cannot run far ahead)
            let (to_sync, synced) = tokio::sync::mpsc::channel::<Answered>(4);
            if let Some(wal) = wal.clone() {
                tokio::spawn(sync_and_answer(wal, synced));
            }
            let own_thread = wal.is_some();
            let writer = async move {
                while let Some(first) = jobs.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < GROUP_COMMIT_MAX {
                        match jobs.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let started = std::time::Instant::now();
                    let results = write_group(&pool, clock.now_ms(), &tz, &batch, wal.is_some()).await;
                    // the cost of a group against its size (B1 in BENCHMARKS.md fits one to the other)
                    tracing::debug!(
                        target: "wangge_store::case_writer",
                        cases = batch.len(),
                        write_ms = started.elapsed().as_secs_f64() * 1e3,
                        "case group committed"
                    );
                    let answered: Answered = batch.into_iter().zip(results).collect();
                    if wal.is_none() {
                        answer(answered);
                    } else if let Err(e) = to_sync.send(answered).await {
                        // the syncer is gone (shutting down): answer without the flush's word
                        answer(e.0);
                    }
                }
            };
            if own_thread {
                let spawned = std::thread::Builder::new().name("case-writer".into()).spawn(move || {
                    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt.block_on(writer),
                        Err(e) => tracing::error!("the case writer cannot start: {e}"),
                    }
                });
                if let Err(e) = spawned {
                    tracing::error!("the case writer cannot start: {e}");
                }
            } else {
                tokio::spawn(writer);
            }
            send
        }

        /// A written group: each creation with its result.
        type Answered = Vec<(CreateJob, StoreResult<(Case, Option<CaseEvent>)>)>;

        fn answer(answered: Answered) {
            for (job, r) in answered {
                // the caller may have gone away; its case is saved all the same
                let _ = job.reply.send(r);
            }
        }

        /// Flushes the WAL file after each committed group (and the groups committed meanwhile),
        /// then answers their creations; a failed flush fails them (their client ids make a retry
        /// safe).
        async fn sync_and_answer(wal: std::path::PathBuf, mut synced: tokio::sync::mpsc::Receiver<Answered>) {
            while let Some(first) = synced.recv().await {
                let mut groups = vec![first];
                while let Ok(g) = synced.try_recv() {
                    groups.push(g);
                }
                let path = wal.clone();
                let started = std::time::Instant::now();
                let flushed = tokio::task::spawn_blocking(move || std::fs::File::open(&path)?.sync_data())
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                tracing::debug!(
                    target: "wangge_store::case_writer",
                    groups = groups.len(),
                    flush_ms = started.elapsed().as_secs_f64() * 1e3,
                    "WAL flushed"
                );
                if let Err(e) = &flushed {
                    tracing::error!("flushing the WAL file {} failed: {e}", wal.display());
                }
                for g in groups {
                    match &flushed {
                        Ok(()) => answer(g),
                        Err(e) => {
                            let failed = StoreError::Unavailable(format!("flushing the write-ahead log failed: {e}"));
                            answer(g.into_iter().map(|(j, r)| (j, r.and(Err(failed.copy())))).collect());
                        }
                    }
                }
            }
        }

        /// Writes a group on the writer connection; with `relaxed`, its commit does not wait for
        /// the disk (the caller flushes before answering), and the connection is set back to
        /// full flushes for every other writer, or closed if that fails.
        async fn write_group(
            pool: &sqlx::Pool<$db>,
            now: i64,
            tz: &jiff::tz::TimeZone,
            batch: &[CreateJob],
            relaxed: bool,
        ) -> Vec<StoreResult<(Case, Option<CaseEvent>)>> {
            let fail_all = |e: StoreError| batch.iter().map(|_| Err(e.copy())).collect();
            let mut conn = match pool.acquire().await {
                Ok(c) => c,
                Err(e) => return fail_all(e.into()),
            };
            if relaxed && let Err(e) = $store::set_commit_flush(&mut conn, false).await {
                return fail_all(e);
            }
            let results = write_batch(&mut conn, now, tz, batch).await;
            if relaxed && let Err(e) = $store::set_commit_flush(&mut conn, true).await {
                tracing::error!("the writer connection is closed: it could not be set back to full flushes: {e}");
                let _ = sqlx::Connection::close(conn.detach()).await;
            }
            results
        }

        /// Writes a group of creations: all together, or, when that fails, each in a savepoint
        /// of its own so that one bad creation fails alone.
        async fn write_batch(
            conn: &mut <$db as sqlx::Database>::Connection,
            now: i64,
            tz: &jiff::tz::TimeZone,
            batch: &[CreateJob],
        ) -> Vec<StoreResult<(Case, Option<CaseEvent>)>> {
            let fail_all = |e: StoreError| batch.iter().map(|_| Err(e.copy())).collect();
            let mut tx = match $store::begin_write_in(conn).await {
                Ok(tx) => tx,
                Err(e) => return fail_all(e),
            };
            let all: Vec<&CreateJob> = batch.iter().collect();
            match cases_create_in(&mut tx, now, tz, &all).await {
                Ok(cases) => {
                    return match tx.commit().await {
                        Ok(()) => cases.into_iter().map(Ok).collect(),
                        Err(e) => fail_all(e.into()),
                    };
                }
                Err(e) if batch.len() == 1 => return vec![Err(e)],
                Err(_) => {}
            }
            if let Err(e) = tx.rollback().await {
                return fail_all(e.into());
            }
            let mut tx = match $store::begin_write_in(conn).await {
                Ok(tx) => tx,
                Err(e) => return fail_all(e),
            };
            let mut results = Vec::with_capacity(batch.len());
            for job in batch {
                if let Err(e) = sqlx::query("SAVEPOINT case_create").execute(&mut *tx).await {
                    return fail_all(e.into());
                }
                let r = cases_create_in(&mut tx, now, tz, &[job]).await.map(|mut v| v.remove(0));
                if r.is_err()
                    && let Err(e) = sqlx::query("ROLLBACK TO SAVEPOINT case_create").execute(&mut *tx).await
                {
                    return fail_all(e.into());
                }
                if let Err(e) = sqlx::query("RELEASE SAVEPOINT case_create").execute(&mut *tx).await {
                    return fail_all(e.into());
                }
                results.push(r);
            }
            match tx.commit().await {
                Ok(()) => results,
                Err(e) => fail_all(e.into()),
            }
        }

        /// Recounts the aggregates from the cases in `tx` and compares them with the stored ones
        /// (replacing those that differ with `repair`). The cases are read one unit path at a
        /// time in byte order, where a subtree's paths follow each other: a unit is settled as
        /// soon as the paths have left its subtree, so only the current unit's ancestors are
        /// held (memory does not grow with the number of cases).
        async fn check_in(tx: &mut Tx<'_>, tz: &jiff::tz::TimeZone, repair: bool) -> StoreResult<AggregateCheck> {
            let mut check = AggregateCheck::default();
            let mut paths: Vec<String> = sqlx::query_scalar("SELECT DISTINCT unit_path FROM cases").fetch_all(&mut **tx).await?;
            paths.sort();
            let mut day = DayCache::new(tz);
            let mut chain: Vec<(i64, UnitCells)> = Vec::new();
            let mut settled: std::collections::HashSet<i64> = Default::default();
            for path in &paths {
                let units = units_of(path);
                let kept = chain.iter().zip(&units).take_while(|((u, _), v)| u == *v).count();
                while chain.len() > kept {
                    if let Some((u, cells)) = chain.pop() {
                        settle(tx, u, cells, repair, &mut check).await?;
                        settled.insert(u);
                    }
                }
                chain.extend(units[kept..].iter().map(|&u| (u, UnitCells::default())));
                let rows = sqlx::query("SELECT state, category, alert, created_at, closed_at FROM cases WHERE unit_path = $1")
                    .bind(path)
                    .fetch_all(&mut **tx)
                    .await?;
                let mut own = UnitCells::default();
                for row in rows {
                    own.add(
                        row.try_get("state")?,
                        row.try_get("category")?,
                        &row.try_get::<String, _>("alert")?,
                        row.try_get("created_at")?,
                        row.try_get("closed_at")?,
                        &mut day,
                    );
                    check.cases += 1;
                }
                for (_, cells) in &mut chain {
                    cells.merge(&own);
                }
            }
            while let Some((u, cells)) = chain.pop() {
                settle(tx, u, cells, repair, &mut check).await?;
                settled.insert(u);
            }
            // units with stored figures and no case under them
            let stored: Vec<i64> = sqlx::query_scalar(
                "SELECT unit_id FROM case_counts WHERE n <> 0 \
                 UNION SELECT unit_id FROM case_daily WHERE reported <> 0 OR closed <> 0",
            )
            .fetch_all(&mut **tx)
            .await?;
            for u in stored.into_iter().filter(|u| !settled.contains(u)) {
                settle(tx, u, UnitCells::default(), repair, &mut check).await?;
            }
            Ok(check)
        }

        /// Compares a unit's recounted cells with its stored ones; with `repair`, replaces the
        /// stored ones when they differ.
        async fn settle(tx: &mut Tx<'_>, unit: i64, cells: UnitCells, repair: bool, check: &mut AggregateCheck) -> StoreResult<()> {
            let mut r = Recount::default();
            cells.add_to(&mut r.expected, unit);
            check.count_cells += r.expected.counts.len();
            check.day_cells += r.expected.days.len();
            let rows = sqlx::query("SELECT state, category, overdue, n FROM case_counts WHERE unit_id = $1 AND n <> 0")
                .bind(unit)
                .fetch_all(&mut **tx)
                .await?;
            for row in rows {
                let overdue: i64 = row.try_get("overdue")?;
                r.stored.counts.insert((unit, row.try_get("state")?, row.try_get("category")?, overdue != 0), row.try_get("n")?);
            }
            let rows = sqlx::query(
                "SELECT day, reported, closed FROM case_daily WHERE unit_id = $1 AND (reported <> 0 OR closed <> 0)",
            )
            .bind(unit)
            .fetch_all(&mut **tx)
            .await?;
            for row in rows {
                r.stored.days.insert((unit, row.try_get("day")?), (row.try_get("reported")?, row.try_get("closed")?));
            }
            let differences = r.differences();
            if differences.is_empty() {
                return Ok(());
            }
            check.difference_count += differences.len();
            let room = DIFFERENCES_LISTED.saturating_sub(check.differences.len());
            check.differences.extend(differences.into_iter().take(room));
            if repair {
                sqlx::query("DELETE FROM case_counts WHERE unit_id = $1").bind(unit).execute(&mut **tx).await?;
                sqlx::query("DELETE FROM case_daily WHERE unit_id = $1").bind(unit).execute(&mut **tx).await?;
                apply_delta(tx, &r.expected).await?;
            }
            Ok(())
        }

        /// Territories with more cases than this are listed along the primary key (SQLite).
        const SMALL_TERRITORY: i64 = 20_000;

        impl $store {
            /// Cases in these subtrees (`None`: everywhere) in one of `states` (any when empty)
            /// of `category` or below, from the aggregates.
            async fn territory_count(&self, paths: Option<&[String]>, states: &[String], category: Option<&str>) -> StoreResult<i64> {
                let mut a = Args::default();
                let units = match paths {
                    None => "SELECT id FROM units WHERE parent_id IS NULL".to_string(),
                    Some(p) => {
                        let ids: Vec<String> = p.iter().filter_map(|p| unit_of_path(p)).map(|id| a.int(id)).collect();
                        if ids.is_empty() {
                            return Ok(0);
                        }
                        ids.join(", ")
                    }
                };
                let sql = format!(
                    "SELECT state, category, CAST(SUM(n) AS BIGINT) AS n FROM case_counts WHERE unit_id IN ({units}) AND n <> 0 \
                     GROUP BY state, category"
                );
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                let cells = rows
                    .iter()
                    .map(|r| Ok((r.try_get("state")?, r.try_get("category")?, r.try_get::<i64, _>("n")?)))
                    .collect::<StoreResult<Vec<(String, String, i64)>>>()?;
                Ok(sum_cells(&cells, states, category))
            }

            /// Fills the aggregates and the search index of cases written before they existed
            /// (a database migrated from an older version).
            pub(crate) async fn backfill_aggregates(&self) -> StoreResult<()> {
                let need: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM cases) AND NOT EXISTS (SELECT 1 FROM case_counts)",
                )
                .fetch_one(&self.pool)
                .await?;
                if !need {
                    return Ok(());
                }
                tracing::info!("filling the dashboards' aggregates and the search index of existing cases");
                self.case_aggregates_check(true).await?;
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query("SELECT id, description, address, unit_path FROM cases")
                    .fetch_all(&mut *tx)
                    .await?;
                for row in rows {
                    let id: i64 = row.try_get("id")?;
                    let words = words_of(
                        &row.try_get::<String, _>("description")?,
                        &row.try_get::<String, _>("address")?,
                        &row.try_get::<String, _>("unit_path")?,
                    );
                    index_words(&mut tx, id, &words, true).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl CaseStore for $store {
            async fn catalogue_current(&self) -> StoreResult<Option<CatalogueVersion>> {
                let r = sqlx::query("SELECT * FROM catalogue_versions ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                r.map(|r| catalogue_from_row(&r, true)).transpose()
            }

            async fn catalogue_save(&self, actor: &Actor, note: &str, data: &str) -> StoreResult<CatalogueVersion> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let r = sqlx::query(
                    "INSERT INTO catalogue_versions (created_at, created_by, note, data) \
                     VALUES ($1, $2, $3, $4) RETURNING *",
                )
                .bind(now)
                .bind(&actor.name)
                .bind(note)
                .bind(data)
                .fetch_one(&mut *tx)
                .await?;
                let v = catalogue_from_row(&r, true)?;
                let mut ev = AuditEvent::new("catalogue.save", "catalogue", v.id.to_string());
                ev.detail = serde_json::json!({ "note": note });
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                Ok(v)
            }

            async fn catalogue_versions(&self, limit: i64) -> StoreResult<Vec<CatalogueVersion>> {
                let rows = sqlx::query(
                    "SELECT id, created_at, created_by, note FROM catalogue_versions ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| catalogue_from_row(r, false)).collect()
            }

            async fn calendar_days(&self) -> StoreResult<Vec<CalendarDay>> {
                let rows = sqlx::query("SELECT day, kind, note FROM calendar_days ORDER BY day")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok(CalendarDay { day: r.try_get("day")?, kind: r.try_get("kind")?, note: r.try_get("note")? }))
                    .collect()
            }

            async fn calendar_set(&self, actor: &Actor, days: &[CalendarDay]) -> StoreResult<u64> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                for d in days {
                    sqlx::query(
                        "INSERT INTO calendar_days (day, kind, note) VALUES ($1, $2, $3) \
                         ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, note = excluded.note",
                    )
                    .bind(&d.day)
                    .bind(&d.kind)
                    .bind(&d.note)
                    .execute(&mut *tx)
                    .await?;
                }
                let mut ev = AuditEvent::new("calendar.set", "calendar", "");
                ev.detail = serde_json::json!({ "days": days.len() });
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                Ok(days.len() as u64)
            }

            async fn calendar_delete(&self, actor: &Actor, day: &str) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let n = sqlx::query("DELETE FROM calendar_days WHERE day = $1")
                    .bind(day)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("calendar day"));
                }
                append_audit(&mut tx, now, actor, &AuditEvent::new("calendar.delete", "calendar", day)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn department_list(&self) -> StoreResult<Vec<Department>> {
                let mut tx = self.pool.begin().await?;
                let ids: Vec<i64> = sqlx::query("SELECT id FROM departments ORDER BY code")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("id"))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.push(department_in(&mut tx, id).await?);
                }
                Ok(out)
            }

            async fn department_get(&self, id: i64) -> StoreResult<Department> {
                let mut tx = self.pool.begin().await?;
                department_in(&mut tx, id).await
            }

            async fn department_create(&self, scope: &Scope, actor: &Actor, new: &NewDepartment) -> StoreResult<Department> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let unit = unit_in_scope(&mut tx, scope, &new.unit_code)
                    .await?
                    .ok_or(StoreError::NotFound("unit"))?;
                let r = sqlx::query(
                    "INSERT INTO departments (code, name, kind, unit_id, phone, retired, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(&new.code)
                .bind(&new.name)
                .bind(&new.kind)
                .bind(unit.id)
                .bind(&new.phone)
                .bind(false)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::rejected("duplicate_code", format!("department code {} is taken", new.code))
                    } else {
                        e.into()
                    }
                })?;
                let id: i64 = r.try_get("id")?;
                let mut ev = AuditEvent::new("department.create", "department", new.code.clone());
                ev.detail = serde_json::json!({ "name": new.name, "kind": new.kind, "unit": new.unit_code });
                append_audit(&mut tx, now, actor, &ev).await?;
                let d = department_in(&mut tx, id).await?;
                tx.commit().await?;
                Ok(d)
            }

            async fn department_member_set(
                &self,
                scope: &Scope,
                actor: &Actor,
                department_id: i64,
                user_id: i64,
                member: bool,
            ) -> StoreResult<Department> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let d = department_in(&mut tx, department_id).await?;
                if !scope.contains_path(&d.unit_path) {
                    return Err(StoreError::NotFound("department"));
                }
                let unit_id: i64 = sqlx::query("SELECT unit_id FROM departments WHERE id = $1")
                    .bind(department_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("unit_id")?;
                if member {
                    sqlx::query(
                        "INSERT INTO department_members (department_id, user_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(department_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound("user"),
                        _ => e.into(),
                    })?;
                    // department staff read the territory their department serves
                    let has: Option<DbRow> = sqlx::query(
                        "SELECT id FROM grants WHERE user_id = $1 AND role = 'department_handler' AND unit_id = $2",
                    )
                    .bind(user_id)
                    .bind(unit_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if has.is_none() {
                        sqlx::query(
                            "INSERT INTO grants (user_id, role, unit_id, created_at) VALUES ($1, 'department_handler', $2, $3)",
                        )
                        .bind(user_id)
                        .bind(unit_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                } else {
                    sqlx::query("DELETE FROM department_members WHERE department_id = $1 AND user_id = $2")
                        .bind(department_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    // the grant goes unless another department on the same unit still needs it
                    sqlx::query(
                        "DELETE FROM grants WHERE user_id = $1 AND role = 'department_handler' AND unit_id = $2 \
                         AND NOT EXISTS (SELECT 1 FROM department_members m JOIN departments o ON o.id = m.department_id \
                         WHERE m.user_id = $1 AND o.unit_id = $2)",
                    )
                    .bind(user_id)
                    .bind(unit_id)
                    .execute(&mut *tx)
                    .await?;
                }
                let mut ev = AuditEvent::new(
                    if member { "department.member_add" } else { "department.member_remove" },
                    "department",
                    d.code.clone(),
                );
                ev.detail = serde_json::json!({ "user_id": user_id });
                append_audit(&mut tx, now, actor, &ev).await?;
                let d = department_in(&mut tx, department_id).await?;
                tx.commit().await?;
                Ok(d)
            }

            async fn departments_of_user(&self, user_id: i64) -> StoreResult<Vec<i64>> {
                let rows = sqlx::query(
                    "SELECT m.department_id FROM department_members m JOIN departments d ON d.id = m.department_id \
                     WHERE m.user_id = $1 AND NOT d.retired",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(|r| r.try_get("department_id")).collect::<Result<_, _>>()?)
            }

            async fn media_put(&self, actor: &Actor, m: &NewMedia) -> StoreResult<Media> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO media (sha256, content_type, size, path, created_at, uploaded_by) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(&m.sha256)
                .bind(&m.content_type)
                .bind(m.size)
                .bind(&m.path)
                .bind(now)
                .bind(&actor.name)
                .execute(&mut *tx)
                .await?;
                let r = sqlx::query("SELECT * FROM media WHERE sha256 = $1")
                    .bind(&m.sha256)
                    .fetch_one(&mut *tx)
                    .await?;
                let media = media_from_row(&r)?;
                sqlx::query(
                    "INSERT INTO media_uploads (media_id, uploaded_by) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(media.id)
                .bind(&actor.name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(media)
            }

            async fn media_uploaded_by(&self, id: i64, uploader: &str) -> StoreResult<bool> {
                Ok(sqlx::query("SELECT 1 AS one FROM media_uploads WHERE media_id = $1 AND uploaded_by = $2")
                    .bind(id)
                    .bind(uploader)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
            }

            async fn media_get(&self, id: i64) -> StoreResult<Media> {
                let r = sqlx::query("SELECT * FROM media WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound("media"))?;
                media_from_row(&r)
            }

            async fn media_cases(&self, id: i64) -> StoreResult<Vec<i64>> {
                // media lists are JSON arrays of ids: match the id as a whole element
                let patterns = [format!("[{id}]"), format!("[{id},%"), format!("%,{id},%"), format!("%,{id}]")];
                let rows = sqlx::query(
                    "SELECT id FROM cases WHERE media = $1 OR media LIKE $2 OR media LIKE $3 OR media LIKE $4 \
                     UNION SELECT case_id FROM case_events WHERE media = $1 OR media LIKE $2 OR media LIKE $3 OR media LIKE $4",
                )
                .bind(&patterns[0])
                .bind(&patterns[1])
                .bind(&patterns[2])
                .bind(&patterns[3])
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
            }

            async fn case_create(
                &self,
                actor: &Actor,
                new: NewCase,
                notifications: &[NewNotification],
                outbox: &[NewOutbox],
            ) -> StoreResult<(Case, Option<CaseEvent>)> {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let job = CreateJob {
                    actor: actor.clone(),
                    words: case_words(&new.case),
                    new,
                    notifications: notifications.to_vec(),
                    outbox: outbox.to_vec(),
                    reply,
                };
                let stopped = || StoreError::Unavailable("the case writer has stopped".into());
                self.case_writer.send(job).await.map_err(|_| stopped())?;
                answer.await.map_err(|_| stopped())?
            }

            async fn case_get(&self, id: i64) -> StoreResult<Case> {
                let mut conn = self.pool.acquire().await?;
                let sql = format!("{CASE_SELECT} WHERE c.id = $1");
                let r = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await?
                    .ok_or(StoreError::NotFound("case"))?;
                case_from_row(&r)
            }

            async fn case_by_tracking(&self, code: &str) -> StoreResult<Case> {
                let sql = format!("{CASE_SELECT} WHERE c.tracking_code = $1");
                let r = sqlx::query(AssertSqlSafe(sql)).bind(code).fetch_optional(&self.pool).await?
                    .ok_or(StoreError::NotFound("case"))?;
                case_from_row(&r)
            }

            async fn case_events(&self, id: i64) -> StoreResult<Vec<CaseEvent>> {
                let rows = sqlx::query("SELECT * FROM case_events WHERE case_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn case_assignments(&self, id: i64) -> StoreResult<Vec<CaseAssignment>> {
                let sql = format!("{CASE_ASSIGNMENT_SELECT} WHERE a.case_id = $1 ORDER BY a.id");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_all(&self.pool).await?;
                rows.iter().map(case_assignment_from_row).collect()
            }

            async fn case_save(&self, actor: &Actor, w: CaseWrite) -> StoreResult<Case> {
                let now = self.clock.now_ms();
                let c = &w.case;
                let mut tx = self.begin_write().await?;
                // the row as it was, for the aggregates and the search words
                let old = sqlx::query(
                    "SELECT unit_path, state, category, alert, created_at, closed_at, address FROM cases WHERE id = $1",
                )
                .bind(c.id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("case"))?;
                let old_address: String = old.try_get("address")?;
                let old_path: String = old.try_get("unit_path")?;
                let old_category: Option<String> = old.try_get("category")?;
                let created_at: i64 = old.try_get("created_at")?;
                let before = Contribution::of_row(
                    &old_path,
                    &old.try_get::<String, _>("state")?,
                    old_category.as_deref(),
                    &old.try_get::<String, _>("alert")?,
                    created_at,
                    old.try_get("closed_at")?,
                    &self.tz,
                );
                let sql = case_update_sql();
                let n = bind_changing(sqlx::query(AssertSqlSafe(sql)), c)?
                    .bind(now)
                    .bind(c.id)
                    .bind(c.version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(match case_in(&mut tx, c.id).await {
                        Ok(_) => case_conflict(),
                        Err(e) => e,
                    });
                }
                insert_events(&mut tx, now, &[(c.id, &w.event)]).await?;
                let after = contribution_of(c, created_at, &self.tz)?;
                apply_delta(&mut tx, &Delta::between(Some(&before), &after)).await?;
                if old_address != c.address || old_path != c.unit_path {
                    index_words(&mut tx, c.id, &case_words(c), true).await?;
                }
                for op in &w.assignments {
                    match op {
                        AssignmentOp::Add { department_id, lead, deadline_at } => {
                            sqlx::query(
                                "INSERT INTO case_assignments (case_id, department_id, lead, status, \
                                 dispatched_at, deadline_at, note) VALUES ($1, $2, $3, 'dispatched', $4, $5, '')",
                            )
                            .bind(c.id)
                            .bind(department_id)
                            .bind(lead)
                            .bind(now)
                            .bind(deadline_at)
                            .execute(&mut *tx)
                            .await?;
                        }
                        AssignmentOp::Status { id, status, note, finished } => {
                            sqlx::query(
                                "UPDATE case_assignments SET status = $1, note = $2, \
                                 finished_at = CASE WHEN $3 THEN $4 ELSE finished_at END \
                                 WHERE id = $5 AND case_id = $6",
                            )
                            .bind(status)
                            .bind(note)
                            .bind(finished)
                            .bind(now)
                            .bind(id)
                            .bind(c.id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                let notes: Vec<(i64, NewNotification)> = w.notifications.iter().map(|n| (c.id, n.clone())).collect();
                insert_side_effects(&mut tx, now, &notes, &w.outbox).await?;
                let mut ev = AuditEvent::new(&format!("case.{}", w.event.action), "case", c.number.clone());
                ev.detail = serde_json::json!({ "from": w.event.from_state, "to": w.event.to_state });
                append_audit(&mut tx, now, actor, &ev).await?;
                let saved = case_in(&mut tx, c.id).await?;
                tx.commit().await?;
                Ok(saved)
            }

            async fn case_list(&self, f: &CaseFilter) -> StoreResult<(Vec<Case>, i64)> {
                let mut a = Args::default();
                let mut conds: Vec<String> = Vec::new();
                let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
                // the aggregates know how many cases the territory (× states × category) holds
                let territory = territory_units(f);
                let state_keys: Vec<String> = f.states.iter().map(key_of).collect::<StoreResult<_>>()?;
                let in_territory = if f.department_ids.is_empty() {
                    Some(self.territory_count(territory.as_deref(), &state_keys, f.category.as_deref()).await?)
                } else {
                    None
                };
                // SQLite reads a big territory (or a search) newest first along the primary key
                // or the search index, not through the unit index and a sort of all its cases;
                // unless a filter that the unit index carries narrows it (state, category, deadline)
                let index_filtered = !f.states.is_empty()
                    || !f.categories.is_empty()
                    || f.category.is_some()
                    || f.overdue_at.is_some()
                    || f.from.is_some()
                    || f.to.is_some();
                let big = in_territory.is_none_or(|n| n > SMALL_TERRITORY);
                let along_key = $positional && (q.is_some() || (big && !index_filtered));
                let unit_col = if along_key { "+c.unit_path" } else { "c.unit_path" };
                // when the unit index serves a territory, SQLite is kept from a narrower index of
                // a filter (with STAT4 it picked the category index for about a third of counties,
                // then read each of the category's cases: 300 ms instead of 6 at 10 million)
                let unit_indexed = $positional && !along_key && territory.is_some() && f.department_ids.is_empty();
                let col = |name: &str| if unit_indexed { format!("+c.{name}") } else { format!("c.{name}") };
                // territory: the caller's subtrees, or the departments' assignments
                let scope_cond = f.scope.as_ref().map(|s| a.in_scope(s, unit_col));
                let dept_cond = if f.department_ids.is_empty() {
                    None
                } else {
                    let ids: Vec<String> = f.department_ids.iter().map(|d| a.int(*d)).collect();
                    Some(format!(
                        "EXISTS (SELECT 1 FROM case_assignments x WHERE x.case_id = c.id AND x.department_id IN ({}))",
                        ids.join(", ")
                    ))
                };
                match (scope_cond, dept_cond) {
                    (Some(s), Some(d)) => conds.push(format!("({s} OR {d})")),
                    (Some(s), None) => conds.push(s),
                    (None, Some(d)) => conds.push(d),
                    (None, None) => {}
                }
                if !f.ids.is_empty() {
                    let ids: Vec<String> = f.ids.iter().map(|i| a.int(*i)).collect();
                    conds.push(format!("c.id IN ({})", ids.join(", ")));
                }
                if !f.categories.is_empty() {
                    let cs: Vec<String> = f.categories.iter().map(|c| a.text(c.clone())).collect();
                    conds.push(format!("{} IN ({})", col("category"), cs.join(", ")));
                }
                if !f.states.is_empty() {
                    let states: Vec<String> = f
                        .states
                        .iter()
                        .map(|s| key_of(s).map(|k| a.text(k)))
                        .collect::<StoreResult<_>>()?;
                    conds.push(format!("{} IN ({})", col("state"), states.join(", ")));
                }
                if let Some(cat) = &f.category {
                    let lo = a.text(cat.clone());
                    let hi = a.text(format!("{cat}\u{10FFFF}"));
                    let c = col("category");
                    conds.push(format!("{c} >= {lo} AND {c} < {hi}"));
                }
                if let Some(p) = &f.under_path {
                    let lo = a.text(p.clone());
                    let hi = a.text(path::subtree_upper(p));
                    conds.push(format!("{unit_col} >= {lo} AND {unit_col} < {hi}"));
                }
                if !f.handling_under.is_empty() {
                    let under = a.in_scope(&Scope::Subtrees(f.handling_under.clone()), "c.handling_path");
                    conds.push(under);
                }
                if !f.handling_levels.is_empty() {
                    let ls: Vec<String> = f.handling_levels.iter().map(|l| a.text(l.clone())).collect();
                    conds.push(format!(
                        "c.handling_unit_id IN (SELECT hl.id FROM units hl WHERE hl.id = c.handling_unit_id AND hl.level IN ({}))",
                        ls.join(", ")
                    ));
                }
                if !f.handling_paths.is_empty() {
                    let ps: Vec<String> = f.handling_paths.iter().map(|p| a.text(p.clone())).collect();
                    conds.push(format!("c.handling_path IN ({})", ps.join(", ")));
                }
                if let Some(d) = f.department_id {
                    conds.push(format!(
                        "EXISTS (SELECT 1 FROM case_assignments y WHERE y.case_id = c.id AND y.department_id = {} \
                         AND y.status IN ('dispatched', 'accepted'))",
                        a.int(d)
                    ));
                }
                if let Some(ch) = &f.channel {
                    conds.push(format!("c.channel = {}", a.text(ch.clone())));
                }
                if let Some(t) = f.overdue_at {
                    conds.push(format!("{} < {}", col("deadline_at"), a.int(t)));
                }
                if let Some(s) = f.supervised {
                    conds.push(if s { "c.supervision IS NOT NULL".into() } else { "c.supervision IS NULL".into() });
                }
                if let Some(u) = f.urgent {
                    conds.push(if u { "c.urgent".into() } else { "NOT c.urgent".into() });
                }
                if let Some(r) = f.reporter_id {
                    conds.push(format!("c.reporter_id = {}", a.int(r)));
                }
                if let Some(m) = f.merged_into {
                    conds.push(format!("c.merged_into = {}", a.int(m)));
                }
                if let Some(t) = f.from {
                    conds.push(format!("{} >= {}", col("created_at"), a.int(t)));
                }
                if let Some(t) = f.to {
                    conds.push(format!("{} < {}", col("created_at"), a.int(t)));
                }
                // the search index alone counts a search within a territory
                let mut search_count: Option<String> = None;
                if let Some(q) = q {
                    // a case number, or words of the description and address (full-text index)
                    if q.len() > 9 && q.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                        conds.push(format!("c.number = {}", a.text(q.to_owned())));
                    } else {
                        let words = wangge_text::query_words(q);
                        let units: Option<Vec<String>> = territory
                            .as_ref()
                            .map(|t| t.iter().filter_map(|p| unit_of_path(p)).map(unit_token).collect());
                        if words.is_empty() || units.as_ref().is_some_and(|u| u.is_empty()) {
                            conds.push("1=0".into());
                        } else {
                            let m = a.text($store::fts_query(&words, units.as_deref().unwrap_or_default()));
                            let ids = $store::fts_ids(&m);
                            if f.department_ids.is_empty() && counted_by_aggregates(&CaseFilter { q: None, ..f.clone() })
                                && f.states.is_empty() && f.category.is_none()
                            {
                                search_count = Some(ids.clone());
                            }
                            conds.push(format!("c.id IN ({ids})"));
                        }
                    }
                }
                let where_sql = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                // exact from the aggregates when they answer the filter, else counted up to one
                // past the limit (a count of millions would cost seconds)
                let total: i64 = match in_territory.filter(|_| counted_by_aggregates(f)) {
                    Some(n) => n.min(LIST_COUNT_LIMIT + 1),
                    None => {
                        let from = match &search_count {
                            Some(ids) => format!("{ids} LIMIT {}", LIST_COUNT_LIMIT + 1),
                            None => format!("SELECT 1 FROM cases c{where_sql} LIMIT {}", LIST_COUNT_LIMIT + 1),
                        };
                        let count_sql = format!("SELECT COUNT(*) AS n FROM ({from}) t");
                        let mut count_args = Args::default();
                        count_args.0 = a.0.iter().map(|x| match x { Arg::Text(s) => Arg::Text(s.clone()), Arg::Int(v) => Arg::Int(*v) }).collect();
                        bind_args(sqlx::query(AssertSqlSafe(count_sql)), count_args)
                            .fetch_one(&self.pool)
                            .await?
                            .try_get("n")?
                    }
                };
                let lim = a.int(f.limit);
                let off = a.int(f.offset);
                // the page's ids first (from the index alone where it holds the filters), then
                // only their rows
                let sql = format!(
                    "{CASE_SELECT} WHERE c.id IN (SELECT c.id FROM cases c{where_sql} ORDER BY c.id DESC LIMIT {lim} OFFSET {off}) \
                     ORDER BY c.id DESC"
                );
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                let cases = rows.iter().map(case_from_row).collect::<StoreResult<Vec<_>>>()?;
                Ok((cases, total))
            }

            async fn cases_nearby(&self, q: &NearbyQuery) -> StoreResult<Vec<Case>> {
                let dlat = q.radius_m / 111_320.0;
                let dlng = q.radius_m / (111_320.0 * q.lat.to_radians().cos().max(0.01));
                let mut sql = format!(
                    "{CASE_SELECT} WHERE c.lat BETWEEN $1 AND $2 AND c.lng BETWEEN $3 AND $4 AND c.created_at >= $5 \
                     AND c.merged_into IS NULL"
                );
                let mut a = Args::default();
                // the first five placeholders are floats and bound below; texts and ints follow
                for _ in 0..5 { a.0.push(Arg::Int(0)); }
                if let Some(cat) = &q.category {
                    sql.push_str(&format!(" AND c.category = {}", a.text(cat.clone())));
                }
                if let Some(ch) = &q.channel {
                    sql.push_str(&format!(" AND c.channel = {}", a.text(ch.clone())));
                }
                if let Some(id) = q.exclude_id {
                    sql.push_str(&format!(" AND c.id <> {}", a.int(id)));
                }
                if q.open_only {
                    sql.push_str(" AND c.state NOT IN ('closed', 'rated', 'not_filed', 'voided', 'draft')");
                }
                let mut query = sqlx::query(AssertSqlSafe(sql))
                    .bind(q.lat - dlat)
                    .bind(q.lat + dlat)
                    .bind(q.lng - dlng)
                    .bind(q.lng + dlng)
                    .bind(q.since);
                for arg in a.0.into_iter().skip(5) {
                    query = match arg {
                        Arg::Text(s) => query.bind(s),
                        Arg::Int(v) => query.bind(v),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                let mut found: Vec<(f64, Case)> = rows
                    .iter()
                    .map(case_from_row)
                    .collect::<StoreResult<Vec<_>>>()?
                    .into_iter()
                    .filter_map(|c| {
                        let d = distance_m(q.lat, q.lng, c.lat?, c.lng?);
                        (d <= q.radius_m).then_some((d, c))
                    })
                    .collect();
                found.sort_by(|a, b| a.0.total_cmp(&b.0));
                Ok(found.into_iter().take(q.limit.max(0) as usize).map(|(_, c)| c).collect())
            }

            async fn cases_alert_due(&self, now: i64, limit: i64) -> StoreResult<Vec<Case>> {
                let sql = format!("{CASE_SELECT} WHERE c.next_alert_at <= $1 ORDER BY c.next_alert_at LIMIT $2");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(case_from_row).collect()
            }

            async fn cases_unreported(&self, scope: &Scope, since: i64, window_ms: i64, limit: i64) -> StoreResult<Vec<Case>> {
                let mut a = Args::default();
                let scope_cond = a.in_scope(scope, "c.unit_path");
                let since_p = a.int(since);
                let window_p = a.int(window_ms);
                let lim = a.int(limit);
                let sql = format!(
                    "{CASE_SELECT} WHERE {scope_cond} AND c.channel IN ('resident', 'hotline') \
                     AND c.created_at >= {since_p} AND c.category IS NOT NULL AND c.merged_into IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM cases g WHERE g.unit_id = c.unit_id AND g.category = c.category \
                       AND g.channel = 'grid' AND g.created_at <= c.created_at AND g.created_at >= c.created_at - {window_p}) \
                     ORDER BY c.created_at DESC LIMIT {lim}"
                );
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                rows.iter().map(case_from_row).collect()
            }

            async fn case_training_examples(&self, limit: i64) -> StoreResult<Vec<(String, String)>> {
                let rows = sqlx::query(
                    "SELECT category, description FROM cases WHERE state IN ('closed', 'rated') \
                     AND category IS NOT NULL ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("category")?, r.try_get("description")?)))
                    .collect()
            }

            async fn case_count(&self) -> StoreResult<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM cases").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn case_counts(&self, unit_id: i64) -> StoreResult<Vec<CaseCount>> {
                let rows = sqlx::query(
                    "SELECT state, category, overdue, n FROM case_counts WHERE unit_id = $1 AND n <> 0 \
                     ORDER BY state, category, overdue",
                )
                .bind(unit_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let category: String = r.try_get("category")?;
                        let overdue: i64 = r.try_get("overdue")?;
                        Ok(CaseCount {
                            state: from_key(&r.try_get::<String, _>("state")?)?,
                            category: (!category.is_empty()).then_some(category),
                            overdue: overdue != 0,
                            n: r.try_get("n")?,
                        })
                    })
                    .collect()
            }

            async fn case_days(&self, unit_id: i64, from: &str, to: &str) -> StoreResult<Vec<CaseDay>> {
                let rows = sqlx::query(
                    "SELECT day, reported, closed FROM case_daily WHERE unit_id = $1 AND day >= $2 AND day <= $3 \
                     AND (reported <> 0 OR closed <> 0) ORDER BY day",
                )
                .bind(unit_id)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(CaseDay {
                            day: r.try_get("day")?,
                            reported: r.try_get("reported")?,
                            closed: r.try_get("closed")?,
                        })
                    })
                    .collect()
            }

            async fn case_aggregates_check(&self, repair: bool) -> StoreResult<AggregateCheck> {
                let mut tx = if repair { self.begin_write().await? } else { self.begin_snapshot().await? };
                let mut check = check_in(&mut tx, &self.tz, repair).await?;
                if repair && check.difference_count > 0 {
                    let mut ev = AuditEvent::new("case.aggregates_repair", "case_counts", "");
                    ev.detail = serde_json::json!({ "cases": check.cases, "differences": check.difference_count });
                    append_audit(&mut tx, self.clock.now_ms(), &Actor::system("aggregates"), &ev).await?;
                    check.repaired = true;
                }
                tx.commit().await?;
                Ok(check)
            }

            async fn users_with_roles_at(&self, unit_ids: &[i64], roles: &[&str]) -> StoreResult<Vec<i64>> {
                if unit_ids.is_empty() || roles.is_empty() {
                    return Ok(vec![]);
                }
                let mut a = Args::default();
                let us: Vec<String> = unit_ids.iter().map(|u| a.int(*u)).collect();
                let rs: Vec<String> = roles.iter().map(|r| a.text(*r)).collect();
                let sql = format!(
                    "SELECT DISTINCT g.user_id FROM grants g JOIN users us ON us.id = g.user_id \
                     WHERE g.unit_id IN ({}) AND g.role IN ({}) AND NOT us.disabled ORDER BY g.user_id",
                    us.join(", "),
                    rs.join(", ")
                );
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get("user_id")).collect::<Result<_, _>>()?)
            }

            async fn department_user_ids(&self, department_id: i64) -> StoreResult<Vec<i64>> {
                let rows = sqlx::query("SELECT user_id FROM department_members WHERE department_id = $1 ORDER BY user_id")
                    .bind(department_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(|r| r.try_get("user_id")).collect::<Result<_, _>>()?)
            }

            async fn notifications(&self, user_id: i64, unread_only: bool, limit: i64) -> StoreResult<Vec<Notification>> {
                let sql = if unread_only {
                    "SELECT * FROM notifications WHERE user_id = $1 AND read_at IS NULL ORDER BY id DESC LIMIT $2"
                } else {
                    "SELECT * FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
                };
                let rows = sqlx::query(sql).bind(user_id).bind(limit).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok(Notification {
                        id: r.try_get("id")?,
                        case_id: r.try_get("case_id")?,
                        kind: r.try_get("kind")?,
                        title: r.try_get("title")?,
                        body: r.try_get("body")?,
                        created_at: r.try_get("created_at")?,
                        read_at: r.try_get("read_at")?,
                    }))
                    .collect()
            }

            async fn notifications_unread(&self, user_id: i64) -> StoreResult<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?)
            }

            async fn notifications_read(&self, user_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
                let now = self.clock.now_ms();
                let mut a = Args::default();
                let t = a.int(now);
                let u = a.int(user_id);
                let mut sql = format!("UPDATE notifications SET read_at = {t} WHERE user_id = {u} AND read_at IS NULL");
                if let Some(ids) = ids {
                    if ids.is_empty() {
                        return Ok(0);
                    }
                    let ps: Vec<String> = ids.iter().map(|i| a.int(*i)).collect();
                    sql.push_str(&format!(" AND id IN ({})", ps.join(", ")));
                }
                Ok(bind_args(sqlx::query(AssertSqlSafe(sql)), a).execute(&self.pool).await?.rows_affected())
            }

            async fn outbox_due(&self, now: i64, limit: i64) -> StoreResult<Vec<OutboxItem>> {
                let sql = format!(
                    "{OUTBOX_SELECT} WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
                );
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(outbox_from_row).collect()
            }

            async fn outbox_attempt(&self, id: i64, error: Option<&str>, next_attempt_at: Option<i64>) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let q = match error {
                    None => sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, delivered_at = $1, last_error = NULL WHERE id = $2",
                    )
                    .bind(now)
                    .bind(id),
                    Some(e) => sqlx::query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
                         next_attempt_at = COALESCE($2, next_attempt_at), dead = $3 WHERE id = $4",
                    )
                    .bind(e)
                    .bind(next_attempt_at)
                    .bind(next_attempt_at.is_none())
                    .bind(id),
                };
                q.execute(&self.pool).await?;
                Ok(())
            }

            async fn outbox_list(&self, dead_only: bool, target: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxItem>> {
                let mut a = Args::default();
                let mut conds = Vec::new();
                if dead_only {
                    conds.push("dead".to_string());
                }
                if let Some(t) = target {
                    conds.push(format!("target = {}", a.text(t.to_string())));
                }
                let where_sql = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                let sql = format!("{OUTBOX_SELECT}{where_sql} ORDER BY id DESC LIMIT {}", a.int(limit));
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                rows.iter().map(outbox_from_row).collect()
            }

            async fn outbox_retry(&self, actor: &Actor, id: i64) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let n = sqlx::query("UPDATE outbox SET dead = $1, next_attempt_at = $2 WHERE id = $3 AND dead")
                    .bind(false)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("dead message"));
                }
                append_audit(&mut tx, now, actor, &AuditEvent::new("outbox.retry", "outbox", id.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        fn media_from_row(r: &DbRow) -> StoreResult<Media> {
            Ok(Media {
                id: r.try_get("id")?,
                sha256: r.try_get("sha256")?,
                content_type: r.try_get("content_type")?,
                size: r.try_get("size")?,
                path: r.try_get("path")?,
                created_at: r.try_get("created_at")?,
            })
        }
    };
}

pub(crate) use impl_case_store;

//! `wangge-bench gen-cases`: a province-sized territory and millions of realistic cases written
//! straight into a SQLite database, for the dashboard (B3) and list/search (B4) benchmarks.
//!
//! Cases are spread over `--days` days before now, one id order = creation order as the server
//! makes them; descriptions are the hand-written examples of `crates/text` (with their category)
//! and an address in the case's village; the state follows the case's age (old ones closed and
//! rated, recent ones at every step, some overdue). Each case has its report event and its last
//! step. The search words are the server's own (`search_words`), cached per description and
//! per address part.
//!
//! How it is written fast (a bulk load, not the server's path; see BENCHMARKS.md, B3):
//! - the database is the store's (territory through its import, its migrations); the cases are
//!   then written by one connection without journal, locks or foreign-key checks, and the file
//!   is handed back in WAL mode;
//! - rows reach SQLite as one JSON text per statement (`jsonb_each`), made on a maker thread;
//!   the inserts are `OR IGNORE` with their row counts checked (so no statement journal);
//! - the two secondary indexes with scattered keys (`cases_unit`, `cases_handling`) are dropped
//!   before the load and made again from their own `CREATE INDEX` text; the others, whose keys
//!   grow with the id within a few groups, are kept (cheaper than sorting them afterwards);
//! - a second connection writes the search index (FTS5) into a side file, in few large
//!   statements (each multi-row statement ends an FTS5 segment), then the aggregates; the side
//!   file's tables are copied into the database's empty ones at the end;
//! - the aggregates (`case_counts`, `case_daily`) are computed by the store's grouping code
//!   ([`wangge_store::Grouped`], the rules of the cells that `wangge check` recounts) one town
//!   at a time, on a fourth thread, from what the maker kept of each case.

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, SqliteConnection};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wangge_domain::audit::Actor;
use wangge_domain::catalogue::Catalogue;
use wangge_domain::clock::SystemClock;
use wangge_domain::import::ImportRow;
use wangge_domain::roles::Scope;
use wangge_domain::territory::Levels;
use wangge_store::{CountKey, DayKey, Grouped};

#[derive(clap::Args)]
pub struct GenCasesOptions {
    /// Data directory: the database is DIR/wangge.db (must not exist yet).
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 10_000_000)]
    pub cases: usize,
    /// Counties of the province (each with 12 towns × 16 villages × 3 grids).
    #[arg(long, default_value_t = 100)]
    pub counties: usize,
    /// The cases are spread over this many days before now.
    #[arg(long, default_value_t = 730)]
    pub days: i64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// SQLite page cache of the loading connection, MB.
    #[arg(long, default_value_t = 2_000)]
    pub cache_mb: i64,
    /// Cases per transaction.
    #[arg(long, default_value_t = 100_000)]
    pub tx_cases: usize,
    /// Pending search-index data kept in memory before FTS5 writes a segment, MB (FTS5's
    /// default is 1; set in the side file only, not copied).
    #[arg(long, default_value_t = 256)]
    pub fts_hash_mb: i64,
    /// Secondary indexes of `cases` and `case_events` kept during the load (the others are
    /// dropped and made again afterwards); `all` keeps every one. By default all but the two
    /// whose keys are scattered (unit and handling path): the others' keys grow with the case
    /// id within a few groups, so their inserts touch few pages and cost less than a sort.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cases_alert,cases_merged,cases_created,cases_deadline,cases_state_id,cases_state,cases_category,case_events_case,case_events_at"
    )]
    pub keep_index: Vec<String>,
}

const TOWNS: usize = 12;
const VILLAGES: usize = 16;
const GRIDS: usize = 3;
const DAY_MS: i64 = 86_400_000;
/// Cases per INSERT.
const ROWS: usize = 2_000;
/// Search index rows per INSERT (each of them ends an FTS5 segment).
const FTS_DOCS: usize = 250_000;
/// Building numbers of the addresses.
const BUILDINGS: usize = 40;

struct Grid {
    id: i64,
    path: String,
    town_id: i64,
    town_path: String,
    /// Index of its town in `Town` order.
    town: usize,
    /// Search words of the village name (the first part of the address) and the index tokens
    /// of the grid and the units above it.
    village_words: String,
    village_name: String,
}

struct Example {
    description: String,
    words: String,
    category: Option<(String, String)>,
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (0 elsewhere).
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // fields after the command name in parentheses: state is field 3, utime 14, stime 15
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Time spent per kind of statement.
#[derive(Default)]
struct Timers {
    cases: Duration,
    events: Duration,
    commit: Duration,
    waiting: Duration,
}

pub async fn run(o: &GenCasesOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&o.data_dir)?;
    let db = o.data_dir.join("wangge.db");
    anyhow::ensure!(!db.exists(), "{} exists already", db.display());
    let url = format!("sqlite://{}", db.display());
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let store = wangge_store::open_in(&url, Arc::new(SystemClock), tz.clone()).await?;

    // territory through the store's own import (codes checked as for any import)
    let rows = territory_rows(o.counties);
    let n_units = rows.len();
    let actor = Actor::system("gen-cases");
    store
        .unit_import(
            &Scope::All,
            &actor,
            &Levels::default_levels(),
            rows,
            &|_| {},
        )
        .await?;
    store.close().await;
    eprintln!(
        "territory: {n_units} units in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // one connection, alone on the file: no journal (a failed run is thrown away), no locking
    // round trips, no foreign-key lookups (the rows are consistent by construction)
    let mut conn = SqliteConnection::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA foreign_keys = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = OFF; \
         PRAGMA synchronous = OFF; PRAGMA cache_size = -{};",
        o.cache_mb * 1024
    )))
    .execute(&mut conn)
    .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ('cases', 'case_events') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    let indexes: Vec<(String, String)> = indexes
        .into_iter()
        .filter(|(name, _)| !o.keep_index.iter().any(|k| k == name || k == "all"))
        .collect();
    for (name, _) in &indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut conn)
            .await?;
    }
    let (grids, towns) = load_grids(&mut conn).await?;
    let grids = Arc::new(grids);
    let examples = Arc::new(examples()?);
    let buildings: Vec<String> = (0..BUILDINGS)
        .map(|b| wangge_text::search_words(&format!("{b}号楼")))
        .collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let first = now - o.days * DAY_MS;
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM cases")
        .fetch_one(&mut conn)
        .await?;

    // a second connection (a second SQLite thread) writes the search index, then the
    // aggregates, into a file of its own, copied over at the end; its tables are made by the
    // same statements as the store's
    let side_db = o.data_dir.join("wangge-gen-side.db");
    let _ = std::fs::remove_file(&side_db);
    let side_tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE name IN ('case_fts', 'case_counts', 'case_daily') \
         ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    anyhow::ensure!(
        side_tables.len() == 3,
        "the store's case tables are missing"
    );
    // room for two of its statements, so that the maker need not wait while it runs one
    let (send_words, recv_words) =
        std::sync::mpsc::sync_channel::<(String, usize)>(2 * FTS_DOCS / ROWS);
    let (send_cells, recv_cells) = std::sync::mpsc::channel::<Cells>();
    let (fts_done, fts_time) = std::sync::mpsc::channel::<f64>();
    let side_url = format!("sqlite://{}", side_db.display());
    let fts_hash = o.fts_hash_mb * 1024 * 1024;
    let side = std::thread::spawn(move || -> anyhow::Result<CellsReport> {
        let side_sql: Vec<String> = side_tables.into_iter().map(|(_, sql)| sql).collect();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(side_writer(
                &side_url, &side_sql, fts_hash, recv_words, fts_done, recv_cells,
            ))
    });

    // rows are made on a third thread while this one writes; the maker keeps what the
    // aggregates need of each case, by town
    let (send, recv) = std::sync::mpsc::sync_channel::<Batch>(8);
    let n = o.cases;
    let seed = o.seed;
    let tz2 = tz.clone();
    let (grids2, examples2, n_towns) = (grids.clone(), examples.clone(), towns.len());
    let maker = std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut numbers: HashMap<String, u32> = HashMap::new();
        let mut by_town: Vec<Vec<AggRow>> = (0..n_towns)
            .map(|_| Vec::with_capacity(n / n_towns.max(1) * 11 / 10))
            .collect();
        let mut batch = Vec::with_capacity(ROWS);
        for i in 0..n {
            let at = first + ((now - first) as i128 * i as i128 / n.max(1) as i128) as i64;
            let c = make_case(
                &mut rng,
                i,
                at,
                now,
                &grids2,
                &examples2,
                &buildings,
                &mut numbers,
                &tz2,
            );
            by_town[grids2[c.grid].town].push(AggRow::of(&c));
            batch.push(c);
            if batch.len() == ROWS || i + 1 == n {
                let (b, words) = Batch::of(&batch, first_id + (i + 1 - batch.len()) as i64);
                batch.clear();
                if send.send(b).is_err() || send_words.send(words).is_err() {
                    return by_town;
                }
            }
        }
        by_town
    });

    let mut written = 0usize;
    let mut t = Timers::default();
    let mut tx = conn.begin().await?;
    loop {
        let w = Instant::now();
        let Ok(batch) = recv.recv() else { break };
        t.waiting += w.elapsed();
        write_batch(&mut tx, &batch, &mut t).await?;
        written += batch.n;
        if written.is_multiple_of(o.tx_cases.max(1)) {
            let c = Instant::now();
            tx.commit().await?;
            tx = conn.begin().await?;
            t.commit += c.elapsed();
        }
        if written.is_multiple_of(1_000_000) {
            eprintln!(
                "{written} cases in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    tx.commit().await?;
    let by_town = maker
        .join()
        .map_err(|_| anyhow::anyhow!("the case maker panicked"))?;
    // (an error of the side writer ends this wait too; it is reported by its join below)
    let fts_s = fts_time.recv().unwrap_or(f64::NAN);
    let cases_s = started.elapsed().as_secs_f64();
    let cases_cpu = cpu_s();
    eprintln!(
        "{written} cases written in {cases_s:.0} s, {cases_cpu:.0} s CPU (cases {:.0} s, events {:.0} s, commits {:.0} s, waiting for the maker {:.0} s; search index beside them {fts_s:.0} s)",
        t.cases.as_secs_f64(),
        t.events.as_secs_f64(),
        t.commit.as_secs_f64(),
        t.waiting.as_secs_f64()
    );

    // the aggregates, town by town on a fourth thread and written by the side connection,
    // while this one makes the dropped indexes again and runs ANALYZE (before the aggregates
    // are in, as the generator always did: they get no statistics)
    let tz2 = tz.clone();
    let (grids2, examples2) = (grids.clone(), examples.clone());
    let grouper =
        std::thread::spawn(move || group(by_town, &towns, &grids2, &examples2, &tz2, send_cells));
    let mut steps = indexes.clone();
    steps.push(("ANALYZE".into(), "ANALYZE".into()));
    for (name, sql) in &steps {
        let s = Instant::now();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .with_context(|| name.clone())?;
        eprintln!("{name}: {:.1} s", s.elapsed().as_secs_f64());
    }
    let indexes_s = started.elapsed().as_secs_f64();
    let group_s = grouper
        .join()
        .map_err(|_| anyhow::anyhow!("the aggregation panicked"))?;
    let cells = side
        .join()
        .map_err(|_| anyhow::anyhow!("the side writer panicked"))??;
    let grouped_s = started.elapsed().as_secs_f64();

    // the side file's tables copied over (into empty tables of the same definition: SQLite
    // copies the B-trees' records as they are), without the side file's `hashsize`
    let s = Instant::now();
    sqlx::query("ATTACH DATABASE ? AS gen_side")
        .bind(side_db.display().to_string())
        .execute(&mut conn)
        .await?;
    let mut copied: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name LIKE 'case\\_fts\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut conn)
    .await?;
    let analyze: String = copied
        .iter()
        .map(|t| format!("ANALYZE main.\"{t}\"; "))
        .collect();
    copied.extend(["case_counts".to_string(), "case_daily".to_string()]);
    let mut copy: String = copied
        .iter()
        .map(|t| format!("DELETE FROM main.\"{t}\"; INSERT INTO main.\"{t}\" SELECT * FROM gen_side.\"{t}\"; "))
        .collect();
    copy.push_str("DELETE FROM main.case_fts_config WHERE k = 'hashsize';");
    sqlx::raw_sql(sqlx::AssertSqlSafe(copy))
        .execute(&mut conn)
        .await
        .context("copying the side file's tables")?;
    sqlx::query("DETACH DATABASE gen_side")
        .execute(&mut conn)
        .await?;
    std::fs::remove_file(&side_db)?;
    // … with the statistics of the search index's tables, as before
    sqlx::raw_sql(sqlx::AssertSqlSafe(analyze))
        .execute(&mut conn)
        .await?;
    // back to what the store expects of its file
    sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA locking_mode = NORMAL;")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    eprintln!(
        "aggregates: {} count cells, {} day cells, grouped in {group_s:.0} s and written in {:.0} s beside the indexes; copy {:.1} s",
        cells.counts,
        cells.days,
        cells.seconds,
        s.elapsed().as_secs_f64()
    );

    // the store opens it as any database (no backfill: the aggregates are there)
    let store = wangge_store::open_in(&url, Arc::new(SystemClock), tz).await?;
    let stored = store.case_count().await?;
    store.close().await;
    anyhow::ensure!(
        stored == written as i64,
        "the store sees {stored} cases, {written} were written"
    );
    println!(
        "gen-cases: {n_units} units, {written} cases ({} count cells, {} day cells) in {:.0} s ({cases_s:.0} s cases, {:.0} s indexes and ANALYZE, {:.0} s more for the aggregates, {:.0} s copy; {:.0} s CPU)",
        cells.counts,
        cells.days,
        started.elapsed().as_secs_f64(),
        indexes_s - cases_s,
        grouped_s - indexes_s,
        started.elapsed().as_secs_f64() - grouped_s,
        cpu_s(),
    );
    Ok(())
}

/// What the side connection wrote of the aggregates.
struct CellsReport {
    counts: usize,
    days: usize,
    /// Busy time.
    seconds: f64,
}

/// What the aggregates need of a case, kept small until every case is made (then grouped
/// one town at a time).
struct AggRow {
    grid: u32,
    example: u16,
    state: u8,
    categorized: bool,
    breached: bool,
    created_at: i64,
    /// Milliseconds from creation to closing (`u32::MAX`: open).
    closed_after: u32,
}

/// Every state the generator gives a case.
const STATES: [&str; 15] = [
    "reported",
    "accepted",
    "filed",
    "dispatched",
    "in_handling",
    "handled",
    "in_check",
    "rework",
    "closed",
    "rated",
    "parked",
    "deferred",
    "not_filed",
    "voided",
    "draft",
];

impl AggRow {
    fn of(c: &GenCase) -> Self {
        AggRow {
            grid: c.grid as u32,
            example: c.example as u16,
            state: STATES.iter().position(|s| *s == c.state).unwrap_or(0) as u8,
            categorized: c.category.is_some(),
            breached: c.alert == "breached",
            created_at: c.created_at,
            closed_after: c.closed_at.map_or(u32::MAX, |t| (t - c.created_at) as u32),
        }
    }
}

/// The aggregate rows of one part of the territory, in key order, as JSON arrays of at most
/// `CELLS` rows (`[unit, state, category, overdue, n]`, `[unit, day, reported, closed]`).
#[derive(Default)]
struct Cells {
    counts: Vec<String>,
    days: Vec<String>,
    n_counts: usize,
    n_days: usize,
}

/// Aggregate rows per INSERT.
const CELLS: usize = 50_000;

impl Cells {
    fn of(counts: &[(CountKey, i64)], days: &[(DayKey, (i64, i64))]) -> Self {
        use std::fmt::Write;
        let mut c = Cells {
            n_counts: counts.len(),
            n_days: days.len(),
            ..Default::default()
        };
        for chunk in counts.chunks(CELLS) {
            let mut out = String::with_capacity(chunk.len() * 40);
            out.push('[');
            for (i, ((u, s, k, o), n)) in chunk.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(out, "{sep}[{u},");
                push_json(&mut out, s);
                out.push(',');
                push_json(&mut out, k);
                let _ = write!(out, ",{},{n}]", i64::from(*o));
            }
            out.push(']');
            c.counts.push(out);
        }
        for chunk in days.chunks(CELLS) {
            let mut out = String::with_capacity(chunk.len() * 32);
            out.push('[');
            for (i, ((u, d), (r, n))) in chunk.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(out, "{sep}[{u},");
                push_json(&mut out, d);
                let _ = write!(out, ",{r},{n}]");
            }
            out.push(']');
            c.days.push(out);
        }
        c
    }
}

/// Groups the cases of each town by the store's recount code (small maps: fast), sending the
/// cells of the units in the town, then of its county once its last town is done, then of
/// the units above the counties, which every county adds to. Returns its time.
fn group(
    by_town: Vec<Vec<AggRow>>,
    towns: &[Town],
    grids: &[Grid],
    examples: &[Example],
    tz: &jiff::tz::TimeZone,
    send: std::sync::mpsc::Sender<Cells>,
) -> f64 {
    let started = Instant::now();
    let mut county = Sums::default();
    let mut upper = Sums::default();
    for (i, (rows, town)) in by_town.into_iter().zip(towns).enumerate() {
        let mut g = Grouped::new(tz);
        for r in rows {
            let category = r
                .categorized
                .then(|| {
                    examples[r.example as usize]
                        .category
                        .as_ref()
                        .map(|c| c.0.clone())
                })
                .flatten();
            g.add(
                grids[r.grid as usize].path.clone(),
                STATES[r.state as usize].to_string(),
                category,
                if r.breached { "breached" } else { "on_time" },
                r.created_at,
                (r.closed_after != u32::MAX).then(|| r.created_at + i64::from(r.closed_after)),
            );
        }
        let d = g.into_delta();
        let (mut counts, mut days) = (Vec::new(), Vec::new());
        for (k, n) in d.counts {
            if k.0 == town.county {
                *county.counts.entry(k).or_default() += n;
            } else if town.above.contains(&k.0) {
                *upper.counts.entry(k).or_default() += n;
            } else {
                counts.push((k, n));
            }
        }
        for (k, (r, c)) in d.days {
            let sums = if k.0 == town.county {
                &mut county
            } else if town.above.contains(&k.0) {
                &mut upper
            } else {
                days.push((k, (r, c)));
                continue;
            };
            let e = sums.days.entry(k).or_default();
            e.0 += r;
            e.1 += c;
        }
        if send.send(Cells::of(&counts, &days)).is_err() {
            break;
        }
        // the county is complete after its last town (towns come county by county)
        if towns.get(i + 1).is_none_or(|t| t.county != town.county)
            && send.send(std::mem::take(&mut county).cells()).is_err()
        {
            break;
        }
    }
    let _ = send.send(upper.cells());
    started.elapsed().as_secs_f64()
}

/// Cells summed over several parts of the territory.
#[derive(Default)]
struct Sums {
    counts: BTreeMap<CountKey, i64>,
    days: BTreeMap<DayKey, (i64, i64)>,
}

impl Sums {
    fn cells(self) -> Cells {
        let counts: Vec<_> = self.counts.into_iter().collect();
        let days: Vec<_> = self.days.into_iter().collect();
        Cells::of(&counts, &days)
    }
}

/// Inserts aggregate cells (into empty tables: no upsert).
async fn write_cells(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    cells: &Cells,
) -> anyhow::Result<()> {
    let mut n = 0;
    for rows in &cells.counts {
        n += sqlx::query(
            "INSERT OR IGNORE INTO case_counts (unit_id, state, category, overdue, n) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM jsonb_each(?)",
        )
        .bind(rows)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    ensure_rows("case_counts", n, cells.n_counts)?;
    let mut n = 0;
    for rows in &cells.days {
        n += sqlx::query(
            "INSERT OR IGNORE INTO case_daily (unit_id, day, reported, closed) \
             SELECT value->>0, value->>1, value->>2, value->>3 FROM jsonb_each(?)",
        )
        .bind(rows)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    ensure_rows("case_daily", n, cells.n_days)
}

/// 江苏-like province 99: `--counties` counties, 12 towns each, 16 villages per town, 3 grids
/// per village.
fn territory_rows(counties: usize) -> Vec<ImportRow> {
    let mut rows = Vec::new();
    let mut push = |code: String, name: String, parent: &str, level: &str| {
        rows.push(ImportRow {
            row: rows.len() as u64 + 2,
            code,
            name,
            parent_code: parent.to_string(),
            level: level.to_string(),
            kind: None,
            valid_from: None,
        });
    };
    push("99".into(), "测试省".into(), "", "province");
    let cities = counties.div_ceil(10);
    for c in 0..cities {
        let city = format!("99{:02}", c + 1);
        push(city.clone(), format!("第{}市", c + 1), "99", "city");
        for k in 0..10.min(counties - c * 10) {
            let county = format!("{city}{:02}", 21 + k);
            push(
                county.clone(),
                format!("{}县", place(c * 10 + k)),
                &city,
                "county",
            );
            for t in 0..TOWNS {
                let town = format!("{county}{:03}", 100 + t);
                push(
                    town.clone(),
                    format!("{}镇", place(t * 7 + k)),
                    &county,
                    "town",
                );
                for v in 0..VILLAGES {
                    let village = format!("{town}{:03}", 200 + v);
                    push(
                        village.clone(),
                        format!("{}村", place(v * 13 + t + k)),
                        &town,
                        "village",
                    );
                    for g in 0..GRIDS {
                        push(
                            format!("{village}{:03}", g + 1),
                            format!("第{}网格", g + 1),
                            &village,
                            "grid",
                        );
                    }
                }
            }
        }
    }
    rows
}

fn place(i: usize) -> String {
    const A: [&str; 16] = [
        "东", "西", "南", "北", "新", "老", "红", "青", "金", "银", "长", "安", "和", "平", "福",
        "兴",
    ];
    const B: [&str; 16] = [
        "河", "山", "湖", "桥", "塘", "庄", "集", "港", "林", "湾", "岗", "坝", "圩", "沟", "店",
        "营",
    ];
    format!("{}{}", A[i % 16], B[(i / 16) % 16])
}

/// A town: its county, and the units above the county (the cells of both add up over
/// several towns).
struct Town {
    county: i64,
    above: Vec<i64>,
}

/// The grids (in id order) and the towns (county by county).
async fn load_grids(conn: &mut SqliteConnection) -> anyhow::Result<(Vec<Grid>, Vec<Town>)> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT g.id, g.path, v.name AS village, t.id AS town_id, t.path AS town_path, \
         t.parent_id AS county_id \
         FROM units g JOIN units v ON v.id = g.parent_id JOIN units t ON t.id = v.parent_id \
         WHERE g.level = 'grid' ORDER BY g.id",
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading the grids back")?;
    // (county, town) → the town's path
    let mut towns: BTreeMap<(i64, i64), String> = BTreeMap::new();
    for r in &rows {
        towns.insert(
            (r.try_get("county_id")?, r.try_get("town_id")?),
            r.try_get("town_path")?,
        );
    }
    let index: HashMap<i64, usize> = towns
        .keys()
        .enumerate()
        .map(|(i, &(_, town))| (town, i))
        .collect();
    let grids = rows
        .iter()
        .map(|r| {
            let village: String = r.try_get("village")?;
            Ok(Grid {
                id: r.try_get("id")?,
                path: r.try_get("path")?,
                town_id: r.try_get("town_id")?,
                town_path: r.try_get("town_path")?,
                town: index[&r.try_get::<i64, _>("town_id")?],
                village_words: format!(
                    "{} {}",
                    wangge_text::search_words(&village),
                    wangge_store::unit_tokens(&r.try_get::<String, _>("path")?)
                ),
                village_name: village,
            })
        })
        .collect::<anyhow::Result<Vec<Grid>>>()?;
    let towns = towns
        .into_iter()
        .map(|((county, town), path)| Town {
            county,
            above: path
                .split('/')
                .filter_map(|p| p.parse().ok())
                .filter(|&u| u != town && u != county)
                .collect(),
        })
        .collect();
    Ok((grids, towns))
}

/// The hand-written descriptions with the catalogue category of their label.
fn examples() -> anyhow::Result<Vec<Example>> {
    let cat = Catalogue::builtin()?;
    let by_key: HashMap<&str, (String, String)> = cat
        .leaves()
        .into_iter()
        .filter_map(|c| {
            let name = cat
                .path(&c.code)
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            c.key.as_deref().map(|k| (k, (c.code.clone(), name)))
        })
        .collect();
    Ok(wangge_text::builtin_examples()
        .into_iter()
        .map(|(key, description)| Example {
            words: wangge_text::search_words(&description),
            category: by_key.get(key.as_str()).cloned(),
            description,
        })
        .collect())
}

struct GenCase {
    /// Indexes in the grids and the examples.
    grid: usize,
    example: usize,
    number: String,
    client_id: String,
    tracking_code: String,
    channel: &'static str,
    state: &'static str,
    unit_id: i64,
    unit_path: String,
    handling_unit_id: i64,
    handling_path: String,
    category: Option<String>,
    category_name: Option<String>,
    description: String,
    address: String,
    words: String,
    lat: f64,
    lng: f64,
    created_at: i64,
    updated_at: i64,
    deadline_at: Option<i64>,
    alert: &'static str,
    closed_at: Option<i64>,
    last_action: Option<(&'static str, &'static str)>,
}

/// (state, the action that led to it, the state before) with their shares among recent cases.
const RECENT: [(&str, &str, &str, u32); 12] = [
    ("reported", "", "", 8),
    ("accepted", "accept", "reported", 6),
    ("filed", "file", "accepted", 6),
    ("dispatched", "dispatch", "filed", 10),
    ("in_handling", "dept_accept", "dispatched", 20),
    ("handled", "report_result", "in_handling", 8),
    ("in_check", "start_check", "handled", 8),
    ("rework", "check_fail", "in_check", 3),
    ("closed", "check_pass", "in_check", 15),
    ("rated", "rate", "closed", 12),
    ("parked", "park", "in_handling", 2),
    ("deferred", "defer", "filed", 2),
];
/// … and among cases older than 30 days.
const OLD: [(&str, &str, &str, u32); 5] = [
    ("rated", "rate", "closed", 86),
    ("closed", "check_pass", "in_check", 9),
    ("not_filed", "not_file", "accepted", 2),
    ("voided", "void", "reported", 1),
    ("in_handling", "dept_accept", "dispatched", 2),
];

fn pick<'a>(
    rng: &mut StdRng,
    table: &'a [(&'a str, &'a str, &'a str, u32)],
) -> &'a (&'a str, &'a str, &'a str, u32) {
    let total: u32 = table.iter().map(|t| t.3).sum();
    let mut r = rng.random_range(0..total);
    for t in table {
        if r < t.3 {
            return t;
        }
        r -= t.3;
    }
    &table[0]
}

#[allow(clippy::too_many_arguments)]
fn make_case(
    rng: &mut StdRng,
    i: usize,
    at: i64,
    now: i64,
    grids: &[Grid],
    examples: &[Example],
    buildings: &[String],
    numbers: &mut HashMap<String, u32>,
    tz: &jiff::tz::TimeZone,
) -> GenCase {
    let grid = rng.random_range(0..grids.len());
    let g = &grids[grid];
    let example = rng.random_range(0..examples.len());
    let e = &examples[example];
    let day = wangge_domain::clock::local_date(at, tz).replace('-', "");
    let seq = numbers.entry(day.clone()).or_default();
    *seq += 1;
    let number = format!("{day}-{seq:05}");
    if numbers.len() > 4 {
        numbers.retain(|d, _| *d >= day);
    }
    let age = now - at;
    let &(state, action, from, _) = if age > 30 * DAY_MS {
        pick(rng, &OLD)
    } else {
        pick(rng, &RECENT)
    };
    let open = !matches!(state, "closed" | "rated" | "not_filed" | "voided");
    let closed_at = matches!(state, "closed" | "rated").then(|| {
        at + rng.random_range(2 * 3_600_000..(10 * DAY_MS).min(age.max(2 * 3_600_000 + 1)))
    });
    let deadline_at = open.then(|| at + rng.random_range(DAY_MS..20 * DAY_MS));
    let alert = match deadline_at {
        Some(d) if d < now && state != "parked" && state != "deferred" => "breached",
        _ => "on_time",
    };
    let building = rng.random_range(1..BUILDINGS);
    let (handling_unit_id, handling_path) = if state == "reported" {
        (g.id, g.path.clone())
    } else {
        (g.town_id, g.town_path.clone())
    };
    let (category, category_name) = match (&e.category, state) {
        (_, "reported") => (None, None),
        (Some((c, n)), _) => (Some(c.clone()), Some(n.clone())),
        (None, _) => (None, None),
    };
    GenCase {
        grid,
        example,
        number,
        client_id: format!("gen-{i:010}"),
        tracking_code: format!("G{:010X}{:04X}", i, rng.random::<u16>()),
        channel: ["grid", "grid", "grid", "resident", "hotline", "api"][i % 6],
        state,
        unit_id: g.id,
        unit_path: g.path.clone(),
        handling_unit_id,
        handling_path,
        category,
        category_name,
        description: e.description.clone(),
        address: format!("{} {building}号楼", g.village_name),
        // the server's words of description + "\n" + address: jieba splits at the newline
        // and the space, so the parts' words are the whole's
        words: format!("{} {} {}", e.words, g.village_words, buildings[building]),
        lat: 32.0 + rng.random::<f64>() * 3.0,
        lng: 117.0 + rng.random::<f64>() * 4.0,
        created_at: at,
        updated_at: closed_at.unwrap_or(at),
        deadline_at,
        alert,
        closed_at,
        last_action: (!action.is_empty()).then_some((action, from)),
    }
}

/// One batch of cases as three JSON arrays, made on the maker thread: the writer binds one text
/// per statement instead of thousands of values (SQLite's `jsonb_each` unpacks them).
struct Batch {
    cases: String,
    events: String,
    n: usize,
    n_events: usize,
}

/// The columns of `cases` that a batch sets, in the order of its JSON rows (the others are the
/// constants of a new case).
const CASE_SQL: &str = "INSERT OR IGNORE INTO cases (id, number, client_id, tracking_code, channel, state, \
    unit_id, unit_path, handling_unit_id, handling_path, category, category_name, description, \
    address, lat, lng, created_at, updated_at, version, stage, deadline_at, alert, closed_at, \
    nature, urgent, answers, reporter_name, confidential, media, rework_count, reopen_count, \
    extension_count, first_report, detail) \
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, \
    value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13, value->>14, \
    value->>15, value->>16, value->>17, value->>18, value->>19, value->>20, value->>21, \
    value->>22, 'demand', 0, '{}', '居民', 0, '[]', 0, 0, 0, 0, '{}' FROM jsonb_each(?)";
const EVENT_SQL: &str = "INSERT OR IGNORE INTO case_events (case_id, at, actor_name, party, action, \
    from_state, to_state, note, data, media) \
    SELECT value->>0, value->>1, '生成器', value->>2, value->>3, value->>4, value->>5, '', '{}', '[]' \
    FROM jsonb_each(?)";
const WORDS_SQL: &str =
    "INSERT INTO case_fts (rowid, words) SELECT value->>0, value->>1 FROM jsonb_each(?)";

impl Batch {
    /// The rows of cases `first_id`, `first_id + 1`, …, and their search words (`[id, words]`).
    fn of(cases: &[GenCase], first_id: i64) -> (Self, (String, usize)) {
        use std::fmt::Write;
        let mut b = Batch {
            cases: String::with_capacity(cases.len() * 600),
            events: String::with_capacity(cases.len() * 120),
            n: cases.len(),
            n_events: cases.len() + cases.iter().filter(|c| c.last_action.is_some()).count(),
        };
        let mut words = String::with_capacity(cases.len() * 300);
        for out in [&mut b.cases, &mut b.events, &mut words] {
            out.push('[');
        }
        for (i, c) in cases.iter().enumerate() {
            let id = first_id + i as i64;
            let sep = if i == 0 { "" } else { "," };
            let out = &mut b.cases;
            let _ = write!(out, "{sep}[{id},");
            for t in [
                &c.number,
                &c.client_id,
                &c.tracking_code,
                c.channel,
                c.state,
            ] {
                push_json(out, t);
                out.push(',');
            }
            let _ = write!(out, "{},", c.unit_id);
            push_json(out, &c.unit_path);
            let _ = write!(out, ",{},", c.handling_unit_id);
            for t in [
                Some(c.handling_path.as_str()),
                c.category.as_deref(),
                c.category_name.as_deref(),
                Some(&c.description),
                Some(&c.address),
            ] {
                match t {
                    Some(t) => push_json(out, t),
                    None => out.push_str("null"),
                }
                out.push(',');
            }
            let _ = write!(
                out,
                "{},{},{},{},{},",
                float(c.lat),
                float(c.lng),
                c.created_at,
                c.updated_at,
                1 + i64::from(c.last_action.is_some()),
            );
            match c.deadline_at {
                Some(d) => {
                    let _ = write!(out, "\"handle\",{d},");
                }
                None => out.push_str("null,null,"),
            }
            push_json(out, c.alert);
            match c.closed_at {
                Some(d) => {
                    let _ = write!(out, ",{d}]");
                }
                None => out.push_str(",null]"),
            }
            // the report and the last step
            let _ = write!(
                b.events,
                "{sep}[{id},{},\"resident\",\"submit\",\"draft\",\"reported\"]",
                c.created_at
            );
            if let Some((action, from)) = c.last_action {
                let _ = write!(b.events, ",[{id},{},\"operator\",", c.updated_at);
                for (i, t) in [action, from, c.state].into_iter().enumerate() {
                    if i > 0 {
                        b.events.push(',');
                    }
                    push_json(&mut b.events, t);
                }
                b.events.push(']');
            }
            let _ = write!(words, "{sep}[{id},");
            push_json(&mut words, &c.words);
            words.push(']');
        }
        for out in [&mut b.cases, &mut b.events, &mut words] {
            out.push(']');
        }
        let n = b.n;
        (b, (words, n))
    }
}

/// Appends `s` as a JSON string.
fn push_json(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// A JSON number that reads back as the same `f64`.
fn float(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "null".into())
}

async fn write_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    b: &Batch,
    t: &mut Timers,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let n = sqlx::query(CASE_SQL)
        .bind(&b.cases)
        .execute(&mut **tx)
        .await?;
    let cases_done = Instant::now();
    t.cases += cases_done - started;
    let e = sqlx::query(EVENT_SQL)
        .bind(&b.events)
        .execute(&mut **tx)
        .await?;
    t.events += cases_done.elapsed();
    ensure_rows("cases", n.rows_affected(), b.n)?;
    ensure_rows("case_events", e.rows_affected(), b.n_events)
}

/// The inserts are `OR IGNORE` (a statement that cannot fail needs no statement journal, which
/// would copy every page it touches): a row left out is an error all the same.
fn ensure_rows(table: &str, inserted: u64, expected: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        inserted == expected as u64,
        "{table}: {inserted} rows inserted of {expected}"
    );
    Ok(())
}

/// The side connection: writes the search words into a new database `url` holding the tables
/// made by `sql` (the search index and the aggregates, all empty), on a SQLite thread of its
/// own; tells `fts_done` its busy time once the words are in, then writes the aggregates' cells.
async fn side_writer(
    url: &str,
    sql: &[String],
    hash_size: i64,
    words: std::sync::mpsc::Receiver<(String, usize)>,
    fts_done: std::sync::mpsc::Sender<f64>,
    cells: std::sync::mpsc::Receiver<Cells>,
) -> anyhow::Result<CellsReport> {
    use std::str::FromStr;
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    sqlx::raw_sql(
        "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
         PRAGMA cache_size = -256000;",
    )
    .execute(&mut conn)
    .await?;
    for sql in sql {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await?;
    }
    sqlx::query("INSERT INTO case_fts (case_fts, rank) VALUES ('hashsize', ?)")
        .bind(hash_size)
        .execute(&mut conn)
        .await?;
    // FTS5 writes its pending data as a new segment when they reach `hash_size`, at a commit,
    // and at the start of every statement that may need a statement rollback, which a
    // multi-row INSERT into it does: so one transaction and few, large statements (else a
    // segment per batch, and most of the time goes into merging them)
    let mut busy = Duration::ZERO;
    let mut tx = conn.begin().await?;
    let (mut rows, mut docs) = (String::new(), 0usize);
    loop {
        let next = words.recv().ok();
        if let Some((words, n)) = &next {
            // `[a,b]` + `[c]` → `[a,b,c]`
            let inner = words
                .strip_prefix('[')
                .and_then(|w| w.strip_suffix(']'))
                .unwrap_or_default();
            rows.push(if rows.is_empty() { '[' } else { ',' });
            rows.push_str(inner);
            docs += n;
        }
        if docs > 0 && (docs >= FTS_DOCS || next.is_none()) {
            rows.push(']');
            let s = Instant::now();
            let r = sqlx::query(WORDS_SQL).bind(&rows).execute(&mut *tx).await?;
            busy += s.elapsed();
            ensure_rows("case_fts", r.rows_affected(), docs)?;
            rows.clear();
            docs = 0;
        }
        if next.is_none() {
            break;
        }
    }
    let s = Instant::now();
    tx.commit().await?;
    busy += s.elapsed();
    let _ = fts_done.send(busy.as_secs_f64());

    // the aggregates, in the order the grouper makes them (town by town): a larger cache
    sqlx::raw_sql("PRAGMA cache_size = -1000000;")
        .execute(&mut conn)
        .await?;
    let mut report = CellsReport {
        counts: 0,
        days: 0,
        seconds: 0.0,
    };
    let mut busy = Duration::ZERO;
    let mut tx = conn.begin().await?;
    while let Ok(c) = cells.recv() {
        let s = Instant::now();
        write_cells(&mut tx, &c).await?;
        busy += s.elapsed();
        report.counts += c.n_counts;
        report.days += c.n_days;
    }
    let s = Instant::now();
    tx.commit().await?;
    conn.close().await?;
    busy += s.elapsed();
    report.seconds = busy.as_secs_f64();
    Ok(report)
}

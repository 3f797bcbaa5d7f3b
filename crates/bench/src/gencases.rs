//! `wangge-bench gen-cases`: a province-sized territory and millions of realistic cases written
//! straight into a SQLite database, for the dashboard (B3) and list/search (B4) benchmarks.
//!
//! Cases are spread over `--days` days before now, one id order = creation order as the server
//! makes them; descriptions are the hand-written examples of `crates/text` (with their category)
//! and an address in the case's village; the state follows the case's age (old ones closed and
//! rated, recent ones at every step, some overdue). Each case has its report event and its last
//! step. The search words are the server's own (`search_words`), cached per description and
//! per address part. The aggregates are then built by the recount of `wangge check --repair`.

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wangge_domain::audit::Actor;
use wangge_domain::catalogue::Catalogue;
use wangge_domain::clock::SystemClock;
use wangge_domain::import::ImportRow;
use wangge_domain::roles::Scope;
use wangge_domain::territory::Levels;

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
}

const TOWNS: usize = 12;
const VILLAGES: usize = 16;
const GRIDS: usize = 3;
const DAY_MS: i64 = 86_400_000;
/// Cases per multi-row INSERT (44 columns: 22,000 arguments, under SQLite's 32,766).
const ROWS: usize = 500;
/// Cases per transaction.
const TX_CASES: usize = 50_000;
/// Building numbers of the addresses.
const BUILDINGS: usize = 40;

struct Grid {
    id: i64,
    path: String,
    town_id: i64,
    town_path: String,
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

    let mut conn = SqliteConnection::connect(&url).await?;
    sqlx::raw_sql(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000; PRAGMA temp_store = MEMORY;",
    )
    .execute(&mut conn)
    .await?;
    let grids = load_grids(&mut conn).await?;
    let examples = examples()?;
    let buildings: Vec<String> = (0..BUILDINGS)
        .map(|b| wangge_text::search_words(&format!("{b}号楼")))
        .collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let first = now - o.days * DAY_MS;

    // rows are made on a second thread while this one writes
    let (send, recv) = std::sync::mpsc::sync_channel::<Vec<GenCase>>(4);
    let n = o.cases;
    let seed = o.seed;
    let tz2 = tz.clone();
    let maker = std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut numbers: HashMap<String, u32> = HashMap::new();
        let mut batch = Vec::with_capacity(ROWS);
        for i in 0..n {
            let at = first + ((now - first) as i128 * i as i128 / n.max(1) as i128) as i64;
            batch.push(make_case(
                &mut rng,
                i,
                at,
                now,
                &grids,
                &examples,
                &buildings,
                &mut numbers,
                &tz2,
            ));
            if batch.len() == ROWS {
                if send.send(std::mem::take(&mut batch)).is_err() {
                    return;
                }
                batch.reserve(ROWS);
            }
        }
        if !batch.is_empty() {
            let _ = send.send(batch);
        }
    });

    let mut written = 0usize;
    let mut tx = conn.begin().await?;
    while let Ok(batch) = recv.recv() {
        write_batch(&mut tx, &batch).await?;
        written += batch.len();
        if written.is_multiple_of(TX_CASES) {
            tx.commit().await?;
            tx = conn.begin().await?;
        }
        if written.is_multiple_of(1_000_000) {
            eprintln!(
                "{written} cases in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    tx.commit().await?;
    maker
        .join()
        .map_err(|_| anyhow::anyhow!("the case maker panicked"))?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    conn.close().await?;
    let cases_s = started.elapsed().as_secs_f64();
    eprintln!("{written} cases written in {cases_s:.0} s");

    // the dashboards' aggregates, by the recount of `wangge check --repair`
    let store = wangge_store::open_in(&url, Arc::new(SystemClock), tz).await?;
    let check = store.case_aggregates_check(true).await?;
    store.close().await;
    println!(
        "gen-cases: {} units, {written} cases ({} count cells, {} day cells) in {:.0} s ({cases_s:.0} s cases, {:.0} s aggregates)",
        n_units,
        check.count_cells,
        check.day_cells,
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() - cases_s,
    );
    Ok(())
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

async fn load_grids(conn: &mut SqliteConnection) -> anyhow::Result<Vec<Grid>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT g.id, g.path, v.name AS village, t.id AS town_id, t.path AS town_path \
         FROM units g JOIN units v ON v.id = g.parent_id JOIN units t ON t.id = v.parent_id \
         WHERE g.level = 'grid' ORDER BY g.id",
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading the grids back")?;
    rows.iter()
        .map(|r| {
            let village: String = r.try_get("village")?;
            Ok(Grid {
                id: r.try_get("id")?,
                path: r.try_get("path")?,
                town_id: r.try_get("town_id")?,
                town_path: r.try_get("town_path")?,
                village_words: format!(
                    "{} {}",
                    wangge_text::search_words(&village),
                    wangge_store::unit_tokens(&r.try_get::<String, _>("path")?)
                ),
                village_name: village,
            })
        })
        .collect()
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
    let g = &grids[rng.random_range(0..grids.len())];
    let e = &examples[rng.random_range(0..examples.len())];
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

async fn write_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    batch: &[GenCase],
) -> anyhow::Result<()> {
    const COLS: &str = "number, client_id, tracking_code, channel, state, unit_id, unit_path, \
        handling_unit_id, handling_path, category, category_name, nature, urgent, description, \
        address, lat, lng, answers, reporter_name, confidential, media, created_at, updated_at, \
        version, stage, deadline_at, alert, rework_count, reopen_count, extension_count, \
        closed_at, first_report, detail";
    let row = format!("({})", vec!["?"; COLS.split(',').count()].join(","));
    let sql = format!(
        "INSERT INTO cases ({COLS}) VALUES {} RETURNING id",
        vec![row.as_str(); batch.len()].join(",")
    );
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for c in batch {
        q = q
            .bind(&c.number)
            .bind(&c.client_id)
            .bind(&c.tracking_code)
            .bind(c.channel)
            .bind(c.state)
            .bind(c.unit_id)
            .bind(&c.unit_path)
            .bind(c.handling_unit_id)
            .bind(&c.handling_path)
            .bind(&c.category)
            .bind(&c.category_name)
            .bind("demand")
            .bind(false)
            .bind(&c.description)
            .bind(&c.address)
            .bind(c.lat)
            .bind(c.lng)
            .bind("{}")
            .bind("居民")
            .bind(false)
            .bind("[]")
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(1 + i64::from(c.last_action.is_some()))
            .bind(c.deadline_at.map(|_| "handle"))
            .bind(c.deadline_at)
            .bind(c.alert)
            .bind(0i64)
            .bind(0i64)
            .bind(0i64)
            .bind(c.closed_at)
            .bind(false)
            .bind("{}");
    }
    let ids = q.fetch_all(&mut **tx).await?;

    // the report and the last step
    let mut events: Vec<(i64, i64, &str, &str, &str, &str)> = Vec::with_capacity(batch.len() * 2);
    for (c, &id) in batch.iter().zip(&ids) {
        events.push((id, c.created_at, "resident", "submit", "draft", "reported"));
        if let Some((action, from)) = c.last_action {
            events.push((id, c.updated_at, "operator", action, from, c.state));
        }
    }
    for chunk in events.chunks(2_000) {
        let sql = format!(
            "INSERT INTO case_events (case_id, at, actor_name, party, action, from_state, to_state, note, data, media) VALUES {}",
            vec!["(?,?,'生成器',?,?,?,?,'','{}','[]')"; chunk.len()].join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.0)
                .bind(e.1)
                .bind(e.2)
                .bind(e.3)
                .bind(e.4)
                .bind(e.5);
        }
        q.execute(&mut **tx).await?;
    }
    let sql = format!(
        "INSERT INTO case_fts (rowid, words) VALUES {}",
        vec!["(?,?)"; batch.len()].join(",")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (c, &id) in batch.iter().zip(&ids) {
        q = q.bind(id).bind(&c.words);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

//! B1: case intake over HTTP. A hotline operator's token posts realistic reports (a point inside
//! a random grid, a category, a description of 60–120 characters, an address, a caller) to a
//! running server, either as fast as `concurrency` clients can (closed loop: throughput) or at
//! a fixed rate (open loop: latency measured from each request's scheduled start, so a stalled
//! server cannot hide its queue). Also `raw-commits`: one durable transaction at a time on the
//! same disk, the yardstick the intake figure is reported against.

use crate::stats::{Summary, summarize};
use anyhow::{Context, bail};
use geo::{BoundingRect, Contains, MultiPolygon, Point};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(clap::Args, Debug, Clone)]
pub struct IntakeOptions {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub url: String,
    /// A command-centre operator whose territory holds the grids (the demo's county operator).
    #[arg(long, default_value = "op.320831")]
    pub user: String,
    #[arg(long, default_value = "Demo#2026")]
    pub password: String,
    /// The county (or other unit) whose grids the reports fall in.
    #[arg(long, default_value = "320831")]
    pub root: String,
    /// Requests per second (open loop); without it, as fast as the clients go (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Clients of the closed loop; the cap on requests in flight of the open loop.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Append the client id of every acknowledged report to this file (the crash test).
    #[arg(long)]
    pub acked: Option<std::path::PathBuf>,
}

/// Categories without required questions, so every report is complete.
const CATEGORIES: [&str; 8] = [
    "G0502", "G0503", "G0504", "G0505", "G0601", "G0602", "G0603", "G0604",
];

const PHRASES: [&str; 12] = [
    "路灯不亮已经好几天了，晚上出行很不方便，希望尽快修好",
    "小区门口的下水道堵了，污水漫到路面上，气味很大",
    "楼道里堆满了杂物，影响消防通道，多次反映没有处理",
    "路边有人乱倒建筑垃圾，堆了很高一堆，占了半条车道",
    "广场舞音响声音太大，晚上十点以后还在放，影响休息",
    "人行道上的井盖松动了，踩上去会晃，老人孩子经过很危险",
    "菜市场旁边流动摊贩占道经营，早上交通很拥堵",
    "河边护栏断了一截，晚上没有照明，担心有人掉下去",
    "公交站台的顶棚破了，下雨天等车的人都淋湿了",
    "有人在绿化带里种菜，把草坪都挖坏了",
    "小区里的电动车在楼道充电，线从窗户拉下来，很不安全",
    "路口的红绿灯坏了，车辆和行人都不知道怎么走",
];

/// Grid boundaries of the root from the export, to place the reports.
async fn grids(
    c: &reqwest::Client,
    o: &IntakeOptions,
    cookie: &str,
) -> anyhow::Result<Vec<MultiPolygon<f64>>> {
    let url = format!("{}/api/v1/boundaries/export?root={}", o.url, o.root);
    let fc: Value = c
        .get(url)
        .header("cookie", cookie)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut out = Vec::new();
    for f in fc["features"].as_array().into_iter().flatten() {
        if f["properties"]["level"] != "grid" {
            continue;
        }
        if let Some(m) = wangge_geo::boundary::geometry_from_geojson(&f["geometry"]) {
            out.push(m);
        }
    }
    if out.is_empty() {
        bail!("no grid boundaries under {}", o.root);
    }
    Ok(out)
}

fn point_in(rng: &mut StdRng, g: &MultiPolygon<f64>) -> Option<(f64, f64)> {
    let r = g.bounding_rect()?;
    for _ in 0..100 {
        let x = rng.random_range(r.min().x..r.max().x);
        let y = rng.random_range(r.min().y..r.max().y);
        if g.contains(&Point::new(x, y)) {
            return Some((x, y));
        }
    }
    None
}

/// Where each body's unique client id goes.
const ID_SLOT: &str = "@ID@";

/// A pool of ready request bodies, each with a slot for its client id (the driver should not be
/// the bottleneck, nor hold gigabytes of bodies).
fn bodies(rng: &mut StdRng, grids: &[MultiPolygon<f64>], n: usize) -> Vec<String> {
    (0..n)
        .filter_map(|_| {
            let g = &grids[rng.random_range(0..grids.len())];
            let (lng, lat) = point_in(rng, g)?;
            let a = PHRASES[rng.random_range(0..PHRASES.len())];
            let b = PHRASES[rng.random_range(0..PHRASES.len())];
            Some(
                json!({
                    "client_id": ID_SLOT,
                    "channel": "hotline",
                    "lat": lat,
                    "lng": lng,
                    "address": format!("金湖县黎城街道人民路{}号附近", rng.random_range(1..400)),
                    "category": CATEGORIES[rng.random_range(0..CATEGORIES.len())],
                    "description": format!("{a}。{b}。"),
                    "nature": "complaint",
                    "reporter_name": "张先生",
                    "reporter_phone": format!("139{:08}", rng.random_range(0..100_000_000u64)),
                })
                .to_string(),
            )
        })
        .collect()
}

/// Logs in and makes a personal token; returns (cookie, token).
async fn sign_in(c: &reqwest::Client, o: &IntakeOptions) -> anyhow::Result<(String, String)> {
    let r = c
        .post(format!("{}/api/v1/auth/login", o.url))
        .json(&json!({"username": o.user, "password": o.password}))
        .send()
        .await?;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .context("login set no cookie")?;
    let body: Value = r.error_for_status()?.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf_token")?
        .to_string();
    let t: Value = c
        .post(format!("{}/api/v1/tokens", o.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "intake benchmark", "expires_in_days": 1}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = t["token"]
        .as_str()
        .context("no token in the answer")?
        .to_string();
    Ok((cookie, token))
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// What every request of a run shares.
struct Run {
    client: reqwest::Client,
    url: String,
    auth: String,
    run_id: u64,
    bodies: Vec<String>,
    next: AtomicU64,
    measure_from: Instant,
    end: Instant,
    tally: Tally,
    latencies: Mutex<Vec<Duration>>,
    failures: Mutex<Vec<String>>,
    failure_kinds: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Client ids the server acknowledged (201), one per line, for the crash test; written at
    /// once (unbuffered), so killing the driver loses none.
    acked: Option<Mutex<std::fs::File>>,
}

impl Run {
    /// Notes a failure by kind (`503 database_unavailable`, `no connection`…); always false.
    async fn fail(&self, kind: String, text: String) -> bool {
        *self.failure_kinds.lock().await.entry(kind).or_insert(0) += 1;
        let mut f = self.failures.lock().await;
        if f.len() < 3 {
            f.push(text);
        }
        false
    }

    /// Sends one report scheduled at `scheduled`; true when the server acknowledged it.
    async fn send(&self, scheduled: Instant) -> bool {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(template) = self.bodies.get(i as usize % self.bodies.len()) else {
            return false;
        };
        let client_id = format!("bench-{:x}-{i:09}", self.run_id);
        let r = self
            .client
            .post(&self.url)
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(template.replace(ID_SLOT, &client_id))
            .send()
            .await;
        let done = Instant::now();
        let ok = match r {
            Ok(resp) if resp.status().as_u16() == 201 => true,
            Ok(resp) => {
                let s = resp.status().as_u16();
                let t = resp.text().await.unwrap_or_default();
                let code = serde_json::from_str::<Value>(&t)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_string))
                    .unwrap_or_default();
                self.fail(format!("{s} {code}"), t.chars().take(200).collect())
                    .await
            }
            Err(e) => {
                let kind = if e.is_connect() {
                    "no connection"
                } else if e.is_timeout() {
                    "timeout"
                } else {
                    "transport error"
                };
                self.fail(kind.to_string(), e.to_string()).await
            }
        };
        if ok && let Some(f) = &self.acked {
            use std::io::Write;
            let _ = f
                .lock()
                .await
                .write_all(format!("{client_id}\n").as_bytes());
        }
        if scheduled >= self.measure_from && done <= self.end {
            if ok {
                self.tally.ok.fetch_add(1, Ordering::Relaxed);
                self.latencies.lock().await.push(done - scheduled);
            } else {
                self.tally.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        ok
    }
}

pub async fn run(o: IntakeOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let (cookie, token) = sign_in(&client, &o).await?;
    let grids = grids(&client, &o, &cookie).await?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(o.warmup);
    let acked = match &o.acked {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )),
        None => None,
    };
    let run = Arc::new(Run {
        url: format!("{}/api/v1/cases", o.url),
        auth: format!("Bearer {token}"),
        client,
        // client ids unique per run, so a second run against the same server is not a replay
        run_id: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        bodies: bodies(&mut rng, &grids, 20_000),
        next: AtomicU64::new(0),
        measure_from,
        end: measure_from + Duration::from_secs(o.seconds),
        tally: Tally::default(),
        latencies: Mutex::default(),
        failures: Mutex::default(),
        failure_kinds: Mutex::default(),
        acked,
    });
    let end = run.end;

    match o.rate {
        None => {
            let mut workers = Vec::new();
            for _ in 0..o.concurrency {
                let run = run.clone();
                workers.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        if !run.send(Instant::now()).await {
                            // the server may be down (the crash test): do not spin
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }));
            }
            for w in workers {
                w.await?;
            }
        }
        Some(rate) => {
            let sem = Arc::new(tokio::sync::Semaphore::new(o.concurrency));
            let gap = Duration::from_secs_f64(1.0 / rate);
            let mut at = start;
            let mut tasks = Vec::new();
            while at < end {
                tokio::time::sleep_until(at.into()).await;
                match sem.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let run = run.clone();
                        tasks.push(tokio::spawn(async move {
                            run.send(at).await;
                            drop(permit);
                        }));
                    }
                    Err(_) => {
                        if at >= measure_from {
                            run.tally.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                at += gap;
            }
            for t in tasks {
                t.await?;
            }
        }
    }
    let ok = run.tally.ok.load(Ordering::Relaxed);
    let failed = run.tally.failed.load(Ordering::Relaxed);
    let dropped = run.tally.dropped.load(Ordering::Relaxed);
    let secs = o.seconds as f64;
    let mode = o.rate.map_or_else(
        || format!("closed loop, {} clients", o.concurrency),
        |r| format!("open loop at {r}/s"),
    );
    println!(
        "intake: {mode} in {secs} s measured: {ok} cases created ({:.0}/s), {failed} failed, {dropped} not sent (over {} in flight)",
        ok as f64 / secs,
        o.concurrency
    );
    if let Some(Summary {
        n,
        mean,
        p50,
        p95,
        p99,
        max,
    }) = summarize(&run.latencies.lock().await)
    {
        println!(
            "latency ms (from the scheduled start): n {n}, mean {mean:.1}, p50 {p50:.1}, p95 {p95:.1}, p99 {p99:.1}, max {max:.1}"
        );
    }
    let f = run.failures.lock().await;
    if !f.is_empty() {
        println!(
            "failures by kind (whole run): {:?}",
            run.failure_kinds.lock().await
        );
        println!("first failures: {f:?}");
    }
    Ok(())
}

#[derive(clap::Args, Debug, Clone)]
pub struct RawCommitOptions {
    /// A directory on the disk to measure (a SQLite file is made there), or a postgres:// URL.
    #[arg(long)]
    pub target: String,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// One small durable transaction at a time: SQLite in WAL mode with synchronous=FULL, or
/// PostgreSQL with its default synchronous_commit.
pub async fn raw_commits(o: RawCommitOptions) -> anyhow::Result<()> {
    use sqlx::Connection;
    let end = Instant::now() + Duration::from_secs(o.seconds);
    let mut n = 0u64;
    if o.target.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&o.target).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_commit_durable (id BIGSERIAL PRIMARY KEY, v TEXT)",
        )
        .execute(&mut c)
        .await?;
        while Instant::now() < end {
            let mut tx = c.begin().await?;
            sqlx::query("INSERT INTO bench_commit_durable (v) VALUES ($1)")
                .bind("x")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n += 1;
        }
        sqlx::query("DROP TABLE bench_commit_durable")
            .execute(&mut c)
            .await?;
    } else {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let path = std::path::Path::new(&o.target).join("raw-commits.db");
        let _ = std::fs::remove_file(&path);
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .execute(&mut c)
            .await?;
        while Instant::now() < end {
            let mut tx = c.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("INSERT INTO t (v) VALUES ($1)")
                .bind("x")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n += 1;
        }
        drop(c);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
    println!(
        "raw commits: {n} in {} s = {:.0} durable single-row transactions per second ({})",
        o.seconds,
        n as f64 / o.seconds as f64,
        if o.target.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite WAL, synchronous=FULL"
        }
    );
    Ok(())
}

#[derive(clap::Args, Debug, Clone)]
pub struct CheckAckedOptions {
    /// sqlite:///path/wangge.db or postgres://…
    #[arg(long)]
    pub database_url: String,
    /// The file `intake --acked` wrote.
    #[arg(long)]
    pub acked: std::path::PathBuf,
}

/// The crash test's verdict: every acknowledged report is a case (client ids are unique in the
/// schema, so none is there twice) and the audit chain is whole.
pub async fn check_acked(o: CheckAckedOptions) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&o.acked)?;
    let ids: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let clock: Arc<dyn wangge_domain::clock::Clock> = Arc::new(wangge_domain::clock::SystemClock);
    let store = wangge_store::open(&o.database_url, clock).await?;
    let mut missing = Vec::new();
    for id in &ids {
        if store.case_by_client_id(id).await?.is_none() {
            missing.push(*id);
        }
    }
    let mut chain = wangge_domain::audit::ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            chain
                .check(e)
                .map_err(|e| anyhow::anyhow!("audit chain broken: {e:?}"))?;
        }
    }
    println!(
        "acknowledged {} reports: {} present, {} missing; audit chain intact over {} entries",
        ids.len(),
        ids.len() - missing.len(),
        missing.len(),
        chain.checked
    );
    if !missing.is_empty() {
        bail!(
            "lost acknowledged reports, e.g. {:?}",
            &missing[..missing.len().min(5)]
        );
    }
    Ok(())
}

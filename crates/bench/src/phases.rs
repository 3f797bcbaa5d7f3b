//! The steps of `wangge import units FILE`, timed one by one, with the resident memory after each.
//!
//! It calls the same functions as the CLI (`territory_file::parse`, `Store::unit_import` with the
//! configured levels) so that a slow or memory-hungry phase can be pinned down. The store reports
//! progress once when checking starts and after every written chunk of rows, so:
//!
//! * check = from the start of `unit_import` to the first "writing" report, less one chunk;
//! * write = the chunks (the first one estimated as the mean of the others);
//! * commit = from the last "writing" report until `unit_import` returns (audit entry + COMMIT).
//!
//! With `--validate-only` it stops after the domain's `validate_import` on the parsed rows.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wangge_domain::audit::Actor;
use wangge_domain::clock::SystemClock;
use wangge_domain::import::validate_import;
use wangge_domain::roles::Scope;
use wangge_server::config::Config;
use wangge_server::territory_file::{self, FileKind};
use wangge_store::{ImportProgress, ImportStage, StoreError};

pub struct PhaseOptions {
    pub database_url: String,
    pub data_dir: Option<PathBuf>,
    pub file: PathBuf,
    /// Stop after `validate_import` (the domain check, without the store), to see its own cost.
    pub validate_only: bool,
}

/// `VmRSS` and `VmHWM` (peak) of this process in MiB, from /proc (0 where unavailable).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Clock0 {
    start: Instant,
    last: Instant,
}

impl Clock0 {
    fn lap(&mut self, what: &str) {
        let now = Instant::now();
        let (rss, peak) = memory_mib();
        println!(
            "{what:<34} {:>8.2} s  (at {:>7.2} s)  rss {rss:>7.1} MiB  peak {peak:>7.1} MiB",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }
}

#[derive(Clone, Copy)]
struct Report {
    at: Instant,
    stage: ImportStage,
    done: u64,
    rss: f64,
    peak: f64,
}

pub async fn run(opts: &PhaseOptions) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut clock = Clock0 { start, last: start };
    let config = match &opts.data_dir {
        Some(d) => Config::load(d)?,
        None => Config::default(),
    };
    let store = wangge_store::open(&opts.database_url, Arc::new(SystemClock))
        .await
        .context("opening the database")?;
    clock.lap("open database (migrations)");

    let kind = FileKind::detect(None, opts.file.to_str()).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the file must end in .csv or .xlsx",
            opts.file.display()
        )
    })?;
    let bytes =
        std::fs::read(&opts.file).with_context(|| format!("reading {}", opts.file.display()))?;
    clock.lap(&format!(
        "read file ({:.1} MiB)",
        bytes.len() as f64 / (1 << 20) as f64
    ));
    let rows = territory_file::parse(kind, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            opts.file.display(),
            e.message.unwrap_or_else(|| e.code.into())
        )
    })?;
    clock.lap(&format!("parse ({} rows)", rows.len()));
    drop(bytes);
    clock.lap("drop file bytes");
    if opts.validate_only {
        let n = rows.len();
        let checked = validate_import(rows, &config.levels, &|_| None, true);
        clock.lap(&format!("validate_import only ({n} rows)"));
        match checked {
            Ok(v) => drop(v),
            Err(e) => anyhow::bail!("{} rows have errors", e.len()),
        }
        clock.lap("drop rows");
        store.close().await;
        return Ok(());
    }

    let reports: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    let progress = |p: ImportProgress| {
        let r = Report {
            at: Instant::now(),
            stage: p.stage,
            done: p.done,
            rss: memory_mib().0,
            peak: memory_mib().1,
        };
        if let Ok(mut v) = reports.lock() {
            v.push(r);
        }
    };
    let import_start = Instant::now();
    let result = store
        .unit_import(
            &Scope::All,
            &Actor::system("bench"),
            &config.levels,
            rows,
            &progress,
        )
        .await;
    let import_end = Instant::now();
    let reports = reports.into_inner().unwrap_or_default();
    match result {
        Ok(n) => println!("unit_import: {n} rows imported"),
        Err(StoreError::ImportRejected(errors)) => {
            for e in errors.iter().take(5) {
                println!("  row {}: {} ({}) {}", e.row, e.error, e.code, e.message);
            }
            anyhow::bail!("import rejected: {} rows have errors", errors.len());
        }
        Err(e) => return Err(e.into()),
    }

    let writes: Vec<&Report> = reports
        .iter()
        .filter(|r| r.stage == ImportStage::Writing)
        .collect();
    let peak_rss = reports.iter().map(|r| r.rss).fold(0.0, f64::max);
    if let (Some(first), Some(last)) = (writes.first(), writes.last()) {
        let chunks = writes.len();
        let per_chunk = if chunks > 1 {
            (last.at - first.at).as_secs_f64() / (chunks - 1) as f64
        } else {
            0.0
        };
        let to_first = (first.at - import_start).as_secs_f64();
        let check = (to_first - per_chunk).max(0.0);
        let write = (last.at - first.at).as_secs_f64() + per_chunk;
        let commit = (import_end - last.at).as_secs_f64();
        println!(
            "{:<34} {check:>8.2} s  rss at first chunk {:>7.1} MiB, peak so far {:>7.1} MiB",
            "  check (load, validate, place)", first.rss, first.peak
        );
        println!(
            "{:<34} {write:>8.2} s  {chunks} chunks, {:.1} ms each, {} rows; max rss while writing {peak_rss:.1} MiB",
            "  write",
            per_chunk * 1000.0,
            last.done
        );
        // is the writing slowing down as the tables grow?
        let tenth = chunks / 10;
        if tenth >= 2 {
            let span = |a: usize, b: usize| {
                (writes[b].at - writes[a].at).as_secs_f64() * 1000.0 / (b - a) as f64
            };
            println!(
                "{:<34} first tenth {:.1} ms/chunk, last tenth {:.1} ms/chunk",
                "  write speed",
                span(0, tenth),
                span(chunks - 1 - tenth, chunks - 1)
            );
        }
        println!("{:<34} {commit:>8.2} s", "  commit (audit entry, COMMIT)");
        println!("{:<34} peak rss {:.1} MiB at the last chunk", "", last.peak);
    }
    clock.lap("unit_import total");
    store.close().await;
    clock.lap("close");
    let (_, peak) = memory_mib();
    println!(
        "total {:.2} s, peak rss {peak:.1} MiB",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The data directory of a SQLite URL, for its `wangge.toml`.
pub fn data_dir_of(url: &str) -> Option<PathBuf> {
    url.strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
}

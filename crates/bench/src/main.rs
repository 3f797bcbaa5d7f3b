//! `wangge-bench`: synthetic national territory lists and measurements against a loaded store.
//! See BENCHMARKS.md at the top of the repository for how it is used and the results.

mod dashboard;
mod gencases;
mod intake;
mod latency;
mod locate;
mod phases;
mod probe;
mod stats;
mod synth;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "wangge-bench", about = "Benchmarks of Wangge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic national list of units as CSV (code,name,parent_code,level),
    /// or as .xlsx when OUT ends in .xlsx.
    GenUnits {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 340)]
        cities: usize,
        #[arg(long, default_value_t = 3_000)]
        counties: usize,
        #[arg(long, default_value_t = 41_000)]
        towns: usize,
        #[arg(long, default_value_t = 620_000)]
        villages: usize,
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
    },
    /// Time `Store::unit_children` for random parents of every level of a loaded database.
    ChildrenLatency {
        /// sqlite:///path/wangge.db or postgres://…
        #[arg(long)]
        database_url: String,
        /// Timed calls per level.
        #[arg(long, default_value_t = 2_000)]
        samples: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Expand at most N random units per depth while listing the tree (default: all of them).
        #[arg(long)]
        walk_limit: Option<usize>,
    },
    /// Run the steps of `wangge import units FILE` one by one, with their time and memory.
    ImportPhases {
        #[arg(long)]
        database_url: String,
        /// Data directory holding wangge.toml (levels); default: the SQLite file's directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Stop after the domain validation (`validate_import`), without writing.
        #[arg(long)]
        validate_only: bool,
        file: PathBuf,
    },
    /// Experiment: the import's multi-row INSERTs on a fresh SQLite file with `$n` versus `?`
    /// placeholders, for several chunk sizes (raw sqlx; explains the SQLite import time).
    SqliteInsertProbe {
        file: PathBuf,
        /// Rows to insert from the start of FILE.
        #[arg(long, default_value_t = 50_000)]
        rows: usize,
        /// Rows per INSERT statement, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,100,20")]
        chunks: Vec<usize>,
    },
    /// Point-to-grid lookups: `LocateIndex::locate` over generated grids tiling a region, and
    /// PostGIS `ST_Contains` on a GiST index over the same polygons (with --postgis-url).
    Locate(locate::LocateOptions),
    /// Write a province-sized territory and N realistic cases into a new SQLite database (B3/B4).
    GenCases(gencases::GenCasesOptions),
    /// Time the dashboard figures and the case list and search through the Store API.
    QueryLatency(dashboard::QueryOptions),
    /// B1: case submissions over HTTP to a running server (closed loop, or open loop at --rate).
    Intake(intake::IntakeOptions),
    /// One durable single-row transaction at a time (SQLite synchronous=FULL, or PostgreSQL).
    RawCommits(intake::RawCommitOptions),
    /// The crash test's check: every acknowledged report (from `intake --acked`) is stored, and
    /// the audit chain is whole.
    CheckAcked(intake::CheckAckedOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::GenUnits {
            out,
            cities,
            counties,
            towns,
            villages,
            seed,
        } => {
            let opts = synth::GenOptions {
                cities,
                counties,
                towns,
                villages,
                seed,
            };
            let started = std::time::Instant::now();
            let c = synth::generate_file(&opts, &out)?;
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote {} ({:.1} MiB) in {:.1} s, seed {seed}",
                out.display(),
                size as f64 / (1 << 20) as f64,
                started.elapsed().as_secs_f64()
            );
            println!("province {:>8}", c.provinces);
            println!("city     {:>8}", c.cities);
            println!("county   {:>8}", c.counties);
            println!("town     {:>8}", c.towns);
            println!("village  {:>8}", c.villages);
            println!("total    {:>8}", c.total());
        }
        Command::ChildrenLatency {
            database_url,
            samples,
            seed,
            walk_limit,
        } => {
            latency::run(&latency::LatencyOptions {
                database_url,
                samples,
                seed,
                walk_limit,
            })
            .await?;
        }
        Command::ImportPhases {
            database_url,
            data_dir,
            validate_only,
            file,
        } => {
            let data_dir = data_dir.or_else(|| phases::data_dir_of(&database_url));
            phases::run(&phases::PhaseOptions {
                database_url,
                data_dir,
                file,
                validate_only,
            })
            .await?;
        }
        Command::SqliteInsertProbe { file, rows, chunks } => {
            probe::run(&file, rows, &chunks).await?;
        }
        Command::GenCases(options) => gencases::run(&options).await?,
        Command::QueryLatency(options) => dashboard::run(&options).await?,
        Command::Locate(options) => {
            locate::run(&options).await?;
        }
        Command::Intake(options) => intake::run(options).await?,
        Command::RawCommits(options) => intake::raw_commits(options).await?,
        Command::CheckAcked(options) => intake::check_acked(options).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole pipeline on a small list: generate, import step by step, time the children.
    #[test]
    fn generate_import_and_measure_a_small_list() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("wangge-bench-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("units.csv");
        let url = format!("sqlite://{}/wangge.db", dir.display());
        let opts = synth::GenOptions {
            cities: 35,
            counties: 60,
            towns: 200,
            villages: 900,
            seed: 5,
        };
        let counts = synth::generate_file(&opts, &file)?;
        let rt = tokio::runtime::Runtime::new()?;
        rt.block_on(async {
            phases::run(&phases::PhaseOptions {
                database_url: url.clone(),
                data_dir: None,
                file: file.clone(),
                validate_only: false,
            })
            .await?;
            let store =
                wangge_store::open(&url, std::sync::Arc::new(wangge_domain::clock::SystemClock))
                    .await?;
            assert_eq!(store.unit_count().await?, counts.total() as i64);
            store.close().await;
            latency::run(&latency::LatencyOptions {
                database_url: url.clone(),
                samples: 20,
                seed: 1,
                walk_limit: Some(3),
            })
            .await
        })?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}

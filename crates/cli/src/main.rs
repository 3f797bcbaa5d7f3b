//! `wangge`: the one binary of the platform.

mod backup;
mod demo;
mod demo_cases;
mod demo_map;
mod remote;
mod setup;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use wangge_domain::clock::Clock;

#[derive(Parser)]
#[command(
    name = "wangge",
    version,
    about = "网格化服务管理平台 Wangge: grid-based community governance"
)]
struct Cli {
    /// Data directory (SQLite database, configuration `wangge.toml`).
    #[arg(
        long,
        global = true,
        default_value = "./wangge-data",
        env = "WANGGE_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Use PostgreSQL instead of the embedded SQLite, e.g. postgres://user@127.0.0.1/wangge
    #[arg(long, global = true, env = "WANGGE_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080", env = "WANGGE_LISTEN")]
        listen: String,
    },
    /// Fill a fresh data directory with a demo county and one user per role, then serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080", env = "WANGGE_LISTEN")]
        listen: String,
        /// Password of `admin` (default: WANGGE_ADMIN_PASSWORD, else a random one, printed).
        #[arg(long)]
        admin_password: Option<String>,
        /// Demo cases to generate over the last 90 days through the case engine (0: none);
        /// 2000 take about 30-50 s on SQLite, about twice that on PostgreSQL.
        #[arg(long, default_value_t = 2000, env = "WANGGE_DEMO_CASES")]
        cases: usize,
    },
    /// Import data files.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Verify data consistency: the audit log's hash chain, and the dashboards' aggregates
    /// against a full recount of the cases. Exit code 1 when either is wrong.
    Check {
        /// Replace aggregates that differ from the recount by the recount.
        #[arg(long)]
        repair: bool,
    },
    /// Write a consistent backup (database, media files, configuration) to FILE, a zip archive,
    /// while the platform may be running. Exit code 1 when it fails (no file is left behind).
    Backup { file: PathBuf },
    /// Restore a backup made by `wangge backup` into an empty database. Exit codes: 2 the target
    /// holds data (see --force), 3 the backup is damaged, 4 it is from a newer schema or another
    /// database kind, 1 other failures; nothing is changed in all these cases.
    Restore {
        file: PathBuf,
        /// Replace the data the target holds (still all or nothing). Stop the server first.
        #[arg(long)]
        force: bool,
    },
    /// Manage users from the server's console.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Territory units from CSV or .xlsx (columns code, name, parent_code, level), all or nothing.
    Units {
        file: PathBuf,
        /// Where to write the row-by-row error report if the file is rejected.
        #[arg(long, default_value = "import-errors.csv")]
        report: PathBuf,
        /// Import through a running server (http://HOST:PORT) instead of the local database.
        #[arg(long, env = "WANGGE_SERVER", requires = "token")]
        server: Option<String>,
        /// Personal API token for --server.
        #[arg(long, env = "WANGGE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Boundaries from a GeoJSON FeatureCollection (.geojson/.json) or a zipped Shapefile (.zip),
    /// matched to units by a code attribute, all or nothing, with topology checks.
    Boundaries {
        file: PathBuf,
        /// The attribute holding the unit code.
        #[arg(long, default_value = "code")]
        code_field: String,
        /// Coordinate system of the file: wgs84 (also CGCS2000), gcj02 or bd09.
        #[arg(long, default_value = "wgs84")]
        crs: String,
        /// Store even if there are overlaps, gaps or parts outside the parent.
        #[arg(long)]
        accept_warnings: bool,
        /// Where to write the topology report (JSON) when there are problems.
        #[arg(long, default_value = "boundary-report.json")]
        report: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Set a new password (a random one is printed when --password is not given) and unlock.
    ResetPassword {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WANGGE_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    if let Command::Import {
        what:
            ImportWhat::Units {
                file,
                report,
                server: Some(server),
                token,
            },
    } = &cli.command
    {
        let remote = remote::Remote::new(server, token.as_deref().unwrap_or_default())?;
        return setup::import_units_remote(&remote, file, report).await;
    }
    match &cli.command {
        Command::Backup { file } => {
            return Ok(backup::backup(&cli.data_dir, cli.database_url.as_deref(), file).await);
        }
        Command::Restore { file, force } => {
            return Ok(
                backup::restore(&cli.data_dir, cli.database_url.as_deref(), file, *force).await,
            );
        }
        _ => {}
    }
    let env = setup::Env::open(&cli.data_dir, cli.database_url.as_deref()).await?;
    match cli.command {
        Command::Serve { listen } => {
            env.ensure_admin(None).await?;
            env.serve(&listen).await?;
        }
        Command::Demo {
            listen,
            admin_password,
            cases,
        } => {
            let pw = admin_password.or_else(|| std::env::var("WANGGE_ADMIN_PASSWORD").ok());
            if env.state.store.user_count().await? == 0 {
                env.ensure_admin(pw).await?;
                let now = wangge_domain::clock::SystemClock.now_ms();
                demo::seed(&env.state, &env.url, cases, now)
                    .await
                    .context("seeding the demo data")?;
            } else {
                println!("The data directory already holds data; serving it without re-seeding.");
            }
            env.serve(&listen).await?;
        }
        Command::Import {
            what: ImportWhat::Units { file, report, .. },
        } => {
            return setup::import_units(&env.state, &file, &report).await;
        }
        Command::Import {
            what:
                ImportWhat::Boundaries {
                    file,
                    code_field,
                    crs,
                    accept_warnings,
                    report,
                },
        } => {
            let options = wangge_server::ImportOptions {
                shapefile: file
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("zip")),
                code_field: Some(code_field),
                crs: crs
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--crs must be wgs84, gcj02 or bd09"))?,
                accept_warnings,
            };
            return setup::import_boundaries(&env.state, &file, options, &report).await;
        }
        Command::Check { repair } => return setup::check(&env.state, repair).await,
        // handled above, without opening (and migrating) the database first
        Command::Backup { .. } | Command::Restore { .. } => {}
        Command::User {
            action: UserAction::ResetPassword { username, password },
        } => {
            setup::reset_password(&env.state, &username, password).await?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

//! Opening the data directory and the operator commands that work on it directly.

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use wangge_domain::audit::{Actor, ChainVerifier};
use wangge_domain::clock::{Clock, SystemClock};
use wangge_domain::roles::{Role, Scope};
use wangge_server::AppState;
use wangge_server::auth::hash_password;
use wangge_server::config::Config;
use wangge_server::territory_file::{self, FileKind};
use wangge_store::{ImportStage, NewUser, StoreError, UserPatch};

pub struct Env {
    pub state: AppState,
    /// The database URL the state was opened with (the demo opens a second handle on it).
    pub url: String,
}

impl Env {
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Env> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let config = Config::load(data_dir)?;
        let url = match database_url {
            Some(u) => u.to_string(),
            None => format!("sqlite://{}", data_dir.join("wangge.db").display()),
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = wangge_store::open_in(&url, clock.clone(), config.time_zone.clone())
            .await
            .with_context(|| {
                format!(
                    "opening the {} database",
                    if url.starts_with("sqlite") {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    }
                )
            })?;
        Ok(Env {
            state: AppState::new(store, config, clock),
            url,
        })
    }

    /// On first run, creates `admin` (system administrator everywhere).
    pub async fn ensure_admin(&self, password: Option<String>) -> anyhow::Result<()> {
        let store = &self.state.store;
        if store.user_count().await? > 0 {
            return Ok(());
        }
        let from_env = password.or_else(|| std::env::var("WANGGE_ADMIN_PASSWORD").ok());
        let (password, generated) =
            chosen_password(&self.state, from_env).map_err(|e| e.context("admin password"))?;
        let actor = Actor::system("setup");
        let admin = store
            .user_create(
                &actor,
                &NewUser {
                    username: "admin".into(),
                    display_name: "系统管理员".into(),
                    password_hash: hash_password(&password)?,
                    phone: None,
                },
            )
            .await?;
        store
            .grant_add(&Scope::All, &actor, admin.id, Role::SystemAdmin, None)
            .await?;
        if generated {
            println!("Created the administrator `admin` with the password: {password}");
            println!("(shown only this once; change it after logging in)");
        } else {
            println!("Created the administrator `admin`.");
        }
        Ok(())
    }

    pub async fn serve(&self, listen: &str) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        println!(
            "Wangge is running on {} ({}) at http://{addr}/",
            self.state.store.backend(),
            env!("CARGO_PKG_VERSION")
        );
        println!("API docs: http://{addr}/api/docs   mobile: http://{addr}/m/");
        wangge_server::serve(self.state.clone(), listener).await
    }
}

/// The given password if it meets the policy, or a random one; `true` when generated (to print it).
fn chosen_password(state: &AppState, given: Option<String>) -> anyhow::Result<(String, bool)> {
    let (password, generated) = match given {
        Some(p) => (p, false),
        None => (random_password(), true),
    };
    state
        .config
        .password_policy
        .check(&password)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((password, generated))
}

pub fn random_password() -> String {
    let mut b = [0u8; 9];
    rand::rng().fill_bytes(&mut b);
    format!("Wg#{}", hex::encode(b))
}

pub async fn import_units(
    state: &AppState,
    file: &Path,
    report: &Path,
) -> anyhow::Result<ExitCode> {
    let kind = FileKind::detect(None, file.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: the file must end in .csv or .xlsx", file.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let rows = territory_file::parse(kind, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            file.display(),
            e.message.unwrap_or_else(|| e.code.into())
        )
    })?;
    drop(bytes);
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} rows ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("checking");
    let progress = |p: wangge_store::ImportProgress| {
        if p.stage == ImportStage::Writing {
            bar.set_message("writing");
        }
        bar.set_position(p.done);
    };
    let started = std::time::Instant::now();
    let actor = Actor::system("cli");
    match state
        .store
        .unit_import(&Scope::All, &actor, &state.config.levels, rows, &progress)
        .await
    {
        Ok(n) => {
            bar.finish_with_message("done");
            println!(
                "Imported {n} units in {:.1} s.",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::ImportRejected(errors)) => {
            bar.abandon_with_message("rejected");
            std::fs::write(report, territory_file::error_report_csv(&errors))
                .with_context(|| format!("writing {}", report.display()))?;
            eprintln!(
                "Nothing was imported: {} rows have errors. The first ones:",
                errors.len()
            );
            for e in errors.iter().take(10) {
                eprintln!("  row {}: {} ({}) {}", e.row, e.error, e.code, e.message);
            }
            eprintln!("The full report is in {}", report.display());
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// The same import through a server's API, with the caller's token and scope.
/// Imports a boundary file into the local database; exit code 2 and a report when refused.
pub async fn import_boundaries(
    state: &AppState,
    file: &Path,
    options: wangge_server::ImportOptions,
    report: &Path,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let actor = Actor::system("cli");
    match wangge_server::import_boundaries(state, &actor, &Scope::All, bytes, options).await {
        Ok(done) => {
            println!("Imported the boundaries of {} units.", done.imported);
            if done.report["warnings"].as_u64().unwrap_or(0) > 0 {
                write_report(report, &done.report)?;
                println!("Warnings accepted; they are listed in {}", report.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.code == "boundary_import_rejected" || e.code == "topology_warnings" => {
            eprintln!("Nothing was imported ({}). The first problems:", e.code);
            for p in e.details["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .take(10)
            {
                eprintln!(
                    "  {}: {}",
                    p["severity"].as_str().unwrap_or(""),
                    p["message"].as_str().unwrap_or("")
                );
            }
            if e.code == "topology_warnings" {
                eprintln!("Check them, then import again with --accept-warnings to store anyway.");
            }
            write_report(report, &e.details)?;
            eprintln!("The full report is in {}", report.display());
            Ok(ExitCode::from(2))
        }
        Err(e) => bail!("{}: {}", e.code, e.message.unwrap_or_default()),
    }
}

fn write_report(path: &Path, report: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub async fn import_units_remote(
    remote: &crate::remote::Remote,
    file: &Path,
    report: &Path,
) -> anyhow::Result<ExitCode> {
    let kind = FileKind::detect(None, file.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: the file must end in .csv or .xlsx", file.display()))?;
    let content_type = match kind {
        FileKind::Csv => "text/csv",
        FileKind::Xlsx => territory_file::XLSX_MIME,
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "uploading {} bytes and importing on the server",
        bytes.len()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let (status, body) = remote
        .post("/api/v1/units/import", content_type, bytes)
        .await?;
    spinner.finish_and_clear();
    match (status, body["code"].as_str()) {
        (200, _) => {
            println!("Imported {} units.", body["imported"]);
            Ok(ExitCode::SUCCESS)
        }
        (422, Some("import_rejected")) => {
            eprintln!(
                "Nothing was imported: {} rows have errors. The first ones:",
                body["details"]["error_count"]
            );
            for e in body["details"]["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .take(10)
            {
                eprintln!(
                    "  row {}: {} ({}) {}",
                    e["row"],
                    e["error"].as_str().unwrap_or(""),
                    e["code"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                );
            }
            let id = body["details"]["report_id"].as_str().unwrap_or("");
            let (status, csv) = remote
                .get(&format!("/api/v1/units/import/reports/{id}"))
                .await?;
            if status != 200 {
                bail!("downloading the error report answered {status}");
            }
            std::fs::write(report, &csv)
                .with_context(|| format!("writing {}", report.display()))?;
            eprintln!("The full report is in {}", report.display());
            Ok(ExitCode::from(2))
        }
        (status, code) => bail!(
            "the server answered {status} {}: {}",
            code.unwrap_or("?"),
            body["message"].as_str().unwrap_or("")
        ),
    }
}

/// Verifies the audit chain and reports the first broken link.
/// `wangge check`: the audit log's hash chain, and the dashboards' aggregates against a full
/// recount of the cases (replaced by the recount with `repair`). Exit code 1 if either is wrong.
pub async fn check(state: &AppState, repair: bool) -> anyhow::Result<ExitCode> {
    let chain_ok = check_audit_chain(state).await?;
    let started = std::time::Instant::now();
    let a = state.store.case_aggregates_check(repair).await?;
    let secs = started.elapsed().as_secs_f64();
    let aggregates_ok = if a.difference_count == 0 {
        println!(
            "aggregates OK: {} cases recounted, {} count cells and {} day cells equal ({secs:.1} s)",
            a.cases, a.count_cells, a.day_cells
        );
        true
    } else {
        println!(
            "aggregates {}: {} differences from a recount of {} cases ({secs:.1} s)",
            if a.repaired { "REPAIRED" } else { "DIFFER" },
            a.difference_count,
            a.cases
        );
        for d in a.differences.iter().take(20) {
            println!("  {d}");
        }
        if a.difference_count > 20 {
            println!("  … and {} more", a.difference_count - 20);
        }
        if !a.repaired {
            println!("  run `wangge check --repair` to replace them by the recount");
        }
        a.repaired
    };
    Ok(if chain_ok && aggregates_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn check_audit_chain(state: &AppState) -> anyhow::Result<bool> {
    let mut v = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = state.store.audit_page(after, 5000).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if let Err(b) = v.check(e) {
                println!(
                    "audit chain BROKEN at entry {}: {} ({} entries verified before it)",
                    b.seq, b.reason, v.checked
                );
                return Ok(false);
            }
            after = e.seq;
        }
    }
    println!("audit chain OK: {} entries verified", v.checked);
    Ok(true)
}

pub async fn reset_password(
    state: &AppState,
    username: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let store = &state.store;
    let Some((user, _)) = store.user_credentials(username).await? else {
        bail!("no user named {username}");
    };
    let (password, generated) = chosen_password(state, password)?;
    let actor = Actor::system("cli");
    store
        .user_set_password(&actor, user.id, &hash_password(&password)?)
        .await?;
    store.sessions_delete_for_user(user.id).await?;
    store.login_failures_clear(username).await?;
    if user.disabled {
        store
            .user_update(
                &actor,
                user.id,
                &UserPatch {
                    disabled: Some(false),
                    ..Default::default()
                },
            )
            .await?;
    }
    if generated {
        println!("New password of {username}: {password}");
    } else {
        println!("Password of {username} changed.");
    }
    Ok(())
}

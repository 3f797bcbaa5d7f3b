//! `wangge backup` and `wangge restore`.
//!
//! A backup is one zip archive:
//! - `database.sqlite` (a `VACUUM INTO` snapshot) or `database.pgdump` (`pg_dump --format=custom`
//!   of the URL's schema, taken in an exported snapshot so the row counts below match it),
//! - `media/…`, the photos and videos of `DATA/media` (named by their SHA-256, never changed),
//!   copied after the database snapshot, so every file the snapshot refers to is there,
//! - `wangge.toml`, the configuration, when the data directory has one,
//! - `manifest.json`, written last: format version, backend, schema version, time, the rows of
//!   every table in the snapshot, and the size and SHA-256 of every other part.
//!
//! The archive is written to a temporary file, synced and renamed, so a backup that is there is
//! complete. A restore reads the manifest, extracts and checks every part before it changes
//! anything, then adds the media files (harmless: they are named by content) and puts the
//! database in place in one step: a rename for SQLite, one transaction for PostgreSQL.

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use wangge_domain::clock::{Clock, SystemClock};
use wangge_store::StoreError;
use wangge_store::backup::{self as db, Backend, Contents};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const FORMAT: &str = "wangge-backup";
const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DB_SQLITE: &str = "database.sqlite";
const DB_POSTGRES: &str = "database.pgdump";
const CONFIG: &str = "wangge.toml";

/// Exit codes of `wangge restore` (`wangge backup` uses 0 and 1).
const EXIT_FAILED: u8 = 1;
const EXIT_NOT_EMPTY: u8 = 2;
const EXIT_DAMAGED: u8 = 3;
const EXIT_INCOMPATIBLE: u8 = 4;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    /// The wangge version that made the backup.
    wangge_version: String,
    /// `sqlite` or `postgres`.
    backend: String,
    /// The highest migration applied to the database.
    schema_version: i64,
    /// RFC 3339, UTC.
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    postgres: Option<PgInfo>,
    /// Rows of every table in the snapshot.
    tables: BTreeMap<String, i64>,
    /// Every other file of the archive.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PgInfo {
    /// The schema that was dumped (restores re-qualify its names with the target schema).
    schema: String,
    server_version: String,
    pg_dump: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Part {
    name: String,
    size: u64,
    sha256: String,
}

/// An error with its exit code and a Chinese line for the operator.
#[derive(Debug)]
struct Failure {
    exit: u8,
    en: String,
    zh: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for Failure {}

fn failure(exit: u8, en: impl Into<String>, zh: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        exit,
        en: en.into(),
        zh: zh.into(),
    })
}

/// Prints the error in English (with its causes) and in Chinese; the exit code is the
/// failure's, else 1.
fn report(e: &anyhow::Error, zh_default: &str) -> ExitCode {
    let (exit, zh) = match e.downcast_ref::<Failure>() {
        Some(f) => (f.exit, f.zh.as_str()),
        None => (EXIT_FAILED, zh_default),
    };
    eprintln!("error: {e:#}");
    eprintln!("错误：{zh}");
    ExitCode::from(exit)
}

/// A file or directory removed when dropped (unless kept).
struct Scratch(Option<PathBuf>);

impl Scratch {
    fn new(path: PathBuf) -> Scratch {
        Scratch(Some(path))
    }
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

fn database_url(data_dir: &Path, database_url: Option<&str>) -> String {
    match database_url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", data_dir.join("wangge.db").display()),
    }
}

fn sync_path(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Copies `r` to `w`, returning the bytes copied and their SHA-256.
fn copy_hashing(mut r: impl Read, w: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
    Ok((n, hex::encode(hasher.finalize())))
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Media files under `dir` as (path relative to it with `/`, full path); temporary files (names
/// starting with a dot) are left out.
fn media_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta =
                std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                walk(&path, &rel, out)?;
            } else if meta.is_file() {
                out.push((rel, path));
            }
        }
        Ok(())
    }
    let mut out = vec![];
    if dir.is_dir() {
        walk(dir, "", &mut out)?;
    }
    Ok(out)
}

/// Whether `name` may be a part of an archive: the database, the configuration, or
/// `media/a/b/c.ext` with plain components.
fn valid_part_name(name: &str) -> bool {
    if name == DB_SQLITE || name == DB_POSTGRES || name == CONFIG {
        return true;
    }
    let Some(rel) = name.strip_prefix("media/") else {
        return false;
    };
    rel.split('/').all(|c| {
        !c.is_empty()
            && !c.starts_with('.')
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
    })
}

/// `pg_dump --version` → (`pg_dump (PostgreSQL) 15.20 …`, 15).
async fn tool_version(tool: &str, server_major: Option<i64>) -> anyhow::Result<(String, i64)> {
    let wanted = server_major.map(|m| format!(" {m}")).unwrap_or_default();
    let out = match tokio::process::Command::new(tool)
        .arg("--version")
        .output()
        .await
    {
        Ok(o) if o.status.success() => o,
        _ => {
            return Err(failure(
                EXIT_FAILED,
                format!(
                    "{tool} was not found: install the PostgreSQL client tools{wanted} (the server's major version or newer) and put them on PATH"
                ),
                format!(
                    "找不到 {tool}：请安装 PostgreSQL 客户端工具{wanted}（与数据库服务器同一主版本或更新）并加入 PATH"
                ),
            ));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major = text
        .split_whitespace()
        .find_map(|w| w.split('.').next().and_then(|m| m.parse::<i64>().ok()))
        .ok_or_else(|| anyhow!("cannot read the version of {tool}: {text}"))?;
    Ok((text, major))
}

// ---------------------------------------------------------------------------------------------
// backup

/// `wangge backup FILE`.
pub async fn backup(data_dir: &Path, database_url_arg: Option<&str>, file: &Path) -> ExitCode {
    match backup_inner(data_dir, database_url_arg, file).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, "备份失败，没有写出备份文件。"),
    }
}

async fn backup_inner(
    data_dir: &Path,
    database_url_arg: Option<&str>,
    file: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = database_url(data_dir, database_url_arg);
    let backend = Backend::of_url(&url)?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: not a file name", file.display()))?
        .to_string();
    if file.is_dir() {
        return Err(failure(
            EXIT_FAILED,
            format!(
                "{} is a directory; give the name of the backup file, e.g. wangge-backup.zip",
                file.display()
            ),
            format!(
                "{} 是目录；请给出备份文件名，例如 wangge-backup.zip",
                file.display()
            ),
        ));
    }
    let dir = parent_dir(file);
    if !dir.is_dir() {
        return Err(failure(
            EXIT_FAILED,
            format!("the directory {} does not exist", dir.display()),
            format!("目录 {} 不存在", dir.display()),
        ));
    }
    let pid = std::process::id();
    let work = Scratch::new(dir.join(format!(".{name}.parts-{pid}")));
    std::fs::create_dir(work.path())
        .with_context(|| format!("creating {}", work.path().display()))?;

    // 1. the database, as one consistent snapshot
    let (db_name, contents, postgres) = match backend {
        Backend::Sqlite => {
            let path = db::sqlite_path(&url)?;
            if !path.is_file() {
                return Err(failure(
                    EXIT_FAILED,
                    format!("there is no database at {}", path.display()),
                    format!("{} 处没有数据库", path.display()),
                ));
            }
            let c = db::sqlite_snapshot(&path, &work.path().join(DB_SQLITE))
                .await
                .context("taking a snapshot of the SQLite database")?;
            (DB_SQLITE, c, None)
        }
        Backend::Postgres => {
            let (c, info) = pg_dump(&url, &work.path().join(DB_POSTGRES)).await?;
            (DB_POSTGRES, c, Some(info))
        }
    };
    let db_file = work.path().join(db_name);
    sync_path(&db_file).with_context(|| format!("syncing {}", db_file.display()))?;
    let schema_version = contents.schema_version.ok_or_else(|| {
        anyhow!("the database has no schema_migrations table: is it a Wangge database?")
    })?;

    // 2. the archive: database, media, configuration, manifest; synced, then renamed into place
    let media = media_files(&data_dir.join("media"))?;
    let config = data_dir.join(CONFIG);
    let tmp = Scratch::new(dir.join(format!(".{name}.tmp-{pid}")));
    let now = jiff::Timestamp::now();
    let utc = now.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mtime = zip::DateTime::from_date_and_time(
        u16::try_from(utc.year()).unwrap_or(1980),
        utc.month().unsigned_abs(),
        utc.day().unsigned_abs(),
        utc.hour().unsigned_abs(),
        utc.minute().unsigned_abs(),
        utc.second().unsigned_abs(),
    )
    .ok();
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        wangge_version: env!("CARGO_PKG_VERSION").into(),
        backend: backend.name().into(),
        schema_version,
        created_at: now.to_string(),
        postgres,
        tables: contents.tables.clone(),
        parts: vec![],
    };
    let tmp_path = tmp.path().to_path_buf();
    let db_method = if backend == Backend::Sqlite {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored // the custom format is compressed already
    };
    let (manifest, bytes) = tokio::task::spawn_blocking(move || {
        let mut inputs = vec![(db_name.to_string(), db_file, db_method)];
        if config.is_file() {
            inputs.push((CONFIG.to_string(), config, CompressionMethod::Deflated));
        }
        for (rel, path) in media {
            inputs.push((format!("media/{rel}"), path, CompressionMethod::Stored));
        }
        write_archive(&tmp_path, inputs, manifest, mtime)
    })
    .await
    .map_err(|e| anyhow!("{e}"))??;
    std::fs::rename(tmp.path(), file)
        .with_context(|| format!("renaming the finished backup to {}", file.display()))?;
    tmp.keep();
    sync_path(dir).with_context(|| format!("syncing {}", dir.display()))?;

    let media_count = manifest
        .parts
        .iter()
        .filter(|p| p.name.starts_with("media/"))
        .count();
    println!(
        "Backup written to {}: {} database (schema version {}, {} tables, {} rows), {} media files, {} in {:.1} s.",
        file.display(),
        if backend == Backend::Sqlite {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        manifest.schema_version,
        manifest.tables.len(),
        contents.total_rows(),
        media_count,
        human(bytes),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes the zip archive: every input with its size and SHA-256 in the manifest, then the
/// manifest; synced. Returns the manifest and the archive's size.
fn write_archive(
    tmp: &Path,
    inputs: Vec<(String, PathBuf, CompressionMethod)>,
    mut manifest: Manifest,
    mtime: Option<zip::DateTime>,
) -> anyhow::Result<(Manifest, u64)> {
    let file = File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let base = match mtime {
        Some(t) => SimpleFileOptions::default().last_modified_time(t),
        None => SimpleFileOptions::default(),
    }
    .unix_permissions(0o600);
    for (name, path, method) in inputs {
        let size = std::fs::metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let options = base
            .compression_method(method)
            .large_file(size >= u64::from(u32::MAX));
        zip.start_file(name.as_str(), options)?;
        let input = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        let (n, sha256) = copy_hashing(input, &mut zip)
            .with_context(|| format!("copying {} into the backup", path.display()))?;
        if let Some(stem) = name
            .strip_prefix("media/")
            .and_then(|r| r.rsplit('/').next())
            .and_then(|f| f.split('.').next())
            && stem.len() == 64
            && stem != sha256
        {
            eprintln!(
                "warning: {} does not match the SHA-256 in its name (damaged on disk?); it is backed up as it is",
                path.display()
            );
        }
        manifest.parts.push(Part {
            name,
            size: n,
            sha256,
        });
    }
    zip.start_file(
        MANIFEST,
        base.compression_method(CompressionMethod::Deflated),
    )?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    let file = zip
        .finish()?
        .into_inner()
        .map_err(|e| anyhow!("writing {}: {}", tmp.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    let size = file.metadata()?.len();
    Ok((manifest, size))
}

/// `pg_dump --format=custom` of the URL's schema in an exported snapshot, with the rows of every
/// table counted in that same snapshot.
async fn pg_dump(url: &str, dest: &Path) -> anyhow::Result<(Contents, PgInfo)> {
    let env = db::libpq_env(url)?;
    let dest = dest.to_path_buf();
    db::pg_with_snapshot(url, async |snap: &db::PgSnapshot| -> anyhow::Result<(Contents, PgInfo)> {
        let server_major = snap.server_version_num / 10000;
        let (version, major) = tool_version("pg_dump", Some(server_major)).await?;
        if major < server_major {
            return Err(failure(
                EXIT_FAILED,
                format!("{version} is older than the server ({}); install pg_dump {server_major} or newer", snap.server_version),
                format!("pg_dump 版本（{major}）低于数据库服务器（{server_major}）；请安装 {server_major} 或更新版本的 pg_dump"),
            ));
        }
        let out = tokio::process::Command::new("pg_dump")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("--format=custom")
            .arg("--no-owner")
            .arg("--no-acl")
            .arg(format!("--schema=\"{}\"", snap.schema.replace('"', "\"\"")))
            .arg(format!("--snapshot={}", snap.id))
            .arg("--file")
            .arg(&dest)
            .output()
            .await
            .context("running pg_dump")?;
        if !out.status.success() {
            return Err(failure(
                EXIT_FAILED,
                format!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
                "pg_dump 执行失败，没有写出备份文件。",
            ));
        }
        Ok((
            snap.contents.clone(),
            PgInfo {
                schema: snap.schema.clone(),
                server_version: snap.server_version.clone(),
                pg_dump: version,
            },
        ))
    })
    .await
    .context("dumping the PostgreSQL database")?
}

// ---------------------------------------------------------------------------------------------
// restore

/// `wangge restore FILE [--force]`.
pub async fn restore(
    data_dir: &Path,
    database_url_arg: Option<&str>,
    file: &Path,
    force: bool,
) -> ExitCode {
    match restore_inner(data_dir, database_url_arg, file, force).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, "恢复失败（原因见上方英文信息）。"),
    }
}

fn damaged(file: &Path, what: impl fmt::Display) -> anyhow::Error {
    failure(
        EXIT_DAMAGED,
        format!(
            "the backup {} is damaged: {what}; nothing was restored",
            file.display()
        ),
        format!(
            "备份文件 {} 已损坏（校验不符或内容不全）；未恢复任何数据。",
            file.display()
        ),
    )
}

fn not_empty(what: &str) -> anyhow::Error {
    failure(
        EXIT_NOT_EMPTY,
        format!(
            "the target database already holds data ({what}); restore only into an empty database, or add --force to replace it; nothing was changed"
        ),
        format!(
            "目标数据库已有数据（{what}）：只能恢复到空数据库；如确需替换现有数据，请加 --force。未做任何改动。"
        ),
    )
}

/// Maps the store's refusals during a restore to their exit codes.
fn store_refusal(file: &Path, e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Rejected {
            code: "target_not_empty",
            message,
        } => not_empty(&message),
        StoreError::Rejected {
            code: "restore_mismatch" | "audit_chain_broken",
            message,
        } => damaged(file, message),
        e => anyhow::Error::new(e),
    }
}

async fn restore_inner(
    data_dir: &Path,
    database_url_arg: Option<&str>,
    file: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = database_url(data_dir, database_url_arg);
    let backend = Backend::of_url(&url)?;

    // 1. the manifest, and whether this build can restore it
    let archive_file = File::open(file).map_err(|e| {
        failure(
            EXIT_FAILED,
            format!("cannot open {}: {e}", file.display()),
            format!("无法打开 {}", file.display()),
        )
    })?;
    let not_a_backup = |why: String| {
        failure(
            EXIT_DAMAGED,
            format!("{} is not a Wangge backup: {why}", file.display()),
            format!(
                "{} 不是 Wangge 备份文件（或已损坏）；未恢复任何数据。",
                file.display()
            ),
        )
    };
    let mut zip = zip::ZipArchive::new(archive_file).map_err(|e| not_a_backup(e.to_string()))?;
    let manifest: Manifest = {
        let mut entry = zip
            .by_name(MANIFEST)
            .map_err(|_| not_a_backup(format!("it has no {MANIFEST}")))?;
        let mut text = Vec::new();
        entry
            .read_to_end(&mut text)
            .map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
        serde_json::from_slice(&text).map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?
    };
    if manifest.format != FORMAT {
        return Err(not_a_backup(format!("its format is {:?}", manifest.format)));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(failure(
            EXIT_INCOMPATIBLE,
            format!(
                "the backup's format version {} is newer than this wangge understands ({FORMAT_VERSION}); restore it with wangge {} or newer",
                manifest.format_version, manifest.wangge_version
            ),
            format!(
                "备份格式版本 {} 高于本程序支持的 {FORMAT_VERSION}；请用 wangge {} 或更新版本恢复。",
                manifest.format_version, manifest.wangge_version
            ),
        ));
    }
    if manifest.backend != backend.name() {
        let hint = if backend == Backend::Sqlite {
            "give the PostgreSQL database with --database-url"
        } else {
            "leave out --database-url to restore into the data directory's SQLite database"
        };
        return Err(failure(
            EXIT_INCOMPATIBLE,
            format!(
                "the backup holds a {} database but the target is {}: {hint}",
                manifest.backend,
                backend.name()
            ),
            format!(
                "备份中是 {} 数据库，而目标是 {}；不能跨数据库类型恢复。",
                manifest.backend,
                backend.name()
            ),
        ));
    }
    let latest = backend.latest_schema_version();
    if manifest.schema_version > latest {
        return Err(failure(
            EXIT_INCOMPATIBLE,
            format!(
                "the backup's schema version {} is newer than this wangge's ({latest}): restore it with wangge {} or newer",
                manifest.schema_version, manifest.wangge_version
            ),
            format!(
                "备份的数据库结构版本 {} 高于本程序的 {latest}；请用 wangge {} 或更新版本恢复。",
                manifest.schema_version, manifest.wangge_version
            ),
        ));
    }
    let db_name = if backend == Backend::Sqlite {
        DB_SQLITE
    } else {
        DB_POSTGRES
    };
    let mut names = std::collections::BTreeSet::new();
    for p in &manifest.parts {
        if !valid_part_name(&p.name) || !names.insert(p.name.as_str()) {
            return Err(not_a_backup(format!(
                "the manifest lists a bad or repeated part {:?}",
                p.name
            )));
        }
    }
    if !names.contains(db_name) {
        return Err(damaged(file, format!("{db_name} is missing")));
    }
    for entry in zip.file_names() {
        let entry = entry.map_err(|e| not_a_backup(e.to_string()))?;
        if entry != MANIFEST && !entry.ends_with('/') && !names.contains(entry.as_ref()) {
            return Err(damaged(
                file,
                format!("{entry} is in the archive but not in the manifest"),
            ));
        }
    }

    // 2. is the target empty? (checked again at the moment of the swap)
    let sqlite_target = match backend {
        Backend::Sqlite => Some(db::sqlite_path(&url)?),
        Backend::Postgres => None,
    };
    let before = match &sqlite_target {
        Some(path) => db::sqlite_contents(path)
            .await
            .context("reading the target database")?,
        None => Some(
            db::pg_contents(&url)
                .await
                .context("reading the target database")?
                .1,
        ),
    };
    if let Some(c) = &before
        && c.has_data()
        && !force
    {
        return Err(not_empty(&c.describe(4)));
    }

    // 3. every part extracted next to the target and checked before anything changes
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let stage = Scratch::new(data_dir.join(format!(".restore-{}", std::process::id())));
    if stage.path().exists() {
        std::fs::remove_dir_all(stage.path())?;
    }
    std::fs::create_dir(stage.path())
        .with_context(|| format!("creating {}", stage.path().display()))?;
    for part in &manifest.parts {
        let dest = stage.path().join(&part.name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut entry = zip
            .by_name(&part.name)
            .map_err(|_| damaged(file, format!("{} is missing", part.name)))?;
        let mut out = BufWriter::new(
            File::create(&dest).with_context(|| format!("creating {}", dest.display()))?,
        );
        let (size, sha256) = copy_hashing(&mut entry, &mut out)
            .map_err(|e| damaged(file, format!("{} cannot be read ({e})", part.name)))?;
        if size != part.size || sha256 != part.sha256 {
            return Err(damaged(
                file,
                format!(
                    "{} does not match its checksum in the manifest (SHA-256 {sha256}, {size} bytes; expected {}, {} bytes)",
                    part.name, part.sha256, part.size
                ),
            ));
        }
        let f = out
            .into_inner()
            .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error()))?;
        f.sync_all()?;
    }
    drop(zip);

    // 4. the database made ready (SQLite: checked as a file; PostgreSQL: converted to SQL)
    let script = stage.path().join("database.sql");
    match &sqlite_target {
        Some(_) => {
            db::sqlite_verify(&stage.path().join(DB_SQLITE), &manifest.tables)
                .await
                .map_err(|e| store_refusal(file, e))?;
        }
        None => pg_restore_script(&stage.path().join(DB_POSTGRES), &script).await?,
    }

    // 5. media first (named by content: adding them never hurts), then the database in one step
    let now = match &sqlite_target {
        Some(path) => db::sqlite_contents(path).await?,
        None => None,
    };
    if let Some(c) = &now
        && c.has_data()
        && !force
    {
        return Err(not_empty(&c.describe(4)));
    }
    let media_added = place_media(&stage.path().join("media"), &data_dir.join("media"))?;
    let (audit_entries, replaced) = match &sqlite_target {
        Some(path) => {
            let staged = stage.path().join(DB_SQLITE);
            sync_path(&staged)?;
            // an old WAL must never be replayed onto the new file
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                match std::fs::remove_file(PathBuf::from(side)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).context("removing the target's old WAL files"),
                }
            }
            std::fs::rename(&staged, path)
                .with_context(|| format!("moving the database to {}", path.display()))?;
            sync_path(parent_dir(path))?;
            (None, now)
        }
        None => {
            let pg = manifest
                .postgres
                .as_ref()
                .ok_or_else(|| not_a_backup("the manifest names no PostgreSQL schema".into()))?;
            let done = db::pg_apply_restore(&url, &script, &pg.schema, &manifest.tables, force)
                .await
                .map_err(|e| store_refusal(file, e))?;
            (Some(done.audit_entries), Some(done.replaced))
        }
    };

    // 6. the configuration, when the target has none
    let config_note = if names.contains(CONFIG) {
        let target = data_dir.join(CONFIG);
        if target.exists() {
            let same = std::fs::read(&target).ok() == std::fs::read(stage.path().join(CONFIG)).ok();
            if same {
                None
            } else {
                Some(format!(
                    "kept the target's {CONFIG}; the backup's differs (see it with: unzip -p {} {CONFIG})",
                    file.display()
                ))
            }
        } else {
            std::fs::rename(stage.path().join(CONFIG), &target)?;
            Some(format!("restored {CONFIG}"))
        }
    } else {
        None
    };
    drop(stage);

    // 7. open it as the server will (migrations of an older backup run here) and check the chain
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = wangge_store::open(&url, clock)
        .await
        .context("opening the restored database")?;
    let audit_entries = match audit_entries {
        Some(n) => n,
        None => {
            let mut v = wangge_domain::audit::ChainVerifier::default();
            let mut after = 0;
            loop {
                let page = store.audit_page(after, 5000).await?;
                if page.is_empty() {
                    break;
                }
                for e in &page {
                    v.check(e).map_err(|b| {
                        anyhow!(
                            "the restored audit chain is broken at entry {}: {}",
                            b.seq,
                            b.reason
                        )
                    })?;
                    after = e.seq;
                }
            }
            v.checked
        }
    };
    store.close().await;

    let rows: i64 = manifest.tables.values().sum();
    println!(
        "Restored {} ({}, made {} by wangge {}): {} tables, {} rows, {} media files ({} new); audit chain OK: {} entries verified; {:.1} s.",
        file.display(),
        manifest.backend,
        manifest.created_at,
        manifest.wangge_version,
        manifest.tables.len(),
        rows,
        names.iter().filter(|n| n.starts_with("media/")).count(),
        media_added,
        audit_entries,
        started.elapsed().as_secs_f64()
    );
    if let Some(c) = replaced.filter(Contents::has_data) {
        println!("Replaced the data that was there ({}).", c.describe(4));
    }
    if manifest.schema_version < latest {
        println!(
            "The backup had schema version {}; the database is now at {latest}.",
            manifest.schema_version
        );
    }
    if let Some(note) = config_note {
        println!("{note}");
    }
    Ok(())
}

/// `pg_restore` of a custom-format dump into a plain SQL script (no database needed).
async fn pg_restore_script(dump: &Path, script: &Path) -> anyhow::Result<()> {
    tool_version("pg_restore", None).await?;
    let out = tokio::process::Command::new("pg_restore")
        .arg("--no-owner")
        .arg("--no-acl")
        .arg("--file")
        .arg(script)
        .arg(dump)
        .output()
        .await
        .context("running pg_restore")?;
    if !out.status.success() {
        return Err(failure(
            EXIT_FAILED,
            format!(
                "pg_restore failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "pg_restore 执行失败；未恢复任何数据。",
        ));
    }
    Ok(())
}

/// Moves the staged media files into the data directory (files already there are kept: the
/// name is the content's hash). Returns how many were added.
fn place_media(staged: &Path, media: &Path) -> anyhow::Result<usize> {
    let mut added = 0;
    let mut dirs = std::collections::BTreeSet::new();
    for (rel, path) in media_files(staged)? {
        let dest = media.join(&rel);
        if dest.exists() {
            continue;
        }
        let parent = parent_dir(&dest).to_path_buf();
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        std::fs::rename(&path, &dest)
            .with_context(|| format!("moving a media file to {}", dest.display()))?;
        dirs.insert(parent);
        added += 1;
    }
    for d in dirs {
        sync_path(&d)?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_stay_inside_the_archive_layout() {
        assert!(valid_part_name("database.sqlite"));
        assert!(valid_part_name("media/ab/cd/abcd.jpg"));
        assert!(!valid_part_name("media/../wangge.db"));
        assert!(!valid_part_name("media//x"));
        assert!(!valid_part_name("media/.tmp"));
        assert!(!valid_part_name("/etc/passwd"));
        assert!(!valid_part_name("other.txt"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MiB");
    }
}

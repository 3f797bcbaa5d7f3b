//! Support for `wangge backup` and `wangge restore`: consistent snapshots of either database,
//! what a database holds (tables, row counts, schema version), the PostgreSQL restore applied in
//! one transaction, the audit chain checked before a restore is committed, and a canonical dump
//! of every table for comparing two databases.
//!
//! The archive format, the media files and the `pg_dump`/`pg_restore` processes are the CLI's.

use crate::error::{StoreError, StoreResult};
use crate::migrate;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{AssertSqlSafe, Connection, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use wangge_domain::audit::{AuditEntry, ChainVerifier};

/// Rows of the audit log read per query while verifying the chain.
const AUDIT_PAGE: i64 = 5000;
/// Bytes of `COPY` data sent to PostgreSQL at a time.
const COPY_CHUNK: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> StoreResult<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    /// `sqlite` or `postgres`, as in [`crate::Store::backend`] and in backup manifests.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The newest schema (migration) version this build knows.
    pub fn latest_schema_version(self) -> i64 {
        let migrations = match self {
            Backend::Sqlite => migrate::SQLITE,
            Backend::Postgres => migrate::POSTGRES,
        };
        migrations.iter().map(|(v, _)| *v).max().unwrap_or(0)
    }
}

/// What a database holds: its schema version and the rows of each table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// The highest applied migration; `None` without a `schema_migrations` table.
    pub schema_version: Option<i64>,
    pub tables: BTreeMap<String, i64>,
}

impl Contents {
    /// Whether any table other than `schema_migrations` has a row.
    pub fn has_data(&self) -> bool {
        self.tables
            .iter()
            .any(|(t, n)| t != "schema_migrations" && *n > 0)
    }

    pub fn total_rows(&self) -> i64 {
        self.tables.values().sum()
    }

    /// The fullest tables, for messages: `users 394, audit_log 1501, …`.
    pub fn describe(&self, limit: usize) -> String {
        let mut t: Vec<_> = self
            .tables
            .iter()
            .filter(|(name, n)| *name != "schema_migrations" && **n > 0)
            .collect();
        t.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut parts: Vec<String> = t
            .iter()
            .take(limit)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        if t.len() > limit {
            parts.push("…".into());
        }
        parts.join(", ")
    }
}

fn broken_chain(seq: i64, reason: &str) -> StoreError {
    StoreError::rejected(
        "audit_chain_broken",
        format!("the audit chain is broken at entry {seq}: {reason}"),
    )
}

/// Builds an [`AuditEntry`] from a row of either backend (the same columns on both).
macro_rules! audit_entry {
    ($r:expr) => {{
        let r = $r;
        let detail_json: String = r.try_get("detail")?;
        AuditEntry {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            actor_id: r.try_get("actor_id")?,
            actor_name: r.try_get("actor_name")?,
            action: r.try_get("action")?,
            target_kind: r.try_get("target_kind")?,
            target_id: r.try_get("target_id")?,
            ip: r.try_get("ip")?,
            detail: serde_json::from_str(&detail_json).unwrap_or(serde_json::Value::Null),
            detail_json,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        }
    }};
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor_id, actor_name, action, target_kind, target_id, ip, detail, prev_hash, hash";

/// Quotes an identifier for either database.
fn qi(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------
// SQLite

/// The database file of a `sqlite:` URL.
pub fn sqlite_path(url: &str) -> StoreResult<PathBuf> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?;
    Ok(opts.get_filename().to_path_buf())
}

async fn sqlite_connect(
    path: &Path,
    journal: Option<SqliteJournalMode>,
) -> StoreResult<SqliteConnection> {
    let mut opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10));
    if let Some(j) = journal {
        opts = opts.journal_mode(j);
    }
    SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))
}

async fn sqlite_contents_of(conn: &mut SqliteConnection) -> StoreResult<Contents> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut c = Contents::default();
    for t in names {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", qi(&t))))
            .fetch_one(&mut *conn)
            .await?;
        if t == "schema_migrations" {
            c.schema_version = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(&mut *conn)
                .await?;
        }
        c.tables.insert(t, n);
    }
    Ok(c)
}

/// A consistent copy of the live database at `db` written to `dest` (which must not exist) with
/// `VACUUM INTO`: one read transaction, so writers carry on meanwhile. The copy is switched to
/// rollback-journal mode (one self-contained file); the caller fsyncs it. Returns what it holds.
pub async fn sqlite_snapshot(db: &Path, dest: &Path) -> StoreResult<Contents> {
    if !db.is_file() {
        return Err(StoreError::Config(format!(
            "there is no SQLite database at {}",
            db.display()
        )));
    }
    let dest_text = dest
        .to_str()
        .ok_or_else(|| StoreError::Config(format!("{}: not UTF-8", dest.display())))?;
    let mut live = sqlite_connect(db, None).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(dest_text)
        .execute(&mut live)
        .await?;
    live.close().await?;
    let mut copy = sqlite_connect(dest, Some(SqliteJournalMode::Delete)).await?;
    let contents = sqlite_contents_of(&mut copy).await?;
    copy.close().await?;
    Ok(contents)
}

/// What the database file at `db` holds; `None` when there is no file.
pub async fn sqlite_contents(db: &Path) -> StoreResult<Option<Contents>> {
    if !db.exists() {
        return Ok(None);
    }
    let mut conn = sqlite_connect(db, None).await?;
    let c = sqlite_contents_of(&mut conn).await?;
    conn.close().await?;
    Ok(Some(c))
}

/// Checks a restored (not yet used) database file: SQLite's `quick_check`, the rows of every
/// table against `expected`, and the audit chain. Returns the entries verified.
pub async fn sqlite_verify(db: &Path, expected: &BTreeMap<String, i64>) -> StoreResult<u64> {
    let mut conn = sqlite_connect(db, Some(SqliteJournalMode::Delete)).await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await?;
    if check != "ok" {
        return Err(StoreError::rejected(
            "restore_mismatch",
            format!("the database file fails SQLite's check: {check}"),
        ));
    }
    let contents = sqlite_contents_of(&mut conn).await?;
    compare_counts(&contents.tables, expected)?;
    let mut v = ChainVerifier::default();
    let mut after = 0i64;
    loop {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(AUDIT_PAGE)
            .fetch_all(&mut conn)
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let e = audit_entry!(r);
            v.check(&e).map_err(|b| broken_chain(b.seq, &b.reason))?;
            after = e.seq;
        }
    }
    conn.close().await?;
    Ok(v.checked)
}

fn compare_counts(
    found: &BTreeMap<String, i64>,
    expected: &BTreeMap<String, i64>,
) -> StoreResult<()> {
    if found != expected {
        let mut diffs = vec![];
        for (t, n) in expected {
            match found.get(t) {
                Some(m) if m == n => {}
                Some(m) => diffs.push(format!("{t}: {m} rows instead of {n}")),
                None => diffs.push(format!("{t}: missing")),
            }
        }
        for t in found.keys().filter(|t| !expected.contains_key(*t)) {
            diffs.push(format!("{t}: not in the backup"));
        }
        return Err(StoreError::rejected(
            "restore_mismatch",
            format!(
                "the restored tables differ from the manifest: {}",
                diffs.join("; ")
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async fn pg_connect(url: &str) -> StoreResult<PgConnection> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?
        .options([("lock_timeout", "60s")]);
    PgConnection::connect_with(&opts)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// The libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
/// `PGOPTIONS`) for running `pg_dump` against `url` without putting a password on a command line.
pub fn libpq_env(url: &str) -> StoreResult<Vec<(&'static str, String)>> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
    let mut env = vec![
        (
            "PGHOST",
            match opts.get_socket() {
                Some(dir) => dir.display().to_string(),
                None => opts.get_host().to_string(),
            },
        ),
        ("PGPORT", opts.get_port().to_string()),
        ("PGUSER", opts.get_username().to_string()),
        (
            "PGSSLMODE",
            match opts.get_ssl_mode() {
                PgSslMode::Disable => "disable",
                PgSslMode::Allow => "allow",
                PgSslMode::Prefer => "prefer",
                PgSslMode::Require => "require",
                PgSslMode::VerifyCa => "verify-ca",
                PgSslMode::VerifyFull => "verify-full",
            }
            .to_string(),
        ),
    ];
    if let Some(db) = opts.get_database() {
        env.push(("PGDATABASE", db.to_string()));
    }
    if let Some(o) = opts.get_options() {
        env.push(("PGOPTIONS", o.to_string()));
    }
    if let Some(pw) = url_password(url) {
        env.push(("PGPASSWORD", pw));
    }
    Ok(env)
}

/// The percent-decoded password of `scheme://user:password@host/…`, if any.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    let bytes = pw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = pw.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn current_schema(conn: &mut PgConnection) -> StoreResult<String> {
    let s: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *conn)
        .await?;
    s.ok_or_else(|| {
        StoreError::Config(
            "no schema of the database URL's search_path exists (create it first)".into(),
        )
    })
}

async fn pg_contents_of(conn: &mut PgConnection, schema: &str) -> StoreResult<Contents> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let mut c = Contents::default();
    for t in names {
        let table = format!("{}.{}", qi(schema), qi(&t));
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&mut *conn)
            .await?;
        if t == "schema_migrations" {
            c.schema_version =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT MAX(version) FROM {table}")))
                    .fetch_one(&mut *conn)
                    .await?;
        }
        c.tables.insert(t, n);
    }
    Ok(c)
}

/// The schema the URL's connections use and what it holds.
pub async fn pg_contents(url: &str) -> StoreResult<(String, Contents)> {
    let mut conn = pg_connect(url).await?;
    let schema = current_schema(&mut conn).await?;
    let c = pg_contents_of(&mut conn, &schema).await?;
    conn.close().await?;
    Ok((schema, c))
}

/// A snapshot exported by an open repeatable-read transaction, for `pg_dump --snapshot`.
#[derive(Debug, Clone)]
pub struct PgSnapshot {
    pub id: String,
    /// The schema the URL's connections use (what to dump).
    pub schema: String,
    /// What the schema holds in this snapshot.
    pub contents: Contents,
    /// `server_version` of the server, e.g. `15.20 (Debian 15.20-0+deb12u1)`.
    pub server_version: String,
    /// `server_version_num`, e.g. 150020.
    pub server_version_num: i64,
}

/// Opens a read-only repeatable-read transaction, exports its snapshot, runs `f` with it (while
/// the transaction stays open, as `pg_dump --snapshot` needs) and ends the transaction.
pub async fn pg_with_snapshot<T>(
    url: &str,
    f: impl AsyncFnOnce(&PgSnapshot) -> T,
) -> StoreResult<T> {
    let mut conn = pg_connect(url).await?;
    let out = {
        let mut tx = conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let schema = current_schema(&mut tx).await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        let contents = pg_contents_of(&mut tx, &schema).await?;
        let row = sqlx::query(
            "SELECT current_setting('server_version') AS v, current_setting('server_version_num')::bigint AS n",
        )
        .fetch_one(&mut *tx)
        .await?;
        let snap = PgSnapshot {
            id,
            schema,
            contents,
            server_version: row.try_get("v")?,
            server_version_num: row.try_get("n")?,
        };
        let out = f(&snap).await;
        tx.commit().await?;
        out
    };
    conn.close().await?;
    Ok(out)
}

/// How a PostgreSQL restore went.
#[derive(Debug, Clone)]
pub struct PgRestored {
    pub schema: String,
    /// What the schema held before (replaced with `force`).
    pub replaced: Contents,
    pub audit_entries: u64,
}

/// Applies a plain-SQL script made by `pg_restore --no-owner --no-acl -f -` from a dump of
/// schema `source_schema` to the schema of `url`, in one transaction that holds the platform's
/// write lock: refuses (`target_not_empty`) when the schema holds data unless `force`, drops
/// whatever the schema holds, creates and fills the tables (names qualified with the source
/// schema are re-qualified with the target's), then checks every table's rows against `expected`
/// and the audit chain before committing. Nothing is changed unless everything succeeds.
pub async fn pg_apply_restore(
    url: &str,
    script: &Path,
    source_schema: &str,
    expected: &BTreeMap<String, i64>,
    force: bool,
) -> StoreResult<PgRestored> {
    let mut conn = pg_connect(url).await?;
    let mut tx = conn.begin().await?;
    let schema = current_schema(&mut tx).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(crate::postgres::WRITE_LOCK_CLASS)
        .bind(&schema)
        .execute(&mut *tx)
        .await?;
    let replaced = pg_contents_of(&mut tx, &schema).await?;
    if replaced.has_data() && !force {
        return Err(StoreError::rejected(
            "target_not_empty",
            format!(
                "schema {schema} already holds data ({})",
                replaced.describe(4)
            ),
        ));
    }
    pg_drop_everything(&mut tx, &schema).await?;

    let (from, to): (String, String) = sqlx::query_as("SELECT quote_ident($1), quote_ident($2)")
        .bind(source_schema)
        .bind(&schema)
        .fetch_one(&mut *tx)
        .await?;
    let file = tokio::fs::File::open(script)
        .await
        .map_err(|e| StoreError::Config(format!("{}: {e}", script.display())))?;
    let mut lines = tokio::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut sql = String::new();
    let read_err = |e: std::io::Error| StoreError::Config(format!("{}: {e}", script.display()));
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await.map_err(read_err)? == 0 {
            break;
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            StoreError::Config(format!("{}: not UTF-8 outside data", script.display()))
        })?;
        let trimmed = text.trim_end();
        // psql's guard against meta-commands in dumped data (PostgreSQL 13.22/…/17.6 and later)
        if trimmed.starts_with("\\restrict ") || trimmed.starts_with("\\unrestrict ") {
            continue;
        }
        if trimmed.starts_with('\\') {
            return Err(StoreError::Config(format!(
                "{}: unexpected psql command {trimmed:?}",
                script.display()
            )));
        }
        if trimmed == format!("CREATE SCHEMA {from};")
            || (trimmed.starts_with(&format!("COMMENT ON SCHEMA {from} IS "))
                && trimmed.ends_with(';'))
        {
            continue; // the target schema exists already
        }
        let text = requalify(text, &from, &to);
        if trimmed.starts_with("COPY ") && trimmed.ends_with(" FROM stdin;") {
            if !sql.trim().is_empty() {
                sqlx::raw_sql(AssertSqlSafe(std::mem::take(&mut sql)))
                    .execute(&mut *tx)
                    .await?;
            }
            sql.clear();
            let mut copy = tx.copy_in_raw(text.trim_end()).await?;
            let mut data = Vec::with_capacity(COPY_CHUNK);
            loop {
                line.clear();
                if lines.read_until(b'\n', &mut line).await.map_err(read_err)? == 0 {
                    return Err(StoreError::Config(format!(
                        "{}: COPY data without its end",
                        script.display()
                    )));
                }
                if line == b"\\.\n" || line == b"\\." {
                    break;
                }
                data.extend_from_slice(&line);
                if data.len() >= COPY_CHUNK {
                    copy.send(std::mem::replace(&mut data, Vec::with_capacity(COPY_CHUNK)))
                        .await?;
                }
            }
            if !data.is_empty() {
                copy.send(data).await?;
            }
            copy.finish().await?;
        } else {
            sql.push_str(&text);
        }
    }
    if !sql.trim().is_empty() {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    }

    let restored = pg_contents_of(&mut tx, &schema).await?;
    compare_counts(&restored.tables, expected)?;
    let mut v = ChainVerifier::default();
    let mut after = 0i64;
    loop {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM {}.audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            qi(&schema)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(AUDIT_PAGE)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let e = audit_entry!(r);
            v.check(&e).map_err(|b| broken_chain(b.seq, &b.reason))?;
            after = e.seq;
        }
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(PgRestored {
        schema,
        replaced,
        audit_entries: v.checked,
    })
}

/// Drops the tables, views, sequences, functions and types of `schema` (inside the caller's
/// transaction); the schema itself stays, with its privileges.
async fn pg_drop_everything(conn: &mut PgConnection, schema: &str) -> StoreResult<()> {
    let objects: Vec<(i32, String, String)> = sqlx::query_as(
        "SELECT CASE WHEN c.relkind = 'S' THEN 2 ELSE 1 END AS rank, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' \
                WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, \
                format('%I.%I', n.nspname, c.relname) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
         UNION ALL \
         SELECT 3, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, \
                format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 \
         UNION ALL \
         SELECT 4, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'c') \
           AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
         ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    // tables first: their CASCADE takes their identity sequences and triggers along
    for (_, kind, name) in objects {
        // IF EXISTS: an earlier CASCADE may have dropped it (a table's sequence, a trigger function)
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP {kind} IF EXISTS {name} CASCADE"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces the schema qualifier `from.` (a quoted identifier as PostgreSQL prints it) with
/// `to.` where it starts a name (not inside another identifier).
fn requalify(line: &str, from: &str, to: &str) -> String {
    if from == to {
        return line.to_string();
    }
    let pattern = format!("{from}.");
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for (i, _) in line.match_indices(&pattern) {
        let starts_name = line[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '"' | '.')));
        if starts_name && i >= last {
            out.push_str(&line[last..i]);
            out.push_str(to);
            out.push('.');
            last = i + pattern.len();
        }
    }
    out.push_str(&line[last..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Comparing databases

/// Every table of the database behind `url` (the URL's schema on PostgreSQL) with all its rows as
/// canonical text, ordered by primary key: for comparing a database with its restored copy on
/// the same backend.
pub async fn table_dump(url: &str) -> StoreResult<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let mut conn = sqlite_connect(&sqlite_path(url)?, None).await?;
            let tables: Vec<String> = sqlite_contents_of(&mut conn)
                .await?
                .tables
                .into_keys()
                .collect();
            for t in tables {
                let cols: Vec<(String, i64)> =
                    sqlx::query_as("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid")
                        .bind(&t)
                        .fetch_all(&mut conn)
                        .await?;
                let row = cols
                    .iter()
                    .map(|(c, _)| format!("quote({})", qi(c)))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let mut pk: Vec<_> = cols.iter().filter(|(_, k)| *k > 0).collect();
                pk.sort_by_key(|(_, k)| *k);
                let order = if pk.is_empty() {
                    "1".to_string()
                } else {
                    pk.iter().map(|(c, _)| qi(c)).collect::<Vec<_>>().join(", ")
                };
                let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT {row} FROM {} ORDER BY {order}",
                    qi(&t)
                )))
                .fetch_all(&mut conn)
                .await?;
                out.insert(t, rows);
            }
            conn.close().await?;
        }
        Backend::Postgres => {
            let mut conn = pg_connect(url).await?;
            let schema = current_schema(&mut conn).await?;
            let tables: Vec<String> = pg_contents_of(&mut conn, &schema)
                .await?
                .tables
                .into_keys()
                .collect();
            for t in tables {
                let table = format!("{}.{}", qi(&schema), qi(&t));
                let pk: Vec<String> = sqlx::query_scalar(
                    "SELECT a.attname::text FROM pg_index i \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = $1::regclass AND i.indisprimary \
                     ORDER BY array_position(i.indkey::int2[], a.attnum)",
                )
                .bind(&table)
                .fetch_all(&mut conn)
                .await?;
                let order = if pk.is_empty() {
                    "1".to_string()
                } else {
                    pk.iter().map(|c| qi(c)).collect::<Vec<_>>().join(", ")
                };
                let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT t::text FROM {table} t ORDER BY {order}"
                )))
                .fetch_all(&mut conn)
                .await?;
                out.insert(t, rows);
            }
            conn.close().await?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requalifies_names_only() {
        assert_eq!(
            requalify(
                "ALTER TABLE ONLY bk.units ALTER COLUMN id SET DEFAULT nextval('bk.units_id_seq'::regclass);",
                "bk",
                "\"New\""
            ),
            "ALTER TABLE ONLY \"New\".units ALTER COLUMN id SET DEFAULT nextval('\"New\".units_id_seq'::regclass);"
        );
        assert_eq!(
            requalify("x.bk.y mybk.z bk_2.t", "bk", "t2"),
            "x.bk.y mybk.z bk_2.t"
        );
        assert_eq!(requalify("bk.a(bk.b)", "bk", "c"), "c.a(c.b)");
    }

    #[test]
    fn passwords_come_out_of_urls_decoded() {
        assert_eq!(
            url_password("postgres://u:p%40ss%3Aw@h:5432/db?x=1").as_deref(),
            Some("p@ss:w")
        );
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(url_password("postgres://h/db"), None);
    }

    #[test]
    fn contents_know_data_from_migrations() {
        let mut c = Contents::default();
        c.tables.insert("schema_migrations".into(), 4);
        c.tables.insert("users".into(), 0);
        assert!(!c.has_data());
        c.tables.insert("audit_log".into(), 3);
        assert!(c.has_data());
        assert_eq!(c.describe(4), "audit_log 3");
    }

    #[test]
    fn latest_versions_match_the_migrations() {
        assert_eq!(
            Backend::Sqlite.latest_schema_version(),
            migrate::SQLITE.len() as i64
        );
        assert_eq!(
            Backend::Postgres.latest_schema_version(),
            migrate::POSTGRES.len() as i64
        );
    }
}

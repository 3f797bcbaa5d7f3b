//! SQLite backend: one file in the data directory, WAL mode with `synchronous=FULL` (a commit is
//! on disk before it is acknowledged), writes serialised through one connection.

use crate::error::{StoreError, StoreResult};
use crate::migrate;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, Sqlite, SqliteConnection, SqlitePool};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use wangge_domain::clock::Clock;

pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// The one connection that opens write transactions: writers queue for it in order instead
    /// of colliding on SQLite's lock and sleeping in its busy handler.
    writer: SqlitePool,
    /// Case creations, committed in groups (see `spawn_case_writer`).
    case_writer: tokio::sync::mpsc::Sender<crate::case_store::CreateJob>,
    clock: Arc<dyn Clock>,
    /// The deployment's time zone: days of the dashboards' aggregates.
    tz: jiff::tz::TimeZone,
}

/// WAL size from which the background checkpointer copies the WAL into the database.
const CHECKPOINT_BYTES: u64 = 16 << 20;

/// Copies the WAL into the database beside the writer (a passive checkpoint on a reading
/// connection) whenever it has grown past [`CHECKPOINT_BYTES`], so the writer's own automatic
/// checkpoint (at 10,000 pages) seldom runs and a case group does not wait for one (the p99 of
/// intake, B1). The file keeps its size after SQLite starts it over, so a WAL not written since
/// the last checkpoint is left alone. Ends when the store is closed.
async fn checkpoint_in_background(pool: SqlitePool, wal: PathBuf) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checkpointed: Option<std::time::SystemTime> = None;
    while !pool.is_closed() {
        tick.tick().await;
        let Ok(meta) = std::fs::metadata(&wal) else {
            continue;
        };
        let written = meta.modified().ok();
        if meta.len() < CHECKPOINT_BYTES || written == checkpointed {
            continue;
        }
        checkpointed = written;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&pool)
            .await
            && !pool.is_closed()
        {
            tracing::warn!("background checkpoint: {e}");
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite:///var/lib/wangge/wangge.db`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        Self::open_in(url, clock, jiff::tz::TimeZone::UTC).await
    }

    /// Opens the database of a deployment in time zone `tz`.
    pub async fn open_in(
        url: &str,
        clock: Arc<dyn Clock>,
        tz: jiff::tz::TimeZone,
    ) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // a checkpoint every 10,000 pages (40 MB of WAL) instead of 1,000: a page changed by
            // many commits in between is copied into the database once (intake +15-25 %, B1)
            .pragma("wal_autocheckpoint", "10000");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.clone())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let wal = PathBuf::from(format!("{}-wal", opts.get_filename().display()));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // an in-memory database has no WAL file: its groups commit as every other write (a
        // file's WAL exists from the first commit on, before the case writer flushes it)
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&writer)
            .await?;
        let wal = mode.eq_ignore_ascii_case("wal").then_some(wal);
        if let Some(wal) = &wal {
            tokio::spawn(checkpoint_in_background(pool.clone(), wal.clone()));
        }
        let case_writer = shared::spawn_case_writer(writer.clone(), clock.clone(), tz.clone(), wal);
        let store = SqliteStore {
            pool,
            writer,
            case_writer,
            clock,
            tz,
        };
        store.migrate(migrate::SQLITE).await?;
        store.backfill_aggregates().await?;
        Ok(store)
    }

    /// A transaction holding SQLite's write lock from its start, so read-then-write steps
    /// (the audit chain, code checks) cannot interleave with another writer.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Self::begin_write_on(&self.writer).await
    }

    async fn begin_write_on(pool: &SqlitePool) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// [`Self::begin_write_on`] on a connection already held.
    async fn begin_write_in(
        conn: &mut SqliteConnection,
    ) -> StoreResult<sqlx::Transaction<'_, Sqlite>> {
        Ok(conn.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Whether the connection's commits wait for the disk (`synchronous = FULL`, the default of
    /// every connection) or only write the WAL file (`NORMAL`: the case writer flushes it itself
    /// before answering, see `spawn_case_writer`).
    async fn set_commit_flush(conn: &mut SqliteConnection, full: bool) -> StoreResult<()> {
        let sql = if full {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        };
        sqlx::query(sql).execute(conn).await?;
        Ok(())
    }

    /// Adds `rows` cases' search words to the index (rowid = case id; binds id, words per row).
    fn fts_insert(rows: usize) -> String {
        format!(
            "INSERT INTO case_fts (rowid, words) VALUES {}",
            crate::queries::values_list(rows, 2, true)
        )
    }
    const FTS_DELETE: &str = "DELETE FROM case_fts WHERE rowid = $1";

    /// An FTS5 query asking for every word (each quoted, so no word is an operator) and, when
    /// `units` are given, one of these unit tokens.
    fn fts_query(words: &[String], units: &[String]) -> String {
        let quoted: Vec<String> = words
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        if units.is_empty() {
            quoted.join(" ")
        } else {
            format!("({}) AND ({})", quoted.join(" "), units.join(" OR "))
        }
    }

    /// The ids of the cases matching the query bound at `param`.
    fn fts_ids(param: &str) -> String {
        format!("SELECT rowid FROM case_fts WHERE case_fts MATCH {param}")
    }

    /// A read transaction seeing one snapshot (SQLite's deferred transactions do).
    async fn begin_snapshot(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    async fn close_writer(&self) {
        self.writer.close().await;
    }

    /// `n` fresh unit ids; safe because the caller holds the write lock.
    async fn alloc_unit_ids(
        tx: &mut sqlx::Transaction<'static, Sqlite>,
        n: usize,
    ) -> StoreResult<Vec<i64>> {
        let max: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM units")
            .fetch_one(&mut **tx)
            .await?
            .try_get("m")?;
        Ok((1..=n as i64).map(|i| max + i).collect())
    }
}

crate::queries::impl_store!(SqliteStore, sqlx::Sqlite, "sqlite", true);

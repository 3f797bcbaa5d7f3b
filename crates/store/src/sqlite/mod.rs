//! SQLite backend: one file in the data directory, WAL mode with `synchronous=FULL` (a commit is
//! on disk before it is acknowledged), writes serialised through one connection.

use crate::error::{StoreError, StoreResult};
use crate::migrate;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};
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
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite:///var/lib/wangge/wangge.db`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.clone())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let case_writer = shared::spawn_case_writer(writer.clone(), clock.clone());
        let store = SqliteStore {
            pool,
            writer,
            case_writer,
            clock,
        };
        store.migrate(migrate::SQLITE).await?;
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

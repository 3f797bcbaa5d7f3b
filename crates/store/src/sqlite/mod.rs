//! SQLite backend: one file in the data directory, WAL mode, writes serialised by `BEGIN IMMEDIATE`.

use crate::error::{StoreError, StoreResult};
use crate::migrate;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use wangge_domain::clock::Clock;

pub struct SqliteStore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite:///var/lib/wangge/wangge.db`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = SqliteStore { pool, clock };
        store.migrate(migrate::SQLITE).await?;
        Ok(store)
    }

    /// A transaction holding SQLite's write lock from its start, so read-then-write steps
    /// (the audit chain, code checks) cannot interleave with another writer.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
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

//! PostgreSQL backend. Writes that extend the audit chain take one advisory lock, so the chain
//! stays gapless and ordered even with many server processes.

use crate::error::{StoreError, StoreResult};
use crate::migrate;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use wangge_domain::clock::Clock;

/// Class of the advisory lock that serialises writers; the object is the schema, so deployments
/// (or test runs) in different schemas of one database do not wait for each other.
pub(crate) const WRITE_LOCK_CLASS: i32 = 0x5747;

pub struct PgStore {
    pool: PgPool,
    /// Case creations, committed in groups (see `spawn_case_writer`).
    case_writer: tokio::sync::mpsc::Sender<crate::case_store::CreateJob>,
    clock: Arc<dyn Clock>,
    /// The deployment's time zone: days of the dashboards' aggregates.
    tz: jiff::tz::TimeZone,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`, optionally `?options=-c search_path=…`).
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        Self::open_in(url, clock, jiff::tz::TimeZone::UTC).await
    }

    /// Connects to the database of a deployment in time zone `tz`.
    pub async fn open_in(
        url: &str,
        clock: Arc<dyn Clock>,
        tz: jiff::tz::TimeZone,
    ) -> StoreResult<Self> {
        // A write waits at most a minute for the write lock instead of for ever.
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?
            .options([("lock_timeout", "60s")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let case_writer = shared::spawn_case_writer(pool.clone(), clock.clone(), tz.clone(), None);
        let store = PgStore {
            pool,
            case_writer,
            clock,
            tz,
        };
        store.migrate(migrate::POSTGRES).await?;
        store.backfill_aggregates().await?;
        Ok(store)
    }

    /// Stores `rows` cases' search words (binds id, words per row; the `simple` configuration:
    /// the words are jieba's).
    fn fts_insert(rows: usize) -> String {
        let values: Vec<String> = (0..rows)
            .map(|r| format!("(${}, to_tsvector('simple', ${}))", 2 * r + 1, 2 * r + 2))
            .collect();
        format!(
            "INSERT INTO case_words (case_id, words) VALUES {}",
            values.join(", ")
        )
    }
    const FTS_DELETE: &str = "DELETE FROM case_words WHERE case_id = $1";

    /// A `to_tsquery` text asking for every word and, when `units` are given, one of these unit
    /// tokens (words are letters and digits only, so none is an operator).
    fn fts_query(words: &[String], units: &[String]) -> String {
        let mut q = words.join(" & ");
        if !units.is_empty() {
            q = format!("{q} & ({})", units.join(" | "));
        }
        q
    }

    /// The ids of the cases matching the query bound at `param`.
    fn fts_ids(param: &str) -> String {
        format!("SELECT case_id FROM case_words WHERE words @@ to_tsquery('simple', {param})")
    }

    /// A read transaction seeing one snapshot.
    async fn begin_snapshot(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        Self::begin_write_on(&self.pool).await
    }

    async fn begin_write_on(pool: &PgPool) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        let mut tx = pool.begin().await?;
        Self::write_lock(&mut tx).await?;
        Ok(tx)
    }

    /// [`Self::begin_write_on`] on a connection already held.
    async fn begin_write_in(
        conn: &mut PgConnection,
    ) -> StoreResult<sqlx::Transaction<'_, Postgres>> {
        let mut tx = conn.begin().await?;
        Self::write_lock(&mut tx).await?;
        Ok(tx)
    }

    async fn write_lock(tx: &mut sqlx::Transaction<'_, Postgres>) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
            .bind(WRITE_LOCK_CLASS)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// PostgreSQL commits always wait for its own WAL flush (there is no file of ours to flush).
    async fn set_commit_flush(_conn: &mut PgConnection, _full: bool) -> StoreResult<()> {
        Ok(())
    }

    /// `n` consecutive unit ids from the table's sequence (the caller holds the write lock).
    async fn alloc_unit_ids(
        tx: &mut sqlx::Transaction<'static, Postgres>,
        n: usize,
    ) -> StoreResult<Vec<i64>> {
        if n == 0 {
            return Ok(vec![]);
        }
        let first: i64 = sqlx::query("SELECT nextval(pg_get_serial_sequence('units', 'id')) AS id")
            .fetch_one(&mut **tx)
            .await?
            .try_get("id")?;
        sqlx::query("SELECT setval(pg_get_serial_sequence('units', 'id'), $1)")
            .bind(first + n as i64 - 1)
            .execute(&mut **tx)
            .await?;
        Ok((0..n as i64).map(|i| first + i).collect())
    }
}

crate::queries::impl_store!(PgStore, sqlx::Postgres, "postgres", false);

impl PgStore {
    /// Writes share the pool (and queue on the advisory lock); nothing more to close.
    async fn close_writer(&self) {}
}

//! Helpers for test suites of this and other crates: a fresh PostgreSQL schema per test.

use crate::error::StoreResult;
use sqlx::Connection;
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Creates an empty schema on the server at `base_url` and returns a URL whose connections use it.
/// Schemas left by earlier runs with the same prefix are dropped first.
pub async fn fresh_pg_schema(base_url: &str, prefix: &str) -> StoreResult<String> {
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    );
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    if SEQ.load(Ordering::SeqCst) == 1 {
        // first call of this process: clear what older runs left behind
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 AND nspname NOT LIKE $2",
        )
        .bind(format!("{prefix}\\_%"))
        .bind(format!("{prefix}\\_{}\\_%", std::process::id()))
        .fetch_all(&mut conn)
        .await?;
        for s in old {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{s}\" CASCADE"
            )))
            .execute(&mut conn)
            .await?;
        }
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base_url}{sep}options=-c%20search_path%3D{schema}"
    ))
}

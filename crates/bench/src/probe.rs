//! An experiment, not a measurement of Wangge itself: the multi-row INSERTs of
//! `Store::unit_import` replayed on a fresh SQLite database with raw sqlx, once with the
//! store's `$n` placeholders and once with anonymous `?` placeholders, for several chunk sizes.
//!
//! Why: sqlx-sqlite binds every argument after asking SQLite for the parameter's name
//! (`sqlite3_bind_parameter_name`), and SQLite finds the name of a numbered/named parameter by a
//! linear scan of the statement's parameter list. Binding a statement of N `$n` parameters therefore
//! costs O(N²); an anonymous `?` has no name and costs O(1).

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use wangge_domain::clock::SystemClock;
use wangge_domain::import::ImportRow;
use wangge_server::territory_file::{self, FileKind};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    /// `$1`, `$2`, …: what the store sends (one `$1` for the time, shared by all rows).
    Dollar,
    /// `?`: anonymous placeholders, every value bound in order.
    Anonymous,
}

/// A unit ready to insert: (id, parent id, path).
struct Placed<'a> {
    row: &'a ImportRow,
    id: i64,
    parent_id: Option<i64>,
    path: String,
}

pub async fn run(file: &Path, rows_limit: usize, chunks: &[usize]) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut rows = territory_file::parse(FileKind::Csv, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            file.display(),
            e.message.unwrap_or_else(|| e.code.into())
        )
    })?;
    // the generated file lists parents before children, so any prefix is a closed tree
    rows.truncate(rows_limit);
    let mut by_code: HashMap<&str, (i64, String)> = HashMap::with_capacity(rows.len());
    let mut placed = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let id = i as i64 + 1;
        let parent = by_code.get(r.parent_code.as_str()).cloned();
        let path = match &parent {
            Some((_, p)) => format!("{p}{id}/"),
            None => format!("/{id}/"),
        };
        by_code.insert(r.code.as_str(), (id, path.clone()));
        placed.push(Placed {
            row: r,
            id,
            parent_id: parent.map(|(pid, _)| pid),
            path,
        });
    }
    println!(
        "{} rows (units + unit_history), SQLite, one transaction per run",
        placed.len()
    );
    println!(
        "{:>6} {:<10} {:>9} {:>10} {:>12}",
        "chunk", "params", "seconds", "rows/s", "664371 rows"
    );
    for &chunk in chunks {
        for style in [Style::Dollar, Style::Anonymous] {
            let secs = insert_all(&placed, chunk.max(1), style).await?;
            let per_s = placed.len() as f64 / secs;
            println!(
                "{chunk:>6} {:<10} {secs:>9.2} {per_s:>10.0} {:>10.1} s",
                format!("{style:?}"),
                664_371.0 / per_s
            );
        }
    }
    Ok(())
}

async fn insert_all(placed: &[Placed<'_>], chunk: usize, style: Style) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!(
        "wangge-probe-{}-{chunk}-{style:?}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/probe.db", dir.display());
    // the real schema, from the store's migrations
    let store = wangge_store::open(&url, Arc::new(SystemClock)).await?;
    store.close().await;
    let opts = SqliteConnectOptions::from_str(&url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    let now: i64 = 1_700_000_000_000;
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    for part in placed.chunks(chunk) {
        let mut sql = String::from(
            "INSERT INTO units (id, code, name, level, parent_id, path, kind, valid_from, created_at, updated_at) VALUES ",
        );
        for i in 0..part.len() {
            if i > 0 {
                sql.push(',');
            }
            match style {
                Style::Dollar => {
                    let n = i * 8;
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $1, $1)",
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6,
                        n + 7,
                        n + 8,
                        n + 9
                    ));
                }
                Style::Anonymous => sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            }
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if style == Style::Dollar {
            q = q.bind(now);
        }
        for p in part {
            q = q
                .bind(p.id)
                .bind(p.row.code.clone())
                .bind(p.row.name.clone())
                .bind(p.row.level.clone())
                .bind(p.parent_id)
                .bind(p.path.clone())
                .bind(p.row.kind.clone())
                .bind(p.row.valid_from.clone());
            if style == Style::Anonymous {
                q = q.bind(now).bind(now);
            }
        }
        q.execute(&mut *tx).await?;

        let mut sql = String::from(
            "INSERT INTO unit_history (unit_id, at, actor_id, actor_name, action, name, level, parent_code, kind, valid_from) VALUES ",
        );
        for i in 0..part.len() {
            if i > 0 {
                sql.push(',');
            }
            match style {
                Style::Dollar => {
                    let n = i * 6;
                    sql.push_str(&format!(
                        "(${}, $1, $2, $3, 'import', ${}, ${}, ${}, ${}, ${})",
                        n + 4,
                        n + 5,
                        n + 6,
                        n + 7,
                        n + 8,
                        n + 9
                    ));
                }
                Style::Anonymous => sql.push_str("(?, ?, ?, ?, 'import', ?, ?, ?, ?, ?)"),
            }
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if style == Style::Dollar {
            q = q.bind(now).bind(None::<i64>).bind("bench".to_string());
        }
        for p in part {
            if style == Style::Dollar {
                q = q.bind(p.id);
            } else {
                q = q
                    .bind(p.id)
                    .bind(now)
                    .bind(None::<i64>)
                    .bind("bench".to_string());
            }
            let parent_code = (!p.row.parent_code.is_empty()).then(|| p.row.parent_code.clone());
            q = q
                .bind(p.row.name.clone())
                .bind(p.row.level.clone())
                .bind(parent_code)
                .bind(p.row.kind.clone())
                .bind(p.row.valid_from.clone());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    conn.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(secs)
}

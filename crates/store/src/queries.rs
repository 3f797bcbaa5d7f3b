//! The SQL that both backends share, written once and expanded for each by [`impl_store!`].
//!
//! Both SQLite and PostgreSQL take `$n` placeholders, `RETURNING`, `ON CONFLICT` and `||`, so most
//! statements read the same. What differs (starting a write transaction, taking unit ids, the
//! schema) lives in each backend's module as the hooks `begin_write` and `alloc_unit_ids`.

use wangge_domain::roles::Scope;
use wangge_domain::territory::path;

/// The columns of a [`crate::Unit`], selected from `units u` joined to its parent `p`.
pub(crate) const UNIT_SELECT: &str = "SELECT u.id, u.code, u.name, u.level, p.code AS parent_code, \
    u.kind, u.valid_from, u.valid_to, u.retired, u.path, \
    u.business_lines, u.area_type, u.households, u.population, u.enterprises, \
    (SELECT COUNT(*) FROM units c WHERE c.parent_id = u.id AND NOT c.retired) AS child_count, \
    EXISTS (SELECT 1 FROM boundaries b WHERE b.unit_id = u.id AND b.valid_to IS NULL) AS has_boundary \
    FROM units u LEFT JOIN units p ON p.id = u.parent_id";

pub(crate) const USER_SELECT: &str = "SELECT id, username, display_name, phone, disabled, created_at, \
    birth_date, education, certificate_no, \
    EXISTS (SELECT 1 FROM user_photos ph WHERE ph.user_id = users.id) AS has_photo FROM users";

/// Business lines are stored as a JSON array of keys.
pub(crate) fn lines_from_json(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub(crate) const GRANT_SELECT: &str = "SELECT g.id, g.user_id, g.role, u.code, u.name, u.level, u.path \
    FROM grants g LEFT JOIN units u ON u.id = g.unit_id";

pub(crate) const TOKEN_SELECT: &str = "SELECT id, user_id, name, prefix, created_at, expires_at, \
    last_used_at, revoked_at FROM api_tokens";

pub(crate) const AUDIT_SELECT: &str = "SELECT seq, at, actor_id, actor_name, action, target_kind, \
    target_id, ip, detail, prev_hash, hash FROM audit_log";

/// Rows per multi-row INSERT in imports (10 parameters a row stays under both backends' limits).
pub(crate) const IMPORT_CHUNK: usize = 1000;

/// Codes per lookup query when an import checks which of its codes already exist.
pub(crate) const LOOKUP_CHUNK: usize = 500;

/// A SQL condition restricting `alias.path` to the scope, and the values to bind to it, numbered
/// from `$first`.
pub(crate) fn scope_condition(scope: &Scope, alias: &str, first: usize) -> (String, Vec<String>) {
    match scope {
        Scope::All => ("1=1".to_string(), vec![]),
        Scope::Subtrees(tops) if tops.is_empty() => ("1=0".to_string(), vec![]),
        Scope::Subtrees(tops) => {
            let mut parts = Vec::new();
            let mut binds = Vec::new();
            for (i, t) in tops.iter().enumerate() {
                let n = first + 2 * i;
                parts.push(format!(
                    "({alias}.path >= ${n} AND {alias}.path < ${})",
                    n + 1
                ));
                binds.push(t.clone());
                binds.push(path::subtree_upper(t));
            }
            (format!("({})", parts.join(" OR ")), binds)
        }
    }
}

/// `(…),(…)` placeholders for a multi-row INSERT, numbered in binding order: `$1, $2, …`, or
/// anonymous `?` where `positional` (SQLite resolves a named `$n` by a linear scan over all
/// parameters per bind, which makes wide statements quadratic).
pub(crate) fn values_list(rows: usize, cols: usize, positional: bool) -> String {
    let mut sql = String::with_capacity(rows * cols * 6);
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            if positional {
                sql.push('?');
            } else {
                sql.push_str(&format!("${n}"));
            }
        }
        sql.push(')');
    }
    sql
}

/// `%text%` for LIKE, with `\` escaping the wildcards in the text.
pub(crate) fn like_contains(text: &str) -> String {
    format!("%{}%", like_escape(text))
}

pub(crate) fn like_prefix(text: &str) -> String {
    format!("{}%", like_escape(text))
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Masks a phone number for logs and lists: 138****0001.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "****".into();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Generates `impl Store for $store` over the shared SQL. The store type must have the fields
/// `pool: sqlx::Pool<$db>` and `clock: Arc<dyn Clock>`, and the inherent hooks
/// `begin_write(&self) -> StoreResult<sqlx::Transaction<'static, $db>>` and
/// `alloc_unit_ids(tx, n) -> StoreResult<Vec<i64>>`.
macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:literal, $positional:literal) => {
        mod shared {
        use super::$store;
        use $crate::error::{StoreError, StoreResult, is_unique_violation};
        use $crate::queries::*;
        use $crate::types::*;
        use sqlx::{AssertSqlSafe, Row};
        use std::collections::HashMap;
        use wangge_domain::audit::{Actor, AuditEntry, AuditEvent, GENESIS_HASH, entry_hash};
        use wangge_domain::import::{ExistingUnit, ImportRow, validate_import};
        use wangge_domain::roles::{Role, Scope};
        use wangge_domain::territory::{Levels, check_kind, check_name, path};

        type Tx<'c> = sqlx::Transaction<'c, $db>;
        type DbRow = <$db as sqlx::Database>::Row;

        fn unit_from_row(r: &DbRow) -> StoreResult<Unit> {
            Ok(Unit {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                level: r.try_get("level")?,
                parent_code: r.try_get("parent_code")?,
                kind: r.try_get("kind")?,
                valid_from: r.try_get("valid_from")?,
                valid_to: r.try_get("valid_to")?,
                retired: r.try_get("retired")?,
                child_count: r.try_get("child_count")?,
                path: r.try_get("path")?,
                business_lines: lines_from_json(r.try_get("business_lines")?),
                area_type: r.try_get("area_type")?,
                households: r.try_get("households")?,
                population: r.try_get("population")?,
                enterprises: r.try_get("enterprises")?,
                has_boundary: r.try_get("has_boundary")?,
                warnings: Vec::new(),
            })
        }

        fn user_from_row(r: &DbRow) -> StoreResult<User> {
            Ok(User {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                phone: r.try_get("phone")?,
                disabled: r.try_get("disabled")?,
                created_at: r.try_get("created_at")?,
                birth_date: r.try_get("birth_date")?,
                education: r.try_get("education")?,
                certificate_no: r.try_get("certificate_no")?,
                has_photo: r.try_get("has_photo")?,
            })
        }

        fn grant_from_row(r: &DbRow) -> StoreResult<Grant> {
            let role: String = r.try_get("role")?;
            Ok(Grant {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Database(format!("unknown role {role} stored")))?,
                unit_code: r.try_get("code")?,
                unit_name: r.try_get("name")?,
                unit_level: r.try_get("level")?,
                unit_path: r.try_get("path")?,
            })
        }

        fn token_from_row(r: &DbRow) -> StoreResult<ApiToken> {
            Ok(ApiToken {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                name: r.try_get("name")?,
                prefix: r.try_get("prefix")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        }

        fn audit_from_row(r: &DbRow) -> StoreResult<AuditEntry> {
            let detail_json: String = r.try_get("detail")?;
            Ok(AuditEntry {
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
            })
        }

        /// Appends an audit entry inside the caller's write transaction, chained to the last one.
        async fn append_audit(tx: &mut Tx<'_>, now: i64, actor: &Actor, ev: &AuditEvent) -> StoreResult<()> {
            append_audits(tx, now, &[(actor, ev)]).await
        }

        /// Appends entries to the audit chain in one statement (the caller holds the write lock).
        async fn append_audits(tx: &mut Tx<'_>, now: i64, entries: &[(&Actor, &AuditEvent)]) -> StoreResult<()> {
            if entries.is_empty() {
                return Ok(());
            }
            let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?;
            let (mut seq, mut prev): (i64, String) = match last {
                Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get("hash")?),
                None => (0, GENESIS_HASH.to_string()),
            };
            // at most 1,000 rows (11,000 arguments) per statement
            for chunk in entries.chunks(1_000) {
                let sql = format!(
                    "INSERT INTO audit_log (seq, at, actor_id, actor_name, action, target_kind, \
                     target_id, ip, detail, prev_hash, hash) VALUES {}",
                    values_list(chunk.len(), 11, $positional)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (actor, ev) in chunk {
                    seq += 1;
                    let detail = serde_json::to_string(&ev.detail)
                        .map_err(|e| StoreError::Database(e.to_string()))?;
                    let hash = entry_hash(
                        &prev, seq, now, actor.user_id, &actor.name, &ev.action, &ev.target_kind,
                        &ev.target_id, &actor.ip, &detail,
                    );
                    q = q
                        .bind(seq)
                        .bind(now)
                        .bind(actor.user_id)
                        .bind(actor.name.clone())
                        .bind(ev.action.clone())
                        .bind(ev.target_kind.clone())
                        .bind(ev.target_id.clone())
                        .bind(actor.ip.clone())
                        .bind(detail)
                        .bind(std::mem::replace(&mut prev, hash.clone()))
                        .bind(hash);
                }
                q.execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// A unit by code inside the scope, read within a transaction.
        async fn unit_in_scope(tx: &mut Tx<'_>, scope: &Scope, code: &str) -> StoreResult<Option<Unit>> {
            let (cond, binds) = scope_condition(scope, "u", 2);
            let sql = format!("{UNIT_SELECT} WHERE u.code = $1 AND {cond}");
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(code);
            for b in binds {
                q = q.bind(b);
            }
            q.fetch_optional(&mut **tx).await?.map(|r| unit_from_row(&r)).transpose()
        }

        async fn require_unit(tx: &mut Tx<'_>, scope: &Scope, code: &str) -> StoreResult<Unit> {
            unit_in_scope(tx, scope, code).await?.ok_or(StoreError::NotFound("unit"))
        }

        async fn unit_by_id(tx: &mut Tx<'_>, id: i64) -> StoreResult<Unit> {
            let sql = format!("{UNIT_SELECT} WHERE u.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&mut **tx).await?;
            unit_from_row(&r)
        }

        async fn write_history(tx: &mut Tx<'_>, now: i64, actor: &Actor, action: &str, u: &Unit) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO unit_history (unit_id, at, actor_id, actor_name, action, name, level, \
                 parent_code, kind, valid_from, valid_to) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(u.id)
            .bind(now)
            .bind(actor.user_id)
            .bind(&actor.name)
            .bind(action)
            .bind(&u.name)
            .bind(&u.level)
            .bind(&u.parent_code)
            .bind(&u.kind)
            .bind(&u.valid_from)
            .bind(&u.valid_to)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Records a unit change (history and audit) and commits.
        async fn finish_unit_change(
            mut tx: Tx<'static>, now: i64, actor: &Actor, action: &str, unit_id: i64, detail: serde_json::Value,
        ) -> StoreResult<Unit> {
            let u = unit_by_id(&mut tx, unit_id).await?;
            write_history(&mut tx, now, actor, action, &u).await?;
            let ev = AuditEvent::new(&format!("unit.{action}"), "unit", &u.code).with_detail(detail);
            append_audit(&mut tx, now, actor, &ev).await?;
            tx.commit().await?;
            Ok(u)
        }

        /// Checks and inserts a new unit in the caller's write transaction, with its history and
        /// audit entry; returns its id.
        async fn insert_unit(
            tx: &mut Tx<'static>, scope: &Scope, actor: &Actor, levels: &Levels, new: &NewUnit, now: i64,
        ) -> StoreResult<i64> {
            check_name(&new.name)?;
            if let Some(k) = &new.kind {
                check_kind(k)?;
            }
            let parent = match &new.parent_code {
                Some(pc) => Some(parent_for_write(tx, scope, pc).await?),
                None if *scope == Scope::All => None,
                None => return Err(StoreError::rejected("unknown_parent", "a parent code is required")),
            };
            levels.check_placement(
                &new.code,
                &new.level,
                parent.as_ref().map(|p| (p.code.as_str(), p.level.as_str())),
            )?;
            let taken = sqlx::query("SELECT id FROM units WHERE code = $1")
                .bind(&new.code)
                .fetch_optional(&mut **tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::rejected("duplicate_code", format!("code {} already exists", new.code)));
            }
            let id = $store::alloc_unit_ids(tx, 1).await?[0];
            let unit_path = match &parent {
                Some(p) => path::child(&p.path, id),
                None => path::root(id),
            };
            sqlx::query(
                "INSERT INTO units (id, code, name, level, parent_id, path, kind, valid_from, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(id)
            .bind(&new.code)
            .bind(&new.name)
            .bind(&new.level)
            .bind(parent.as_ref().map(|p| p.id))
            .bind(unit_path)
            .bind(&new.kind)
            .bind(&new.valid_from)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let u = unit_by_id(tx, id).await?;
            write_history(tx, now, actor, "create", &u).await?;
            let detail = serde_json::json!({
                "name": new.name, "level": new.level, "parent_code": new.parent_code, "kind": new.kind,
            });
            let ev = AuditEvent::new("unit.create", "unit", &u.code).with_detail(detail);
            append_audit(tx, now, actor, &ev).await?;
            Ok(id)
        }

        /// A unit that may receive children: inside the scope and not retired.
        async fn parent_for_write(tx: &mut Tx<'_>, scope: &Scope, code: &str) -> StoreResult<Unit> {
            let p = unit_in_scope(tx, scope, code).await?.ok_or_else(|| {
                StoreError::rejected("unknown_parent", format!("parent {code} not found"))
            })?;
            if p.retired {
                return Err(StoreError::rejected("unit_retired", format!("parent {code} is retired")));
            }
            Ok(p)
        }

        impl $store {
            /// Applies the migrations not yet recorded in `schema_migrations`, in order, under the write lock.
            pub(super) async fn migrate(&self, migrations: $crate::migrate::Migrations) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::raw_sql(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .execute(&mut *tx)
                .await?;
                for (version, sql) in migrations {
                    let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if done.is_none() {
                        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
                        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                            .bind(version)
                            .bind(self.clock.now_ms())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
                self.close_writer().await;
            }

            async fn unit_roots(&self, scope: &Scope) -> StoreResult<Vec<Unit>> {
                let rows = match scope {
                    Scope::All => {
                        let sql = format!("{UNIT_SELECT} WHERE u.parent_id IS NULL AND NOT u.retired ORDER BY u.code");
                        sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?
                    }
                    Scope::Subtrees(tops) => {
                        if tops.is_empty() {
                            return Ok(vec![]);
                        }
                        let marks: Vec<String> = (1..=tops.len()).map(|i| format!("${i}")).collect();
                        let sql = format!("{UNIT_SELECT} WHERE u.path IN ({}) ORDER BY u.code", marks.join(","));
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for t in tops {
                            q = q.bind(t);
                        }
                        q.fetch_all(&self.pool).await?
                    }
                };
                rows.iter().map(unit_from_row).collect()
            }

            async fn unit_get(&self, scope: &Scope, code: &str) -> StoreResult<(Unit, Vec<Unit>)> {
                let mut tx = self.pool.begin().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let ids = path::ancestor_ids(&u.path);
                let mut ancestors = Vec::new();
                if !ids.is_empty() {
                    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
                    let sql = format!("{UNIT_SELECT} WHERE u.id IN ({}) ORDER BY length(u.path)", marks.join(","));
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for id in ids {
                        q = q.bind(id);
                    }
                    for r in q.fetch_all(&mut *tx).await? {
                        let a = unit_from_row(&r)?;
                        if scope.contains_path(&a.path) {
                            ancestors.push(a);
                        }
                    }
                }
                tx.commit().await?;
                Ok((u, ancestors))
            }

            async fn unit_children(&self, scope: &Scope, code: &str, include_retired: bool) -> StoreResult<Vec<Unit>> {
                let mut tx = self.pool.begin().await?;
                let parent = require_unit(&mut tx, scope, code).await?;
                let sql = format!(
                    "{UNIT_SELECT} WHERE u.parent_id = $1 AND ($2 OR NOT u.retired) ORDER BY u.code"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(parent.id)
                    .bind(include_retired)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.iter().map(unit_from_row).collect()
            }

            async fn unit_search(&self, scope: &Scope, q: &str, limit: i64) -> StoreResult<Vec<UnitHit>> {
                let (cond, binds) = scope_condition(scope, "u", 4);
                let sql = format!(
                    "{UNIT_SELECT} WHERE (u.name LIKE $1 ESCAPE '\\' OR u.code LIKE $2 ESCAPE '\\') \
                     AND {cond} ORDER BY u.retired, length(u.code), u.code LIMIT $3"
                );
                let sql = sql.replace(
                    "FROM units u LEFT JOIN units p",
                    ", p.name AS parent_name FROM units u LEFT JOIN units p",
                );
                let mut qy = sqlx::query(AssertSqlSafe(sql))
                    .bind(like_contains(q))
                    .bind(like_prefix(q))
                    .bind(limit);
                for b in binds {
                    qy = qy.bind(b);
                }
                let rows = qy.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(UnitHit {
                            unit: unit_from_row(r)?,
                            parent_name: r.try_get("parent_name")?,
                        })
                    })
                    .collect()
            }

            async fn unit_create(&self, scope: &Scope, actor: &Actor, levels: &Levels, new: &NewUnit) -> StoreResult<Unit> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let id = insert_unit(&mut tx, scope, actor, levels, new, now).await?;
                let u = unit_by_id(&mut tx, id).await?;
                tx.commit().await?;
                Ok(u)
            }

            async fn unit_update(&self, scope: &Scope, actor: &Actor, code: &str, patch: &UnitPatch) -> StoreResult<Unit> {
                if let Some(n) = &patch.name {
                    check_name(n)?;
                }
                if let Some(k) = &patch.kind {
                    check_kind(k)?;
                }
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let name = patch.name.as_ref().unwrap_or(&u.name);
                let kind = patch.kind.as_ref().or(u.kind.as_ref());
                let lines = patch.business_lines.as_ref().unwrap_or(&u.business_lines);
                let area_type = patch.area_type.clone().unwrap_or(u.area_type.clone());
                let households = patch.households.unwrap_or(u.households);
                let population = patch.population.unwrap_or(u.population);
                let enterprises = patch.enterprises.unwrap_or(u.enterprises);
                let lines_json = serde_json::to_string(lines).map_err(|e| StoreError::Database(e.to_string()))?;
                sqlx::query(
                    "UPDATE units SET name = $1, kind = $2, business_lines = $3, area_type = $4, \
                     households = $5, population = $6, enterprises = $7, updated_at = $8 WHERE id = $9",
                )
                    .bind(name)
                    .bind(kind)
                    .bind(lines_json)
                    .bind(&area_type)
                    .bind(households)
                    .bind(population)
                    .bind(enterprises)
                    .bind(now)
                    .bind(u.id)
                    .execute(&mut *tx)
                    .await?;
                let detail = serde_json::json!({
                    "before": {"name": u.name, "kind": u.kind, "business_lines": u.business_lines, "area_type": u.area_type,
                               "households": u.households, "population": u.population, "enterprises": u.enterprises},
                    "after": {"name": name, "kind": kind, "business_lines": lines, "area_type": area_type,
                              "households": households, "population": population, "enterprises": enterprises},
                });
                finish_unit_change(tx, now, actor, "update", u.id, detail).await
            }

            async fn unit_move(&self, scope: &Scope, actor: &Actor, levels: &Levels, code: &str, new_parent: &str) -> StoreResult<Unit> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                if u.retired {
                    return Err(StoreError::rejected("unit_retired", format!("{code} is retired")));
                }
                let p = parent_for_write(&mut tx, scope, new_parent).await?;
                if p.path.starts_with(&u.path) {
                    return Err(StoreError::rejected("move_into_own_subtree", format!("{new_parent} lies below {code}")));
                }
                levels.check_placement(&u.code, &u.level, Some((&p.code, &p.level)))?;
                let new_path = path::child(&p.path, u.id);
                sqlx::query("UPDATE units SET parent_id = $1, updated_at = $2 WHERE id = $3")
                    .bind(p.id)
                    .bind(now)
                    .bind(u.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE units SET path = $1 || substr(path, CAST($2 AS INTEGER)) \
                     WHERE path >= $3 AND path < $4",
                )
                .bind(&new_path)
                .bind(u.path.len() as i64 + 1)
                .bind(&u.path)
                .bind(path::subtree_upper(&u.path))
                .execute(&mut *tx)
                .await?;
                let detail = serde_json::json!({"from": u.parent_code, "to": p.code});
                finish_unit_change(tx, now, actor, "move", u.id, detail).await
            }

            async fn unit_retire(&self, scope: &Scope, actor: &Actor, code: &str, valid_to: &str) -> StoreResult<Unit> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                if u.retired {
                    return Err(StoreError::rejected("unit_retired", format!("{code} is already retired")));
                }
                if u.child_count > 0 {
                    return Err(StoreError::rejected(
                        "unit_has_children",
                        format!("{code} has {} active children", u.child_count),
                    ));
                }
                sqlx::query("UPDATE units SET retired = $1, valid_to = $2, updated_at = $3 WHERE id = $4")
                    .bind(true)
                    .bind(valid_to)
                    .bind(now)
                    .bind(u.id)
                    .execute(&mut *tx)
                    .await?;
                let detail = serde_json::json!({"valid_to": valid_to});
                finish_unit_change(tx, now, actor, "retire", u.id, detail).await
            }

            async fn unit_history(&self, scope: &Scope, code: &str) -> StoreResult<Vec<UnitChange>> {
                let mut tx = self.pool.begin().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let rows = sqlx::query(
                    "SELECT at, action, actor_name, name, level, parent_code, kind, valid_from, valid_to \
                     FROM unit_history WHERE unit_id = $1 ORDER BY id",
                )
                .bind(u.id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.iter()
                    .map(|r| {
                        Ok(UnitChange {
                            at: r.try_get("at")?,
                            action: r.try_get("action")?,
                            actor_name: r.try_get("actor_name")?,
                            name: r.try_get("name")?,
                            level: r.try_get("level")?,
                            parent_code: r.try_get("parent_code")?,
                            kind: r.try_get("kind")?,
                            valid_from: r.try_get("valid_from")?,
                            valid_to: r.try_get("valid_to")?,
                        })
                    })
                    .collect()
            }

            async fn unit_import(
                &self, scope: &Scope, actor: &Actor, levels: &Levels, rows: Vec<ImportRow>,
                progress: &(dyn Fn(ImportProgress) + Send + Sync),
            ) -> StoreResult<u64> {
                let total = rows.len() as u64;
                progress(ImportProgress { stage: ImportStage::Checking, done: 0, total });
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                // (id, level, path, retired) of the stored units the file names (as a code or a
                // parent), read under the write lock; never the whole table.
                let mut existing: HashMap<String, (i64, String, String, bool)> = HashMap::new();
                let mut wanted: Vec<&str> = rows
                    .iter()
                    .flat_map(|r| [r.code.as_str(), r.parent_code.as_str()])
                    .filter(|c| !c.is_empty())
                    .collect();
                wanted.sort_unstable();
                wanted.dedup();
                for batch in wanted.chunks(LOOKUP_CHUNK) {
                    let sql = format!(
                        "SELECT id, code, level, path, retired FROM units WHERE code IN {}",
                        values_list(1, batch.len(), $positional)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for c in batch {
                        q = q.bind(c.to_string());
                    }
                    for r in q.fetch_all(&mut *tx).await? {
                        existing.insert(
                            r.try_get("code")?,
                            (r.try_get("id")?, r.try_get("level")?, r.try_get("path")?, r.try_get("retired")?),
                        );
                    }
                }
                drop(wanted);
                let lookup = |code: &str| {
                    existing.get(code).map(|(_, level, p, retired)| ExistingUnit {
                        level: level.clone(),
                        writable: scope.contains_path(p),
                        retired: *retired,
                    })
                };
                let rows = validate_import(rows, levels, &lookup, *scope == Scope::All)
                    .map_err(StoreError::ImportRejected)?;

                let ids = Self::alloc_unit_ids(&mut tx, rows.len()).await?;
                // new code -> (id, path); parents come first, so each parent is known in time.
                let mut placed: HashMap<&str, (i64, String)> = HashMap::with_capacity(rows.len());
                let mut parent_ids: Vec<Option<i64>> = Vec::with_capacity(rows.len());
                for (r, id) in rows.iter().zip(&ids) {
                    let parent = if r.parent_code.is_empty() {
                        None
                    } else if let Some((pid, ppath)) = placed.get(r.parent_code.as_str()) {
                        Some((*pid, ppath.clone()))
                    } else {
                        existing.get(&r.parent_code).map(|(pid, _, ppath, _)| (*pid, ppath.clone()))
                    };
                    let p = match &parent {
                        Some((_, ppath)) => path::child(ppath, *id),
                        None => path::root(*id),
                    };
                    parent_ids.push(parent.map(|(pid, _)| pid));
                    placed.insert(r.code.as_str(), (*id, p));
                }
                drop(existing);

                let mut done = 0u64;
                for (chunk_no, chunk) in rows.chunks(IMPORT_CHUNK).enumerate() {
                    let base = chunk_no * IMPORT_CHUNK;
                    let sql = format!(
                        "INSERT INTO units (id, code, name, level, parent_id, path, kind, valid_from, \
                         created_at, updated_at) VALUES {}",
                        values_list(chunk.len(), 10, $positional)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for (i, r) in chunk.iter().enumerate() {
                        let (id, p) = &placed[r.code.as_str()];
                        q = q
                            .bind(*id)
                            .bind(r.code.clone())
                            .bind(r.name.clone())
                            .bind(r.level.clone())
                            .bind(parent_ids[base + i])
                            .bind(p.clone())
                            .bind(r.kind.clone())
                            .bind(r.valid_from.clone())
                            .bind(now)
                            .bind(now);
                    }
                    q.execute(&mut *tx).await?;

                    let sql = format!(
                        "INSERT INTO unit_history (unit_id, at, actor_id, actor_name, action, name, level, \
                         parent_code, kind, valid_from) VALUES {}",
                        values_list(chunk.len(), 10, $positional)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for r in chunk {
                        let parent_code = (!r.parent_code.is_empty()).then(|| r.parent_code.clone());
                        q = q
                            .bind(placed[r.code.as_str()].0)
                            .bind(now)
                            .bind(actor.user_id)
                            .bind(actor.name.clone())
                            .bind("import")
                            .bind(r.name.clone())
                            .bind(r.level.clone())
                            .bind(parent_code)
                            .bind(r.kind.clone())
                            .bind(r.valid_from.clone());
                    }
                    q.execute(&mut *tx).await?;
                    done += chunk.len() as u64;
                    progress(ImportProgress { stage: ImportStage::Writing, done, total });
                }
                let ev = AuditEvent::new("unit.import", "unit", "*")
                    .with_detail(serde_json::json!({"rows": total}));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                // fresh statistics, or PostgreSQL plans the tree queries for empty tables
                sqlx::query("ANALYZE units").execute(&self.pool).await?;
                sqlx::query("ANALYZE unit_history").execute(&self.pool).await?;
                Ok(total)
            }

            async fn unit_count(&self) -> StoreResult<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM units").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn import_report_save(&self, id: &str, user_id: Option<i64>, csv: &str) -> StoreResult<()> {
                sqlx::query("INSERT INTO import_reports (id, user_id, created_at, report) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(user_id)
                    .bind(self.clock.now_ms())
                    .bind(csv)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn import_report_get(&self, id: &str, user_id: Option<i64>) -> StoreResult<String> {
                let r = sqlx::query("SELECT report, user_id FROM import_reports WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound("report"))?;
                if r.try_get::<Option<i64>, _>("user_id")? != user_id {
                    return Err(StoreError::NotFound("report"));
                }
                Ok(r.try_get("report")?)
            }

            async fn user_count(&self) -> StoreResult<i64> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn user_create(&self, actor: &Actor, new: &NewUser) -> StoreResult<User> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO users (username, display_name, password_hash, phone, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(new.username.to_lowercase())
                .bind(&new.display_name)
                .bind(&new.password_hash)
                .bind(&new.phone)
                .bind(false)
                .bind(now)
                .fetch_one(&mut *tx)
                .await;
                let id: i64 = match inserted {
                    Ok(r) => r.try_get("id")?,
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::rejected("username_taken", format!("{} is taken", new.username)))
                    }
                    Err(e) => return Err(e.into()),
                };
                let ev = AuditEvent::new("user.create", "user", id.to_string()).with_detail(serde_json::json!({
                    "username": new.username.to_lowercase(), "display_name": new.display_name,
                    "phone": new.phone.as_deref().map(mask_phone),
                }));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                self.user_get(id).await
            }

            async fn user_get(&self, id: i64) -> StoreResult<User> {
                let sql = format!("{USER_SELECT} WHERE id = $1");
                let r = sqlx::query(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                user_from_row(&r)
            }

            async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
                let sql = format!("SELECT id, username, display_name, phone, disabled, created_at, birth_date, education, certificate_no, \
                     EXISTS (SELECT 1 FROM user_photos ph WHERE ph.user_id = users.id) AS has_photo, \
                     password_hash FROM users WHERE username = $1");
                let r = sqlx::query(AssertSqlSafe(sql))
                    .bind(username.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                match r {
                    Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
                    None => Ok(None),
                }
            }

            async fn user_list(&self, q: Option<&str>, limit: i64) -> StoreResult<Vec<User>> {
                let sql = format!(
                    "{USER_SELECT} WHERE ($1 = '' OR username LIKE $2 ESCAPE '\\' OR display_name LIKE $2 ESCAPE '\\') \
                     ORDER BY username LIMIT $3"
                );
                let q = q.unwrap_or("");
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(q)
                    .bind(like_contains(q))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(user_from_row).collect()
            }

            async fn user_update(&self, actor: &Actor, id: i64, patch: &UserPatch) -> StoreResult<User> {
                let now = self.clock.now_ms();
                let before = self.user_get(id).await?;
                let mut tx = self.begin_write().await?;
                let phone = match &patch.phone {
                    Some(p) => p.clone(),
                    None => before.phone.clone(),
                };
                let keep = |p: &Option<Option<String>>, old: &Option<String>| p.clone().unwrap_or(old.clone());
                sqlx::query(
                    "UPDATE users SET display_name = $1, disabled = $2, phone = $3, updated_at = $4, \
                     birth_date = $5, education = $6, certificate_no = $7 WHERE id = $8",
                )
                    .bind(patch.display_name.as_ref().unwrap_or(&before.display_name))
                    .bind(patch.disabled.unwrap_or(before.disabled))
                    .bind(&phone)
                    .bind(now)
                    .bind(keep(&patch.birth_date, &before.birth_date))
                    .bind(keep(&patch.education, &before.education))
                    .bind(keep(&patch.certificate_no, &before.certificate_no))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new("user.update", "user", id.to_string()).with_detail(serde_json::json!({
                    "display_name": patch.display_name, "disabled": patch.disabled,
                    "phone": patch.phone.as_ref().map(|p| p.as_deref().map(mask_phone)),
                    "qualification_changed": patch.birth_date.is_some() || patch.education.is_some() || patch.certificate_no.is_some(),
                }));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                self.user_get(id).await
            }

            async fn user_set_password(&self, actor: &Actor, id: i64, hash: &str) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let n = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                append_audit(&mut tx, now, actor, &AuditEvent::new("user.password", "user", id.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user_phone(&self, actor: &Actor, id: i64) -> StoreResult<Option<String>> {
                let u = self.user_get(id).await?;
                self.audit_record(actor, AuditEvent::new("user.phone.read", "user", id.to_string())).await?;
                Ok(u.phone)
            }

            async fn grants_of(&self, user_id: i64) -> StoreResult<Vec<Grant>> {
                let sql = format!("{GRANT_SELECT} WHERE g.user_id = $1 ORDER BY g.id");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.pool).await?;
                rows.iter().map(grant_from_row).collect()
            }

            async fn grant_add(&self, scope: &Scope, actor: &Actor, user_id: i64, role: Role, unit_code: Option<&str>) -> StoreResult<Grant> {
                self.user_get(user_id).await?;
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let unit_id = match unit_code {
                    Some(code) => {
                        let u = require_unit(&mut tx, scope, code).await?;
                        if u.retired {
                            return Err(StoreError::rejected("unit_retired", format!("{code} is retired")));
                        }
                        Some(u.id)
                    }
                    None if role == Role::SystemAdmin && *scope == Scope::All => None,
                    None => return Err(StoreError::rejected("validation_failed", "unit_code is required for this role")),
                };
                let inserted = sqlx::query(
                    "INSERT INTO grants (user_id, role, unit_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user_id)
                .bind(role.key())
                .bind(unit_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await;
                let id: i64 = match inserted {
                    Ok(r) => r.try_get("id")?,
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::rejected("grant_exists", "the user already has this grant"))
                    }
                    Err(e) => return Err(e.into()),
                };
                let ev = AuditEvent::new("grant.add", "user", user_id.to_string())
                    .with_detail(serde_json::json!({"grant_id": id, "role": role.key(), "unit_code": unit_code}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let sql = format!("{GRANT_SELECT} WHERE g.id = $1");
                let g = grant_from_row(&sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?)?;
                tx.commit().await?;
                Ok(g)
            }

            async fn grant_remove(&self, actor: &Actor, grant_id: i64) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let sql = format!("{GRANT_SELECT} WHERE g.id = $1");
                let g = sqlx::query(AssertSqlSafe(sql))
                    .bind(grant_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("grant"))?;
                let g = grant_from_row(&g)?;
                sqlx::query("DELETE FROM grants WHERE id = $1").bind(grant_id).execute(&mut *tx).await?;
                let ev = AuditEvent::new("grant.remove", "user", g.user_id.to_string())
                    .with_detail(serde_json::json!({"grant_id": g.id, "role": g.role.key(), "unit_code": g.unit_code}));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn login_failures(&self, username: &str) -> StoreResult<LoginFailures> {
                let r = sqlx::query("SELECT count, locked_until FROM login_failures WHERE username = $1")
                    .bind(username.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match r {
                    Some(r) => LoginFailures { count: r.try_get("count")?, locked_until: r.try_get("locked_until")? },
                    None => LoginFailures::default(),
                })
            }

            async fn login_failure_add(&self, username: &str, threshold: i64, lock_ms: i64) -> StoreResult<LoginFailures> {
                let now = self.clock.now_ms();
                let name = username.to_lowercase();
                let mut tx = self.begin_write().await?;
                let r = sqlx::query("SELECT count, locked_until FROM login_failures WHERE username = $1")
                    .bind(&name)
                    .fetch_optional(&mut *tx)
                    .await?;
                let mut f = match r {
                    Some(r) => LoginFailures { count: r.try_get("count")?, locked_until: r.try_get("locked_until")? },
                    None => LoginFailures::default(),
                };
                if f.locked_until.is_some_and(|t| t <= now) {
                    f = LoginFailures::default();
                }
                f.count += 1;
                if f.count >= threshold && f.locked_until.is_none() {
                    f.locked_until = Some(now + lock_ms);
                }
                sqlx::query(
                    "INSERT INTO login_failures (username, count, locked_until, last_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (username) DO UPDATE SET count = excluded.count, \
                     locked_until = excluded.locked_until, last_at = excluded.last_at",
                )
                .bind(&name)
                .bind(f.count)
                .bind(f.locked_until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(f)
            }

            async fn login_failures_clear(&self, username: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM login_failures WHERE username = $1")
                    .bind(username.to_lowercase())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_create(&self, s: &NewSession) -> StoreResult<()> {
                let now = self.clock.now_ms();
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, csrf_token, ip, created_at, last_seen_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&s.id_hash)
                .bind(s.user_id)
                .bind(&s.csrf_token)
                .bind(&s.ip)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_get(&self, id_hash: &str) -> StoreResult<Option<Session>> {
                let r = sqlx::query("SELECT user_id, csrf_token, created_at, last_seen_at FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                r.map(|r| {
                    Ok(Session {
                        user_id: r.try_get("user_id")?,
                        csrf_token: r.try_get("csrf_token")?,
                        created_at: r.try_get("created_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                    })
                })
                .transpose()
            }

            async fn session_touch(&self, id_hash: &str, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                    .bind(now)
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_delete(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn sessions_delete_for_user(&self, user_id: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
                Ok(())
            }

            async fn sessions_purge_idle(&self, cutoff: i64) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
                    .bind(cutoff)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn token_create(&self, actor: &Actor, new: &NewToken) -> StoreResult<ApiToken> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let id: i64 = sqlx::query(
                    "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(new.user_id)
                .bind(&new.name)
                .bind(&new.prefix)
                .bind(&new.hash)
                .bind(now)
                .bind(new.expires_at)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
                let ev = AuditEvent::new("token.create", "api_token", id.to_string())
                    .with_detail(serde_json::json!({"name": new.name, "prefix": new.prefix, "expires_at": new.expires_at}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let sql = format!("{TOKEN_SELECT} WHERE id = $1");
                let t = token_from_row(&sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?)?;
                tx.commit().await?;
                Ok(t)
            }

            async fn token_list(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
                let sql = format!("{TOKEN_SELECT} WHERE user_id = $1 ORDER BY id DESC");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.pool).await?;
                rows.iter().map(token_from_row).collect()
            }

            async fn token_lookup(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
                let sql = format!("{TOKEN_SELECT} WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2");
                let r = sqlx::query(AssertSqlSafe(sql))
                    .bind(hash)
                    .bind(self.clock.now_ms())
                    .fetch_optional(&self.pool)
                    .await?;
                r.map(|r| token_from_row(&r)).transpose()
            }

            async fn token_touch(&self, id: i64) -> StoreResult<()> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(self.clock.now_ms())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn token_revoke(&self, actor: &Actor, user_id: i64, id: i64) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("token"));
                }
                append_audit(&mut tx, now, actor, &AuditEvent::new("token.revoke", "api_token", id.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_record(&self, actor: &Actor, event: AuditEvent) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                append_audit(&mut tx, now, actor, &event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_search(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
                let mut conds: Vec<String> = Vec::new();
                let mut texts: Vec<(usize, String)> = Vec::new();
                let mut nums: Vec<(usize, i64)> = Vec::new();
                let mut n = 0;
                let mut next = || {
                    n += 1;
                    n
                };
                if let Some(a) = &f.actor {
                    let i = next();
                    conds.push(format!("actor_name = ${i}"));
                    texts.push((i, a.to_lowercase()));
                }
                if let Some(a) = &f.action {
                    let i = next();
                    conds.push(format!("action LIKE ${i} ESCAPE '\\'"));
                    texts.push((i, like_prefix(a)));
                }
                if let Some(t) = &f.target {
                    let i = next();
                    conds.push(format!("target_id = ${i}"));
                    texts.push((i, t.clone()));
                }
                for (v, cond) in [(f.from, "at >="), (f.to, "at <="), (f.before, "seq <")] {
                    if let Some(v) = v {
                        let i = next();
                        conds.push(format!("{cond} ${i}"));
                        nums.push((i, v));
                    }
                }
                let limit_i = next();
                let where_sql = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
                let sql = format!("{AUDIT_SELECT}{where_sql} ORDER BY seq DESC LIMIT ${limit_i}");
                // bind in placeholder order
                let mut all: Vec<(usize, Result<String, i64>)> = texts.into_iter().map(|(i, s)| (i, Ok(s))).collect();
                all.extend(nums.into_iter().map(|(i, v)| (i, Err(v))));
                all.push((limit_i, Err(f.limit)));
                all.sort_by_key(|(i, _)| *i);
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (_, v) in all {
                    q = match v {
                        Ok(s) => q.bind(s),
                        Err(v) => q.bind(v),
                    };
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn audit_page(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>> {
                let sql = format!("{AUDIT_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(after_seq).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(audit_from_row).collect()
            }
        }

        $crate::grid_queries::impl_grid_store!($store, $db);
        $crate::case_queries::impl_case_store!($store, $db, $positional);
        $crate::external_queries::impl_external_store!($store, $db);
        }
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_conditions_bind_ranges() {
        let (sql, binds) =
            scope_condition(&Scope::Subtrees(vec!["/1/".into(), "/2/5/".into()]), "u", 3);
        assert_eq!(
            sql,
            "((u.path >= $3 AND u.path < $4) OR (u.path >= $5 AND u.path < $6))"
        );
        assert_eq!(binds, ["/1/", "/10", "/2/5/", "/2/50"]);
        assert_eq!(scope_condition(&Scope::Subtrees(vec![]), "u", 1).0, "1=0");
        assert_eq!(scope_condition(&Scope::All, "u", 1).0, "1=1");
    }

    #[test]
    fn values_lists() {
        assert_eq!(values_list(2, 2, false), "($1, $2),($3, $4)");
        assert_eq!(values_list(2, 2, true), "(?, ?),(?, ?)");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_contains("5%_\\"), "%5\\%\\_\\\\%");
        assert_eq!(like_prefix("3208"), "3208%");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13800000001"), "138****0001");
        assert_eq!(mask_phone("123"), "****");
    }
}

//! The SQL of [`crate::GridStore`], shared by both backends like `queries.rs`: the macro is
//! expanded inside each backend's `shared` module, next to the helpers it uses (`append_audit`,
//! `require_unit`, `write_history`, …).

/// A boundary version valid on `$at` (bound by the caller at the given position).
pub(crate) fn valid_on(alias: &str, at: usize) -> String {
    format!(
        "{alias}.valid_from <= ${at} AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ${at})"
    )
}

/// A unit valid on `$at`.
pub(crate) fn unit_valid_on(alias: &str, at: usize) -> String {
    format!(
        "({alias}.valid_from IS NULL OR {alias}.valid_from <= ${at}) \
         AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ${at})"
    )
}

pub(crate) const BOUNDARY_SELECT: &str = "SELECT b.id, b.unit_id, u.code, b.valid_from, b.valid_to, \
    b.area_m2, b.source, b.change_id, b.geometry FROM boundaries b JOIN units u ON u.id = b.unit_id";

pub(crate) const CHANGE_SELECT: &str = "SELECT c.id, c.kind, c.status, p.code AS parent_code, \
    p.path AS parent_path, c.parent_id, c.units, c.parts, c.reason, c.effective_date, c.report, \
    c.proposed_by, c.proposed_by_name, c.proposed_at, c.decided_by_name, c.decided_at, \
    c.decision_note, c.applied_at, c.filing FROM grid_changes c JOIN units p ON p.id = c.parent_id";

pub(crate) const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.unit_id, u.code AS unit_code, \
    u.name AS unit_name, u.level AS unit_level, u.path AS unit_path, a.user_id, us.display_name, \
    us.phone, a.role, a.duty, a.start_date, a.end_date, a.exception_reason, us.birth_date, \
    us.education, us.certificate_no, \
    EXISTS (SELECT 1 FROM user_photos ph WHERE ph.user_id = a.user_id) AS has_photo \
    FROM team_assignments a JOIN units u ON u.id = a.unit_id JOIN users us ON us.id = a.user_id";

/// Whether an assignment runs on `today`.
pub(crate) fn is_active(start: &str, end: Option<&str>, today: &str) -> bool {
    start <= today && end.is_none_or(|e| e >= today)
}

/// A change whose grids or parts do not fit (`change_invalid`).
pub(crate) fn change_invalid(reason: impl Into<String>) -> crate::StoreError {
    crate::StoreError::Domain(wangge_domain::DomainError::ChangeInvalid(reason.into()))
}

pub(crate) fn json_text<T: serde::Serialize>(v: &T) -> crate::StoreResult<String> {
    serde_json::to_string(v).map_err(|e| crate::StoreError::Database(e.to_string()))
}

pub(crate) fn json_parse<T: serde::de::DeserializeOwned>(t: &str) -> crate::StoreResult<T> {
    serde_json::from_str(t).map_err(|e| crate::StoreError::Database(format!("stored JSON: {e}")))
}

macro_rules! impl_grid_store {
    ($store:ident, $db:ty) => {
        use $crate::grid_queries::{
            ASSIGNMENT_SELECT, BOUNDARY_SELECT, CHANGE_SELECT, change_invalid, is_active, json_parse, json_text,
            unit_valid_on, valid_on,
        };
        use $crate::grid_store::{GridStore, parts_json};
        use $crate::grid_types::*;
        use wangge_domain::change::{ChangeKind, ChangeStatus};
        use wangge_domain::clock::previous_day;
        use wangge_domain::grid::next_code;

        fn boundary_from_row(r: &DbRow) -> StoreResult<Boundary> {
            Ok(Boundary {
                version_id: r.try_get("id")?,
                unit_id: r.try_get("unit_id")?,
                code: r.try_get("code")?,
                valid_from: r.try_get("valid_from")?,
                valid_to: r.try_get("valid_to")?,
                area_m2: r.try_get("area_m2")?,
                source: r.try_get("source")?,
                change_id: r.try_get("change_id")?,
                geometry: r.try_get("geometry")?,
            })
        }

        /// A change and the path of its parent unit (for scope checks).
        fn change_from_row(r: &DbRow) -> StoreResult<(GridChange, String, i64)> {
            let parts: Vec<ChangePart> = json_parse(&r.try_get::<String, _>("parts")?)?;
            let filing: Option<String> = r.try_get("filing")?;
            let c = GridChange {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                parent_code: r.try_get("parent_code")?,
                units: json_parse(&r.try_get::<String, _>("units")?)?,
                result_codes: parts.iter().filter_map(|p| p.code.clone()).collect(),
                parts,
                reason: r.try_get("reason")?,
                effective_date: r.try_get("effective_date")?,
                report: json_parse(&r.try_get::<String, _>("report")?)?,
                proposed_by: r.try_get("proposed_by_name")?,
                proposed_at: r.try_get("proposed_at")?,
                decided_by: r.try_get("decided_by_name")?,
                decided_at: r.try_get("decided_at")?,
                decision_note: r.try_get("decision_note")?,
                applied_at: r.try_get("applied_at")?,
                filing: filing.as_deref().map(json_parse).transpose()?,
            };
            let proposer: Option<i64> = r.try_get("proposed_by")?;
            Ok((c, r.try_get("parent_path")?, proposer.unwrap_or(0)))
        }

        fn assignment_from_row(r: &DbRow, today: &str) -> StoreResult<Assignment> {
            let start: String = r.try_get("start_date")?;
            let end: Option<String> = r.try_get("end_date")?;
            Ok(Assignment {
                id: r.try_get("id")?,
                unit_code: r.try_get("unit_code")?,
                unit_name: r.try_get("unit_name")?,
                unit_level: r.try_get("unit_level")?,
                user_id: r.try_get("user_id")?,
                display_name: r.try_get("display_name")?,
                phone: r.try_get("phone")?,
                role: r.try_get("role")?,
                duty: r.try_get("duty")?,
                active: is_active(&start, end.as_deref(), today),
                start_date: start,
                end_date: end,
                exception_reason: r.try_get("exception_reason")?,
                birth_date: r.try_get("birth_date")?,
                education: r.try_get("education")?,
                certificate_no: r.try_get("certificate_no")?,
                has_photo: r.try_get("has_photo")?,
            })
        }

        async fn change_by_id(tx: &mut Tx<'_>, id: i64) -> StoreResult<(GridChange, String, i64)> {
            let sql = format!("{CHANGE_SELECT} WHERE c.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound("change"))?;
            change_from_row(&r)
        }

        async fn assignment_by_id(tx: &mut Tx<'_>, id: i64, today: &str) -> StoreResult<(Assignment, String)> {
            let sql = format!("{ASSIGNMENT_SELECT} WHERE a.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound("assignment"))?;
            Ok((assignment_from_row(&r, today)?, r.try_get("unit_path")?))
        }

        /// The path of the level above `u`'s parent (the approver's level); `None` at the top.
        async fn level_above_parent(tx: &mut Tx<'_>, parent_id: i64) -> StoreResult<Option<String>> {
            let p = unit_by_id(tx, parent_id).await?;
            Ok(path::parent(&p.path).map(str::to_string))
        }

        /// Write access to the level above a unit: its parent's path must lie in the scope.
        fn require_level_above(scope: &Scope, u: &Unit) -> StoreResult<()> {
            let above = path::parent(&u.path).is_some_and(|p| scope.contains_path(p));
            if above || *scope == Scope::All {
                Ok(())
            } else {
                Err(StoreError::rejected(
                    "forbidden",
                    format!("changing the team of {} needs write access to the level above", u.code),
                ))
            }
        }

        /// Ends a unit's open boundary version at `date`.
        async fn close_boundary(tx: &mut Tx<'_>, unit_id: i64, date: &str) -> StoreResult<()> {
            sqlx::query("UPDATE boundaries SET valid_to = $1 WHERE unit_id = $2 AND valid_to IS NULL")
                .bind(date)
                .bind(unit_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        #[allow(clippy::too_many_arguments)]
        async fn insert_boundary(
            tx: &mut Tx<'_>, unit_id: i64, valid_from: &str, geometry: &str, area_m2: f64, source: &str,
            change_id: Option<i64>, now: i64, actor: &Actor,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO boundaries (unit_id, valid_from, geometry, area_m2, source, change_id, \
                 created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(unit_id)
            .bind(valid_from)
            .bind(geometry)
            .bind(area_m2)
            .bind(source)
            .bind(change_id)
            .bind(now)
            .bind(&actor.name)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Grants for the assignments running on `today`, none for those that ended.
        async fn sync_grants(tx: &mut Tx<'_>, today: &str, now: i64) -> StoreResult<u64> {
            let added = sqlx::query(
                "INSERT INTO grants (user_id, role, unit_id, created_at) \
                 SELECT DISTINCT a.user_id, a.grant_role, a.unit_id, $2 FROM team_assignments a \
                 WHERE a.start_date <= $1 AND (a.end_date IS NULL OR a.end_date >= $1) \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.user_id = a.user_id \
                   AND g.role = a.grant_role AND g.unit_id = a.unit_id)",
            )
            .bind(today)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let removed = sqlx::query(
                "DELETE FROM grants WHERE unit_id IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM team_assignments a WHERE a.user_id = grants.user_id \
                   AND a.grant_role = grants.role AND a.unit_id = grants.unit_id) \
                 AND NOT EXISTS (SELECT 1 FROM team_assignments a WHERE a.user_id = grants.user_id \
                   AND a.grant_role = grants.role AND a.unit_id = grants.unit_id \
                   AND a.start_date <= $1 AND (a.end_date IS NULL OR a.end_date >= $1))",
            )
            .bind(today)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok(added + removed)
        }

        /// Retires a unit on `date` as part of a change: history, boundary, team.
        async fn retire_for_change(tx: &mut Tx<'_>, now: i64, actor: &Actor, u: &Unit, date: &str) -> StoreResult<()> {
            if u.retired {
                return Err(StoreError::rejected("unit_retired", format!("{} is already retired", u.code)));
            }
            if u.child_count > 0 {
                return Err(StoreError::rejected(
                    "unit_has_children",
                    format!("{} has {} active children", u.code, u.child_count),
                ));
            }
            sqlx::query("UPDATE units SET retired = $1, valid_to = $2, updated_at = $3 WHERE id = $4")
                .bind(true)
                .bind(date)
                .bind(now)
                .bind(u.id)
                .execute(&mut **tx)
                .await?;
            let after = unit_by_id(tx, u.id).await?;
            write_history(tx, now, actor, "retire", &after).await?;
            close_boundary(tx, u.id, date).await?;
            let last_day = previous_day(date).unwrap_or_else(|| date.to_string());
            sqlx::query(
                "UPDATE team_assignments SET end_date = $1 \
                 WHERE unit_id = $2 AND (end_date IS NULL OR end_date > $1)",
            )
            .bind(&last_day)
            .bind(u.id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl GridStore for $store {
            async fn boundary_at(&self, scope: &Scope, code: &str, at: &str) -> StoreResult<Boundary> {
                let mut tx = self.pool.begin().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let sql = format!("{BOUNDARY_SELECT} WHERE b.unit_id = $1 AND {} ORDER BY b.id DESC LIMIT 1", valid_on("b", 2));
                let r = sqlx::query(AssertSqlSafe(sql)).bind(u.id).bind(at).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                r.map(|r| boundary_from_row(&r)).transpose()?.ok_or(StoreError::NotFound("boundary"))
            }

            async fn boundary_versions(&self, scope: &Scope, code: &str) -> StoreResult<Vec<Boundary>> {
                let mut tx = self.pool.begin().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let sql = format!("{BOUNDARY_SELECT} WHERE b.unit_id = $1 ORDER BY b.id");
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(u.id).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows.iter().map(boundary_from_row).collect()
            }

            async fn boundaries_set(
                &self, scope: &Scope, actor: &Actor, items: &[NewBoundary], valid_from: &str, source: &str,
            ) -> StoreResult<u64> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let mut codes = Vec::with_capacity(items.len());
                for it in items {
                    let u = require_unit(&mut tx, scope, &it.code).await?;
                    if u.retired {
                        return Err(StoreError::rejected("unit_retired", format!("{} is retired", u.code)));
                    }
                    close_boundary(&mut tx, u.id, valid_from).await?;
                    insert_boundary(&mut tx, u.id, valid_from, &it.geometry, it.area_m2, source, None, now, actor).await?;
                    codes.push(it.code.as_str());
                }
                let ev = AuditEvent::new("boundary.set", "unit", codes.first().copied().unwrap_or(""))
                    .with_detail(serde_json::json!({"source": source, "valid_from": valid_from, "count": codes.len(), "codes": codes}));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                Ok(items.len() as u64)
            }

            async fn units_create_with_boundaries(
                &self, scope: &Scope, actor: &Actor, levels: &Levels, items: &[(NewUnit, Option<NewBoundary>)], source: &str,
            ) -> StoreResult<Vec<Unit>> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let mut ids = Vec::with_capacity(items.len());
                for (new, boundary) in items {
                    let id = insert_unit(&mut tx, scope, actor, levels, new, now).await?;
                    if let Some(b) = boundary {
                        let from = new.valid_from.as_deref().ok_or_else(|| {
                            StoreError::Domain(wangge_domain::DomainError::validation("valid_from", "needed with a boundary"))
                        })?;
                        insert_boundary(&mut tx, id, from, &b.geometry, b.area_m2, source, None, now, actor).await?;
                    }
                    ids.push(id);
                }
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.push(unit_by_id(&mut tx, id).await?);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn map_at(&self, scope: &Scope, code: &str, at: &str) -> StoreResult<MapView> {
                let mut tx = self.pool.begin().await?;
                let unit = require_unit(&mut tx, scope, code).await?;
                let sql = format!("{BOUNDARY_SELECT} WHERE (b.unit_id = $1 OR u.parent_id = $1) AND {}", valid_on("b", 2));
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(unit.id).bind(at).fetch_all(&mut *tx).await?;
                let mut by_unit: HashMap<i64, Boundary> = HashMap::new();
                for r in &rows {
                    let b = boundary_from_row(r)?;
                    by_unit.insert(b.unit_id, b);
                }
                let sql = format!("{UNIT_SELECT} WHERE u.parent_id = $1 AND {} ORDER BY u.code", unit_valid_on("u", 2));
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(unit.id).bind(at).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut children = Vec::with_capacity(rows.len());
                for r in &rows {
                    let c = unit_from_row(r)?;
                    let b = by_unit.remove(&c.id);
                    children.push((c, b));
                }
                let boundary = by_unit.remove(&unit.id);
                Ok(MapView { unit, boundary, children })
            }

            async fn boundaries_under(&self, scope: &Scope, root: &str, at: &str) -> StoreResult<Vec<(Unit, Boundary)>> {
                let mut tx = self.pool.begin().await?;
                let r = require_unit(&mut tx, scope, root).await?;
                let upper = path::subtree_upper(&r.path);
                let sql = format!("{BOUNDARY_SELECT} WHERE u.path >= $1 AND u.path < $2 AND {} ORDER BY u.code", valid_on("b", 3));
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(&r.path).bind(&upper).bind(at).fetch_all(&mut *tx).await?;
                let sql = format!("{UNIT_SELECT} WHERE u.path >= $1 AND u.path < $2");
                let units = sqlx::query(AssertSqlSafe(sql)).bind(&r.path).bind(&upper).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut by_id: HashMap<i64, Unit> = HashMap::new();
                for u in &units {
                    let u = unit_from_row(u)?;
                    by_id.insert(u.id, u);
                }
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let b = boundary_from_row(row)?;
                    if let Some(u) = by_id.remove(&b.unit_id) {
                        out.push((u, b));
                    }
                }
                Ok(out)
            }

            async fn boundaries_for_index(&self, levels: &[String], codes: Option<&[String]>) -> StoreResult<Vec<IndexRow>> {
                if levels.is_empty() || codes.is_some_and(|c| c.is_empty()) {
                    return Ok(vec![]);
                }
                let level_marks: Vec<String> = (1..=levels.len()).map(|i| format!("${i}")).collect();
                let mut sql = format!(
                    "SELECT b.unit_id, u.code, u.level, b.valid_from, b.valid_to, b.geometry \
                     FROM boundaries b JOIN units u ON u.id = b.unit_id WHERE u.level IN ({}) \
                     AND (b.valid_to IS NULL OR b.valid_to > b.valid_from)",
                    level_marks.join(",")
                );
                if let Some(codes) = codes {
                    let marks: Vec<String> = (1..=codes.len()).map(|i| format!("${}", levels.len() + i)).collect();
                    sql.push_str(&format!(" AND u.code IN ({})", marks.join(",")));
                }
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for l in levels {
                    q = q.bind(l);
                }
                for c in codes.unwrap_or(&[]) {
                    q = q.bind(c);
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(IndexRow {
                            unit_id: r.try_get("unit_id")?,
                            code: r.try_get("code")?,
                            level: r.try_get("level")?,
                            valid_from: r.try_get("valid_from")?,
                            valid_to: r.try_get("valid_to")?,
                            geometry: r.try_get("geometry")?,
                        })
                    })
                    .collect()
            }

            async fn boundaries_fingerprint(&self) -> StoreResult<String> {
                let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS m, COUNT(valid_to) AS c FROM boundaries")
                    .fetch_one(&self.pool)
                    .await?;
                let (n, m, c): (i64, i64, i64) = (r.try_get("n")?, r.try_get("m")?, r.try_get("c")?);
                Ok(format!("{n}/{m}/{c}"))
            }

            async fn topology_report_save(&self, id: &str, user_id: Option<i64>, report: &str, geojson: &str) -> StoreResult<()> {
                sqlx::query("INSERT INTO topology_reports (id, user_id, created_at, report, geojson) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id)
                    .bind(user_id)
                    .bind(self.clock.now_ms())
                    .bind(report)
                    .bind(geojson)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn topology_report_get(&self, id: &str, user_id: Option<i64>) -> StoreResult<(String, String)> {
                let r = sqlx::query("SELECT user_id, report, geojson FROM topology_reports WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound("report"))?;
                let owner: Option<i64> = r.try_get("user_id")?;
                if owner != user_id {
                    return Err(StoreError::NotFound("report"));
                }
                Ok((r.try_get("report")?, r.try_get("geojson")?))
            }

            async fn change_create(&self, scope: &Scope, actor: &Actor, new: &NewChange) -> StoreResult<GridChange> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let mut parent_id = None;
                for code in &new.units {
                    let u = require_unit(&mut tx, scope, code).await?;
                    if u.retired {
                        return Err(StoreError::rejected("unit_retired", format!("{code} is retired")));
                    }
                    if new.kind != ChangeKind::Redraw && u.child_count > 0 {
                        return Err(StoreError::rejected(
                            "unit_has_children",
                            format!("{code} has {} active children: retire them first", u.child_count),
                        ));
                    }
                    let pid = path::ancestor_ids(&u.path).last().copied()
                        .ok_or_else(|| change_invalid(format!("{code} has no parent")))?;
                    if parent_id.is_some_and(|p| p != pid) {
                        return Err(change_invalid("the grids of one change must share a parent"));
                    }
                    parent_id = Some(pid);
                    let pending = sqlx::query(
                        "SELECT id FROM grid_changes WHERE status IN ('proposed', 'approved') AND units LIKE $1",
                    )
                    .bind(format!("%\"{code}\"%"))
                    .fetch_optional(&mut *tx)
                    .await?;
                    if pending.is_some() {
                        return Err(change_invalid(format!("{code} already has a pending change")));
                    }
                }
                let parent_id = parent_id.ok_or_else(|| {
                    change_invalid("no grid named")
                })?;
                let parent = unit_by_id(&mut tx, parent_id).await?;
                if !scope.contains_path(&parent.path) {
                    return Err(StoreError::rejected(
                        "forbidden",
                        format!("proposing a change needs write access to {}", parent.code),
                    ));
                }
                let row = sqlx::query(
                    "INSERT INTO grid_changes (kind, status, parent_id, units, parts, reason, effective_date, \
                     report, proposed_by, proposed_by_name, proposed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(new.kind.key())
                .bind(ChangeStatus::Proposed.key())
                .bind(parent_id)
                .bind(json_text(&new.units)?)
                .bind(parts_json(&new.parts)?)
                .bind(&new.reason)
                .bind(&new.effective_date)
                .bind(json_text(&new.report)?)
                .bind(actor.user_id)
                .bind(&actor.name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                let ev = AuditEvent::new("grid_change.propose", "grid_change", id.to_string()).with_detail(serde_json::json!({
                    "kind": new.kind.key(), "units": new.units, "effective_date": new.effective_date, "reason": new.reason,
                }));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (c, _, _) = change_by_id(&mut tx, id).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn change_get(&self, scope: &Scope, id: i64) -> StoreResult<GridChange> {
                let mut tx = self.pool.begin().await?;
                let (c, parent_path, _) = change_by_id(&mut tx, id).await?;
                tx.commit().await?;
                if !scope.contains_path(&parent_path) {
                    return Err(StoreError::NotFound("change"));
                }
                Ok(c)
            }

            async fn change_list(&self, scope: &Scope, unit: Option<&str>, status: Option<&str>) -> StoreResult<Vec<GridChange>> {
                let (cond, binds) = scope_condition(scope, "p", 3);
                let sql = format!(
                    "{CHANGE_SELECT} WHERE ($1 = '' OR c.units LIKE $2 OR c.parts LIKE $2) \
                     AND (c.status = ${} OR ${} = '') AND {cond} ORDER BY c.id DESC LIMIT 500",
                    binds.len() + 3,
                    binds.len() + 3,
                );
                let unit = unit.unwrap_or("");
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(unit).bind(format!("%\"{}\"%", like_escape_plain(unit)));
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.bind(status.unwrap_or("")).fetch_all(&self.pool).await?;
                rows.iter().map(|r| change_from_row(r).map(|(c, _, _)| c)).collect()
            }

            async fn change_decide(&self, scope: &Scope, actor: &Actor, id: i64, approve: bool, note: Option<&str>) -> StoreResult<GridChange> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let (c, parent_path, proposer) = change_by_id(&mut tx, id).await?;
                let parent_id = c_parent_id(&mut tx, id).await?;
                let above = level_above_parent(&mut tx, parent_id).await?;
                let allowed = match (&above, scope) {
                    (_, Scope::All) => true,
                    (Some(p), s) => s.contains_path(p),
                    (None, _) => false,
                };
                if !allowed {
                    return Err(if scope.contains_path(&parent_path) {
                        StoreError::rejected("change_needs_level_above", "approval needs write access to the level above")
                    } else {
                        StoreError::NotFound("change")
                    });
                }
                if c.status != ChangeStatus::Proposed.key() {
                    return Err(StoreError::rejected("change_not_proposed", format!("change {id} is {}", c.status)));
                }
                if actor.user_id == Some(proposer) {
                    return Err(StoreError::rejected("change_self_approval", "a change is approved by someone other than its proposer"));
                }
                let status = if approve { ChangeStatus::Approved } else { ChangeStatus::Rejected };
                sqlx::query(
                    "UPDATE grid_changes SET status = $1, decided_by = $2, decided_by_name = $3, decided_at = $4, \
                     decision_note = $5 WHERE id = $6",
                )
                .bind(status.key())
                .bind(actor.user_id)
                .bind(&actor.name)
                .bind(now)
                .bind(note)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let action = if approve { "grid_change.approve" } else { "grid_change.reject" };
                let ev = AuditEvent::new(action, "grid_change", id.to_string()).with_detail(serde_json::json!({"note": note}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (c, _, _) = change_by_id(&mut tx, id).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn change_file(&self, scope: &Scope, actor: &Actor, id: i64, filing: &Filing) -> StoreResult<GridChange> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let (c, parent_path, _) = change_by_id(&mut tx, id).await?;
                if !scope.contains_path(&parent_path) {
                    return Err(StoreError::NotFound("change"));
                }
                if c.status != ChangeStatus::Approved.key() && c.status != ChangeStatus::Effective.key() {
                    return Err(StoreError::rejected("change_not_approved", format!("change {id} is {}", c.status)));
                }
                let mut f = filing.clone();
                f.filed_by = actor.name.clone();
                f.filed_at = now;
                sqlx::query("UPDATE grid_changes SET filing = $1 WHERE id = $2")
                    .bind(json_text(&f)?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new("grid_change.file", "grid_change", id.to_string())
                    .with_detail(serde_json::json!({"filing_no": f.filing_no, "filed_to": f.filed_to}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (c, _, _) = change_by_id(&mut tx, id).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn changes_due(&self, today: &str) -> StoreResult<Vec<i64>> {
                let rows = sqlx::query("SELECT id FROM grid_changes WHERE status = $1 AND effective_date <= $2 ORDER BY id")
                    .bind(ChangeStatus::Approved.key())
                    .bind(today)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
            }

            async fn change_apply(&self, actor: &Actor, levels: &Levels, id: i64, today: &str) -> StoreResult<GridChange> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let (c, _, _) = change_by_id(&mut tx, id).await?;
                if c.status == ChangeStatus::Effective.key() {
                    return Ok(c);
                }
                if c.status != ChangeStatus::Approved.key() || c.effective_date.as_str() > today {
                    return Err(StoreError::rejected("change_not_approved", format!("change {id} is not due")));
                }
                let kind = ChangeKind::parse(&c.kind)
                    .ok_or_else(|| StoreError::Database(format!("unknown change kind {}", c.kind)))?;
                let date = c.effective_date.clone();
                let mut old = Vec::new();
                for code in &c.units {
                    old.push(require_unit(&mut tx, &Scope::All, code).await?);
                }
                let first = old.first().cloned().ok_or(StoreError::NotFound("unit"))?;
                let mut parts = c.parts.clone();
                match kind {
                    ChangeKind::Redraw => {
                        let g = parts.first().and_then(|p| p.geometry.as_ref()).ok_or(StoreError::NotFound("geometry"))?;
                        close_boundary(&mut tx, first.id, &date).await?;
                        let area = parts.first().and_then(|p| p.area_m2).unwrap_or(0.0);
                        insert_boundary(&mut tx, first.id, &date, &json_text(g)?, area, "change", Some(id), now, actor).await?;
                    }
                    ChangeKind::Retire | ChangeKind::Split | ChangeKind::Merge => {
                        for u in &old {
                            retire_for_change(&mut tx, now, actor, u, &date).await?;
                        }
                    }
                }
                if matches!(kind, ChangeKind::Split | ChangeKind::Merge) {
                    let parent_id = c_parent_id(&mut tx, id).await?;
                    let parent = unit_by_id(&mut tx, parent_id).await?;
                    let digits = levels.sequence_digits(&first.level).ok_or_else(|| {
                        change_invalid(format!(
                            "level {} has no code sequence", first.level))
                    })?;
                    let rows = sqlx::query("SELECT code FROM units WHERE parent_id = $1").bind(parent.id).fetch_all(&mut *tx).await?;
                    let mut taken: Vec<String> = rows.iter().map(|r| r.try_get("code")).collect::<Result<_, _>>()?;
                    let lines = json_text(&first.business_lines)?;
                    for part in &mut parts {
                        let code = next_code(&parent.code, digits, taken.iter().map(String::as_str))?;
                        taken.push(code.clone());
                        let new = NewUnit {
                            code: code.clone(),
                            name: part.name.clone().unwrap_or_else(|| code.clone()),
                            level: first.level.clone(),
                            parent_code: Some(parent.code.clone()),
                            kind: part.kind.clone().or(first.kind.clone()),
                            valid_from: Some(date.clone()),
                        };
                        let uid = insert_unit(&mut tx, &Scope::All, actor, levels, &new, now).await?;
                        // The new grids carry the business lines and area type of the old ones.
                        sqlx::query("UPDATE units SET business_lines = $1, area_type = $2 WHERE id = $3")
                            .bind(&lines)
                            .bind(&first.area_type)
                            .bind(uid)
                            .execute(&mut *tx)
                            .await?;
                        if let Some(g) = &part.geometry {
                            let area = part.area_m2.unwrap_or(0.0);
                            insert_boundary(&mut tx, uid, &date, &json_text(g)?, area, "change", Some(id), now, actor).await?;
                        }
                        part.code = Some(code);
                    }
                }
                sqlx::query("UPDATE grid_changes SET status = $1, applied_at = $2, parts = $3 WHERE id = $4")
                    .bind(ChangeStatus::Effective.key())
                    .bind(now)
                    .bind(parts_json(&parts)?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sync_grants(&mut tx, today, now).await?;
                let codes: Vec<_> = parts.iter().filter_map(|p| p.code.clone()).collect();
                let ev = AuditEvent::new("grid_change.apply", "grid_change", id.to_string())
                    .with_detail(serde_json::json!({"kind": c.kind, "units": c.units, "new_codes": codes, "date": date}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (c, _, _) = change_by_id(&mut tx, id).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn team_list(&self, scope: &Scope, code: &str, include_ended: bool, today: &str) -> StoreResult<Vec<Assignment>> {
                let mut tx = self.pool.begin().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                let sql = format!(
                    "{ASSIGNMENT_SELECT} WHERE a.unit_id = $1 AND ($2 OR a.end_date IS NULL OR a.end_date >= $3) ORDER BY a.id"
                );
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(u.id).bind(include_ended).bind(today).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows.iter().map(|r| assignment_from_row(r, today)).collect()
            }

            async fn team_add(&self, scope: &Scope, actor: &Actor, code: &str, new: &NewAssignment, today: &str) -> StoreResult<Assignment> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let u = require_unit(&mut tx, scope, code).await?;
                require_level_above(scope, &u)?;
                if u.retired {
                    return Err(StoreError::rejected("unit_retired", format!("{code} is retired")));
                }
                let user = sqlx::query("SELECT id FROM users WHERE id = $1").bind(new.user_id).fetch_optional(&mut *tx).await?;
                if user.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                let dup = sqlx::query(
                    "SELECT id FROM team_assignments WHERE unit_id = $1 AND user_id = $2 AND role = $3 \
                     AND (end_date IS NULL OR end_date >= $4)",
                )
                .bind(u.id)
                .bind(new.user_id)
                .bind(&new.role)
                .bind(today)
                .fetch_optional(&mut *tx)
                .await?;
                if dup.is_some() {
                    return Err(StoreError::rejected("assignment_exists", "this person already holds this role here"));
                }
                let row = sqlx::query(
                    "INSERT INTO team_assignments (unit_id, user_id, role, grant_role, duty, start_date, \
                     exception_reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(u.id)
                .bind(new.user_id)
                .bind(&new.role)
                .bind(new.grant_role.key())
                .bind(&new.duty)
                .bind(&new.start_date)
                .bind(&new.exception_reason)
                .bind(now)
                .bind(&actor.name)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                sync_grants(&mut tx, today, now).await?;
                let ev = AuditEvent::new("team.add", "unit", code).with_detail(serde_json::json!({
                    "assignment": id, "user_id": new.user_id, "role": new.role, "start_date": new.start_date,
                    "exception_reason": new.exception_reason,
                }));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (a, _) = assignment_by_id(&mut tx, id, today).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn team_end(&self, scope: &Scope, actor: &Actor, id: i64, end_date: &str, today: &str) -> StoreResult<Assignment> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let (a, _) = assignment_by_id(&mut tx, id, today).await?;
                let u = unit_in_scope(&mut tx, scope, &a.unit_code).await?.ok_or(StoreError::NotFound("assignment"))?;
                require_level_above(scope, &u)?;
                if end_date < a.start_date.as_str() {
                    return Err(StoreError::Domain(wangge_domain::DomainError::validation(
                        "end_date", "must not be before the start date",
                    )));
                }
                sqlx::query("UPDATE team_assignments SET end_date = $1 WHERE id = $2")
                    .bind(end_date)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sync_grants(&mut tx, today, now).await?;
                let ev = AuditEvent::new("team.end", "unit", &a.unit_code)
                    .with_detail(serde_json::json!({"assignment": id, "user_id": a.user_id, "role": a.role, "end_date": end_date}));
                append_audit(&mut tx, now, actor, &ev).await?;
                let (a, _) = assignment_by_id(&mut tx, id, today).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn teams_under(&self, scope: &Scope, code: &str, levels: &[String], today: &str) -> StoreResult<Vec<(Unit, Vec<Assignment>)>> {
                if levels.is_empty() {
                    return Ok(vec![]);
                }
                let mut tx = self.pool.begin().await?;
                let root = require_unit(&mut tx, scope, code).await?;
                let upper = path::subtree_upper(&root.path);
                let marks: Vec<String> = (0..levels.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "{UNIT_SELECT} WHERE u.path >= $1 AND u.path < $2 AND NOT u.retired AND u.level IN ({}) ORDER BY u.code",
                    marks.join(",")
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(&root.path).bind(&upper);
                for l in levels {
                    q = q.bind(l);
                }
                let units = q.fetch_all(&mut *tx).await?;
                let sql = format!(
                    "{ASSIGNMENT_SELECT} WHERE u.path >= $1 AND u.path < $2 AND a.start_date <= $3 \
                     AND (a.end_date IS NULL OR a.end_date >= $3) ORDER BY a.id"
                );
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(&root.path).bind(&upper).bind(today).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut by_code: HashMap<String, Vec<Assignment>> = HashMap::new();
                for r in &rows {
                    let a = assignment_from_row(r, today)?;
                    by_code.entry(a.unit_code.clone()).or_default().push(a);
                }
                units.iter()
                    .map(|r| {
                        let u = unit_from_row(r)?;
                        let team = by_code.remove(&u.code).unwrap_or_default();
                        Ok((u, team))
                    })
                    .collect()
            }

            async fn team_sync_grants(&self, today: &str) -> StoreResult<u64> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let n = sync_grants(&mut tx, today, now).await?;
                if n > 0 {
                    let ev = AuditEvent::new("team.sync_grants", "grant", today).with_detail(serde_json::json!({"changed": n}));
                    append_audit(&mut tx, now, &Actor::system("scheduler"), &ev).await?;
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn user_photo_set(&self, actor: &Actor, user_id: i64, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let user = sqlx::query("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
                if user.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                sqlx::query(
                    "INSERT INTO user_photos (user_id, content_type, bytes, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, \
                     bytes = excluded.bytes, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(content_type)
                .bind(bytes)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new("user.photo", "user", user_id.to_string())
                    .with_detail(serde_json::json!({"content_type": content_type, "bytes": bytes.len()}));
                append_audit(&mut tx, now, actor, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user_serves_in(&self, scope: &Scope, user_id: i64, today: &str) -> StoreResult<bool> {
                let (cond, binds) = scope_condition(scope, "u", 3);
                let sql = format!(
                    "SELECT 1 AS one FROM team_assignments a JOIN units u ON u.id = a.unit_id \
                     WHERE a.user_id = $1 AND (a.end_date IS NULL OR a.end_date >= $2) AND {cond} LIMIT 1"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(user_id).bind(today);
                for b in binds {
                    q = q.bind(b);
                }
                Ok(q.fetch_optional(&self.pool).await?.is_some())
            }

            async fn user_photo_get(&self, user_id: i64) -> StoreResult<(String, Vec<u8>)> {
                let r = sqlx::query("SELECT content_type, bytes FROM user_photos WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound("photo"))?;
                Ok((r.try_get("content_type")?, r.try_get("bytes")?))
            }
        }

        async fn c_parent_id(tx: &mut Tx<'_>, id: i64) -> StoreResult<i64> {
            let r = sqlx::query("SELECT parent_id FROM grid_changes WHERE id = $1").bind(id).fetch_one(&mut **tx).await?;
            Ok(r.try_get("parent_id")?)
        }

        /// A code in a LIKE pattern: codes are digits and letters, but never trust that.
        fn like_escape_plain(s: &str) -> String {
            s.replace(['%', '\\', '"'], "")
        }
    };
}

pub(crate) use impl_grid_store;

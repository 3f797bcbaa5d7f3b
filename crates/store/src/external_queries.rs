//! The SQL of [`crate::ExternalStore`], shared by both backends: the macro is expanded inside
//! each backend's `shared` module, next to `append_audit` and `begin_write`.

pub(crate) const EXTERNAL_SELECT: &str = "SELECT x.*, u.code AS unit_code, u.name AS unit_name, \
    u.path AS unit_path FROM external_systems x JOIN units u ON u.id = x.unit_id";

macro_rules! impl_external_store {
    ($store:ident, $db:ty) => {
        use $crate::external_queries::EXTERNAL_SELECT;
        use $crate::external_store::ExternalStore;
        use $crate::external_types::*;

        fn external_from_row(r: &DbRow) -> StoreResult<ExternalSystem> {
            let events: String = r.try_get("webhook_events")?;
            let rules: String = r.try_get("rules")?;
            Ok(ExternalSystem {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                title: r.try_get("title")?,
                channel: r.try_get("channel")?,
                key_prefix: r.try_get("key_prefix")?,
                unit_code: r.try_get("unit_code")?,
                unit_name: r.try_get("unit_name")?,
                unit_path: r.try_get("unit_path")?,
                rate_limit: r.try_get("rate_limit")?,
                webhook_url: r.try_get("webhook_url")?,
                webhook_events: $crate::grid_queries::json_parse(&events)?,
                webhook_secret: r.try_get("webhook_secret")?,
                ingest_secret: r.try_get("ingest_secret")?,
                rules: $crate::grid_queries::json_parse(&rules)?,
                active: r.try_get("active")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        }

        async fn external_in(tx: &mut Tx<'_>, id: i64) -> StoreResult<ExternalSystem> {
            let sql = format!("{EXTERNAL_SELECT} WHERE x.id = $1");
            let r = sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound("external system"))?;
            external_from_row(&r)
        }

        async fn unit_id_of(tx: &mut Tx<'_>, code: &str) -> StoreResult<i64> {
            let r = sqlx::query("SELECT id FROM units WHERE code = $1 AND NOT retired")
                .bind(code)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound("unit"))?;
            Ok(r.try_get("id")?)
        }

        #[async_trait::async_trait]
        impl ExternalStore for $store {
            async fn external_create(&self, actor: &Actor, new: &NewExternalSystem) -> StoreResult<ExternalSystem> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let unit_id = unit_id_of(&mut tx, &new.unit_code).await?;
                let r = sqlx::query(
                    "INSERT INTO external_systems (name, title, channel, key_hash, key_prefix, unit_id, \
                     rate_limit, webhook_url, webhook_events, webhook_secret, ingest_secret, rules, active, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
                )
                .bind(&new.name)
                .bind(&new.title)
                .bind(&new.channel)
                .bind(&new.key_hash)
                .bind(&new.key_prefix)
                .bind(unit_id)
                .bind(new.rate_limit)
                .bind(&new.webhook_url)
                .bind($crate::grid_queries::json_text(&new.webhook_events)?)
                .bind(&new.webhook_secret)
                .bind(&new.ingest_secret)
                .bind($crate::grid_queries::json_text(&new.rules)?)
                .bind(true)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::rejected("duplicate_name", format!("an external system is already named {}", new.name))
                    } else {
                        e.into()
                    }
                })?;
                let id: i64 = r.try_get("id")?;
                let mut ev = AuditEvent::new("external.create", "external_system", new.name.clone());
                ev.detail = serde_json::json!({
                    "title": new.title, "channel": new.channel, "unit": new.unit_code,
                    "rate_limit": new.rate_limit, "webhook_url": new.webhook_url,
                });
                append_audit(&mut tx, now, actor, &ev).await?;
                let x = external_in(&mut tx, id).await?;
                tx.commit().await?;
                Ok(x)
            }

            async fn external_list(&self) -> StoreResult<Vec<ExternalSystem>> {
                let sql = format!("{EXTERNAL_SELECT} ORDER BY x.name");
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.iter().map(external_from_row).collect()
            }

            async fn external_get(&self, id: i64) -> StoreResult<ExternalSystem> {
                let mut tx = self.pool.begin().await?;
                external_in(&mut tx, id).await
            }

            async fn external_by_name(&self, name: &str) -> StoreResult<Option<ExternalSystem>> {
                let sql = format!("{EXTERNAL_SELECT} WHERE x.name = $1");
                let r = sqlx::query(AssertSqlSafe(sql)).bind(name).fetch_optional(&self.pool).await?;
                r.as_ref().map(external_from_row).transpose()
            }

            async fn external_by_key(&self, key_hash: &str) -> StoreResult<Option<ExternalSystem>> {
                let sql = format!("{EXTERNAL_SELECT} WHERE x.key_hash = $1 AND x.active");
                let r = sqlx::query(AssertSqlSafe(sql)).bind(key_hash).fetch_optional(&self.pool).await?;
                r.as_ref().map(external_from_row).transpose()
            }

            async fn external_update(&self, actor: &Actor, id: i64, p: &ExternalPatch) -> StoreResult<ExternalSystem> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                let old = external_in(&mut tx, id).await?;
                let unit_id = match &p.unit_code {
                    Some(code) => Some(unit_id_of(&mut tx, code).await?),
                    None => None,
                };
                let events = p.webhook_events.as_ref().map(|v| $crate::grid_queries::json_text(v)).transpose()?;
                let rules = p.rules.as_ref().map(|v| $crate::grid_queries::json_text(v)).transpose()?;
                let (key_hash, key_prefix) = match &p.key {
                    Some((h, pre)) => (Some(h.clone()), Some(pre.clone())),
                    None => (None, None),
                };
                sqlx::query(
                    "UPDATE external_systems SET title = COALESCE($1, title), channel = COALESCE($2, channel), \
                     unit_id = COALESCE($3, unit_id), rate_limit = COALESCE($4, rate_limit), \
                     webhook_url = CASE WHEN $5 THEN $6 ELSE webhook_url END, \
                     webhook_events = COALESCE($7, webhook_events), rules = COALESCE($8, rules), \
                     active = COALESCE($9, active), key_hash = COALESCE($10, key_hash), \
                     key_prefix = COALESCE($11, key_prefix), webhook_secret = COALESCE($12, webhook_secret), \
                     ingest_secret = COALESCE($13, ingest_secret), updated_at = $14 WHERE id = $15",
                )
                .bind(&p.title)
                .bind(&p.channel)
                .bind(unit_id)
                .bind(p.rate_limit)
                .bind(p.webhook_url.is_some())
                .bind(p.webhook_url.clone().flatten())
                .bind(events)
                .bind(rules)
                .bind(p.active)
                .bind(key_hash)
                .bind(key_prefix)
                .bind(&p.webhook_secret)
                .bind(&p.ingest_secret)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let mut changed: Vec<&str> = Vec::new();
                for (name, set) in [
                    ("title", p.title.is_some()),
                    ("channel", p.channel.is_some()),
                    ("unit", p.unit_code.is_some()),
                    ("rate_limit", p.rate_limit.is_some()),
                    ("webhook_url", p.webhook_url.is_some()),
                    ("webhook_events", p.webhook_events.is_some()),
                    ("rules", p.rules.is_some()),
                    ("active", p.active.is_some()),
                    ("api_key", p.key.is_some()),
                    ("webhook_secret", p.webhook_secret.is_some()),
                    ("ingest_secret", p.ingest_secret.is_some()),
                ] {
                    if set {
                        changed.push(name);
                    }
                }
                let mut ev = AuditEvent::new("external.update", "external_system", old.name.clone());
                ev.detail = serde_json::json!({ "changed": changed, "unit": p.unit_code, "active": p.active });
                append_audit(&mut tx, now, actor, &ev).await?;
                let x = external_in(&mut tx, id).await?;
                tx.commit().await?;
                Ok(x)
            }

            async fn external_called(&self, id: i64, actor: &Actor, event: AuditEvent) -> StoreResult<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE external_systems SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                append_audit(&mut tx, now, actor, &event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn case_lead_departments(&self, case_ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
                if case_ids.is_empty() {
                    return Ok(vec![]);
                }
                let mut a = $crate::case_queries::Args::default();
                let ids: Vec<String> = case_ids.iter().map(|i| a.int(*i)).collect();
                let sql = format!(
                    "SELECT a.case_id, d.name FROM case_assignments a JOIN departments d ON d.id = a.department_id \
                     WHERE a.lead AND a.status IN ('dispatched', 'accepted', 'handled') AND a.case_id IN ({}) \
                     ORDER BY a.case_id, a.id",
                    ids.join(", ")
                );
                let rows = bind_args(sqlx::query(AssertSqlSafe(sql)), a).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("case_id")?, r.try_get("name")?)))
                    .collect()
            }

            async fn case_by_client_id(&self, client_id: &str) -> StoreResult<Option<Case>> {
                let sql = format!("{CASE_SELECT} WHERE c.client_id = $1");
                let r = sqlx::query(AssertSqlSafe(sql)).bind(client_id).fetch_optional(&self.pool).await?;
                r.as_ref().map(case_from_row).transpose()
            }

            async fn case_updates(&self, q: &UpdateQuery) -> StoreResult<Vec<CaseUpdate>> {
                let rows = sqlx::query(
                    "SELECT e.id AS event_id, e.case_id, e.at, e.action, e.from_state, e.to_state, e.note, \
                     e.data, e.media FROM case_events e JOIN cases c ON c.id = e.case_id \
                     WHERE e.at >= $1 AND e.at < $2 AND c.unit_path >= $3 AND c.unit_path < $4 \
                     ORDER BY e.at, e.id LIMIT $5",
                )
                .bind(q.from)
                .bind(q.to)
                .bind(&q.under_path)
                .bind(path::subtree_upper(&q.under_path))
                .bind(q.limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let from: String = r.try_get("from_state")?;
                        let to: String = r.try_get("to_state")?;
                        Ok(CaseUpdate {
                            event_id: r.try_get("event_id")?,
                            case_id: r.try_get("case_id")?,
                            at: r.try_get("at")?,
                            action: r.try_get("action")?,
                            from_state: from_key(&from)?,
                            to_state: from_key(&to)?,
                            note: r.try_get("note")?,
                            data: $crate::grid_queries::json_parse(&r.try_get::<String, _>("data")?)?,
                            media: $crate::grid_queries::json_parse(&r.try_get::<String, _>("media")?)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_external_store;

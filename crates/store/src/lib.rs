//! Storage for Wangge: one [`Store`] trait, with a SQLite and a PostgreSQL implementation.
//!
//! Territory scope is enforced here, in the queries: every read and write of territory data takes
//! the caller's [`Scope`] and never sees or touches a unit outside it.

mod aggregates;
pub mod backup;
mod case_queries;
mod case_store;
mod case_types;
mod error;
mod external_queries;
mod external_store;
mod external_types;
mod grid_queries;
mod grid_store;
mod grid_types;
mod migrate;
mod postgres;
mod queries;
mod sqlite;
pub mod testing;
mod types;

pub use aggregates::{CountKey, DayKey, Delta, Grouped, unit_tokens};
pub use case_queries::LIST_COUNT_LIMIT;
pub use case_store::{CaseStore, NewMedia};
pub use case_types::*;
pub use error::{StoreError, StoreResult};
pub use external_store::ExternalStore;
pub use external_types::*;
pub use grid_store::GridStore;
pub use grid_types::*;
pub use postgres::PgStore;
pub use queries::mask_phone;
pub use sqlite::SqliteStore;
pub use types::*;

use async_trait::async_trait;
use std::sync::Arc;
use wangge_domain::audit::{Actor, AuditEntry, AuditEvent};
use wangge_domain::clock::Clock;
use wangge_domain::import::ImportRow;
use wangge_domain::roles::{Role, Scope};
use wangge_domain::territory::Levels;

/// Opens the database behind `url` (`sqlite://…` or `postgres://…`) and runs its migrations;
/// days of the dashboards' aggregates are UTC days (see [`open_in`]).
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> StoreResult<Arc<dyn Store>> {
    open_in(url, clock, jiff::tz::TimeZone::UTC).await
}

/// Opens the database of a deployment whose days are those of `tz` (the dashboards' daily
/// figures are kept per local day).
pub async fn open_in(
    url: &str,
    clock: Arc<dyn Clock>,
    tz: jiff::tz::TimeZone,
) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open_in(url, clock, tz).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_in(url, clock, tz).await?))
    } else {
        Err(StoreError::Config(
            "database URL must start with sqlite: or postgres://".into(),
        ))
    }
}

#[async_trait]
pub trait Store: GridStore + CaseStore + ExternalStore + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
    async fn close(&self);

    // ---- territory ----
    /// The top units of the scope: the granted units, or every root for `Scope::All`.
    async fn unit_roots(&self, scope: &Scope) -> StoreResult<Vec<Unit>>;
    /// A unit and its ancestors that lie inside the scope (top first).
    async fn unit_get(&self, scope: &Scope, code: &str) -> StoreResult<(Unit, Vec<Unit>)>;
    async fn unit_children(
        &self,
        scope: &Scope,
        code: &str,
        include_retired: bool,
    ) -> StoreResult<Vec<Unit>>;
    /// Units whose name contains `q` or whose code starts with `q`.
    async fn unit_search(&self, scope: &Scope, q: &str, limit: i64) -> StoreResult<Vec<UnitHit>>;
    async fn unit_create(
        &self,
        scope: &Scope,
        actor: &Actor,
        levels: &Levels,
        new: &NewUnit,
    ) -> StoreResult<Unit>;
    async fn unit_update(
        &self,
        scope: &Scope,
        actor: &Actor,
        code: &str,
        patch: &UnitPatch,
    ) -> StoreResult<Unit>;
    async fn unit_move(
        &self,
        scope: &Scope,
        actor: &Actor,
        levels: &Levels,
        code: &str,
        new_parent: &str,
    ) -> StoreResult<Unit>;
    /// Retires a unit from `valid_to` on. Units are never deleted.
    async fn unit_retire(
        &self,
        scope: &Scope,
        actor: &Actor,
        code: &str,
        valid_to: &str,
    ) -> StoreResult<Unit>;
    async fn unit_history(&self, scope: &Scope, code: &str) -> StoreResult<Vec<UnitChange>>;
    /// Imports a batch all or nothing: `StoreError::ImportRejected` lists every bad row.
    async fn unit_import(
        &self,
        scope: &Scope,
        actor: &Actor,
        levels: &Levels,
        rows: Vec<ImportRow>,
        progress: &(dyn Fn(ImportProgress) + Send + Sync),
    ) -> StoreResult<u64>;
    async fn unit_count(&self) -> StoreResult<i64>;

    async fn import_report_save(
        &self,
        id: &str,
        user_id: Option<i64>,
        csv: &str,
    ) -> StoreResult<()>;
    /// The report, if it exists and belongs to `user_id`.
    async fn import_report_get(&self, id: &str, user_id: Option<i64>) -> StoreResult<String>;

    // ---- users and grants ----
    async fn user_count(&self) -> StoreResult<i64>;
    async fn user_create(&self, actor: &Actor, new: &NewUser) -> StoreResult<User>;
    async fn user_get(&self, id: i64) -> StoreResult<User>;
    /// The user with this (case-insensitive) username, with the password hash, for login.
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn user_list(&self, q: Option<&str>, limit: i64) -> StoreResult<Vec<User>>;
    async fn user_update(&self, actor: &Actor, id: i64, patch: &UserPatch) -> StoreResult<User>;
    async fn user_set_password(&self, actor: &Actor, id: i64, hash: &str) -> StoreResult<()>;
    /// The unmasked phone number; the read is audited.
    async fn user_phone(&self, actor: &Actor, id: i64) -> StoreResult<Option<String>>;

    async fn grants_of(&self, user_id: i64) -> StoreResult<Vec<Grant>>;
    /// Adds a grant on a unit inside `scope` (`None`: global, system administrators only).
    async fn grant_add(
        &self,
        scope: &Scope,
        actor: &Actor,
        user_id: i64,
        role: Role,
        unit_code: Option<&str>,
    ) -> StoreResult<Grant>;
    async fn grant_remove(&self, actor: &Actor, grant_id: i64) -> StoreResult<()>;

    // ---- login throttling, sessions, tokens ----
    async fn login_failures(&self, username: &str) -> StoreResult<LoginFailures>;
    /// Counts a failed login; locks for `lock_ms` once `threshold` failures are reached.
    async fn login_failure_add(
        &self,
        username: &str,
        threshold: i64,
        lock_ms: i64,
    ) -> StoreResult<LoginFailures>;
    async fn login_failures_clear(&self, username: &str) -> StoreResult<()>;

    async fn session_create(&self, s: &NewSession) -> StoreResult<()>;
    async fn session_get(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    async fn session_touch(&self, id_hash: &str, now: i64) -> StoreResult<()>;
    async fn session_delete(&self, id_hash: &str) -> StoreResult<()>;
    async fn sessions_delete_for_user(&self, user_id: i64) -> StoreResult<()>;
    /// Deletes sessions last seen before `cutoff` (they can no longer be used).
    async fn sessions_purge_idle(&self, cutoff: i64) -> StoreResult<u64>;

    async fn token_create(&self, actor: &Actor, new: &NewToken) -> StoreResult<ApiToken>;
    async fn token_list(&self, user_id: i64) -> StoreResult<Vec<ApiToken>>;
    /// A live token (not revoked, not expired) by its hash, with its owner.
    async fn token_lookup(&self, hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn token_touch(&self, id: i64) -> StoreResult<()>;
    async fn token_revoke(&self, actor: &Actor, user_id: i64, id: i64) -> StoreResult<()>;

    // ---- audit ----
    /// Appends one entry on its own (reads of sensitive data, logins).
    async fn audit_record(&self, actor: &Actor, event: AuditEvent) -> StoreResult<()>;
    /// Newest first.
    async fn audit_search(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    /// Oldest first, from `after_seq` (exclusive); for verifying the chain.
    async fn audit_page(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

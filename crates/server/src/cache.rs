//! In-memory caches of what nearly every request reads and rarely changes: who the caller is (a
//! token or session → user and grants), a unit with its ancestors, and who holds given roles at
//! given units (whom to notify).
//!
//! Invalidation is coarse on purpose: any write through this server that could change them
//! (every mutating API request outside the case and report paths, see [`invalidate_after_writes`],
//! and each round of the scheduled jobs) clears all three once it is done, so a change is in force
//! for every request that starts after the changing request has been answered. Entries also expire
//! after [`TTL`], which bounds how long a change made by another process on the same database (the
//! CLI, a second server) goes unseen. A look-up that started before a clear is not stored: it may
//! have read the old rows (see [`Caches::generation`]).

use crate::state::AppState;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use wangge_domain::roles::Scope;
use wangge_store::{Grant, Store, StoreResult, Unit, User};

/// How long an entry is trusted without a clear: the longest a revoked grant, disabled user or
/// revoked token stays usable when the change was made by another process.
pub const TTL: Duration = Duration::from_secs(5);

/// Most entries per table; a full table is emptied (a deployment with more hot keys than this
/// only loses hits, never correctness).
const MAX_ENTRIES: usize = 10_000;

/// How a cached caller proved who they are.
#[derive(Debug)]
pub enum Credential {
    Token {
        id: i64,
        expires_at: i64,
        /// When the token's use was last written down (updated in place, so only one request
        /// a minute writes it).
        last_used_at: AtomicI64,
    },
    Session {
        csrf_token: String,
        /// When the session was last written down as seen.
        last_seen_at: AtomicI64,
    },
}

/// A resolved token or session: the live user (not disabled) and their grants.
#[derive(Debug)]
pub struct CallerEntry {
    pub user: User,
    pub grants: Vec<Grant>,
    pub credential: Credential,
}

struct Table<K, V> {
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Table<K, V> {
    fn new() -> Self {
        Table {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q, ttl: Duration) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let map = self.lock();
        map.get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    /// Stores `v` unless the caches were cleared since `generation` was read.
    fn put(&self, gen_now: &AtomicU64, generation: u64, key: K, v: V) {
        let mut map = self.lock();
        // checked under the table's lock: a clear bumps the generation before taking it
        if gen_now.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (Instant::now(), v));
    }

    fn remove<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.lock().remove(key);
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// Units and roles of a role-holder look-up.
type HoldersKey = (Vec<i64>, Vec<String>);

/// The caches of one server process.
pub struct Caches {
    ttl_ms: AtomicU64,
    /// Bumped by every clear; a fill stores its result only if no clear happened meanwhile.
    generation: AtomicU64,
    /// By the SHA-256 of the token or session id (the raw secret is not kept).
    callers: Table<String, Arc<CallerEntry>>,
    /// A unit (under `Scope::All`) and its ancestors, top first, by code.
    units: Table<String, Arc<(Unit, Vec<Unit>)>>,
    /// The active users holding any of these roles at any of these units.
    holders: Table<HoldersKey, Arc<Vec<i64>>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches::with_ttl(TTL)
    }
}

impl Caches {
    pub fn with_ttl(ttl: Duration) -> Self {
        Caches {
            ttl_ms: AtomicU64::new(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            generation: AtomicU64::new(0),
            callers: Table::new(),
            units: Table::new(),
            holders: Table::new(),
        }
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed))
    }

    /// Changes how long entries live (tests of changes made by another process).
    pub fn set_ttl(&self, ttl: Duration) {
        self.ttl_ms.store(
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The current generation; read it before the database look-up whose result is stored.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forgets everything (after a write that may change users, grants, tokens, sessions,
    /// units or teams).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.callers.clear();
        self.units.clear();
        self.holders.clear();
    }

    pub fn caller(&self, key: &str) -> Option<Arc<CallerEntry>> {
        self.callers.get(key, self.ttl())
    }

    pub fn put_caller(&self, generation: u64, key: String, entry: Arc<CallerEntry>) {
        self.callers.put(&self.generation, generation, key, entry);
    }

    /// Drops one credential (an expired session, say).
    pub fn forget_caller(&self, key: &str) {
        self.callers.remove(key);
    }

    /// `store.unit_get(&Scope::All, code)`, cached.
    pub async fn unit_chain(
        &self,
        store: &dyn Store,
        code: &str,
    ) -> StoreResult<Arc<(Unit, Vec<Unit>)>> {
        if let Some(v) = self.units.get(code, self.ttl()) {
            return Ok(v);
        }
        let generation = self.generation();
        let v = Arc::new(store.unit_get(&Scope::All, code).await?);
        self.units
            .put(&self.generation, generation, code.to_string(), v.clone());
        Ok(v)
    }

    /// `store.users_with_roles_at(units, roles)`, cached.
    pub async fn role_holders(
        &self,
        store: &dyn Store,
        units: &[i64],
        roles: &[&str],
    ) -> StoreResult<Arc<Vec<i64>>> {
        let key = (
            units.to_vec(),
            roles.iter().map(|r| r.to_string()).collect(),
        );
        if let Some(v) = self.holders.get(&key, self.ttl()) {
            return Ok(v);
        }
        let generation = self.generation();
        let v = Arc::new(store.users_with_roles_at(units, roles).await?);
        self.holders
            .put(&self.generation, generation, key, v.clone());
        Ok(v)
    }
}

/// Whether a mutating request to `path` may change what the caches hold. The case, report,
/// media and notification paths are the busy ones and touch no user, grant, token, session or
/// unit; every other write clears (a new route is safe by default).
fn may_change_cached(path: &str) -> bool {
    const UNRELATED: [&str; 6] = [
        "/api/v1/cases",
        "/api/v1/public/",
        "/api/v1/media",
        "/api/v1/notifications",
        "/api/v1/ingest",
        "/open311/",
    ];
    !UNRELATED.iter().any(|p| path.starts_with(p))
}

/// Middleware: clears the caches after a mutating request that may have changed them. It runs
/// after the handler's commit, inside the task that runs the request to completion.
pub async fn invalidate_after_writes(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let clears = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && may_change_cached(req.uri().path());
    let resp = next.run(req).await;
    if clears {
        st.caches.clear();
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_raced_a_clear_is_not_stored() {
        let c = Caches::default();
        let key = (vec![1], vec!["grid_head".to_string()]);
        let g = c.generation();
        c.clear();
        c.holders
            .put(&c.generation, g, key.clone(), Arc::new(vec![7]));
        assert!(c.holders.get(&key, TTL).is_none());
        let g = c.generation();
        c.holders
            .put(&c.generation, g, key.clone(), Arc::new(vec![7]));
        assert!(c.holders.get(&key, TTL).is_some());
        c.clear();
        assert!(c.holders.get(&key, TTL).is_none());
    }

    #[test]
    fn entries_expire() {
        let c = Caches::with_ttl(Duration::ZERO);
        let key = (vec![1], vec![]);
        c.holders.put(
            &c.generation,
            c.generation(),
            key.clone(),
            Arc::new(vec![7]),
        );
        assert!(c.holders.get(&key, c.ttl()).is_none());
    }

    #[test]
    fn busy_paths_do_not_clear() {
        assert!(!may_change_cached("/api/v1/cases"));
        assert!(!may_change_cached("/api/v1/cases/12/actions"));
        assert!(!may_change_cached("/open311/v2/requests.json"));
        assert!(may_change_cached("/api/v1/users/3/grants"));
        assert!(may_change_cached("/api/v1/tokens/4"));
        assert!(may_change_cached("/api/v1/auth/logout"));
        assert!(may_change_cached("/api/v1/units/320831"));
        assert!(may_change_cached("/api/v1/teams/5/end"));
    }
}

//! The storage of grids: boundary versions, grid changes, teams, topology reports and photos.
//! Implemented for both backends by `grid_queries::impl_grid_store!`.

use crate::{
    Assignment, Boundary, ChangePart, Filing, GridChange, IndexRow, MapView, NewAssignment,
    NewBoundary, NewChange, StoreResult, Unit,
};
use async_trait::async_trait;
use wangge_domain::audit::Actor;
use wangge_domain::roles::Scope;
use wangge_domain::territory::Levels;

#[async_trait]
pub trait GridStore: Send + Sync {
    // ---- boundaries ----
    /// The unit's boundary valid on `at`.
    async fn boundary_at(&self, scope: &Scope, code: &str, at: &str) -> StoreResult<Boundary>;
    /// Every version of the unit's boundary, oldest first, with geometries.
    async fn boundary_versions(&self, scope: &Scope, code: &str) -> StoreResult<Vec<Boundary>>;
    /// Stores new boundary versions, all or nothing, valid from `valid_from`; each unit's open
    /// version ends there. `source`: drawn, import, demo.
    async fn boundaries_set(
        &self,
        scope: &Scope,
        actor: &Actor,
        items: &[NewBoundary],
        valid_from: &str,
        source: &str,
    ) -> StoreResult<u64>;
    /// Creates units, each with its boundary (valid from the unit's `valid_from`), all or nothing.
    async fn units_create_with_boundaries(
        &self,
        scope: &Scope,
        actor: &Actor,
        levels: &Levels,
        items: &[(crate::NewUnit, Option<NewBoundary>)],
        source: &str,
    ) -> StoreResult<Vec<Unit>>;
    /// A unit, its children valid on `at`, and their boundaries on `at`.
    async fn map_at(&self, scope: &Scope, code: &str, at: &str) -> StoreResult<MapView>;
    /// The units under `root` (itself included) that have a boundary on `at`, with it.
    async fn boundaries_under(
        &self,
        scope: &Scope,
        root: &str,
        at: &str,
    ) -> StoreResult<Vec<(Unit, Boundary)>>;
    /// Every boundary version of units at `levels` (all, or only of the units `codes`), for the index.
    async fn boundaries_for_index(
        &self,
        levels: &[String],
        codes: Option<&[String]>,
    ) -> StoreResult<Vec<IndexRow>>;

    /// Changes whenever a boundary version is added or closed: other servers compare it to know
    /// when to reload their point-to-grid index.
    async fn boundaries_fingerprint(&self) -> StoreResult<String>;

    async fn topology_report_save(
        &self,
        id: &str,
        user_id: Option<i64>,
        report: &str,
        geojson: &str,
    ) -> StoreResult<()>;
    /// (report JSON, GeoJSON) of a report belonging to `user_id`.
    async fn topology_report_get(
        &self,
        id: &str,
        user_id: Option<i64>,
    ) -> StoreResult<(String, String)>;

    // ---- grid changes ----
    /// Records a proposal; `scope` must allow writing the units' common parent.
    async fn change_create(
        &self,
        scope: &Scope,
        actor: &Actor,
        new: &NewChange,
    ) -> StoreResult<GridChange>;
    async fn change_get(&self, scope: &Scope, id: i64) -> StoreResult<GridChange>;
    async fn change_list(
        &self,
        scope: &Scope,
        unit: Option<&str>,
        status: Option<&str>,
    ) -> StoreResult<Vec<GridChange>>;
    /// Approves or rejects a proposal. `scope` (the decider's write scope) must hold the level
    /// above the units' parent, and the decider must not be the proposer.
    async fn change_decide(
        &self,
        scope: &Scope,
        actor: &Actor,
        id: i64,
        approve: bool,
        note: Option<&str>,
    ) -> StoreResult<GridChange>;
    async fn change_file(
        &self,
        scope: &Scope,
        actor: &Actor,
        id: i64,
        filing: &Filing,
    ) -> StoreResult<GridChange>;
    /// Approved changes whose date has come.
    async fn changes_due(&self, today: &str) -> StoreResult<Vec<i64>>;
    /// Applies an approved change whose date has come: new units and codes, retirements,
    /// boundary versions, ended team assignments, all in one transaction.
    async fn change_apply(
        &self,
        actor: &Actor,
        levels: &Levels,
        id: i64,
        today: &str,
    ) -> StoreResult<GridChange>;

    // ---- teams ----
    async fn team_list(
        &self,
        scope: &Scope,
        code: &str,
        include_ended: bool,
        today: &str,
    ) -> StoreResult<Vec<Assignment>>;
    /// Adds an assignment; `scope` must allow writing the unit's parent (the level above).
    async fn team_add(
        &self,
        scope: &Scope,
        actor: &Actor,
        code: &str,
        new: &NewAssignment,
        today: &str,
    ) -> StoreResult<Assignment>;
    async fn team_end(
        &self,
        scope: &Scope,
        actor: &Actor,
        id: i64,
        end_date: &str,
        today: &str,
    ) -> StoreResult<Assignment>;
    /// The grid-level units under `code` (itself included) with their active assignments.
    async fn teams_under(
        &self,
        scope: &Scope,
        code: &str,
        levels: &[String],
        today: &str,
    ) -> StoreResult<Vec<(Unit, Vec<Assignment>)>>;
    /// Brings grants in line with the assignments running on `today`; the number changed.
    async fn team_sync_grants(&self, today: &str) -> StoreResult<u64>;

    // ---- photos ----
    async fn user_photo_set(
        &self,
        actor: &Actor,
        user_id: i64,
        content_type: &str,
        bytes: &[u8],
    ) -> StoreResult<()>;
    async fn user_photo_get(&self, user_id: i64) -> StoreResult<(String, Vec<u8>)>;
    /// Whether the user holds a running assignment on a unit inside `scope` (their photo and name
    /// are then on a board the scope may print).
    async fn user_serves_in(&self, scope: &Scope, user_id: i64, today: &str) -> StoreResult<bool>;
}

/// Parts of a change, as stored.
pub(crate) fn parts_json(parts: &[ChangePart]) -> StoreResult<String> {
    serde_json::to_string(parts).map_err(|e| crate::StoreError::Database(e.to_string()))
}

//! The storage of the case loop: catalogue versions, the working calendar, departments, media,
//! cases with their events and assignments, notifications and the outbox. Implemented for both
//! backends by `case_queries::impl_case_store!`.
//!
//! The rules of the loop live in the domain crate and the server's case engine; the store keeps
//! each step atomic (case, event, assignments, notifications, outbox and audit in one
//! transaction) and refuses a save over a newer version of the case.

use crate::{
    AggregateCheck, CalendarDay, Case, CaseAssignment, CaseCount, CaseDay, CaseEvent, CaseFilter,
    CaseWrite, CatalogueVersion, Department, Media, NearbyQuery, NewCase, NewDepartment,
    NewNotification, NewOutbox, Notification, OutboxItem, StoreResult,
};
use async_trait::async_trait;
use wangge_domain::audit::Actor;
use wangge_domain::roles::Scope;

/// One case creation waiting for the group commit: the case writer writes every creation that
/// is waiting in one transaction (one by one in savepoints if that fails) and answers each only
/// after the commit, so an acknowledged case is on disk and a failed one leaves nothing behind.
pub(crate) struct CreateJob {
    pub actor: Actor,
    pub new: NewCase,
    /// Its search words, computed before it waits for the writer.
    pub words: String,
    pub notifications: Vec<NewNotification>,
    pub outbox: Vec<NewOutbox>,
    pub reply: tokio::sync::oneshot::Sender<StoreResult<(Case, Option<CaseEvent>)>>,
}

/// Most creations committed together.
pub(crate) const GROUP_COMMIT_MAX: usize = 256;

/// A file already written to the data directory, to register.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    pub path: String,
}

#[async_trait]
pub trait CaseStore: Send + Sync {
    // ---- catalogue ----
    async fn catalogue_current(&self) -> StoreResult<Option<CatalogueVersion>>;
    async fn catalogue_save(
        &self,
        actor: &Actor,
        note: &str,
        data: &str,
    ) -> StoreResult<CatalogueVersion>;
    /// Saved versions, newest first, without their data.
    async fn catalogue_versions(&self, limit: i64) -> StoreResult<Vec<CatalogueVersion>>;

    // ---- working calendar ----
    async fn calendar_days(&self) -> StoreResult<Vec<CalendarDay>>;
    /// Adds or replaces these days, all or nothing.
    async fn calendar_set(&self, actor: &Actor, days: &[CalendarDay]) -> StoreResult<u64>;
    async fn calendar_delete(&self, actor: &Actor, day: &str) -> StoreResult<()>;

    // ---- departments ----
    async fn department_list(&self) -> StoreResult<Vec<Department>>;
    async fn department_get(&self, id: i64) -> StoreResult<Department>;
    /// Creates a department serving `unit_code`, which must lie inside `scope`.
    async fn department_create(
        &self,
        scope: &Scope,
        actor: &Actor,
        new: &NewDepartment,
    ) -> StoreResult<Department>;
    async fn department_member_set(
        &self,
        scope: &Scope,
        actor: &Actor,
        department_id: i64,
        user_id: i64,
        member: bool,
    ) -> StoreResult<Department>;
    /// The departments the user belongs to.
    async fn departments_of_user(&self, user_id: i64) -> StoreResult<Vec<i64>>;

    // ---- media ----
    /// Registers a stored file; the same content registered twice gives the first record. The
    /// actor is recorded as one of its uploaders.
    async fn media_put(&self, actor: &Actor, m: &NewMedia) -> StoreResult<Media>;
    /// Whether `uploader` uploaded the file (and so may attach it).
    async fn media_uploaded_by(&self, id: i64, uploader: &str) -> StoreResult<bool>;
    async fn media_get(&self, id: i64) -> StoreResult<Media>;
    /// The cases whose report or events show this media file.
    async fn media_cases(&self, id: i64) -> StoreResult<Vec<i64>>;

    // ---- cases ----
    /// Creates the case and answers it with its report event, or answers the one already
    /// created with its `client_id` (no event).
    /// The store numbers it (`case.number` gives the day prefix) and puts the number in front of
    /// each notification's body and into the outbox payloads' `case`.
    async fn case_create(
        &self,
        actor: &Actor,
        new: NewCase,
        notifications: &[NewNotification],
        outbox: &[NewOutbox],
    ) -> StoreResult<(Case, Option<CaseEvent>)>;
    async fn case_get(&self, id: i64) -> StoreResult<Case>;
    async fn case_by_tracking(&self, code: &str) -> StoreResult<Case>;
    async fn case_events(&self, id: i64) -> StoreResult<Vec<CaseEvent>>;
    async fn case_assignments(&self, id: i64) -> StoreResult<Vec<CaseAssignment>>;
    /// Saves one step; `case_conflict` if the case changed since it was read.
    async fn case_save(&self, actor: &Actor, w: CaseWrite) -> StoreResult<Case>;
    /// A page of the list, newest first, and the total matching.
    async fn case_list(&self, f: &CaseFilter) -> StoreResult<(Vec<Case>, i64)>;
    /// Cases within a radius of a point, nearest first.
    async fn cases_nearby(&self, q: &NearbyQuery) -> StoreResult<Vec<Case>>;
    /// Cases whose next deadline warning is due at `now`.
    async fn cases_alert_due(&self, now: i64, limit: i64) -> StoreResult<Vec<Case>>;
    /// Cases from residents or the hotline since `since` in a grid where no grid worker reported
    /// the same category in the `window_ms` before (漏报).
    async fn cases_unreported(
        &self,
        scope: &Scope,
        since: i64,
        window_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<Case>>;
    /// (category, description) of closed cases, newest first, for training the classifier.
    async fn case_training_examples(&self, limit: i64) -> StoreResult<Vec<(String, String)>>;
    async fn case_count(&self) -> StoreResult<i64>;

    // ---- dashboards (incremental aggregates) ----
    /// The cases under a unit (its own and its descendants') by state × category × overdue,
    /// non-zero cells only.
    async fn case_counts(&self, unit_id: i64) -> StoreResult<Vec<CaseCount>>;
    /// Cases reported and closed under a unit per local day, `from..=to` (`YYYY-MM-DD`), days
    /// without any left out.
    async fn case_days(&self, unit_id: i64, from: &str, to: &str) -> StoreResult<Vec<CaseDay>>;
    /// Recounts the aggregates from the cases and compares; with `repair`, replaces the stored
    /// ones by the recount (in one write transaction).
    async fn case_aggregates_check(&self, repair: bool) -> StoreResult<AggregateCheck>;

    // ---- who to tell ----
    /// Users holding one of `roles` on exactly one of these units.
    async fn users_with_roles_at(&self, unit_ids: &[i64], roles: &[&str]) -> StoreResult<Vec<i64>>;
    async fn department_user_ids(&self, department_id: i64) -> StoreResult<Vec<i64>>;

    // ---- notifications ----
    async fn notifications(
        &self,
        user_id: i64,
        unread_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<Notification>>;
    async fn notifications_unread(&self, user_id: i64) -> StoreResult<i64>;
    /// Marks these notifications (or all when `ids` is `None`) read.
    async fn notifications_read(&self, user_id: i64, ids: Option<&[i64]>) -> StoreResult<u64>;

    // ---- outbox ----
    async fn outbox_due(&self, now: i64, limit: i64) -> StoreResult<Vec<OutboxItem>>;
    /// Records an attempt: delivered, or failed with the next attempt (or dead when `None`).
    async fn outbox_attempt(
        &self,
        id: i64,
        error: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> StoreResult<()>;
    async fn outbox_list(
        &self,
        dead_only: bool,
        target: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>>;
    /// Puts a dead message back in the queue.
    async fn outbox_retry(&self, actor: &Actor, id: i64) -> StoreResult<()>;
}

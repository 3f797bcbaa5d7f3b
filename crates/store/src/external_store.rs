//! The storage interface of external systems and the update feed they read. Implemented for
//! both backends by `external_queries.rs`.

use crate::StoreResult;
use crate::external_types::*;
use wangge_domain::audit::{Actor, AuditEvent};

#[async_trait::async_trait]
pub trait ExternalStore {
    async fn external_create(
        &self,
        actor: &Actor,
        new: &NewExternalSystem,
    ) -> StoreResult<ExternalSystem>;
    async fn external_list(&self) -> StoreResult<Vec<ExternalSystem>>;
    async fn external_get(&self, id: i64) -> StoreResult<ExternalSystem>;
    async fn external_by_name(&self, name: &str) -> StoreResult<Option<ExternalSystem>>;
    /// The active system whose API key has this hash.
    async fn external_by_key(&self, key_hash: &str) -> StoreResult<Option<ExternalSystem>>;
    async fn external_update(
        &self,
        actor: &Actor,
        id: i64,
        patch: &ExternalPatch,
    ) -> StoreResult<ExternalSystem>;
    /// Audits one call of a system and notes when it was last used, in one transaction.
    async fn external_called(&self, id: i64, actor: &Actor, event: AuditEvent) -> StoreResult<()>;
    /// The lead department now responsible for each of these cases that has one.
    async fn case_lead_departments(&self, case_ids: &[i64]) -> StoreResult<Vec<(i64, String)>>;
    /// The case a client submitted with this client id.
    async fn case_by_client_id(&self, client_id: &str) -> StoreResult<Option<crate::Case>>;
    /// Events of cases under a unit, oldest first.
    async fn case_updates(&self, q: &UpdateQuery) -> StoreResult<Vec<CaseUpdate>>;
}

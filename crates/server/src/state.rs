use crate::cache::Caches;
use crate::cases::CaseRuntime;
use crate::config::Config;
use crate::external::ExternalRuntime;
use crate::grid_index::GridIndex;
use std::sync::Arc;
use wangge_domain::clock::Clock;
use wangge_store::Store;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// The point-to-grid index; empty until [`AppState::load_grids`] or the first boundary change.
    pub grids: Arc<GridIndex>,
    /// The case catalogue, working calendar and classifier in use.
    pub cases: Arc<CaseRuntime>,
    /// External systems in memory and their rate limits.
    pub external: Arc<ExternalRuntime>,
    /// Callers, unit chains and role holders; cleared on writes that may change them.
    pub caches: Arc<Caches>,
    /// Permits of the API requests being served (`Config::max_requests_in_flight`).
    pub in_flight: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Self {
        AppState {
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_requests_in_flight)),
            store,
            config: Arc::new(config),
            clock,
            grids: Arc::default(),
            cases: Arc::default(),
            external: Arc::default(),
            caches: Arc::default(),
        }
    }

    /// Loads every grid boundary into the point-to-grid index.
    pub async fn load_grids(&self) -> wangge_store::StoreResult<()> {
        self.grids
            .refresh(self.store.as_ref(), &self.config.levels, None)
            .await
    }

    /// Reloads the index entries of these units after their boundaries changed.
    pub async fn grids_changed(&self, codes: &[String]) -> wangge_store::StoreResult<()> {
        self.grids
            .refresh(self.store.as_ref(), &self.config.levels, Some(codes))
            .await
    }

    /// Today's date in the deployment's time zone.
    pub fn today(&self) -> String {
        self.config.today(self.clock.now_ms())
    }
}

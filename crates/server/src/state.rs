use crate::config::Config;
use std::sync::Arc;
use wangge_domain::clock::Clock;
use wangge_store::Store;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
}

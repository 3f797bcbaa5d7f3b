//! Work the server does on its own: grid changes whose date has come take effect, team
//! assignments that start or end bring their grants along, and the point-to-grid index follows
//! boundary changes made by other servers on the same database; case deadlines raise their
//! warnings (and escalate where configured), and catalogue edits by other servers are picked up.

use crate::state::AppState;
use std::time::Duration;
use wangge_domain::audit::Actor;

/// One round: apply due grid changes, then align grants with today's assignments.
pub async fn tick(st: &AppState) -> anyhow::Result<()> {
    let today = st.today();
    let actor = Actor::system("scheduler");
    for id in st.store.changes_due(&today).await? {
        if let Err(e) = crate::routes::apply_change(st, &actor, id).await {
            // The change stays approved and is tried again next round; the log says why.
            tracing::error!(
                "grid change {id} could not take effect: {} ({:?})",
                e.code,
                e.message
            );
        }
    }
    st.store.team_sync_grants(&today).await?;
    // grid changes and team dates may have changed units and grants
    st.caches.clear();
    st.grids
        .reload_if_changed(st.store.as_ref(), &st.config.levels)
        .await?;
    st.cases.catalogue_if_changed(st.store.as_ref()).await?;
    // external systems changed through another server sharing the database
    st.external.reload(st).await?;
    crate::cases::engine::alerts_round(st).await?;
    crate::cases::engine::notices_round(st).await?;
    Ok(())
}

/// Runs [`tick`] at start and every minute, until the process ends; after each round the
/// allocator's free pages go back to the system.
pub fn spawn(st: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = tick(&st).await {
                tracing::error!("scheduled work failed: {e:#}");
            }
            // the first round follows the start-up work (classifier training, grid index)
            crate::memory::release_free_memory();
        }
    });
}

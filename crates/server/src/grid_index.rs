//! The point-to-grid index of this process: every boundary version of the grid levels in an
//! immutable R-tree, swapped for a new one when boundaries change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use wangge_domain::territory::Levels;
use wangge_geo::boundary::geometry_from_geojson;
use wangge_geo::index::{Entry, LocateIndex};
use wangge_store::{IndexRow, Store, StoreResult};

/// Above this many changed units a refresh reloads everything.
const PARTIAL_LIMIT: usize = 500;

pub struct GridIndex {
    current: RwLock<Arc<LocateIndex>>,
    /// The indexed versions by unit code, to rebuild after a partial reload.
    entries: Mutex<HashMap<String, Vec<Entry>>>,
    /// One refresh at a time, so a slow full reload cannot overwrite a newer partial one.
    refreshing: tokio::sync::Mutex<()>,
    /// The store's boundary fingerprint when everything was last loaded.
    loaded: Mutex<String>,
}

impl Default for GridIndex {
    fn default() -> Self {
        GridIndex {
            current: RwLock::new(Arc::new(LocateIndex::build(Vec::new()))),
            entries: Mutex::default(),
            refreshing: tokio::sync::Mutex::default(),
            loaded: Mutex::default(),
        }
    }
}

fn entry(levels: &Levels, r: IndexRow) -> Option<Entry> {
    let value: serde_json::Value = serde_json::from_str(&r.geometry).ok()?;
    let geometry = geometry_from_geojson(&value)?;
    Some(Entry {
        unit_id: r.unit_id,
        code: r.code,
        depth: u8::try_from(levels.index_of(&r.level).ok()?).ok()?,
        valid_from: Some(r.valid_from),
        valid_to: r.valid_to,
        geometry,
    })
}

impl GridIndex {
    pub fn snapshot(&self) -> Arc<LocateIndex> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads everything if another server changed boundaries since the last full load.
    pub async fn reload_if_changed(&self, store: &dyn Store, levels: &Levels) -> StoreResult<bool> {
        let now = store.boundaries_fingerprint().await?;
        let seen = match self.loaded.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if now == seen {
            return Ok(false);
        }
        self.refresh(store, levels, None).await?;
        Ok(true)
    }

    /// Reloads the versions of `codes` (all units when `None` or many) and swaps the index.
    pub async fn refresh(
        &self,
        store: &dyn Store,
        levels: &Levels,
        codes: Option<&[String]>,
    ) -> StoreResult<()> {
        let _one = self.refreshing.lock().await;
        let codes = codes.filter(|c| c.len() <= PARTIAL_LIMIT);
        if codes.is_none() {
            let fp = store.boundaries_fingerprint().await?;
            match self.loaded.lock() {
                Ok(mut g) => *g = fp,
                Err(p) => *p.into_inner() = fp,
            }
        }
        let rows = store
            .boundaries_for_index(&levels.grid_keys(), codes)
            .await?;
        let levels = levels.clone();
        let codes: Option<Vec<String>> = codes.map(<[String]>::to_vec);
        let all: Vec<Entry> = {
            let mut map = match self.entries.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match &codes {
                Some(cs) => cs.iter().for_each(|c| {
                    map.remove(c);
                }),
                None => map.clear(),
            }
            for r in rows {
                let code = r.code.clone();
                match entry(&levels, r) {
                    Some(e) => map.entry(code).or_default().push(e),
                    None => {
                        tracing::warn!("unreadable stored boundary of {code} left out of the index")
                    }
                }
            }
            map.values().flatten().cloned().collect()
        };
        let index = tokio::task::spawn_blocking(move || LocateIndex::build(all))
            .await
            .map_err(|e| wangge_store::StoreError::Database(format!("index build: {e}")))?;
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(index),
            Err(p) => *p.into_inner() = Arc::new(index),
        }
        Ok(())
    }
}

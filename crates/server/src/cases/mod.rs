//! The case loop on the server: what is loaded from the database and kept in memory (the
//! catalogue, the working calendar, the category classifier), the engine that takes cases from
//! step to step, notifications and webhooks, and stored media.

pub mod engine;
pub mod intake;
pub mod media;
pub mod notify;

use crate::config::Config;
use std::sync::{Arc, RwLock};
use wangge_domain::audit::Actor;
use wangge_domain::catalogue::Catalogue;
use wangge_domain::worktime::{Calendar, DayKind};
use wangge_store::{Store, StoreResult};
use wangge_text::{Classifier, TrainOptions};

/// The catalogue, calendar and classifier in use; each swapped whole when it changes.
pub struct CaseRuntime {
    catalogue: RwLock<(i64, Arc<Catalogue>)>,
    calendar: RwLock<Arc<Calendar>>,
    classifier: RwLock<Arc<Classifier>>,
}

impl Default for CaseRuntime {
    fn default() -> Self {
        CaseRuntime {
            catalogue: RwLock::new((0, Arc::new(Catalogue::default()))),
            calendar: RwLock::new(Arc::new(Calendar::standard())),
            classifier: RwLock::new(Arc::new(Classifier::train(&[]))),
        }
    }
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(l: &RwLock<T>, v: T) {
    match l.write() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

/// Closed cases used to retrain the classifier, newest first.
const TRAINING_CASES: i64 = 20_000;

impl CaseRuntime {
    pub fn catalogue(&self) -> Arc<Catalogue> {
        read(&self.catalogue).1
    }

    pub fn catalogue_version(&self) -> i64 {
        read(&self.catalogue).0
    }

    pub fn calendar(&self) -> Arc<Calendar> {
        read(&self.calendar)
    }

    pub fn classifier(&self) -> Arc<Classifier> {
        read(&self.classifier)
    }

    /// Loads everything: the stored catalogue (saving the shipped one on first start), the
    /// calendar's dated exceptions, and a classifier trained on the catalogue and closed cases.
    pub async fn load(&self, store: &dyn Store, config: &Config) -> anyhow::Result<()> {
        self.reload_catalogue(store).await?;
        self.reload_calendar(store, config).await?;
        self.retrain(store).await?;
        Ok(())
    }

    /// Reads the current catalogue version; the shipped catalogue is stored on first use.
    pub async fn reload_catalogue(&self, store: &dyn Store) -> anyhow::Result<()> {
        let v = match store.catalogue_current().await? {
            Some(v) => v,
            None => {
                let builtin = Catalogue::builtin()?;
                store
                    .catalogue_save(
                        &Actor::system("setup"),
                        "shipped catalogue",
                        &serde_json::to_string(&builtin)?,
                    )
                    .await?
            }
        };
        if v.id != self.catalogue_version() {
            let cat: Catalogue = serde_json::from_str(&v.data)?;
            write(&self.catalogue, (v.id, Arc::new(cat)));
        }
        Ok(())
    }

    /// Re-reads the catalogue if another server saved a newer version.
    pub async fn catalogue_if_changed(&self, store: &dyn Store) -> anyhow::Result<()> {
        self.reload_catalogue(store).await
    }

    pub async fn reload_calendar(&self, store: &dyn Store, config: &Config) -> anyhow::Result<()> {
        let mut cal = config.cases.calendar()?;
        for d in store.calendar_days().await? {
            let date: jiff::civil::Date = d.day.parse()?;
            let kind = if d.kind == "workday" {
                DayKind::Workday
            } else {
                DayKind::Holiday
            };
            cal.days.insert(date, kind);
        }
        write(&self.calendar, Arc::new(cal));
        Ok(())
    }

    /// Trains the classifier from the shipped examples, the catalogue's keywords and the
    /// deployment's own closed cases; labels are category codes.
    pub async fn retrain(&self, store: &dyn Store) -> StoreResult<usize> {
        let cat = self.catalogue();
        let mut examples: Vec<(String, String)> = wangge_text::builtin_examples()
            .into_iter()
            .filter_map(|(key, text)| cat.by_key(&key).map(|c| (c.code.clone(), text)))
            .collect();
        examples.extend(
            store
                .case_training_examples(TRAINING_CASES)
                .await?
                .into_iter()
                .filter(|(code, _)| cat.get(code).is_some()),
        );
        let mut keywords: Vec<(String, Vec<String>)> = cat
            .leaves()
            .into_iter()
            .filter(|c| !c.keywords.is_empty())
            .map(|c| {
                let mut words = c.keywords.clone();
                words.push(c.name.clone());
                (c.code.clone(), words)
            })
            .collect();
        // the shipped keyword lists, under the codes of the categories carrying their keys
        keywords.extend(
            wangge_text::builtin_keywords()
                .into_iter()
                .filter_map(|(key, words)| cat.by_key(&key).map(|c| (c.code.clone(), words))),
        );
        let n = examples.len();
        let classifier = tokio::task::spawn_blocking(move || {
            Classifier::train_with(&examples, &keywords, TrainOptions::default())
        })
        .await
        .map_err(|e| wangge_store::StoreError::Database(e.to_string()))?;
        write(&self.classifier, Arc::new(classifier));
        Ok(n)
    }
}

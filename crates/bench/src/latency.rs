//! Latency of `Store::unit_children` on a loaded database, per level of the parent.
//!
//! 1. Walk: the roots, then the children of every province, city and county. This lists every
//!    unit down to the towns (with their `child_count`), so the largest families are known, and it
//!    warms the database caches.
//! 2. Villages: `samples` villages drawn uniformly (a random town weighted by its village count,
//!    then a random child of it).
//! 3. Measure: `samples` random units of every level, all levels shuffled together, each timed
//!    once; then the unit with the most children of every level, timed `samples / 10` times.
//!
//! Only the Store API is used (no SQL), as the server would call it.

use crate::stats::{Summary, summarize};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wangge_domain::clock::SystemClock;
use wangge_domain::roles::Scope;
use wangge_store::{Store, Unit};

pub struct LatencyOptions {
    pub database_url: String,
    pub samples: usize,
    pub seed: u64,
}

/// (code, level, child_count) of a unit.
#[derive(Debug, Clone)]
struct Picked {
    code: String,
    level: String,
    child_count: i64,
}

impl From<&Unit> for Picked {
    fn from(u: &Unit) -> Self {
        Picked {
            code: u.code.clone(),
            level: u.level.clone(),
            child_count: u.child_count,
        }
    }
}

pub async fn run(opts: &LatencyOptions) -> anyhow::Result<()> {
    let store = wangge_store::open(&opts.database_url, Arc::new(SystemClock))
        .await
        .with_context(|| format!("opening {}", redact(&opts.database_url)))?;
    let result = measure(store.as_ref(), opts).await;
    store.close().await;
    result
}

async fn measure(store: &dyn Store, opts: &LatencyOptions) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    println!(
        "backend: {}, units: {}",
        store.backend(),
        store.unit_count().await?
    );

    // 1. walk down to the towns
    let walk_started = Instant::now();
    let mut by_level: BTreeMap<usize, Vec<Picked>> = BTreeMap::new();
    let mut frontier: Vec<Picked> = store
        .unit_roots(&Scope::All)
        .await?
        .iter()
        .map(Picked::from)
        .collect();
    let mut roots_time = Vec::new();
    let mut calls = 1usize;
    for depth in 0..4 {
        by_level.insert(depth, frontier.clone());
        let mut next = Vec::new();
        for p in &frontier {
            let children = store.unit_children(&Scope::All, &p.code, false).await?;
            calls += 1;
            next.extend(children.iter().map(Picked::from));
        }
        frontier = next;
    }
    by_level.insert(4, frontier);
    println!(
        "walk: {calls} calls in {:.1} s; units per depth: {}",
        walk_started.elapsed().as_secs_f64(),
        by_level
            .values()
            .map(|v| v.len().to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );

    // 2. villages: uniform over all units below the towns
    let towns = by_level.get(&4).cloned().unwrap_or_default();
    let mut cumulative = Vec::with_capacity(towns.len());
    let mut acc = 0i64;
    for t in &towns {
        acc += t.child_count;
        cumulative.push(acc);
    }
    let mut villages = Vec::new();
    if acc > 0 {
        for _ in 0..opts.samples {
            let k = rng.random_range(0..acc);
            let ti = cumulative.partition_point(|&c| c <= k);
            let before = if ti == 0 { 0 } else { cumulative[ti - 1] };
            let children = store
                .unit_children(&Scope::All, &towns[ti].code, false)
                .await?;
            if let Some(v) = children.get((k - before) as usize) {
                villages.push(Picked::from(v));
            }
        }
    }
    by_level.insert(5, villages);

    // warm-up of the roots listing too
    for _ in 0..20 {
        store.unit_roots(&Scope::All).await?;
    }

    // 3. random units of every level, shuffled together
    let mut plan: Vec<(usize, Picked)> = Vec::new();
    for (&depth, units) in &by_level {
        if units.is_empty() {
            continue;
        }
        for _ in 0..opts.samples {
            plan.push((depth, units[rng.random_range(0..units.len())].clone()));
        }
    }
    plan.shuffle(&mut rng);
    let mut times: BTreeMap<usize, (String, Vec<Duration>, usize)> = BTreeMap::new();
    for (depth, p) in &plan {
        let t = Instant::now();
        let children = store.unit_children(&Scope::All, &p.code, false).await?;
        let took = t.elapsed();
        let e = times
            .entry(*depth)
            .or_insert_with(|| (p.level.clone(), Vec::new(), 0));
        e.1.push(took);
        e.2 += children.len();
    }
    for _ in 0..opts.samples {
        let t = Instant::now();
        store.unit_roots(&Scope::All).await?;
        roots_time.push(t.elapsed());
    }

    println!();
    println!(
        "unit_children(&Scope::All, code, false), random parents, {} per level, ms:",
        opts.samples
    );
    println!(
        "{:<24} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "parent level", "n", "avg rows", "mean", "p50", "p95", "p99", "max"
    );
    print_row(
        "(roots: unit_roots)",
        summarize(&roots_time),
        by_level.get(&0).map_or(0.0, |v| v.len() as f64),
    );
    for (level, samples, rows) in times.values() {
        print_row(
            level,
            summarize(samples),
            *rows as f64 / samples.len().max(1) as f64,
        );
    }

    // the biggest family of every level
    let repeats = (opts.samples / 10).max(10);
    println!();
    println!(
        "unit_children of the unit with the most children at each level, {repeats} calls each, ms:"
    );
    println!(
        "{:<24} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "parent", "n", "rows", "mean", "p50", "p95", "p99", "max"
    );
    for depth in 0..5 {
        let Some(biggest) = by_level
            .get(&depth)
            .and_then(|v| v.iter().max_by_key(|p| p.child_count))
        else {
            continue;
        };
        let mut samples = Vec::with_capacity(repeats);
        let mut rows = 0;
        for _ in 0..repeats {
            let t = Instant::now();
            rows = store
                .unit_children(&Scope::All, &biggest.code, false)
                .await?
                .len();
            samples.push(t.elapsed());
        }
        print_row(
            &format!("{} {}", biggest.level, biggest.code),
            summarize(&samples),
            rows as f64,
        );
    }
    Ok(())
}

fn print_row(label: &str, s: Option<Summary>, rows: f64) {
    if let Some(s) = s {
        println!(
            "{label:<24} {:>6} {rows:>9.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            s.n, s.mean, s.p50, s.p95, s.p99, s.max
        );
    }
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}

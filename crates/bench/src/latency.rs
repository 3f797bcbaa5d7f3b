//! Latency of `Store::unit_children` on a loaded database, per level of the parent.
//!
//! 1. Walk: the roots, then the children of every unit of every depth, down to the leaves. This
//!    lists every unit (with its `child_count`), so every level can be sampled uniformly and the
//!    largest families are known; it also warms the database caches. With `--walk-limit N`, only N
//!    random units of each depth are expanded (for databases where each call is slow).
//! 2. Measure: `samples` random units of every depth, all depths shuffled together, each timed
//!    once; `unit_roots` `samples` times; then the unit with the most children seen at every
//!    depth, timed `samples / 10` times (at least 10).
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
    /// Expand at most this many random units per depth in the walk (default: all).
    pub walk_limit: Option<usize>,
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

    // 1. walk down to the leaves
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
    let mut depth = 0;
    while !frontier.is_empty() {
        let mut parents: Vec<&Picked> = frontier.iter().filter(|p| p.child_count > 0).collect();
        if let Some(limit) = opts.walk_limit {
            parents.shuffle(&mut rng);
            parents.truncate(limit);
        }
        let mut next = Vec::new();
        for p in parents {
            let children = store.unit_children(&Scope::All, &p.code, false).await?;
            calls += 1;
            next.extend(children.iter().map(Picked::from));
        }
        by_level.insert(depth, std::mem::replace(&mut frontier, next));
        depth += 1;
    }
    println!(
        "walk: {calls} calls in {:.1} s; units seen per depth: {}",
        walk_started.elapsed().as_secs_f64(),
        by_level
            .values()
            .map(|v| v.len().to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );

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
    let depths = by_level.len();
    println!();
    println!(
        "unit_children of the unit with the most children at each level, {repeats} calls each, ms:"
    );
    println!(
        "{:<24} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "parent", "n", "rows", "mean", "p50", "p95", "p99", "max"
    );
    for depth in 0..depths {
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

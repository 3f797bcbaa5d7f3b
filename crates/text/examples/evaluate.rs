//! Top-1 and top-3 accuracy on the held-out part of the built-in data set (every 5th case of each
//! category, never trained on) and on the independent check set `data/fresh.tsv`, per category
//! and overall, with and without the catalogue keywords; plus training and suggestion times.
//!
//!     cargo run -p wangge-text --example evaluate --release

use std::collections::BTreeMap;
use std::time::Instant;

use wangge_text::{
    Classifier, TrainOptions, builtin_categories, builtin_examples, builtin_keywords,
    fresh_examples, split_builtin,
};

/// Per label: (cases, top-1 hits, top-3 hits).
type Tally = BTreeMap<String, (usize, usize, usize)>;

fn score(c: &Classifier, set: &[(String, String)]) -> (Tally, Vec<String>) {
    let mut per = Tally::new();
    let mut misses = Vec::new();
    for (label, text) in set {
        let s = c.suggest(text, 3);
        let e = per.entry(label.clone()).or_default();
        e.0 += 1;
        let hit1 = s.first().is_some_and(|(l, _)| l == label);
        e.1 += usize::from(hit1);
        e.2 += usize::from(s.iter().any(|(l, _)| l == label));
        if !hit1 {
            let got: Vec<String> = s.iter().map(|(l, p)| format!("{l} {p:.2}")).collect();
            misses.push(format!("  {label} -> [{}]: {text}", got.join(", ")));
        }
    }
    (per, misses)
}

fn overall(per: &Tally) -> String {
    let (n, a1, a3) = per
        .values()
        .fold((0, 0, 0), |(n, a, b), (x, y, z)| (n + x, a + y, b + z));
    let d = n.max(1) as f64;
    format!(
        "top-1 {:.3} ({a1}/{n}), top-3 {:.3} ({a3}/{n})",
        a1 as f64 / d,
        a3 as f64 / d
    )
}

fn main() {
    let (train, held) = split_builtin();
    let fresh = fresh_examples();
    let keywords = builtin_keywords();
    let _ = wangge_text::tokens("预热词典"); // load the jieba dictionary outside the timings
    let names: BTreeMap<String, String> = builtin_categories()
        .into_iter()
        .map(|c| (c.key, c.name))
        .collect();

    let c = Classifier::train_with(&train, &keywords, TrainOptions::default());
    let (per, held_misses) = score(&c, &held);
    let (fresh_per, fresh_misses) = score(&c, &fresh);
    println!(
        "train {} cases + {} keywords, held out {} cases, {} categories; fresh check set {} cases",
        train.len(),
        keywords.iter().map(|(_, w)| w.len()).sum::<usize>(),
        held.len(),
        per.len(),
        fresh.len()
    );
    println!(
        "{:<26} {:<22} {:>4} {:>6} {:>6} {:>6} {:>6}",
        "category", "name", "held", "top-1", "top-3", "fresh", "top-3"
    );
    for (k, (n, t1, t3)) in &per {
        let name = names.get(k).map_or("", String::as_str);
        let (fnum, _, f3) = fresh_per.get(k).copied().unwrap_or_default();
        println!(
            "{k:<26} {name:<22} {n:>4} {:>6.3} {:>6.3} {fnum:>6} {:>6.3}",
            *t1 as f64 / *n as f64,
            *t3 as f64 / *n as f64,
            f3 as f64 / fnum.max(1) as f64
        );
    }
    println!("held-out (with keywords):     {}", overall(&per));
    println!("fresh.tsv (with keywords):    {}", overall(&fresh_per));

    let plain = Classifier::train(&train);
    println!(
        "held-out (examples only):     {}",
        overall(&score(&plain, &held).0)
    );
    println!(
        "fresh.tsv (examples only):    {}",
        overall(&score(&plain, &fresh).0)
    );

    // Timings: training on every built-in case plus the keywords, then suggesting for all
    // held-out and fresh cases.
    let all = builtin_examples();
    let t = Instant::now();
    let full = Classifier::train_with(&all, &keywords, TrainOptions::default());
    let train_ms = t.elapsed().as_secs_f64() * 1e3;
    let texts: Vec<&String> = held.iter().chain(&fresh).map(|(_, t)| t).collect();
    let mut worst = 0.0_f64;
    let t = Instant::now();
    for text in &texts {
        let t1 = Instant::now();
        let _ = full.suggest(text, 3);
        worst = worst.max(t1.elapsed().as_secs_f64());
    }
    let mean_us = t.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64;
    let t = Instant::now();
    for text in &texts {
        let _ = wangge_text::tokens(text);
    }
    let seg_us = t.elapsed().as_secs_f64() * 1e6 / texts.len().max(1) as f64;
    println!(
        "training on all {} cases + keywords: {train_ms:.1} ms; suggest: mean {mean_us:.0} µs \
         (jieba segmentation alone {seg_us:.0} µs), max {:.0} µs, over {} texts",
        all.len(),
        worst * 1e6,
        texts.len()
    );

    println!("held-out top-1 misses:");
    for m in &held_misses {
        println!("{m}");
    }
    println!("fresh top-1 misses:");
    for m in &fresh_misses {
        println!("{m}");
    }
}

//! Prints top-1 and top-3 accuracy per category and overall on the held-out part of the built-in
//! data set (every 5th example of each category), plus training and suggestion times.
//!
//!     cargo run -p wangge-text --example evaluate --release

use std::collections::BTreeMap;
use std::time::Instant;

use wangge_text::{Classifier, builtin_categories, split_builtin};

fn main() {
    let (train, held) = split_builtin();
    let _ = wangge_text::tokens("预热词典"); // load the jieba dictionary outside the timings
    let t = Instant::now();
    let c = Classifier::train(&train);
    let train_ms = t.elapsed().as_secs_f64() * 1e3;
    let names: BTreeMap<String, String> = builtin_categories()
        .into_iter()
        .map(|c| (c.key, c.name))
        .collect();
    let mut per: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut confusions: Vec<(String, String, String)> = Vec::new();
    let t = Instant::now();
    for (label, text) in &held {
        let s = c.suggest(text, 3);
        let e = per.entry(label.as_str()).or_default();
        e.0 += 1;
        if s.first().is_some_and(|(l, _)| l == label) {
            e.1 += 1;
        } else if let Some((l, _)) = s.first() {
            confusions.push((label.clone(), l.clone(), text.clone()));
        }
        if s.iter().any(|(l, _)| l == label) {
            e.2 += 1;
        }
    }
    let per_case_us = t.elapsed().as_secs_f64() * 1e6 / held.len().max(1) as f64;
    println!(
        "train {} cases, held out {} cases, {} categories",
        train.len(),
        held.len(),
        per.len()
    );
    println!(
        "{:<26} {:<24} {:>4} {:>7} {:>7}",
        "category", "name", "n", "top-1", "top-3"
    );
    let (mut n, mut a1, mut a3) = (0, 0, 0);
    for (k, (cnt, t1, t3)) in &per {
        let name = names.get(*k).map_or("", String::as_str);
        println!(
            "{k:<26} {name:<24} {cnt:>4} {:>7.3} {:>7.3}",
            *t1 as f64 / *cnt as f64,
            *t3 as f64 / *cnt as f64
        );
        n += cnt;
        a1 += t1;
        a3 += t3;
    }
    let n = n.max(1) as f64;
    println!(
        "overall: top-1 {:.3} ({a1}/{n}), top-3 {:.3} ({a3}/{n})",
        a1 as f64 / n,
        a3 as f64 / n
    );
    println!("training {train_ms:.1} ms, suggest {per_case_us:.0} µs per case");
    let fresh = wangge_text::fresh_examples();
    let (mut f1, mut f3) = (0, 0);
    let mut fresh_misses = Vec::new();
    for (label, text) in &fresh {
        let s = c.suggest(text, 3);
        if s.first().is_some_and(|(l, _)| l == label) {
            f1 += 1;
        }
        if s.iter().any(|(l, _)| l == label) {
            f3 += 1;
        } else {
            let got: Vec<&str> = s.iter().map(|(l, _)| l.as_str()).collect();
            fresh_misses.push(format!("  {label} -> {got:?}: {text}"));
        }
    }
    let fl = fresh.len().max(1) as f64;
    println!(
        "fresh check set (independent wording): top-1 {:.3} ({f1}/{fl}), top-3 {:.3} ({f3}/{fl})",
        f1 as f64 / fl,
        f3 as f64 / fl
    );
    println!("fresh top-3 misses:");
    for m in &fresh_misses {
        println!("{m}");
    }
    println!("held-out top-1 misses:");
    for (want, got, text) in &confusions {
        println!("  {want} -> {got}: {text}");
    }
}

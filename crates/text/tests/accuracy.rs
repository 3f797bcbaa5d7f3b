//! Top-1/top-3 accuracy of the classifier on the held-out part of the built-in data set.

use wangge_text::{Classifier, split_builtin};

#[test]
fn held_out_top3_at_least_90_percent() {
    let (train, held) = split_builtin();
    assert!(held.len() >= 200, "{}", held.len());
    let c = Classifier::train(&train);
    let (mut top1, mut top3) = (0usize, 0usize);
    for (label, text) in &held {
        let s = c.suggest(text, 3);
        if s.first().is_some_and(|(l, _)| l == label) {
            top1 += 1;
        }
        if s.iter().any(|(l, _)| l == label) {
            top3 += 1;
        }
    }
    let n = held.len() as f64;
    let (a1, a3) = (top1 as f64 / n, top3 as f64 / n);
    eprintln!("held-out {}: top-1 {a1:.3}, top-3 {a3:.3}", held.len());
    assert!(a3 >= 0.90, "top-3 {a3:.3}");
    assert!(a1 >= 0.75, "top-1 {a1:.3}");
}

#[test]
fn training_is_deterministic() {
    let (train, held) = split_builtin();
    let a = Classifier::train(&train);
    let b = Classifier::train(&train);
    assert_eq!(a, b);
    for (_, text) in held.iter().take(20) {
        assert_eq!(a.suggest(text, 3), b.suggest(text, 3));
    }
}

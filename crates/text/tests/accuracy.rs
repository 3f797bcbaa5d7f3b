//! Top-1/top-3 accuracy of the classifier on the held-out part of the built-in data set (every
//! 5th case of each category, sharing no sentence or template with the training part) and on the
//! separately written check set.

use wangge_text::{Classifier, TrainOptions, builtin_keywords, fresh_examples, split_builtin};

fn accuracy(c: &Classifier, set: &[(String, String)]) -> (f64, f64) {
    let (mut top1, mut top3) = (0usize, 0usize);
    for (label, text) in set {
        let s = c.suggest(text, 3);
        top1 += usize::from(s.first().is_some_and(|(l, _)| l == label));
        top3 += usize::from(s.iter().any(|(l, _)| l == label));
    }
    let n = set.len().max(1) as f64;
    (top1 as f64 / n, top3 as f64 / n)
}

#[test]
fn held_out_top3_at_least_90_percent() {
    let (train, held) = split_builtin();
    assert!(held.len() >= 250, "{}", held.len());
    let c = Classifier::train_with(&train, &builtin_keywords(), TrainOptions::default());
    let (a1, a3) = accuracy(&c, &held);
    eprintln!("held-out {}: top-1 {a1:.3}, top-3 {a3:.3}", held.len());
    assert!(a3 >= 0.90, "top-3 {a3:.3}");
    assert!(a1 >= 0.80, "top-1 {a1:.3}");
    let (f1, f3) = accuracy(&c, &fresh_examples());
    eprintln!("fresh: top-1 {f1:.3}, top-3 {f3:.3}");
    assert!(f3 >= 0.90, "fresh top-3 {f3:.3}");
}

#[test]
fn held_out_top3_without_keywords() {
    let (train, held) = split_builtin();
    let (a1, a3) = accuracy(&Classifier::train(&train), &held);
    eprintln!("held-out, examples only: top-1 {a1:.3}, top-3 {a3:.3}");
    assert!(a3 >= 0.90, "top-3 {a3:.3}");
}

#[test]
fn training_is_deterministic() {
    let (train, held) = split_builtin();
    let kw = builtin_keywords();
    let a = Classifier::train_with(&train, &kw, TrainOptions::default());
    let b = Classifier::train_with(&train, &kw, TrainOptions::default());
    assert_eq!(a, b);
    for (_, text) in held.iter().take(20) {
        assert_eq!(a.suggest(text, 3), b.suggest(text, 3));
    }
}

//! 5-fold cross-validation on the training part of the built-in set only: the held-out fifth
//! and `data/fresh.tsv` are never read. This is how the `TrainOptions` defaults were chosen.
//! Folds: within each category, the n-th training example goes to fold n mod 5.
//!
//!     cargo run -p wangge-text --example cross_validate --release -- [key=value ...]
//!
//! Keys: alpha, bigrams (0/1), unigrams (0/1), words (word weight, 0 = off), idf (0/1),
//! norm (0/1), kw (keyword weight, 0 = no catalogue keywords).

use std::collections::BTreeMap;

use wangge_text::{Classifier, TrainOptions, builtin_keywords, split_builtin};

fn parse(args: &[String]) -> TrainOptions {
    let mut o = TrainOptions::default();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            eprintln!("ignored {a}: expected key=value");
            continue;
        };
        let Ok(x) = v.parse::<f64>() else {
            eprintln!("ignored {a}: not a number");
            continue;
        };
        match k {
            "alpha" => o.alpha = x,
            "bigrams" => o.char_bigrams = x != 0.0,
            "unigrams" => o.char_unigrams = x != 0.0,
            "words" => o.word_weight = x,
            "idf" => o.idf = x != 0.0,
            "norm" => o.normalise = x != 0.0,
            "kw" => o.keyword_weight = x,
            _ => eprintln!("ignored {a}: unknown key"),
        }
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = parse(&args);
    let keywords = if o.keyword_weight > 0.0 {
        builtin_keywords()
    } else {
        Vec::new()
    };
    let (train, _) = split_builtin();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let fold: Vec<usize> = train
        .iter()
        .map(|(k, _)| {
            let n = seen.entry(k.as_str()).or_default();
            *n += 1;
            (*n - 1) % 5
        })
        .collect();
    let (mut n, mut top1, mut top3) = (0usize, 0usize, 0usize);
    for f in 0..5 {
        let part: Vec<(String, String)> = train
            .iter()
            .zip(&fold)
            .filter(|(_, x)| **x != f)
            .map(|(e, _)| e.clone())
            .collect();
        let c = Classifier::train_with(&part, &keywords, o);
        for ((label, text), _) in train.iter().zip(&fold).filter(|(_, x)| **x == f) {
            let s = c.suggest(text, 3);
            n += 1;
            top1 += usize::from(s.first().is_some_and(|(l, _)| l == label));
            top3 += usize::from(s.iter().any(|(l, _)| l == label));
        }
    }
    let n_f = n.max(1) as f64;
    println!(
        "5-fold CV on {n} training cases: top-1 {:.3}, top-3 {:.3}   {o:?}",
        top1 as f64 / n_f,
        top3 as f64 / n_f
    );
}

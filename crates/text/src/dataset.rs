//! The labelled data shipped with the crate: `data/cases.tsv` (1,332 hand-written case
//! descriptions over 37 categories, each written individually, no templates),
//! `data/fresh.tsv` (74 descriptions written separately, an extra check set) and
//! `data/keywords.tsv` (catalogue keywords per category).

const CASES_TSV: &str = include_str!("../data/cases.tsv");
/// Labelled `(category_key, description)` pairs.
pub type Examples = Vec<(String, String)>;

const FRESH_TSV: &str = include_str!("../data/fresh.tsv");

const KEYWORDS_TSV: &str = include_str!("../data/keywords.tsv");

/// A category listed in the header of the built-in data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinCategory {
    /// Stable snake_case key, e.g. `exposed_garbage`.
    pub key: String,
    /// `大类/小类`, e.g. `市容环境/暴露垃圾`.
    pub name: String,
}

/// Parses `key<TAB>description` lines; `#` lines, blank lines and lines without a tab are skipped.
pub fn parse_tsv(tsv: &str) -> Vec<(String, String)> {
    tsv.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, d) = l.split_once('\t')?;
            let (k, d) = (k.trim(), d.trim());
            (!k.is_empty() && !d.is_empty()).then(|| (k.to_owned(), d.to_owned()))
        })
        .collect()
}

/// All labelled examples of the built-in data set, in file order.
pub fn builtin_examples() -> Vec<(String, String)> {
    parse_tsv(CASES_TSV)
}

/// A small check set (`data/fresh.tsv`, two per category) written separately from
/// `data/cases.tsv` and before it; never used for training or for choosing options.
pub fn fresh_examples() -> Vec<(String, String)> {
    parse_tsv(FRESH_TSV)
}

/// Catalogue keywords per category (`data/keywords.tsv`, `key<TAB>word word …`), for
/// [`Classifier::train_with`](crate::Classifier::train_with).
pub fn builtin_keywords() -> Vec<(String, Vec<String>)> {
    parse_tsv(KEYWORDS_TSV)
        .into_iter()
        .map(|(k, words)| (k, words.split_whitespace().map(str::to_owned).collect()))
        .collect()
}

/// The categories listed in the header (`# key<TAB>大类/小类`) of the built-in data set.
pub fn builtin_categories() -> Vec<BuiltinCategory> {
    CASES_TSV
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter_map(|l| {
            let (k, n) = l.split_once('\t')?;
            let ascii_key = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            ascii_key.then(|| BuiltinCategory {
                key: k.to_owned(),
                name: n.trim().to_owned(),
            })
        })
        .collect()
}

/// The deterministic evaluation split: within each category, every 5th example (the 5th, 10th,
/// …) is held out. `index_in_category` counts from 0 in file order.
pub fn is_held_out(index_in_category: usize) -> bool {
    index_in_category % 5 == 4
}

/// The built-in examples split into `(train, held_out)` with [`is_held_out`].
pub fn split_builtin() -> (Examples, Examples) {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut train = Vec::new();
    let mut held = Vec::new();
    for (k, d) in builtin_examples() {
        let n = seen.entry(k.clone()).or_default();
        if is_held_out(*n) {
            held.push((k, d));
        } else {
            train.push((k, d));
        }
        *n += 1;
    }
    (train, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet, HashSet};

    #[test]
    fn builtin_set_is_large_and_consistent() {
        let examples = builtin_examples();
        let cats = builtin_categories();
        assert!(examples.len() >= 1000, "{}", examples.len());
        assert!(cats.len() >= 30, "{}", cats.len());
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, _) in &examples {
            *per.entry(k.as_str()).or_default() += 1;
        }
        for c in &cats {
            assert!(
                per.get(c.key.as_str()).copied().unwrap_or(0) >= 32,
                "{}",
                c.key
            );
        }
        assert_eq!(
            per.len(),
            cats.len(),
            "every label is declared in the header"
        );
        let distinct: BTreeSet<&str> = examples.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(distinct.len(), examples.len(), "no description twice");
        let keys: BTreeSet<&str> = cats.iter().map(|c| c.key.as_str()).collect();
        let kw = builtin_keywords();
        assert_eq!(kw.len(), cats.len());
        assert!(
            kw.iter()
                .all(|(k, w)| keys.contains(k.as_str()) && !w.is_empty())
        );
        for (k, _) in fresh_examples() {
            assert!(keys.contains(k.as_str()), "{k}");
        }
    }

    /// The character runs of length `n` in `text`.
    fn runs(text: &str, n: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        chars.windows(n).map(|w| w.iter().collect()).collect()
    }

    fn longest_shared_run_below(a: &[(String, String)], b: &[(String, String)], n: usize) -> bool {
        let seen: HashSet<String> = b.iter().flat_map(|(_, d)| runs(d, n)).collect();
        let shared: Vec<&str> = a
            .iter()
            .filter(|(_, d)| runs(d, n).iter().any(|r| seen.contains(r)))
            .map(|(_, d)| d.as_str())
            .collect();
        assert!(shared.is_empty(), "{shared:?}");
        true
    }

    /// The split is honest: no held-out description shares a run of 14 characters (a sentence
    /// or a template frame) with a training one, and fresh.tsv shares no run of 10 with the set.
    #[test]
    fn held_out_and_fresh_do_not_share_text_with_training() {
        let (train, held) = split_builtin();
        assert!(longest_shared_run_below(&held, &train, 14));
        assert!(longest_shared_run_below(
            &fresh_examples(),
            &builtin_examples(),
            10
        ));
    }
}

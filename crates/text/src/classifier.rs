//! Case category suggestion: multinomial naive Bayes over jieba tokens (plus character bigrams,
//! which make it robust to segmentation differences and unseen compounds).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tokenize::tokens;

/// Training parameters; `Default` is what the built-in evaluation uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Additive (Lidstone) smoothing.
    pub alpha: f64,
    /// Also use the character bigrams inside tokens longer than two characters.
    pub char_bigrams: bool,
    /// How many example occurrences one catalogue keyword counts as.
    pub keyword_weight: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            alpha: 0.1,
            char_bigrams: true,
            keyword_weight: 3.0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct LabelStats {
    /// Number of training documents (keywords do not count).
    docs: f64,
    /// Total feature weight.
    total: f64,
    /// Feature index → weight.
    counts: BTreeMap<u32, f64>,
}

/// A trained classifier. Training is cheap (milliseconds for thousands of cases), so a deployment
/// retrains on demand from the catalogue keywords and its own closed cases and stores the result
/// (it is `Serialize`/`Deserialize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    options: TrainOptions,
    vocab: BTreeMap<String, u32>,
    labels: BTreeMap<String, LabelStats>,
}

fn features(text: &str, char_bigrams: bool) -> Vec<String> {
    let toks = tokens(text);
    let mut out = Vec::with_capacity(toks.len() * 2);
    if char_bigrams {
        for t in &toks {
            let chars: Vec<char> = t.chars().collect();
            if chars.len() > 2 {
                for w in chars.windows(2) {
                    out.push(format!("#{}{}", w[0], w[1]));
                }
            }
        }
    }
    out.extend(toks);
    out
}

impl Classifier {
    /// Trains from `(label, text)` pairs with default options.
    pub fn train(examples: &[(String, String)]) -> Self {
        Self::train_with(examples, &[], TrainOptions::default())
    }

    /// Trains from `(label, text)` pairs plus catalogue keywords `(label, [keyword…])`; a label
    /// may appear in the keywords only (a new category with no closed cases yet).
    pub fn train_with(
        examples: &[(String, String)],
        keywords: &[(String, Vec<String>)],
        options: TrainOptions,
    ) -> Self {
        let mut c = Self {
            options,
            vocab: BTreeMap::new(),
            labels: BTreeMap::new(),
        };
        for (label, text) in examples {
            c.add(label, text, 1.0);
            if let Some(s) = c.labels.get_mut(label) {
                s.docs += 1.0;
            }
        }
        for (label, words) in keywords {
            for w in words {
                c.add(label, w, options.keyword_weight);
            }
        }
        c
    }

    fn add(&mut self, label: &str, text: &str, weight: f64) {
        let feats = features(text, self.options.char_bigrams);
        let stats = self.labels.entry(label.to_owned()).or_default();
        for f in feats {
            let len = self.vocab.len();
            let id = *self
                .vocab
                .entry(f)
                .or_insert(u32::try_from(len).unwrap_or(u32::MAX));
            *stats.counts.entry(id).or_default() += weight;
            stats.total += weight;
        }
    }

    /// The known labels, sorted.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.keys().map(String::as_str)
    }

    /// Up to `k` labels for `text`, best first, each with its posterior probability (the scores
    /// of all labels sum to 1). Ties are broken by label. Empty if the classifier has no labels.
    pub fn suggest(&self, text: &str, k: usize) -> Vec<(String, f64)> {
        if self.labels.is_empty() || k == 0 {
            return Vec::new();
        }
        let ids: Vec<u32> = features(text, self.options.char_bigrams)
            .iter()
            .filter_map(|f| self.vocab.get(f).copied())
            .collect();
        let alpha = self.options.alpha;
        let v = self.vocab.len() as f64;
        let total_docs: f64 = self.labels.values().map(|s| s.docs).sum();
        let n_labels = self.labels.len() as f64;
        let mut scored: Vec<(String, f64)> = self
            .labels
            .iter()
            .map(|(label, s)| {
                // Prior with add-one smoothing, so keyword-only labels are not ruled out.
                let mut lp = ((s.docs + 1.0) / (total_docs + n_labels)).ln();
                let denom = (s.total + alpha * v).ln();
                for id in &ids {
                    let c = s.counts.get(id).copied().unwrap_or(0.0);
                    lp += (c + alpha).ln() - denom;
                }
                (label.clone(), lp)
            })
            .collect();
        let max = scored
            .iter()
            .map(|(_, s)| *s)
            .fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scored.iter().map(|(_, s)| (s - max).exp()).sum();
        for (_, s) in &mut scored {
            *s = (*s - max).exp() / sum;
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored.truncate(k);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn suggests_best_first_and_probabilities_sum_to_one() {
        let c = Classifier::train(&ex(&[
            ("street_light", "小区路灯坏了，晚上一片漆黑"),
            ("street_light", "路口的路灯不亮了"),
            ("manhole_cover", "路边井盖没了，很危险"),
            ("manhole_cover", "井盖碎了一半"),
        ]));
        let s = c.suggest("楼下路灯一直不亮", 5);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "street_light");
        assert!((s.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(c.suggest("任何", 0).is_empty());
    }

    #[test]
    fn keyword_only_label_and_serde_round_trip() {
        let c = Classifier::train_with(
            &ex(&[("noise", "广场舞音响太吵"), ("noise", "工地夜里施工噪音")]),
            &[(
                "gas_hazard".to_owned(),
                vec!["燃气".to_owned(), "煤气味".to_owned()],
            )],
            TrainOptions::default(),
        );
        assert_eq!(c.suggest("楼道里有煤气味", 1)[0].0, "gas_hazard");
        let json = serde_json::to_string(&c).unwrap_or_default();
        let back: Result<Classifier, _> = serde_json::from_str(&json);
        assert_eq!(back.ok().as_ref(), Some(&c));
    }

    #[test]
    fn empty_classifier_suggests_nothing() {
        assert!(Classifier::train(&[]).suggest("井盖没了", 3).is_empty());
    }
}

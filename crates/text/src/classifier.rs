//! Case category suggestion: multinomial naive Bayes over a TF-IDF-weighted, L2-normalised bag of
//! character unigrams and bigrams plus jieba words (down-weighted). Characters carry most of the
//! signal in short Chinese reports: they do not depend on segmentation, and an unseen compound
//! still shares characters with known ones (检查井 ↔ 井盖, 排风口 ↔ 排烟). Words add precision
//! where segmentation is right. IDF weighting and length normalisation (Rennie et al., "Tackling
//! the poor assumptions of naive Bayes text classifiers", 2003) stop frequent characters and long
//! reports from dominating.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::tokenize::tokens;

/// Training parameters; `Default` is what the built-in evaluation uses (chosen by 5-fold
/// cross-validation on the training part only, see `examples/cross_validate.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Additive (Lidstone) smoothing of the per-label feature distributions.
    pub alpha: f64,
    /// Use character bigrams (within runs of letters, digits and CJK characters).
    pub char_bigrams: bool,
    /// How many example documents one catalogue keyword counts as.
    pub keyword_weight: f64,
    /// Use single characters (digits excluded).
    pub char_unigrams: bool,
    /// Weight of a jieba word relative to a character feature; 0 disables words.
    pub word_weight: f64,
    /// Scale feature weights by their inverse document frequency, `ln((1+N)/(1+df)) + 1`.
    pub idf: bool,
    /// L2-normalise each document's weighted feature vector.
    pub normalise: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            alpha: 0.3,
            char_bigrams: true,
            keyword_weight: 3.0,
            char_unigrams: true,
            word_weight: 0.5,
            idf: true,
            normalise: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Label {
    name: String,
    /// ln P(label), add-one smoothed over training documents (keywords do not count).
    log_prior: f64,
    /// ln P(feature | label) for a feature never seen with this label.
    log_unseen: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Feature {
    idf: f64,
    /// `(label index, ln P(feature | label) − log_unseen)` for the labels it was seen with.
    seen: Vec<(u32, f64)>,
}

/// A trained classifier. Training is cheap (under 0.1 s for 1,300 cases and 400 keywords,
/// segmentation included), so a deployment retrains on demand from the catalogue keywords and its own
/// closed cases and stores the result (it is `Serialize`/`Deserialize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    options: TrainOptions,
    /// Feature name → index into `features`.
    vocab: BTreeMap<String, u32>,
    features: Vec<Feature>,
    /// Sorted by name.
    labels: Vec<Label>,
}

/// A training document: an example or a catalogue keyword.
struct Doc<'a> {
    label: &'a str,
    weight: f64,
    /// Examples count towards the label prior, keywords do not.
    is_example: bool,
    text: &'a str,
}

/// The raw (unweighted) features of `text` with their multiplicities: `w` + word, `c` + char,
/// `b` + char bigram. Digits are folded to `0` in character features (house numbers say nothing
/// about the category) and Latin letters are lowercased.
fn raw_features(text: &str, o: &TrainOptions) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    if o.word_weight > 0.0 {
        for t in tokens(text) {
            out.push((format!("w{t}"), o.word_weight));
        }
    }
    if o.char_unigrams || o.char_bigrams {
        let chars: Vec<char> = text
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    '0'
                } else {
                    c.to_lowercase().next().unwrap_or(c)
                }
            })
            .collect();
        for run in chars.split(|c| !c.is_alphanumeric()) {
            if o.char_unigrams {
                for c in run.iter().filter(|c| **c != '0') {
                    out.push((format!("c{c}"), 1.0));
                }
            }
            if o.char_bigrams {
                for w in run.windows(2) {
                    out.push((format!("b{}{}", w[0], w[1]), 1.0));
                }
            }
        }
    }
    out
}

impl Classifier {
    /// Trains from `(label, text)` pairs with default options and no keywords.
    pub fn train(examples: &[(String, String)]) -> Self {
        Self::train_with(examples, &[], TrainOptions::default())
    }

    /// Trains from `(label, text)` pairs plus catalogue keywords `(label, [keyword…])`; each
    /// keyword is a pseudo-document of weight `options.keyword_weight`. A label may appear in
    /// the keywords only (a new category with no closed cases yet).
    pub fn train_with(
        examples: &[(String, String)],
        keywords: &[(String, Vec<String>)],
        options: TrainOptions,
    ) -> Self {
        let mut docs: Vec<Doc> = examples
            .iter()
            .map(|(l, t)| Doc {
                label: l,
                weight: 1.0,
                is_example: true,
                text: t,
            })
            .collect();
        for (l, words) in keywords {
            for w in words {
                docs.push(Doc {
                    label: l,
                    weight: options.keyword_weight,
                    is_example: false,
                    text: w,
                });
            }
        }
        // Two passes over the texts, each document's features made again in the second, so that
        // only the vocabulary is kept between them: holding every document's features at once
        // (a string per feature) took about 5 kB per document, 100 MB for the 20,000 closed
        // cases a server retrains on (BENCHMARKS.md, B5).
        // feature → (documents with it, the last document counted)
        let mut df: HashMap<String, (u32, usize)> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            for (f, _) in raw_features(d.text, &options) {
                match df.get_mut(f.as_str()) {
                    Some((n, last)) => {
                        if *last != i {
                            *n += 1;
                            *last = i;
                        }
                    }
                    None => {
                        df.insert(f, (1, i));
                    }
                }
            }
        }
        let mut names: Vec<(String, u32)> = df.into_iter().map(|(f, (n, _))| (f, n)).collect();
        names.sort_unstable();
        let n_docs = docs.len() as f64;
        let features = names
            .iter()
            .map(|(_, n)| Feature {
                idf: if options.idf {
                    ((1.0 + n_docs) / (1.0 + f64::from(*n))).ln() + 1.0
                } else {
                    1.0
                },
                seen: Vec::new(),
            })
            .collect();
        let mut c = Self {
            options,
            vocab: BTreeMap::new(),
            features,
            labels: Vec::new(),
        };

        // Per label: training documents and weighted feature totals.
        let mut per: BTreeMap<&str, (f64, BTreeMap<u32, f64>)> = BTreeMap::new();
        {
            // a hash index of the sorted vocabulary for the second pass (ids are positions)
            let ids: HashMap<&str, u32> = names
                .iter()
                .enumerate()
                .map(|(i, (f, _))| (f.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
                .collect();
            for d in &docs {
                let e = per.entry(d.label).or_default();
                if d.is_example {
                    e.0 += 1.0;
                }
                let raw = raw_features(d.text, &options);
                for (id, x) in c.weigh(Self::merge(&raw, |f| ids.get(f).copied())) {
                    *e.1.entry(id).or_default() += d.weight * x;
                }
            }
        }
        c.vocab = names
            .into_iter()
            .enumerate()
            .map(|(i, (f, _))| (f, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let alpha = options.alpha;
        let v = c.vocab.len() as f64;
        let total_docs: f64 = per.values().map(|(n, _)| n).sum();
        let n_labels = per.len() as f64;
        for (li, (label, (n, counts))) in per.into_iter().enumerate() {
            let denom = (counts.values().sum::<f64>() + alpha * v).ln();
            let log_unseen = alpha.ln() - denom;
            let li = u32::try_from(li).unwrap_or(u32::MAX);
            for (id, x) in counts {
                if let Some(f) = c.features.get_mut(id as usize) {
                    f.seen.push((li, (x + alpha).ln() - denom - log_unseen));
                }
            }
            c.labels.push(Label {
                name: label.to_owned(),
                log_prior: ((n + 1.0) / (total_docs + n_labels)).ln(),
                log_unseen,
            });
        }
        c
    }

    /// The known features of `raw` (looked up by `id`) with their multiplicities summed.
    fn merge(raw: &[(String, f64)], id: impl Fn(&str) -> Option<u32>) -> BTreeMap<u32, f64> {
        let mut merged: BTreeMap<u32, f64> = BTreeMap::new();
        for (f, x) in raw {
            if let Some(id) = id(f) {
                *merged.entry(id).or_default() += x;
            }
        }
        merged
    }

    /// Merged features IDF-weighted and (optionally) L2-normalised.
    fn weigh(&self, merged: BTreeMap<u32, f64>) -> Vec<(u32, f64)> {
        let mut v: Vec<(u32, f64)> = merged
            .into_iter()
            .map(|(id, x)| {
                (
                    id,
                    x * self.features.get(id as usize).map_or(1.0, |f| f.idf),
                )
            })
            .collect();
        if self.options.normalise {
            let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                for (_, x) in &mut v {
                    *x /= norm;
                }
            }
        }
        v
    }

    /// Known features of `raw`, merged, IDF-weighted and (optionally) L2-normalised.
    fn vectorise(&self, raw: &[(String, f64)]) -> Vec<(u32, f64)> {
        self.weigh(Self::merge(raw, |f| self.vocab.get(f).copied()))
    }

    /// The known labels, sorted.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|l| l.name.as_str())
    }

    /// Up to `k` labels for `text`, best first, each with its posterior probability under the
    /// model (the scores of all labels sum to 1; with normalised documents they are soft, so
    /// read them as a ranking with a confidence, not as calibrated probabilities). Ties are
    /// broken by label. Empty if the classifier has no labels.
    pub fn suggest(&self, text: &str, k: usize) -> Vec<(String, f64)> {
        if self.labels.is_empty() || k == 0 {
            return Vec::new();
        }
        let doc = self.vectorise(&raw_features(text, &self.options));
        let mass: f64 = doc.iter().map(|(_, x)| x).sum();
        let mut scores: Vec<f64> = self
            .labels
            .iter()
            .map(|l| l.log_prior + l.log_unseen * mass)
            .collect();
        for (id, x) in &doc {
            if let Some(f) = self.features.get(*id as usize) {
                for (li, d) in &f.seen {
                    if let Some(s) = scores.get_mut(*li as usize) {
                        *s += x * d;
                    }
                }
            }
        }
        let mut scored: Vec<(String, f64)> = self
            .labels
            .iter()
            .zip(scores)
            .map(|(l, s)| (l.name.clone(), s))
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
    fn unseen_compound_matches_by_characters() {
        let c = Classifier::train(&ex(&[
            ("manhole_cover", "路边井盖没了，很危险"),
            ("manhole_cover", "井盖碎了一半"),
            ("street_light", "小区路灯坏了，晚上一片漆黑"),
            ("street_light", "路口的路灯不亮了"),
        ]));
        // 检查井 never occurs in training; the character 井 carries it.
        assert_eq!(c.suggest("检查井塌了", 1)[0].0, "manhole_cover");
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
        assert_eq!(c.labels().collect::<Vec<_>>(), ["gas_hazard", "noise"]);
        // serde_json may parse a float one ulp off, so compare behaviour, not bits.
        let json = serde_json::to_string(&c).unwrap_or_default();
        let back: Result<Classifier, _> = serde_json::from_str(&json);
        let back = back.ok();
        let back = back.as_ref();
        assert_eq!(back.map(|b| b.labels().count()), Some(2));
        for text in ["楼道里有煤气味", "晚上广场舞太吵", "无关的话"] {
            let (a, b) = (c.suggest(text, 2), back.map(|b| b.suggest(text, 2)));
            let b = b.unwrap_or_default();
            assert_eq!(a.len(), b.len());
            for ((la, pa), (lb, pb)) in a.iter().zip(&b) {
                assert_eq!(la, lb);
                assert!((pa - pb).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn document_frequency_counts_each_document_once() {
        let o = TrainOptions {
            word_weight: 0.0,
            char_bigrams: false,
            ..TrainOptions::default()
        };
        let c = Classifier::train_with(&ex(&[("a", "灯灯灯"), ("a", "灯"), ("b", "井")]), &[], o);
        let idf = |f: &str| {
            c.vocab
                .get(f)
                .and_then(|&i| c.features.get(i as usize))
                .map(|f| f.idf)
        };
        // three documents: 灯 in two of them (three times in the first), 井 in one
        assert_eq!(idf("c灯"), Some(((1.0f64 + 3.0) / (1.0 + 2.0)).ln() + 1.0));
        assert_eq!(idf("c井"), Some(((1.0f64 + 3.0) / (1.0 + 1.0)).ln() + 1.0));
        assert_eq!(c.suggest("路灯", 1)[0].0, "a");
    }

    #[test]
    fn empty_classifier_suggests_nothing() {
        assert!(Classifier::train(&[]).suggest("井盖没了", 3).is_empty());
    }

    #[test]
    fn character_features_fold_digits_and_skip_punctuation() {
        let o = TrainOptions {
            word_weight: 0.0,
            ..TrainOptions::default()
        };
        let f: Vec<String> = raw_features("3号楼，A座", &o)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(f, ["c号", "c楼", "b0号", "b号楼", "ca", "c座", "ba座"]);
    }
}

//! Chinese text for Wangge: jieba segmentation into search/classification tokens, and a case
//! category classifier (multinomial naive Bayes) trained from labelled descriptions, optionally
//! seeded with catalogue keywords, serialisable so a deployment can store and retrain it.

mod classifier;
mod dataset;
mod tokenize;

pub use classifier::{Classifier, TrainOptions};
pub use dataset::{
    BuiltinCategory, builtin_categories, builtin_examples, builtin_keywords, fresh_examples,
    is_held_out, parse_tsv, split_builtin,
};
pub use tokenize::{is_stop_word, query_words, search_words, tokens};

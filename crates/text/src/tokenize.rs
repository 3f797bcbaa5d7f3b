use std::sync::LazyLock;

use jieba_rs::Jieba;

/// The default dictionary is loaded once per process (about 0.1–0.3 s).
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// A small stop-word list for case descriptions: function words, pronouns, politeness and
/// filler that says nothing about the category.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "在",
    "是",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "他们",
    "有",
    "和",
    "与",
    "及",
    "或",
    "也",
    "都",
    "就",
    "还",
    "又",
    "把",
    "被",
    "让",
    "给",
    "对",
    "从",
    "到",
    "向",
    "这",
    "那",
    "这个",
    "那个",
    "这里",
    "那里",
    "这边",
    "一个",
    "一下",
    "一些",
    "个",
    "着",
    "过",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "哦",
    "嗯",
    "么",
    "很",
    "太",
    "非常",
    "比较",
    "已经",
    "现在",
    "请",
    "麻烦",
    "谢谢",
    "你好",
    "您好",
    "希望",
    "反映",
    "一直",
    "没有",
    "不",
    "没",
    "要",
    "会",
    "能",
    "可以",
    "什么",
    "怎么",
    "为什么",
    "但是",
    "而且",
    "因为",
    "所以",
    "如果",
    "然后",
    "自己",
    "上",
    "下",
    "里",
    "中",
    "等",
    "啦",
    "嘛",
    "之",
    "其",
    "该",
    "并",
    "且",
    "而",
    "以",
    "为",
];

/// Whether `word` is on the crate's stop-word list.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Segments `text` with jieba (precise mode, HMM for unknown words) and keeps the meaningful
/// tokens: no whitespace, no punctuation or symbols, no stop words. Latin letters are lowercased;
/// digits are kept (building numbers, amounts, hotline numbers).
pub fn tokens(text: &str) -> Vec<String> {
    JIEBA
        .cut(text, true)
        .into_iter()
        .filter_map(|t| {
            let w = t.word.trim();
            if w.is_empty() || !w.chars().any(char::is_alphanumeric) || is_stop_word(w) {
                None
            } else {
                Some(w.to_lowercase())
            }
        })
        .collect()
}

/// The words a case is found by, space-separated, for the full-text index: jieba's search mode
/// (a long word also gives its shorter words: 垃圾桶 → 垃圾, 垃圾桶), lowercased,
/// letters and digits only. Stop words are kept out, as in [`tokens`].
pub fn search_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for t in JIEBA.cut_for_search(text, true) {
        push_words(&mut out, t.word);
    }
    out
}

/// The words of a search query (precise mode): a case matches when it has all of them.
pub fn query_words(query: &str) -> Vec<String> {
    let mut out = String::new();
    for t in JIEBA.cut(query, true) {
        push_words(&mut out, t.word);
    }
    let mut words: Vec<String> = Vec::new();
    for w in out.split(' ').filter(|w| !w.is_empty()) {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    }
    words
}

/// Appends the alphanumeric runs of one jieba token, lowercased, unless it is a stop word.
fn push_words(out: &mut String, token: &str) {
    if is_stop_word(token.trim()) {
        return;
    }
    for part in token.split(|c: char| !c.is_alphanumeric()) {
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(part.chars().flat_map(char::to_lowercase));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_include_the_parts_of_long_words() {
        let w = search_words("黎城街道垃圾桶满了，KTV-3号门口");
        let words: Vec<&str> = w.split(' ').collect();
        for expected in ["垃圾", "垃圾桶", "ktv", "3"] {
            assert!(words.contains(&expected), "{expected} in {w}");
        }
        assert!(!w.contains('，') && !w.contains('-'));
        assert_eq!(query_words("垃圾桶 垃圾桶！"), vec!["垃圾桶"]);
        assert!(query_words("，。的").is_empty());
    }

    #[test]
    fn drops_punctuation_and_stop_words() {
        let t = tokens("您好，3栋楼下的垃圾桶满了，没人清理！谢谢。");
        assert!(t.iter().any(|w| w == "垃圾桶"), "{t:?}");
        assert!(
            !t.iter()
                .any(|w| w == "，" || w == "的" || w == "谢谢" || w == "！")
        );
        assert!(t.iter().any(|w| w == "3"));
    }

    #[test]
    fn empty_and_symbols_only() {
        assert!(tokens("").is_empty());
        assert!(tokens("  ，。！？……  ").is_empty());
    }

    #[test]
    fn lowercases_latin() {
        assert!(tokens("KTV唱歌到凌晨").iter().any(|w| w == "ktv"));
    }
}

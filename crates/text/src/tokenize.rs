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

#[cfg(test)]
mod tests {
    use super::*;

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

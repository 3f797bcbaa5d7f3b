//! One answer, two formats: a small tree written out as Open311's XML or as the JSON the spec
//! derives from it (lists become bare arrays; the list element names exist only in XML).

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Text(String),
    Number(f64),
    Int(i64),
    Bool(bool),
    Null,
    /// Fields in order.
    Obj(Vec<(&'static str, Doc)>),
    /// `<list><item>…</item>…</list>` in XML, `[…]` in JSON.
    List(&'static str, Vec<Doc>),
}

impl Doc {
    pub fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Doc {
        s.map_or(Doc::Null, |s| Doc::Text(s.into()))
    }

    pub fn to_json(&self) -> Value {
        match self {
            Doc::Text(s) => Value::String(s.clone()),
            Doc::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Doc::Int(i) => Value::from(*i),
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Null => Value::Null,
            Doc::Obj(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    m.insert((*k).to_string(), v.to_json());
                }
                Value::Object(m)
            }
            Doc::List(_, items) => Value::Array(items.iter().map(Doc::to_json).collect()),
        }
    }

    /// The document with `root` as its outer element.
    pub fn to_xml(&self, root: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        self.write_xml(root, &mut out);
        out.push('\n');
        out
    }

    fn write_xml(&self, name: &str, out: &mut String) {
        match self {
            Doc::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Doc::Text(s) => element(out, name, &escape(s)),
            Doc::Number(n) => element(out, name, &n.to_string()),
            Doc::Int(i) => element(out, name, &i.to_string()),
            Doc::Bool(b) => element(out, name, if *b { "true" } else { "false" }),
            Doc::Obj(fields) => {
                out.push_str(&format!("<{name}>"));
                for (k, v) in fields {
                    v.write_xml(k, out);
                }
                out.push_str(&format!("</{name}>"));
            }
            Doc::List(item, items) => {
                out.push_str(&format!("<{name}>"));
                for v in items {
                    v.write_xml(item, out);
                }
                out.push_str(&format!("</{name}>"));
            }
        }
    }
}

fn element(out: &mut String, name: &str, body: &str) {
    out.push_str(&format!("<{name}>{body}</{name}>"));
}

/// XML text: the five special characters escaped, and characters XML 1.0 forbids dropped
/// (control characters other than tab and line breaks cannot be written at all).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Doc {
        Doc::List(
            "request",
            vec![Doc::Obj(vec![
                ("service_request_id", Doc::text("7")),
                ("description", Doc::text("a < b & \"c\"")),
                ("lat", Doc::Number(33.5)),
                ("media_url", Doc::Null),
                ("metadata", Doc::Bool(true)),
            ])],
        )
    }

    #[test]
    fn json_lists_are_bare_arrays_even_for_one_item() {
        let j = sample().to_json();
        assert_eq!(j[0]["service_request_id"], "7");
        assert_eq!(j[0]["lat"], 33.5);
        assert!(j[0]["media_url"].is_null());
        assert_eq!(j.as_array().unwrap().len(), 1);
    }

    #[test]
    fn xml_has_the_declaration_elements_and_escapes() {
        let x = sample().to_xml("service_requests");
        assert!(x.starts_with(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>"
        ));
        assert!(x.contains("<description>a &lt; b &amp; &quot;c&quot;</description>"));
        assert!(x.contains("<media_url/>"));
        assert!(x.contains("<metadata>true</metadata>"));
        assert!(x.trim_end().ends_with("</request></service_requests>"));
        assert_eq!(escape("a\u{1}b\nc"), "ab\nc");
    }
}

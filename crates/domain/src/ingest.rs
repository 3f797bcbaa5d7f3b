//! Rules that turn an event from a sensor or device into a case category: each rule tests one
//! field of the event's JSON; the first rule that matches decides. An event no rule matches
//! still becomes a case, without a category, for the command centre to classify.

use crate::DomainError;
use crate::catalogue::Catalogue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOp {
    /// The field's text equals the value.
    Eq,
    /// The field's text starts with the value.
    Prefix,
    /// The field's text contains the value.
    Contains,
    /// The field is a number at least the value.
    Gte,
    /// The field is a number at most the value.
    Lte,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRule {
    /// The event field, a dotted path into its JSON (`type`, `data.level`).
    pub field: String,
    pub op: RuleOp,
    pub value: String,
    /// The category the case gets.
    pub category: String,
    #[serde(default)]
    pub urgent: bool,
}

/// The event's value at a dotted path, as text (numbers and booleans written out).
pub fn field_text(event: &Value, path: &str) -> Option<String> {
    let mut v = event;
    for part in path.split('.') {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl IngestRule {
    pub fn matches(&self, event: &Value) -> bool {
        let Some(text) = field_text(event, &self.field) else {
            return false;
        };
        let number = || -> Option<(f64, f64)> {
            Some((text.trim().parse().ok()?, self.value.trim().parse().ok()?))
        };
        match self.op {
            RuleOp::Eq => text == self.value,
            RuleOp::Prefix => text.starts_with(&self.value),
            RuleOp::Contains => text.contains(&self.value),
            RuleOp::Gte => number().is_some_and(|(a, b)| a >= b),
            RuleOp::Lte => number().is_some_and(|(a, b)| a <= b),
        }
    }
}

/// The first rule that matches the event.
pub fn first_match<'a>(rules: &'a [IngestRule], event: &Value) -> Option<(usize, &'a IngestRule)> {
    rules.iter().enumerate().find(|(_, r)| r.matches(event))
}

/// Every problem of a rule list at once: empty fields, numbers that are not numbers, categories
/// the catalogue does not have.
pub fn validate(rules: &[IngestRule], catalogue: &Catalogue) -> Result<(), DomainError> {
    let mut problems = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let n = i + 1;
        if r.field.trim().is_empty() || r.field.split('.').any(str::is_empty) {
            problems.push(format!(
                "rule {n}: field must be a dotted path such as data.level"
            ));
        }
        if matches!(r.op, RuleOp::Gte | RuleOp::Lte) && r.value.trim().parse::<f64>().is_err() {
            problems.push(format!(
                "rule {n}: {:?} needs a number, not {:?}",
                r.op, r.value
            ));
        }
        if r.value.chars().count() > 200 || r.field.chars().count() > 100 {
            problems.push(format!("rule {n}: field or value too long"));
        }
        if catalogue.get(&r.category).is_none() {
            problems.push(format!("rule {n}: unknown category {}", r.category));
        } else if !catalogue.children(&r.category).is_empty() {
            problems.push(format!("rule {n}: {} is not a leaf category", r.category));
        } else {
            let required: Vec<String> = catalogue
                .effective_questions(&r.category)
                .into_iter()
                .filter(|q| q.required)
                .map(|q| q.key)
                .collect();
            if !required.is_empty() {
                problems.push(format!(
                    "rule {n}: {} asks questions a device cannot answer ({}); choose a category without required questions",
                    r.category,
                    required.join(", ")
                ));
            }
        }
    }
    if rules.len() > 200 {
        problems.push(format!("{} rules; at most 200", rules.len()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::validation("rules", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(field: &str, op: RuleOp, value: &str, category: &str) -> IngestRule {
        IngestRule {
            field: field.into(),
            op,
            value: value.into(),
            category: category.into(),
            urgent: false,
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let rules = vec![
            rule("data.level", RuleOp::Gte, "3", "A"),
            rule("type", RuleOp::Eq, "smoke", "B"),
            rule("type", RuleOp::Prefix, "water", "C"),
            rule("data.text", RuleOp::Contains, "漏水", "D"),
        ];
        let e = json!({"type": "smoke", "data": {"level": 4}});
        assert_eq!(first_match(&rules, &e).unwrap().1.category, "A");
        let e = json!({"type": "smoke", "data": {"level": "2"}});
        assert_eq!(first_match(&rules, &e).unwrap().1.category, "B");
        let e = json!({"type": "water_leak"});
        assert_eq!(first_match(&rules, &e).unwrap().0, 2);
        let e = json!({"type": "x", "data": {"text": "楼道漏水"}});
        assert_eq!(first_match(&rules, &e).unwrap().1.category, "D");
        assert!(first_match(&rules, &json!({"type": "noise"})).is_none());
        // a number rule never matches text that is not a number
        assert!(first_match(&rules[..1], &json!({"data": {"level": "high"}})).is_none());
    }

    #[test]
    fn paths_reach_into_arrays_and_stop_at_missing_parts() {
        let e = json!({"a": [{"b": true}], "n": null});
        assert_eq!(field_text(&e, "a.0.b").as_deref(), Some("true"));
        assert_eq!(field_text(&e, "a.1.b"), None);
        assert_eq!(field_text(&e, "n"), None);
        assert_eq!(field_text(&e, "a.b"), None);
    }

    #[test]
    fn validation_lists_every_problem() {
        let cat = Catalogue::builtin().unwrap();
        let leaf = "G0502";
        assert!(validate(&[rule("type", RuleOp::Eq, "x", leaf)], &cat).is_ok());
        let err = validate(
            &[
                rule("", RuleOp::Eq, "x", leaf),
                rule("type", RuleOp::Eq, "x", "G0101"),
                rule("a..b", RuleOp::Gte, "many", "NOPE"),
            ],
            &cat,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("rule 1: field"), "{err}");
        assert!(err.contains("rule 3: field"), "{err}");
        assert!(err.contains("rule 2: G0101 asks questions"), "{err}");
        assert!(err.contains("needs a number"), "{err}");
        assert!(err.contains("unknown category NOPE"), "{err}");
    }
}

//! The territory tree: configurable levels, official codes, and the rules that tie a unit to its parent.

use crate::error::DomainError;
use serde::{Deserialize, Serialize};

/// One level of the territory tree, as configured by the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Stable key, e.g. `county`.
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// Codes at this level are exactly this many digits. `None`: any code of letters, digits, `-`, `_`.
    #[serde(default)]
    pub code_length: Option<usize>,
    /// Codes at this level start with the parent's code (true for official division and grid codes).
    #[serde(default = "yes")]
    pub code_extends_parent: bool,
    /// Units at this level are grids (or micro-grids, when the level above is a grid level too):
    /// they have boundaries, teams and are what `locate` answers.
    #[serde(default)]
    pub grid: bool,
}

fn yes() -> bool {
    true
}

/// The ordered list of levels, top first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels(Vec<Level>);

impl Levels {
    pub fn new(levels: Vec<Level>) -> Result<Self, DomainError> {
        if levels.is_empty() {
            return Err(DomainError::validation(
                "levels",
                "at least one level is needed",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for l in &levels {
            if !is_valid_key(&l.key) {
                return Err(DomainError::validation(
                    "levels",
                    format!("bad level key `{}`", l.key),
                ));
            }
            if !seen.insert(l.key.as_str()) {
                return Err(DomainError::validation(
                    "levels",
                    format!("level `{}` listed twice", l.key),
                ));
            }
        }
        Ok(Levels(levels))
    }

    /// The default: province, city, county, town/street, village/community, grid, micro-grid, with
    /// the national code lengths (2, 4, 6, 9, 12) and the grid profile 12 + 3, micro-grid + 2.
    pub fn default_levels() -> Self {
        Levels(vec![
            level("province", "省(自治区、直辖市)", "Province", 2, false),
            level("city", "市(地区、州)", "City", 4, false),
            level("county", "县(市、区)", "County", 6, false),
            level("town", "乡镇(街道)", "Town / street", 9, false),
            level("village", "村(社区)", "Village / community", 12, false),
            level("grid", "网格", "Grid", 15, true),
            level("micro_grid", "微网格", "Micro-grid", 17, true),
        ])
    }

    /// The digital-urban-management profile (GB/T 30428.1): 6 county + 3 street + 3 community +
    /// 3 unit-grid sequence, no micro-grids.
    pub fn digital_urban_levels() -> Self {
        Levels(vec![
            level("province", "省(自治区、直辖市)", "Province", 2, false),
            level("city", "市(地区、州)", "City", 4, false),
            level("county", "县(市、区)", "County", 6, false),
            level("street", "街道(乡镇)", "Street / town", 9, false),
            level("community", "社区(村)", "Community / village", 12, false),
            level("unit_grid", "单元网格", "Unit grid", 15, true),
        ])
    }

    /// Whether units of `key` are grids or micro-grids.
    pub fn is_grid(&self, key: &str) -> bool {
        self.get(key).is_ok_and(|l| l.grid)
    }

    /// The keys of the grid levels, top first.
    pub fn grid_keys(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|l| l.grid)
            .map(|l| l.key.clone())
            .collect()
    }

    /// A grid level directly below another grid level (micro-grids).
    pub fn is_micro(&self, key: &str) -> bool {
        match self.index_of(key) {
            Ok(i) if i > 0 => self.0[i].grid && self.0[i - 1].grid,
            _ => false,
        }
    }

    /// The level right below `key`, if any.
    pub fn child_of(&self, key: &str) -> Option<&Level> {
        self.index_of(key).ok().and_then(|i| self.0.get(i + 1))
    }

    /// Digits a child code adds to its parent's code at `key`, when both have fixed lengths.
    pub fn sequence_digits(&self, key: &str) -> Option<usize> {
        let i = self.index_of(key).ok()?;
        let own = self.0[i].code_length?;
        let parent = if i == 0 {
            0
        } else {
            self.0[i - 1].code_length?
        };
        (self.0[i].code_extends_parent && own > parent).then_some(own - parent)
    }

    pub fn all(&self) -> &[Level] {
        &self.0
    }

    pub fn index_of(&self, key: &str) -> Result<usize, DomainError> {
        self.0
            .iter()
            .position(|l| l.key == key)
            .ok_or_else(|| DomainError::UnknownLevel(key.to_string()))
    }

    pub fn get(&self, key: &str) -> Result<&Level, DomainError> {
        self.index_of(key).map(|i| &self.0[i])
    }

    /// Checks that a unit of `level` with `code` may sit below a parent (`None` for a root).
    pub fn check_placement(
        &self,
        code: &str,
        level: &str,
        parent: Option<(&str, &str)>,
    ) -> Result<(), DomainError> {
        let idx = self.index_of(level)?;
        let lvl = &self.0[idx];
        if let Some((_, parent_level)) = parent
            && idx <= self.index_of(parent_level)?
        {
            return Err(DomainError::LevelOutOfOrder {
                parent: parent_level.to_string(),
                child: level.to_string(),
            });
        }
        check_code_shape(code, lvl)?;
        if let Some((parent_code, _)) = parent
            && lvl.code_extends_parent
            && !code.starts_with(parent_code)
        {
            return Err(DomainError::BadCodeFormat {
                code: code.to_string(),
                level: level.to_string(),
                reason: format!("must start with the parent code {parent_code}"),
            });
        }
        Ok(())
    }
}

fn level(key: &str, zh: &str, en: &str, len: usize, grid: bool) -> Level {
    Level {
        key: key.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        code_length: Some(len),
        code_extends_parent: true,
        grid,
    }
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 32
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_code_shape(code: &str, level: &Level) -> Result<(), DomainError> {
    let bad = |reason: String| DomainError::BadCodeFormat {
        code: code.to_string(),
        level: level.key.clone(),
        reason,
    };
    match level.code_length {
        Some(n) => {
            if code.len() != n || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("must be {n} digits")));
            }
        }
        None => {
            if code.is_empty()
                || code.len() > 64
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(bad("must be 1-64 letters, digits, - or _".to_string()));
            }
        }
    }
    Ok(())
}

/// Checks a unit name: trimmed, 1–100 characters, no control characters.
pub fn check_name(name: &str) -> Result<(), DomainError> {
    let n = name.chars().count();
    if n == 0 || n > 100 || name.trim() != name || name.chars().any(char::is_control) {
        return Err(DomainError::validation(
            "name",
            "1-100 characters, no leading/trailing spaces or control characters",
        ));
    }
    Ok(())
}

/// Checks a free-form kind tag (e.g. `community`, `basic`, `school`).
pub fn check_kind(kind: &str) -> Result<(), DomainError> {
    if kind.is_empty() || kind.chars().count() > 32 || kind.chars().any(char::is_control) {
        return Err(DomainError::validation("kind", "1-32 characters"));
    }
    Ok(())
}

/// Materialised path helpers. A unit's path lists its ancestors' ids and its own, e.g. `/1/7/42/`.
pub mod path {
    pub fn child(parent_path: &str, id: i64) -> String {
        format!("{parent_path}{id}/")
    }
    pub fn root(id: i64) -> String {
        format!("/{id}/")
    }
    /// The exclusive upper bound of the subtree rooted at `path` for a range scan:
    /// every descendant path starts with `path`, and `/` + 1 = `0`.
    pub fn subtree_upper(path: &str) -> String {
        let mut s = path.to_string();
        s.pop();
        s.push('0');
        s
    }
    /// The parent's path (`/1/7/` for `/1/7/42/`); `None` for a root.
    pub fn parent(path: &str) -> Option<&str> {
        let trimmed = path.strip_suffix('/')?;
        let cut = trimmed.rfind('/')? + 1;
        (cut > 1).then(|| &path[..cut])
    }
    /// Ancestor ids (excluding the unit itself), top first.
    pub fn ancestor_ids(path: &str) -> Vec<i64> {
        let ids: Vec<i64> = path.split('/').filter_map(|p| p.parse().ok()).collect();
        ids[..ids.len().saturating_sub(1)].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_codes_follow_the_national_lengths() {
        let l = Levels::default_levels();
        assert!(
            l.check_placement("320831", "county", Some(("3208", "city")))
                .is_ok()
        );
        assert!(
            l.check_placement("320831001", "town", Some(("320831", "county")))
                .is_ok()
        );
        assert!(
            l.check_placement("320831001001", "village", Some(("320831001", "town")))
                .is_ok()
        );
        let e = l.check_placement("32083100101", "village", Some(("320831001", "town")));
        assert_eq!(e.unwrap_err().code(), "bad_code_format");
        let e = l.check_placement("320832001001", "village", Some(("320831001", "town")));
        assert_eq!(e.unwrap_err().code(), "bad_code_format");
        let e = l.check_placement("32083100A001", "village", Some(("320831001", "town")));
        assert_eq!(e.unwrap_err().code(), "bad_code_format");
    }

    #[test]
    fn levels_must_go_down() {
        let l = Levels::default_levels();
        let e = l.check_placement("320831001", "town", Some(("320831001", "town")));
        assert_eq!(e.unwrap_err().code(), "level_out_of_order");
        let e = l.check_placement("3208", "city", Some(("320831", "county")));
        assert_eq!(e.unwrap_err().code(), "level_out_of_order");
        // skipping a level is allowed (e.g. a grid straight under a town-level park)
        assert!(
            l.check_placement("320831001901", "village", Some(("320831", "county")))
                .is_ok()
        );
        assert_eq!(
            l.check_placement("1", "hamlet", None).unwrap_err().code(),
            "unknown_level"
        );
    }

    #[test]
    fn parent_paths() {
        assert_eq!(path::parent("/1/7/42/"), Some("/1/7/"));
        assert_eq!(path::parent("/1/7/"), Some("/1/"));
        assert_eq!(path::parent("/1/"), None);
        assert_eq!(path::parent(""), None);
    }

    #[test]
    fn free_codes_for_levels_without_length() {
        let mut v = Levels::default_levels().all().to_vec();
        v.insert(
            5,
            Level {
                key: "compound".into(),
                name_zh: "小区".into(),
                name_en: "Compound".into(),
                code_length: None,
                code_extends_parent: false,
                grid: false,
            },
        );
        let l = Levels::new(v).unwrap();
        assert!(
            l.check_placement("XQ-7", "compound", Some(("320831001001", "village")))
                .is_ok()
        );
        assert!(
            l.check_placement("XQ 7", "compound", Some(("320831001001", "village")))
                .is_err()
        );
    }

    #[test]
    fn bad_level_lists_are_refused() {
        assert!(Levels::new(vec![]).is_err());
        let mut v = Levels::default_levels().all().to_vec();
        v.push(v[0].clone());
        assert!(Levels::new(v).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("城南社区第一网格").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" x").is_err());
        assert!(check_name(&"长".repeat(101)).is_err());
    }

    #[test]
    fn subtree_bounds() {
        assert_eq!(path::subtree_upper("/1/23/"), "/1/230");
        assert!("/1/23/456/" < "/1/230" && "/1/23/456/" >= "/1/23/");
        assert!("/1/230/" >= "/1/230");
        assert_eq!(path::ancestor_ids("/1/23/456/"), vec![1, 23]);
        assert_eq!(path::ancestor_ids("/1/"), Vec::<i64>::new());
    }
}

//! Validation of a territory import as one batch: every row is checked against the configured
//! levels, the other rows and the units already stored, and the batch is either accepted whole,
//! ordered parents-first, or refused with every row's errors.

use crate::error::DomainError;
use crate::territory::{Levels, check_kind, check_name};
use serde::Serialize;
use std::collections::HashMap;

/// One data row of the import file. `row` is the 1-based line number in the file (the header is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub row: u64,
    pub code: String,
    pub name: String,
    pub parent_code: String,
    pub level: String,
    pub kind: Option<String>,
    pub valid_from: Option<String>,
}

/// A unit already stored, as the import sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingUnit {
    pub level: String,
    /// The importer may write below this unit.
    pub writable: bool,
    pub retired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: u64,
    pub code: String,
    /// Stable error code, e.g. `unknown_parent`.
    pub error: String,
    pub message: String,
}

/// Checks the rows. On success returns them ordered so that every parent comes before its children.
/// `may_create_roots`: whether rows without a parent are allowed (administrators only).
pub fn validate_import(
    mut rows: Vec<ImportRow>,
    levels: &Levels,
    existing: &dyn Fn(&str) -> Option<ExistingUnit>,
    may_create_roots: bool,
) -> Result<Vec<ImportRow>, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut err = |r: &ImportRow, error: &str, message: String| {
        errors.push(RowError {
            row: r.row,
            code: r.code.clone(),
            error: error.into(),
            message,
        })
    };

    // Codes defined by the file, first occurrence wins.
    let mut in_file: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if r.code.is_empty() {
            err(r, "validation_failed", "code is empty".into());
        } else if in_file.contains_key(r.code.as_str()) {
            let first = rows[in_file[r.code.as_str()]].row;
            err(
                r,
                "duplicate_code",
                format!("code {} already on row {first}", r.code),
            );
        } else {
            in_file.insert(r.code.as_str(), i);
            if existing(&r.code).is_some() {
                err(
                    r,
                    "duplicate_code",
                    format!("code {} already exists", r.code),
                );
            }
        }
        if let Err(e) = check_name(&r.name) {
            err(r, e.code(), e.to_string());
        }
        if let Some(k) = &r.kind
            && let Err(e) = check_kind(k)
        {
            err(r, e.code(), e.to_string());
        }
        if let Some(d) = &r.valid_from
            && !crate::clock::is_valid_date(d)
        {
            err(
                r,
                "validation_failed",
                format!("valid_from `{d}` is not a YYYY-MM-DD date"),
            );
        }
    }

    for r in &rows {
        let parent: Option<(String, Option<bool>)> = if r.parent_code.is_empty() {
            None
        } else if let Some(&pi) = in_file.get(r.parent_code.as_str()) {
            Some((rows[pi].level.clone(), None))
        } else if let Some(p) = existing(&r.parent_code).filter(|p| p.writable) {
            if p.retired {
                err(
                    r,
                    "unit_retired",
                    format!("parent {} is retired", r.parent_code),
                );
            }
            Some((p.level, Some(p.retired)))
        } else {
            err(
                r,
                "unknown_parent",
                format!("parent {} not found", r.parent_code),
            );
            continue;
        };
        if parent.is_none() && !may_create_roots {
            err(r, "unknown_parent", "a parent code is required".into());
            continue;
        }
        let placement = levels.check_placement(
            &r.code,
            &r.level,
            parent
                .as_ref()
                .map(|(lvl, _)| (r.parent_code.as_str(), lvl.as_str())),
        );
        if let Err(e) = placement {
            // an unknown parent level was already reported on the parent's own row
            let parent_level_unknown = matches!(&e, DomainError::UnknownLevel(l) if *l != r.level);
            if !parent_level_unknown {
                err(r, e.code(), e.to_string());
            }
        }
    }

    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(errors);
    }
    drop(in_file);
    // Levels strictly deepen from parent to child, so sorting by level puts parents first.
    // In place: a national list is hundreds of MB of rows.
    rows.sort_by_key(|r| levels.index_of(&r.level).unwrap_or(usize::MAX));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64, code: &str, name: &str, parent: &str, level: &str) -> ImportRow {
        ImportRow {
            row: n,
            code: code.into(),
            name: name.into(),
            parent_code: parent.into(),
            level: level.into(),
            kind: None,
            valid_from: None,
        }
    }

    fn none(_: &str) -> Option<ExistingUnit> {
        None
    }

    #[test]
    fn valid_batch_is_ordered_parents_first() {
        let rows = vec![
            row(2, "320831001001", "城南社区", "320831001", "village"),
            row(3, "320831001", "黎城街道", "320831", "town"),
            row(4, "320831", "金湖县", "", "county"),
        ];
        let out = validate_import(rows, &Levels::default_levels(), &none, true).unwrap();
        let codes: Vec<_> = out.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["320831", "320831001", "320831001001"]);
    }

    #[test]
    fn every_bad_row_is_reported() {
        let existing = |c: &str| {
            (c == "320831").then(|| ExistingUnit {
                level: "county".into(),
                writable: true,
                retired: false,
            })
        };
        let rows = vec![
            row(2, "320831001", "黎城街道", "320831", "town"),
            row(3, "320831001", "重复", "320831", "town"),
            row(4, "320831002001", "孤儿社区", "320831002", "village"),
            row(5, "32083100", "坏代码", "320831", "town"),
            row(6, "320831003", "错层级", "320831001", "town"),
            row(7, "320831", "已存在", "", "county"),
            row(8, "320831004", "", "320831", "town"),
            row(9, "320831005", "未知层级", "320831", "hamlet"),
        ];
        let errs = validate_import(rows, &Levels::default_levels(), &existing, true).unwrap_err();
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.row, e.error.as_str())).collect();
        assert_eq!(
            got,
            [
                (3, "duplicate_code"),
                (4, "unknown_parent"),
                (5, "bad_code_format"),
                (6, "level_out_of_order"),
                (7, "duplicate_code"),
                (8, "validation_failed"),
                (9, "unknown_level"),
            ]
        );
    }

    #[test]
    fn parents_outside_scope_or_retired_and_roots_are_refused() {
        let existing = |c: &str| match c {
            "320831" => Some(ExistingUnit {
                level: "county".into(),
                writable: false,
                retired: false,
            }),
            "320832" => Some(ExistingUnit {
                level: "county".into(),
                writable: true,
                retired: true,
            }),
            _ => None,
        };
        let rows = vec![
            row(2, "320831001", "甲", "320831", "town"),
            row(3, "320832001", "乙", "320832", "town"),
            row(4, "33", "丙", "", "province"),
        ];
        let errs = validate_import(rows, &Levels::default_levels(), &existing, false).unwrap_err();
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.row, e.error.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "unknown_parent"),
                (3, "unit_retired"),
                (4, "unknown_parent")
            ]
        );
    }
}

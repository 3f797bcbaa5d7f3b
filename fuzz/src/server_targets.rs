//! Fuzz harnesses for the territory import files read by `wangge-server` (CSV in UTF-8 or GBK,
//! `.xlsx`): parsing never panics nor allocates without bound, the rows it gives are trimmed and
//! numbered in order, and the import validation of those rows either orders them parents first
//! or reports errors on their rows.
//!
//! Shared by the fuzz targets and by the corpus replay in `territory_file.rs`'s tests, which
//! include this file with `#[path]`: it reaches the parser as `crate::territory_file` (the fuzz
//! crate re-exports the module under that name).

use crate::territory_file::{FileKind, error_report_csv, parse};
use std::collections::HashSet;
use wangge_domain::import::{ExistingUnit, ImportRow, validate_import};
use wangge_domain::territory::Levels;

fn check(kind: FileKind, data: &[u8]) {
    let rows = match parse(kind, data) {
        Ok(rows) => rows,
        Err(e) => {
            assert_eq!(e.code, "validation_failed", "{e:?}");
            return;
        }
    };
    let mut last = 1;
    for r in &rows {
        assert!(r.row > last, "row {} after {last}", r.row);
        last = r.row;
        for s in [&r.code, &r.name, &r.parent_code, &r.level] {
            assert_eq!(s.trim(), s.as_str());
        }
        for s in [&r.kind, &r.valid_from].into_iter().flatten() {
            assert!(!s.is_empty() && s.trim() == s.as_str());
        }
    }
    check_import(rows);
}

/// The import validation of parsed rows: all or nothing, parents first.
pub fn check_import(rows: Vec<ImportRow>) {
    let levels = Levels::default_levels();
    let numbers: HashSet<u64> = rows.iter().map(|r| r.row).collect();
    let existing = |c: &str| {
        (c == "320831").then(|| ExistingUnit {
            level: "county".into(),
            writable: true,
            retired: false,
        })
    };
    let n = rows.len();
    match validate_import(rows, &levels, &existing, true) {
        Ok(ordered) => {
            assert_eq!(ordered.len(), n);
            let mut placed: HashSet<&str> = HashSet::new();
            for r in &ordered {
                assert!(
                    r.parent_code.is_empty()
                        || r.parent_code == "320831"
                        || placed.contains(r.parent_code.as_str()),
                    "{} before its parent {}",
                    r.code,
                    r.parent_code
                );
                assert!(placed.insert(&r.code), "{} twice", r.code);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.windows(2).all(|w| w[0].row <= w[1].row));
            assert!(errors.iter().all(|e| numbers.contains(&e.row)));
            let report = error_report_csv(&errors);
            assert!(report.lines().count() > errors.len());
        }
    }
}

/// A territory CSV upload (UTF-8, or GBK when it is not UTF-8).
pub fn territory_csv(data: &[u8]) {
    check(FileKind::Csv, data);
}

/// A territory `.xlsx` upload (the first sheet).
pub fn territory_xlsx(data: &[u8]) {
    let_calamine_panics_unwind();
    check(FileKind::Xlsx, data);
}

/// calamine panics on some broken sheets when overflow is checked (fuzz and debug builds: a
/// `<dimension>` that runs backwards), and `territory_file` turns those panics into an error.
/// libFuzzer's panic hook aborts before they unwind that far: this hook lets a panic located in
/// calamine's source unwind quietly and hands every other panic to the hook it replaces.
fn let_calamine_panics_unwind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|l| l.file().replace('\\', "/").contains("/calamine-"));
            if !in_calamine {
                previous(info);
            }
        }));
    });
}

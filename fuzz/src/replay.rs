//! The replay of the kept corpus by the tests of the crates whose parsers are fuzzed: included
//! with `#[path]` (like the harnesses), so `env!("CARGO_MANIFEST_DIR")` is the including crate's
//! directory, `crates/<name>`.

/// Runs every file of `fuzz/corpus/<target>/` through the harness, naming the file that fails.
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn replay_corpus(target: &str, harness: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let run = std::panic::catch_unwind(|| harness(&bytes));
        assert!(run.is_ok(), "{target}: {} fails", f.display());
    }
}

//! Fuzz harnesses of Wangge: one function per parser of outside input, each taking arbitrary
//! bytes. The targets in `fuzz_targets/` call them; the crates' tests replay `corpus/` through
//! the same files (included with `#[path]`), so every corpus file is a regression test.

pub mod domain_targets;
pub mod geo_targets;
pub mod server_targets;

/// The server's import-file reader, under the path `server_targets.rs` uses inside the server.
pub mod territory_file {
    pub use wangge_server::territory_file::*;
}

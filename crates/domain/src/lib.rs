//! Wangge domain: pure types and rules. No IO, no database, no HTTP; time comes in through [`clock::Clock`].

pub mod audit;
pub mod case_flow;
pub mod catalogue;
pub mod change;
pub mod clock;
pub mod error;
pub mod grid;
pub mod import;
pub mod ingest;
pub mod password;
pub mod roles;
pub mod sla;
pub mod team;
pub mod territory;
pub mod worktime;

pub use error::DomainError;

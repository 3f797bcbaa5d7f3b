//! A minimal migration runner: each backend lists its own SQL files, applied in order, once.

/// (version, SQL) pairs of one backend, in order.
pub(crate) type Migrations = &'static [(i64, &'static str)];

pub(crate) const SQLITE: Migrations = &[
    (1, include_str!("../migrations/sqlite/0001_foundation.sql")),
    (2, include_str!("../migrations/sqlite/0002_grids.sql")),
    (3, include_str!("../migrations/sqlite/0003_cases.sql")),
    (4, include_str!("../migrations/sqlite/0004_external.sql")),
    (5, include_str!("../migrations/sqlite/0005_aggregates.sql")),
    (
        6,
        include_str!("../migrations/sqlite/0006_case_list_index.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_case_number_days.sql"),
    ),
];

pub(crate) const POSTGRES: Migrations = &[
    (
        1,
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (2, include_str!("../migrations/postgres/0002_grids.sql")),
    (3, include_str!("../migrations/postgres/0003_cases.sql")),
    (4, include_str!("../migrations/postgres/0004_external.sql")),
    (
        5,
        include_str!("../migrations/postgres/0005_aggregates.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_case_list_index.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_case_number_days.sql"),
    ),
];

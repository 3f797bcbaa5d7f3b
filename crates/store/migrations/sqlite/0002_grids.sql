-- Grids: attributes, boundary versions, grid changes, teams, qualification fields, photos.
ALTER TABLE units ADD COLUMN business_lines TEXT;   -- JSON array of keys
ALTER TABLE units ADD COLUMN area_type TEXT;        -- urban | rural | industrial
ALTER TABLE units ADD COLUMN households INTEGER;
ALTER TABLE units ADD COLUMN population INTEGER;
ALTER TABLE units ADD COLUMN enterprises INTEGER;

-- Each version of a unit's boundary: valid from valid_from (inclusive) to valid_to (exclusive).
CREATE TABLE boundaries (
    id          INTEGER PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units(id),
    valid_from  TEXT    NOT NULL,
    valid_to    TEXT,
    geometry    TEXT    NOT NULL,                  -- GeoJSON geometry, WGS-84
    area_m2     REAL    NOT NULL,
    source      TEXT    NOT NULL,                  -- drawn | import | change | demo
    change_id   INTEGER,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL
);
CREATE INDEX boundaries_unit ON boundaries(unit_id, valid_from);

CREATE TABLE grid_changes (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    parent_id      INTEGER NOT NULL REFERENCES units(id),
    units          TEXT    NOT NULL,               -- JSON array of codes
    parts          TEXT    NOT NULL,               -- JSON array of {name, kind, geometry, code}
    reason         TEXT    NOT NULL,
    effective_date TEXT    NOT NULL,
    report         TEXT    NOT NULL,               -- topology report at proposal (JSON)
    proposed_by    INTEGER,
    proposed_by_name TEXT  NOT NULL,
    proposed_at    INTEGER NOT NULL,
    decided_by     INTEGER,
    decided_by_name TEXT,
    decided_at     INTEGER,
    decision_note  TEXT,
    applied_at     INTEGER,
    filing         TEXT                            -- JSON {filing_no, filed_to, note, filed_by, filed_at}
);
CREATE INDEX grid_changes_status ON grid_changes(status, effective_date);
CREATE INDEX grid_changes_parent ON grid_changes(parent_id);

CREATE TABLE topology_reports (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER,
    created_at INTEGER NOT NULL,
    report     TEXT    NOT NULL,                   -- JSON
    geojson    TEXT    NOT NULL
);

-- end_date is the last day of the assignment (inclusive); NULL while it runs.
CREATE TABLE team_assignments (
    id               INTEGER PRIMARY KEY,
    unit_id          INTEGER NOT NULL REFERENCES units(id),
    user_id          INTEGER NOT NULL REFERENCES users(id),
    role             TEXT    NOT NULL,
    grant_role       TEXT    NOT NULL,              -- the territory role the assignment grants
    duty             TEXT,
    start_date       TEXT    NOT NULL,
    end_date         TEXT,
    exception_reason TEXT,
    created_at       INTEGER NOT NULL,
    created_by       TEXT    NOT NULL
);
CREATE INDEX team_unit ON team_assignments(unit_id, end_date);
CREATE INDEX team_user ON team_assignments(user_id);

ALTER TABLE users ADD COLUMN birth_date TEXT;
ALTER TABLE users ADD COLUMN education TEXT;
ALTER TABLE users ADD COLUMN certificate_no TEXT;

CREATE TABLE user_photos (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id),
    content_type TEXT    NOT NULL,
    bytes        BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);

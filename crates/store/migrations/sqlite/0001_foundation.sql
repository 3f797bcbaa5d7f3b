-- Territory, accounts, sessions, tokens, audit. Instants are UTC epoch milliseconds.
CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    parent_id   INTEGER REFERENCES units(id),
    path        TEXT    NOT NULL,          -- ancestor ids and own id: /1/7/42/
    kind        TEXT,
    valid_from  TEXT,
    valid_to    TEXT,
    retired     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX units_parent ON units(parent_id, code);
CREATE INDEX units_path ON units(path);

CREATE TABLE unit_history (
    id          INTEGER PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units(id),
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    parent_code TEXT,
    kind        TEXT,
    valid_from  TEXT,
    valid_to    TEXT
);
CREATE INDEX unit_history_unit ON unit_history(unit_id, id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    phone         TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    role       TEXT    NOT NULL,
    unit_id    INTEGER REFERENCES units(id),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX grants_unique ON grants(user_id, role, COALESCE(unit_id, 0));

CREATE TABLE login_failures (
    username     TEXT    PRIMARY KEY,
    count        INTEGER NOT NULL,
    locked_until INTEGER,
    last_at      INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    csrf_token   TEXT    NOT NULL,
    ip           TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE import_reports (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER,
    created_at INTEGER NOT NULL,
    report     TEXT    NOT NULL
);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_kind TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor_name, seq);
CREATE INDEX audit_log_target ON audit_log(target_id, seq);
CREATE INDEX audit_log_at ON audit_log(at);

-- The audit log is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

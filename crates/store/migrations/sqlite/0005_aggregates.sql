-- Incremental aggregates of the cases for the dashboards, kept in the transaction of every case
-- write (see `aggregates.rs`) and checked against a full recount by `wangge check`. Each case
-- counts at its own unit and at every ancestor, so a unit's figures are one index range,
-- whatever the number of cases.
CREATE TABLE case_counts (
    unit_id  INTEGER NOT NULL,
    state    TEXT    NOT NULL,
    category TEXT    NOT NULL,             -- '' while not classified
    overdue  INTEGER NOT NULL,             -- 1: open with its stage deadline breached
    n        INTEGER NOT NULL,
    PRIMARY KEY (unit_id, state, category, overdue)
) WITHOUT ROWID;

-- Reported and closed cases per local day (the deployment's time zone).
CREATE TABLE case_daily (
    unit_id  INTEGER NOT NULL,
    day      TEXT    NOT NULL,             -- YYYY-MM-DD
    reported INTEGER NOT NULL,
    closed   INTEGER NOT NULL,
    PRIMARY KEY (unit_id, day)
) WITHOUT ROWID;

-- Full-text search: jieba words of the description and address (rowid = case id).
CREATE VIRTUAL TABLE case_fts USING fts5(
    words, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);

-- The list, newest first, within a territory or a state.
CREATE INDEX cases_state_id ON cases(state, id);

-- Incremental aggregates of the cases for the dashboards, kept in the transaction of every case
-- write (see `aggregates.rs`) and checked against a full recount by `wangge check`. Each case
-- counts at its own unit and at every ancestor, so a unit's figures are one index range,
-- whatever the number of cases.
CREATE TABLE case_counts (
    unit_id  BIGINT  NOT NULL,
    state    TEXT    NOT NULL,
    category TEXT    NOT NULL,             -- '' while not classified
    overdue  BIGINT  NOT NULL,             -- 1: open with its stage deadline breached
    n        BIGINT  NOT NULL,
    PRIMARY KEY (unit_id, state, category, overdue)
);

-- Reported and closed cases per local day (the deployment's time zone).
CREATE TABLE case_daily (
    unit_id  BIGINT  NOT NULL,
    day      TEXT    NOT NULL,             -- YYYY-MM-DD
    reported BIGINT  NOT NULL,
    closed   BIGINT  NOT NULL,
    PRIMARY KEY (unit_id, day)
);

-- Full-text search: jieba words of the description and address.
CREATE TABLE case_words (
    case_id BIGINT   PRIMARY KEY REFERENCES cases(id),
    words   tsvector NOT NULL
);
CREATE INDEX case_words_gin ON case_words USING GIN (words);

-- The list, newest first, within a territory or a state.
CREATE INDEX cases_state_id ON cases(state, id);

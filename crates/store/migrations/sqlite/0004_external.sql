-- External systems (hotline platforms, city platforms, sensors, Open311 clients): their API key
-- (hashed), territory, channel, rate limit, outgoing webhook and incoming-event rules.
CREATE TABLE external_systems (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,        -- slug, also the ingest path /api/v1/ingest/{name}
    title          TEXT    NOT NULL,
    channel        TEXT    NOT NULL,               -- the channel its cases carry
    key_hash       TEXT    NOT NULL UNIQUE,        -- SHA-256 of the API key
    key_prefix     TEXT    NOT NULL,               -- first characters, to recognise it
    unit_id        INTEGER NOT NULL REFERENCES units(id),
    rate_limit     INTEGER NOT NULL,               -- requests per minute
    webhook_url    TEXT,
    webhook_events TEXT    NOT NULL,               -- JSON array: case.created, case.state_changed
    webhook_secret TEXT    NOT NULL,               -- HMAC key of outgoing webhooks
    ingest_secret  TEXT    NOT NULL,               -- HMAC key of incoming events
    rules          TEXT    NOT NULL,               -- JSON: ingest rules, first match wins
    active         INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);

-- The update feed (servicerequestupdates) reads events by time.
CREATE INDEX case_events_at ON case_events(at);
CREATE INDEX outbox_target ON outbox(target, id);

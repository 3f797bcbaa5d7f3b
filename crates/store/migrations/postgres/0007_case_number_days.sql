-- The last case number given on each day (numbers run per day: <date>-00001 … -99999, -100000, …),
-- so numbering a new case reads one row instead of the day's highest number, which text order
-- would get wrong past 99,999.
CREATE TABLE case_number_days (
    prefix TEXT PRIMARY KEY,
    last   BIGINT NOT NULL
);

-- The case list within a territory filtered by state, category or deadline: the filters are in
-- the territory's index after the unit path, so a town's or county's matching cases are found
-- without reading each of its cases (see `case_list`). It replaces the narrower
-- (unit_path, created_at), which the planner would otherwise still pick for some units.
DROP INDEX cases_unit;
CREATE INDEX cases_unit ON cases(unit_path, state, category, deadline_at, created_at);

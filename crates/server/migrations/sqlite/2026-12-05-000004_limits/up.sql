-- Rate limits and quotas: per project and per user, overriding the configuration's defaults.
-- NULL: the default; a rate of 0: no limit. Rates are requests per second.
ALTER TABLE projects ADD COLUMN rate_per_second REAL;
ALTER TABLE projects ADD COLUMN rate_burst INTEGER;
-- Database work of the project in flight at once (at most the pool's size).
ALTER TABLE projects ADD COLUMN max_in_flight INTEGER;
ALTER TABLE users ADD COLUMN rate_per_second REAL;
ALTER TABLE users ADD COLUMN rate_burst INTEGER;

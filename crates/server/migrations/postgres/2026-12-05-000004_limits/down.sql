ALTER TABLE users DROP COLUMN rate_burst;
ALTER TABLE users DROP COLUMN rate_per_second;
ALTER TABLE projects DROP COLUMN max_in_flight;
ALTER TABLE projects DROP COLUMN rate_burst;
ALTER TABLE projects DROP COLUMN rate_per_second;

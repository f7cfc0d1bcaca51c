-- Secrets every server sharing this platform database must agree on: the key that signs
-- `?cursor=` positions, so that a cursor made by one server is valid on the others.
-- Created by the first server that needs one (random bytes, hex).
CREATE TABLE server_secrets (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

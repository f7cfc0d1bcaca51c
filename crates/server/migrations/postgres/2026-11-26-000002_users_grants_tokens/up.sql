-- Who may use which project, and how they prove it. Times are Unix seconds (UTC).
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    username VARCHAR(150) NOT NULL UNIQUE,
    -- argon2id PHC string; NULL: the user authenticates with tokens only.
    password_hash TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Every project, read and write (the old `is_allowed_all`).
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE grants (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role VARCHAR(8) NOT NULL CHECK (role IN ('read', 'write')),
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE api_tokens (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    -- The first characters of the token, shown to tell tokens apart; never enough to use it.
    prefix VARCHAR(16) NOT NULL UNIQUE,
    -- SHA-256 of the whole token, hex; the token itself is never stored.
    token_hash CHAR(64) NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

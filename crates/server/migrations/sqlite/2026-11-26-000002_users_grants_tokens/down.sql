DROP TABLE api_tokens;
DROP TABLE grants;
DROP TABLE users;

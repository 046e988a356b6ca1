CREATE TABLE grants (
    grant_id        TEXT   NOT NULL PRIMARY KEY,
    region          TEXT   NOT NULL,
    key_id          TEXT   NOT NULL,
    name            TEXT,
    grantee         TEXT   NOT NULL,
    retiring        TEXT,
    operations      TEXT   NOT NULL,
    constraints     TEXT,
    issuing_account TEXT   NOT NULL,
    creation_date   BIGINT NOT NULL,
    token           TEXT   NOT NULL
);
CREATE INDEX grants_by_key ON grants (region, key_id);
CREATE INDEX grants_by_retiring ON grants (region, retiring);
CREATE UNIQUE INDEX grants_by_token ON grants (token);

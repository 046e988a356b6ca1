CREATE TABLE IF NOT EXISTS kms_keys (
    region              TEXT    NOT NULL,
    key_id              TEXT    NOT NULL,
    account_id          TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    key_state           TEXT    NOT NULL,
    key_spec            TEXT    NOT NULL,
    key_usage           TEXT    NOT NULL,
    origin              TEXT    NOT NULL,
    creation_date       BIGINT  NOT NULL,
    deletion_date       BIGINT,
    pending_window_days INTEGER,
    current_material_id TEXT    NOT NULL,
    policy              TEXT    NOT NULL,
    rotation_period_days INTEGER,
    next_rotation_date  BIGINT,
    multi_region        INTEGER NOT NULL DEFAULT 0,
    updating            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (region, key_id)
);
CREATE INDEX IF NOT EXISTS kms_keys_due ON kms_keys (key_state, deletion_date);
CREATE INDEX IF NOT EXISTS kms_keys_rotation ON kms_keys (next_rotation_date);

-- One row per multi-Region key: where its primary is, and where it is
-- moving to while UpdatePrimaryRegion is in progress.
CREATE TABLE IF NOT EXISTS multi_region_keys (
    key_id          TEXT NOT NULL PRIMARY KEY,
    primary_region  TEXT NOT NULL,
    pending_primary TEXT
);

CREATE TABLE IF NOT EXISTS key_materials (
    region        TEXT    NOT NULL,
    key_id        TEXT    NOT NULL,
    material_id   TEXT    NOT NULL,
    wrapped       BLOB    NOT NULL,
    creation_date BIGINT  NOT NULL,
    rotation_type TEXT,
    PRIMARY KEY (region, key_id, material_id)
);

CREATE TABLE IF NOT EXISTS aliases (
    region        TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    alias_name    TEXT    NOT NULL,
    key_id        TEXT    NOT NULL,
    creation_date BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL,
    PRIMARY KEY (region, account_id, alias_name)
);
CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases (region, key_id);

CREATE TABLE IF NOT EXISTS key_tags (
    region    TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (region, key_id, tag_key)
);

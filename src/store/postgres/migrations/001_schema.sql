-- The schema of SQLite's migrations 001 to 008, for PostgreSQL.
-- Names and identifiers compare byte by byte (COLLATE "C"), as in SQLite,
-- so listings and their markers page in the same order; flags are BOOLEAN.

CREATE TABLE kms_keys (
    region               TEXT COLLATE "C" NOT NULL,
    key_id               TEXT COLLATE "C" NOT NULL,
    account_id           TEXT COLLATE "C" NOT NULL,
    description          TEXT    NOT NULL,
    key_state            TEXT    NOT NULL,
    key_spec             TEXT    NOT NULL,
    key_usage            TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    creation_date        BIGINT  NOT NULL,
    deletion_date        BIGINT,
    pending_window_days  BIGINT,
    current_material_id  TEXT COLLATE "C" NOT NULL,
    policy               TEXT    NOT NULL,
    rotation_period_days BIGINT,
    next_rotation_date   BIGINT,
    multi_region         BOOLEAN NOT NULL DEFAULT FALSE,
    updating             BOOLEAN NOT NULL DEFAULT FALSE,
    -- When the key's current imported material expires; NULL when it does not.
    valid_to             BIGINT,
    PRIMARY KEY (region, key_id)
);
CREATE INDEX kms_keys_due ON kms_keys (key_state, deletion_date);
CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date);
CREATE INDEX kms_keys_by_id ON kms_keys (key_id);

CREATE TABLE key_materials (
    -- Insertion order (SQLite's rowid), for materials of equal creation date.
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    region        TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    material_id   TEXT COLLATE "C" NOT NULL,
    wrapped       BYTEA  NOT NULL,
    creation_date BIGINT NOT NULL,
    rotation_type TEXT,
    -- DER SubjectPublicKeyInfo of an asymmetric key version; NULL otherwise.
    public_key    BYTEA,
    -- Imported material (SQLite's 008): a deleted or expired material
    -- keeps its row, not imported and with an empty blob; new material
    -- waits for RotateKeyOnDemand; expiry and description are its own.
    imported         BOOLEAN NOT NULL DEFAULT TRUE,
    pending_rotation BOOLEAN NOT NULL DEFAULT FALSE,
    valid_to         BIGINT,
    description      TEXT,
    PRIMARY KEY (region, key_id, material_id)
);

CREATE TABLE aliases (
    region        TEXT COLLATE "C" NOT NULL,
    account_id    TEXT COLLATE "C" NOT NULL,
    alias_name    TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    creation_date BIGINT NOT NULL,
    last_updated  BIGINT NOT NULL,
    PRIMARY KEY (region, account_id, alias_name)
);
CREATE INDEX aliases_by_key ON aliases (region, key_id);

CREATE TABLE key_tags (
    region    TEXT COLLATE "C" NOT NULL,
    key_id    TEXT COLLATE "C" NOT NULL,
    tag_key   TEXT COLLATE "C" NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (region, key_id, tag_key)
);

-- One row per multi-Region key: where its primary is, and where it is
-- moving to while UpdatePrimaryRegion is in progress.
CREATE TABLE multi_region_keys (
    key_id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    primary_region  TEXT COLLATE "C" NOT NULL,
    pending_primary TEXT COLLATE "C"
);

CREATE TABLE grants (
    grant_id        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    region          TEXT COLLATE "C" NOT NULL,
    key_id          TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C",
    grantee         TEXT COLLATE "C" NOT NULL,
    retiring        TEXT COLLATE "C",
    operations      TEXT   NOT NULL,
    constraints     TEXT,
    issuing_account TEXT COLLATE "C" NOT NULL,
    creation_date   BIGINT NOT NULL,
    token           TEXT COLLATE "C" NOT NULL
);
CREATE INDEX grants_by_key ON grants (region, key_id);
CREATE INDEX grants_by_retiring ON grants (region, retiring);
CREATE UNIQUE INDEX grants_by_token ON grants (token);
CREATE INDEX grants_by_grantee ON grants (region, key_id, grantee);
CREATE INDEX grants_by_name ON grants (region, key_id, name);

-- SQLite's data_version: every transaction that changes what the metadata
-- cache copies (keys, materials, multi-Region records) adds one before it
-- commits, and every node polls it (src/store/cache.rs).
CREATE TABLE store_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
);
INSERT INTO store_version (version) VALUES (0);

CREATE TABLE kms_keys (
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
    PRIMARY KEY (region, key_id)
);
CREATE INDEX kms_keys_due ON kms_keys (key_state, deletion_date);

CREATE TABLE key_materials (
    region        TEXT    NOT NULL,
    key_id        TEXT    NOT NULL,
    material_id   TEXT    NOT NULL,
    wrapped       BLOB    NOT NULL,
    creation_date BIGINT  NOT NULL,
    PRIMARY KEY (region, key_id, material_id)
);

CREATE TABLE aliases (
    region        TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    alias_name    TEXT    NOT NULL,
    key_id        TEXT    NOT NULL,
    creation_date BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL,
    PRIMARY KEY (region, account_id, alias_name)
);
CREATE INDEX aliases_by_key ON aliases (region, key_id);

CREATE TABLE key_tags (
    region    TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (region, key_id, tag_key)
);

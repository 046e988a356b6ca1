ALTER TABLE kms_keys ADD COLUMN multi_region INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kms_keys ADD COLUMN updating INTEGER NOT NULL DEFAULT 0;
CREATE INDEX kms_keys_by_id ON kms_keys (key_id);

-- One row per multi-Region key: where its primary is, and where it is
-- moving to while UpdatePrimaryRegion is in progress.
CREATE TABLE multi_region_keys (
    key_id          TEXT NOT NULL PRIMARY KEY,
    primary_region  TEXT NOT NULL,
    pending_primary TEXT
);

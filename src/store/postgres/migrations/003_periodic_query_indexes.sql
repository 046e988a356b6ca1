-- As SQLite's migration 010: indexes for the queries every node runs
-- periodically (the background jobs, the key-count gauge of /metrics), so
-- that a run does not read every row. The partial indexes hold only the
-- rows looked for.
CREATE INDEX key_materials_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX multi_region_pending ON multi_region_keys (key_id) WHERE pending_primary IS NOT NULL;
CREATE INDEX kms_keys_by_state ON kms_keys (region, key_state);

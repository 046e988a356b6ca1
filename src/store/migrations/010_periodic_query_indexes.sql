-- Indexes for the queries every node runs periodically: the background jobs
-- (every few seconds) and the key-count gauge of /metrics (every scrape).
-- Without them the expiry of imported material read every material of every
-- key each run, the primary-Region updates every multi-Region key, and the
-- count every key row: at a million keys, seconds of reading that held the
-- store from requests. The partial indexes hold only the rows looked for.
CREATE INDEX key_materials_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX multi_region_pending ON multi_region_keys (key_id) WHERE pending_primary IS NOT NULL;
CREATE INDEX kms_keys_by_state ON kms_keys (region, key_state);

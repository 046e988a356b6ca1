-- As SQLite's migration 010: indexes holding only the rows the background
-- jobs look for (materials that expire, multi-Region keys whose primary
-- Region is changing), so that a run does not read every row.
CREATE INDEX key_materials_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX multi_region_pending ON multi_region_keys (key_id) WHERE pending_primary IS NOT NULL;

-- Indexes for the background jobs, which run every few seconds on every
-- node: without them the expiry of imported material read every material
-- of every key each run (a million rows every 5 s at a million keys), and
-- the primary-Region updates every multi-Region key. Only the rows the
-- jobs look for are in them.
CREATE INDEX key_materials_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX multi_region_pending ON multi_region_keys (key_id) WHERE pending_primary IS NOT NULL;

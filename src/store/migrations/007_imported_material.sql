-- When a key's imported material expires (KEY_MATERIAL_EXPIRES); NULL for
-- material that does not expire and for keys whose material Trent made.
ALTER TABLE kms_keys ADD COLUMN valid_to INTEGER;

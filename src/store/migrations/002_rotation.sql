ALTER TABLE kms_keys ADD COLUMN rotation_period_days INTEGER;
ALTER TABLE kms_keys ADD COLUMN next_rotation_date BIGINT;
CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date);
ALTER TABLE key_materials ADD COLUMN rotation_type TEXT;

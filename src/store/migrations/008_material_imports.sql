-- Imported material, one row per material an EXTERNAL key has had (on-demand
-- rotation of imported keys, ADR 0014). A deleted or expired material keeps
-- its row with `imported` 0 and an empty blob, so a re-import must match it
-- and ListKeyRotations still lists it; `pending_rotation` marks new material
-- waiting for RotateKeyOnDemand; `valid_to` (Unix ms, NULL: no expiry) and
-- `description` are the material's own. Rows of generated material keep the
-- defaults. `kms_keys.valid_to` stays the current material's, for DescribeKey.
ALTER TABLE key_materials ADD COLUMN imported INTEGER NOT NULL DEFAULT 1;
ALTER TABLE key_materials ADD COLUMN pending_rotation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_materials ADD COLUMN valid_to INTEGER;
ALTER TABLE key_materials ADD COLUMN description TEXT;
UPDATE key_materials SET valid_to = (
    SELECT k.valid_to FROM kms_keys k
    WHERE k.region = key_materials.region AND k.key_id = key_materials.key_id);
-- Material deleted before this version left no row: give it one.
INSERT INTO key_materials (region, key_id, material_id, wrapped, creation_date, imported)
    SELECT region, key_id, current_material_id, X'', creation_date, 0 FROM kms_keys k
    WHERE origin = 'EXTERNAL' AND current_material_id <> '' AND NOT EXISTS (
        SELECT 1 FROM key_materials m WHERE m.region = k.region AND m.key_id = k.key_id);

-- The tag of a material row (ADR 0025): the wrap, under the region's domain
-- key, of a digest of the row, which binds the wrapped material and public
-- key to their key. NULL until the row is tagged.
ALTER TABLE key_materials ADD COLUMN tag BYTEA;

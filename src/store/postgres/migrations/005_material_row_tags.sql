-- The tag of a material row (ADR 0025): the wrap, under the region's row-tag
-- key, of a digest of the row, which binds the wrapped material and public
-- key to their key. NULL until the row is tagged.
ALTER TABLE key_materials ADD COLUMN tag BYTEA;
-- The key the region's tags are made with: a 16-byte AES key generated in a
-- token, wrapped under the domain key; NULL until a node makes it.
ALTER TABLE domain_keys ADD COLUMN row_tag_key BYTEA;

-- Authorization looks up a caller's own grants on a key, never all of them.
CREATE INDEX grants_by_grantee ON grants (region, key_id, grantee);
CREATE INDEX grants_by_name ON grants (region, key_id, name);

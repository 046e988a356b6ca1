-- The public key of an asymmetric key version (DER SubjectPublicKeyInfo),
-- kept in the clear next to its wrapped private key; NULL for symmetric and
-- HMAC keys.
ALTER TABLE key_materials ADD COLUMN public_key BLOB;

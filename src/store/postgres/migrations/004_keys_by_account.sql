-- As SQLite's migration 011: ListKeys's pages of one account's keys in a
-- region, in key-id order, from the index alone.
CREATE INDEX kms_keys_by_account ON kms_keys (region, account_id, key_id);

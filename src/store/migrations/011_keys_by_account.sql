-- ListKeys pages through one account's keys of a region in key-id order.
-- The primary key (region, key_id) gives the order but not the account, so
-- every row of the page was read from the table: 176 ms per page of 1,000
-- at a million keys. This index answers the query by itself.
CREATE INDEX kms_keys_by_account ON kms_keys (region, account_id, key_id);

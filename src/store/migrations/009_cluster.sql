-- Clusters (ADR 0016). The domain key each region's tokens share: the first
-- node whose token holds one claims the region with a check blob (a random
-- key wrapped under the domain key), which tells every other node whether
-- its token holds the same key.
CREATE TABLE domain_keys (
    region     TEXT    NOT NULL PRIMARY KEY,
    check_blob BLOB    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Enrolment offers: a joining node's RSA public key for a region, the member
-- that approved it (its token's SO trusted the key) and the domain key
-- wrapped for it (the package) once that member answers. One offer per node
-- and region; a new one replaces the old.
CREATE TABLE enrolments (
    node_id     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    public_key  BLOB    NOT NULL,
    fingerprint TEXT    NOT NULL,
    offered_at  INTEGER NOT NULL,
    approved_by TEXT,
    package     BLOB,
    answered_by TEXT,
    PRIMARY KEY (node_id, region)
);

-- Clusters (ADR 0016), as SQLite's migration 009. The domain key each
-- region's tokens share: the first node whose token holds one claims the
-- region with a check blob (a random key wrapped under the domain key).
CREATE TABLE domain_keys (
    region     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    check_blob BYTEA  NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- Enrolment offers: a joining node's RSA public key for a region, the member
-- that approved it and the domain key wrapped for it once that member
-- answers. One offer per node and region; a new one replaces the old.
CREATE TABLE enrolments (
    node_id     TEXT COLLATE "C" NOT NULL,
    region      TEXT COLLATE "C" NOT NULL,
    public_key  BYTEA  NOT NULL,
    fingerprint TEXT   NOT NULL,
    offered_at  BIGINT NOT NULL,
    approved_by TEXT,
    package     BYTEA,
    answered_by TEXT,
    PRIMARY KEY (node_id, region)
);

-- Oversize and poison messages (issue 12).

-- An inbox row whose event the broker will never take (over its message limit once the purchase
-- orders are added) is parked: set aside with its reason in last_error, and a parked record says
-- so where operators look (services/ingest/drain.py). The drain goes on past it; retrying it
-- would block every row behind it.
ALTER TABLE coupa_inbox ADD COLUMN parked_at timestamptz;
DROP INDEX coupa_inbox_pending_idx;
CREATE INDEX coupa_inbox_pending_idx ON coupa_inbox (id)
    WHERE published_at IS NULL AND parked_at IS NULL;

-- Originals of dead letters too large to copy whole onto a dead-letter topic: the copy carries
-- the digest instead, and `connector replay --dead-letters` reads the bytes back from here
-- (shared/dead_letters.py). Keyed by content, so a retried or repeated dead letter is kept once
-- and a broker restart that reuses offsets cannot mix two originals up.
CREATE TABLE dead_letter_values (
    sha256          text PRIMARY KEY,          -- hex digest of value
    value           bytea       NOT NULL,      -- the original message value, byte for byte
    topic           text        NOT NULL,      -- where it first failed
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    kept_at         timestamptz NOT NULL DEFAULT now()
);

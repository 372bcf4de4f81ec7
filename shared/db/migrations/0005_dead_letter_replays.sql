-- Dead letters `connector replay --dead-letters` has put back on their original topic: one row
-- per dead letter (the digest of its bytes on the dead-letter topic), so none is sent twice.
CREATE TABLE dead_letter_replays (
    digest          text PRIMARY KEY,  -- sha256 of the dead-letter message value
    dlq_topic       text        NOT NULL,
    dlq_partition   integer     NOT NULL,
    dlq_offset      bigint      NOT NULL,
    topic           text        NOT NULL,  -- where the message first failed, and goes back to
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    record_key      text        NOT NULL,
    replayed_by     text        NOT NULL,
    replayed_at     timestamptz NOT NULL DEFAULT now()
);

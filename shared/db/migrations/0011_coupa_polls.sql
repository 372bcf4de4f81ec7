-- When each connection's poll last read every Coupa feed to its end (issue 13). poll_cursors
-- cannot say it: a cursor is written per feed (a poll that failed on its second feed has moved
-- the first) and not at all while a feed has never listed anything; the ingest gauge of the same
-- instant lives in one replica's memory. Owned by services/ingest/poller.py; the console's
-- overview reads it.
CREATE TABLE coupa_polls (
    connection text        PRIMARY KEY,
    polled_at  timestamptz NOT NULL
);

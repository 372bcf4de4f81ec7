-- Fewer Coupa calls per invoice (issue 11).

-- The purchase orders invoices cite, per connection, in the newest version known, so the drain
-- asks Coupa only for those it lacks. Owned by services/ingest/po_cache.py, which says when a
-- kept version is good. A PO number Coupa does not know has no row: it is asked for again.
CREATE TABLE coupa_purchase_orders (
    connection text        NOT NULL,
    po_id      bigint      NOT NULL,
    po_number  text        NOT NULL,
    version    text        NOT NULL,  -- Coupa's updated-at as written, as the poll lists it
    updated_at timestamptz NOT NULL,  -- the same instant: of two versions the newer is kept
    body       jsonb       NOT NULL,  -- the purchase order as Coupa sent it
    fetched_at timestamptz NOT NULL DEFAULT now(),  -- when Coupa last sent this version
    PRIMARY KEY (connection, po_id)
);
CREATE INDEX coupa_purchase_orders_number_idx ON coupa_purchase_orders (connection, po_number);

-- The poll's second instant (services/ingest/poller.py): every change Coupa stamped before it was
-- listed after it could no longer be late, so the overlap behind the cursor is listed once,
-- not on every poll. NULL for a cursor written before: read as cursor_at minus the overlap.
-- Cursors are now kept for kind 'purchase_order' too (the poll keeps the PO cache fresh).
ALTER TABLE poll_cursors ADD COLUMN settled_at timestamptz;

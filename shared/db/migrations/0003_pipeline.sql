-- What the pipeline needs beyond records and audit (architecture §3): explicit maps, the Deltek
-- reference cache, the posting ledger, poll cursors and the Coupa inbox.

ALTER TABLE records DROP CONSTRAINT records_state_check;
ALTER TABLE records ADD CONSTRAINT records_state_check CHECK (state IN (
    'received',    -- stored, not yet mapped
    'mapped',      -- a Deltek write command was published
    'parked',      -- waits for a person or a mapping; parked_reason says why in plain words
    'posting',     -- the poster claimed the job
    'posted',      -- in Deltek (entered, and posted when the connection posts batches)
    'failed',      -- an internal error outlasted its attempts; replayable
    'flagged',     -- changed or voided in Coupa after it was posted: a person decides
    'superseded'   -- a newer Coupa version of the same object took over before this one was posted
));
ALTER TABLE records
    ADD COLUMN job_id        text,
    ADD COLUMN parked_reason text,
    ADD COLUMN waiting_for   jsonb,   -- what must appear for a parked record to go on by itself
    ADD COLUMN command       jsonb;   -- the last Deltek write command built for this version
CREATE INDEX records_job_idx ON records (job_id);
CREATE INDEX records_parked_idx ON records (connection) WHERE state = 'parked';

-- Explicit maps a person maintains (CSV import) or vendor sync writes.
CREATE TABLE mappings (
    connection   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('supplier', 'account', 'project')),
    coupa_value  text NOT NULL,
    deltek_value text NOT NULL,
    source       text NOT NULL DEFAULT 'import',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, kind, coupa_value)
);

-- The Deltek reference cache: every mapped line is checked against it before anything is sent.
CREATE TABLE deltek_vendors (
    connection   text NOT NULL,
    client_id    text NOT NULL,
    vendor       text,                 -- the vendor number apMaster.Vendor takes
    name         text NOT NULL,
    status       text NOT NULL,        -- A active, I inactive
    tax_id       text,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, client_id)
);
CREATE INDEX deltek_vendors_vendor_idx ON deltek_vendors (connection, vendor);
CREATE INDEX deltek_vendors_name_idx ON deltek_vendors (connection, lower(name));
CREATE INDEX deltek_vendors_tax_idx ON deltek_vendors (connection, tax_id);

CREATE TABLE deltek_accounts (
    connection   text NOT NULL,
    account      text NOT NULL,
    name         text NOT NULL,
    status       text NOT NULL,
    type         text,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, account)
);

-- WBS2/WBS3 are '' for the project and phase rows themselves.
CREATE TABLE deltek_projects (
    connection   text NOT NULL,
    wbs1         text NOT NULL,
    wbs2         text NOT NULL DEFAULT '',
    wbs3         text NOT NULL DEFAULT '',
    name         text NOT NULL,
    status       text NOT NULL,        -- A active, I inactive, D dormant
    charge_type  text,                 -- R regular (chargeable), H overhead, P promotional
    sub_level    boolean NOT NULL DEFAULT false,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, wbs1, wbs2, wbs3)
);

CREATE TABLE deltek_periods (
    connection   text NOT NULL,
    period       integer NOT NULL,     -- YYYYMM
    starts_on    date,
    ends_on      date,
    closed       boolean NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, period)
);

CREATE TABLE reference_refreshes (
    connection   text NOT NULL,
    kind         text NOT NULL,        -- vendors | accounts | projects | periods
    rows         integer NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, kind)
);

-- One row per job: the single source of truth for "already booked" (architecture §4).
CREATE TABLE posting_ledger (
    job_id        text PRIMARY KEY,
    connection    text NOT NULL,
    record_key    text NOT NULL,
    content_hash  text NOT NULL,       -- of what was sent; a different hash later means "changed"
    state         text NOT NULL CHECK (state IN ('claimed', 'entered', 'posted', 'parked')),
    batch         text NOT NULL,
    master_pkey   text NOT NULL,
    voucher       text,
    period        integer,
    post_seq      text,
    owner         text,
    lease_until   timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE poll_cursors (
    connection  text NOT NULL,
    kind        text NOT NULL,         -- invoices | suppliers
    cursor_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, kind)
);

-- Every Coupa object version ingest accepted, pushed or polled, once: replay protection for
-- Call Outs (a delivery seen before is acknowledged, not published again) and the outbox the
-- publisher drains, so an accepted push survives a broker outage or a crash.
CREATE TABLE coupa_inbox (
    id           bigserial PRIMARY KEY,
    connection   text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('invoice', 'supplier')),
    coupa_id     text        NOT NULL,
    version      text        NOT NULL,  -- Coupa's updated-at
    source       text        NOT NULL CHECK (source IN ('webhook', 'poll')),
    body         jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    UNIQUE (connection, kind, coupa_id, version)
);
CREATE INDEX coupa_inbox_pending_idx ON coupa_inbox (id) WHERE published_at IS NULL;

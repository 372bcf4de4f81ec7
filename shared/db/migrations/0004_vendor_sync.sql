-- Vendor sync (issue 5): the posting ledger also holds one row per Coupa supplier job, which
-- has no AP batch or voucher key but a Deltek firm (ClientID) and its vendor number.
ALTER TABLE posting_ledger
    ALTER COLUMN batch DROP NOT NULL,
    ALTER COLUMN master_pkey DROP NOT NULL,
    ADD COLUMN client_id text,
    ADD COLUMN vendor    text;

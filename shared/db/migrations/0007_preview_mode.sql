-- A connection in preview mode (issue 10) runs the whole pipeline but stops before any Deltek
-- write: the record says what would have been sent ('previewed'), and so does the ledger row,
-- which counts as nothing booked; switching the connection to live sends it, once.
ALTER TABLE records DROP CONSTRAINT records_state_check;
ALTER TABLE records ADD CONSTRAINT records_state_check CHECK (state IN (
    'received', 'mapped', 'parked', 'posting', 'posted', 'failed', 'flagged', 'superseded',
    'previewed'    -- preview mode: mapped and looked up; the audit shows what would be sent
));

ALTER TABLE posting_ledger DROP CONSTRAINT posting_ledger_state_check;
ALTER TABLE posting_ledger ADD CONSTRAINT posting_ledger_state_check
    CHECK (state IN ('claimed', 'entered', 'posted', 'parked', 'previewed'));

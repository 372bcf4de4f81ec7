-- What the connector found out about a connection's Vantagepoint tenant where tenants differ and
-- the API cannot be told (deltek-api.md §3.D), e.g. which PSALedger/AP column holds the vendor's
-- invoice number. Owned by shared/tenant_facts.py. A fact holds only for the tenant it was found
-- on: a connection pointed at another tenant finds it out again.
CREATE TABLE tenant_facts (
    connection text        NOT NULL,
    fact       text        NOT NULL,  -- e.g. ledger_invoice_column
    tenant     text        NOT NULL,  -- API base URL and database the value was found on
    value      text        NOT NULL,
    found_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, fact)
);

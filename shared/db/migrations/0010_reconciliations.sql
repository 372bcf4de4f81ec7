-- Reconciliation by period (issue 15): each run of `connector reconcile`, its totals per class
-- and the findings that are not matches (shared/reconcile/results.py owns both tables).

CREATE TABLE reconciliation_runs (
    id            bigserial PRIMARY KEY,
    connection    text        NOT NULL,
    period        integer     NOT NULL,          -- YYYYMM, as Deltek numbers periods
    period_closed boolean     NOT NULL,          -- as the reference cache knew it at the run
    balanced      boolean     NOT NULL,          -- every invoice of the period matched
    findings      jsonb       NOT NULL,          -- every finding but the matches
    finished_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_runs_latest_idx
    ON reconciliation_runs (connection, period, finished_at DESC);

CREATE TABLE reconciliation_totals (
    run_id    bigint  NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    class     text    NOT NULL,                  -- shared.reconcile.model.Kind
    currency  text    NOT NULL,                  -- '' for a class with no invoices
    invoices  integer NOT NULL,
    amount    numeric NOT NULL,
    PRIMARY KEY (run_id, class, currency)
);

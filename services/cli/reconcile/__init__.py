"""``connector reconcile``: the reads behind a reconciliation (Coupa, Deltek, Postgres) and its
report; the comparison itself is ``shared.reconcile.classify``."""

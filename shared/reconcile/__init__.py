"""Reconciliation by period: Coupa's approved invoices against Deltek's AP and the connector's
own records (``classify`` is pure; ``results`` owns the ``reconciliation_*`` tables)."""

"""The console's reads from Postgres: one module per page, plain SQL over the shared tables.

Where a record is meant, the newest version of its Coupa object is meant: older versions were
superseded or are history, and are shown on the record page only.
"""

# The newest version of every record (a CTE the queries here start from).
LATEST = """latest AS (
    SELECT DISTINCT ON (record_key) id, record_key, connection, kind, coupa_id, state, payload,
           command, deltek_ref, parked_reason, last_error, waiting_for, created_at, updated_at
      FROM records
     ORDER BY record_key, id DESC)"""

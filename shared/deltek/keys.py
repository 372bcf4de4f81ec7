"""Every Deltek key we derive from a job: batch, voucher MasterPKey, line PKey, voucher number.

Each is a pure function of the job id, so every attempt, replay or rival poster sends the same
voucher and the look-up before a POST can recognise one already entered. Changing any of them
(or ``_NAMESPACE``) would break that duplicate detection for every job already sent.
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("5b3f4f8e-6a55-4c1e-9d1a-0c0ffee0d3e1")


def batch_name(job_id: str) -> str:
    """A Deltek ``Batch`` derived from the job alone, at most 32 characters (deltek-api §3.C).

    ``CP`` + 30 hex characters of a hash: stable across retries, replays and posters, distinct
    across connections that share a Deltek tenant.
    """
    return "CP" + hashlib.sha256(job_id.encode()).hexdigest()[:30].upper()


def master_pkey(job_id: str) -> str:
    """The voucher's ``MasterPKey``: 32 hex characters, the same for every attempt."""
    return uuid.uuid5(_NAMESPACE, job_id).hex


def line_pkey(job_id: str, seq: int) -> str:
    """The ``PKey`` of voucher line ``seq``."""
    return uuid.uuid5(_NAMESPACE, f"{job_id}:{seq}").hex


def voucher_number(job_id: str) -> str:
    """A 10-character voucher number of the job: short (§8.3 open question), stable across
    attempts, and distinct across connections that share a tenant, like ``batch_name``."""
    return "V" + hashlib.sha256(f"voucher:{job_id}".encode()).hexdigest()[:9].upper()

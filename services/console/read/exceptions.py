"""The exception queue: parked invoices grouped by what they wait for, and what may fix each.

A parked record's ``waiting_for`` (written by the mapper) lists what must appear for it to go on
by itself: a map of a Coupa supplier, GL segment or project code. Records waiting for the same
thing form one group, fixed at once by one map. Parked records that wait for nothing a map can
give (a person must decide) are grouped by their reason instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from services.console.read.flagged import NOT_ACKNOWLEDGED
from shared.db.pool import Connection
from shared.reference.cache import load_reference

# What a waiting kind is fixed with: the kind of map that resolves it (an inactive vendor is
# fixed by mapping the supplier to an active one).
MAP_KIND_FOR = {
    "supplier": "supplier",
    "inactive_vendor": "supplier",
    "account": "account",
    "project": "project",
}
_WANTS = {
    "supplier": "a Deltek vendor",
    "inactive_vendor": "an active Deltek vendor",
    "account": "a Deltek GL account",
    "project": "an open, chargeable Deltek project",
    "pay_terms": "Deltek pay terms",
}
# The newest version of each parked record (parked versions are few: their own index).
_PARKED = """parked AS (
    SELECT r.id, r.record_key, r.connection, r.waiting_for, r.parked_reason, r.updated_at,
           coalesce(r.payload->'invoice'->>'invoice-number', r.record_key) AS invoice_number
      FROM records r
     WHERE r.state = 'parked'
       AND NOT EXISTS (SELECT 1 FROM records n
                        WHERE n.record_key = r.record_key AND n.id > r.id))"""
# The newest version of each flagged record nobody acknowledged (``read/flagged.py``).
_FLAGGED = f"""flagged AS (
    SELECT r.record_key, r.connection, coalesce(r.last_error, '') AS reason, r.updated_at,
           coalesce(r.payload->'invoice'->>'invoice-number', r.record_key) AS invoice_number
      FROM records r
     WHERE r.state = 'flagged' AND {NOT_ACKNOWLEDGED}
       AND NOT EXISTS (SELECT 1 FROM records n
                        WHERE n.record_key = r.record_key AND n.id > r.id))"""  # noqa: S608 - only constant SQL is put in


def anchor(connection: str, kind: str, coupa_value: str) -> str:
    """The id of a group's section on the exceptions page, so a record page can link to it.

    Hashed, because Coupa values may hold anything an HTML id or a URL fragment cannot.
    """
    text = "\0".join((connection, kind, coupa_value)).encode()
    return "wait-" + hashlib.sha256(text).hexdigest()[:16]


@dataclass(frozen=True)
class Group:
    connection: str
    kind: str
    coupa_value: str
    label: str
    count: int
    since: datetime
    record_keys: list[str]
    # The invoice number of each of ``record_keys``, in the same order: what a clerk reads.
    invoice_numbers: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[tuple[str, str]]:
        return _numbered(self.record_keys, self.invoice_numbers)

    @property
    def map_kind(self) -> str | None:
        """The map that fixes this group, or None where a map cannot (a connection setting,
        pay terms): the label ``mapping.<setting>`` names a connection setting, not Coupa data."""
        return None if self.label.startswith("mapping.") else MAP_KIND_FOR.get(self.kind)

    @property
    def anchor(self) -> str:
        return anchor(self.connection, self.kind, self.coupa_value)

    @property
    def subject(self) -> str:
        """What the group waits on, as the clerk knows it: "Coupa supplier V-00217 (Wiley)"."""
        return self.label or f"Coupa {self.kind.replace('_', ' ')} {self.coupa_value}"

    @property
    def sentence(self) -> str:
        """ "12 invoices wait for a Deltek vendor for Coupa supplier V-00217 (Acme)"."""
        noun = "invoice waits" if self.count == 1 else "invoices wait"
        what = self.subject
        if self.label.startswith("mapping."):
            what = f"the connection's {self.label} ({self.coupa_value})"
        wants = _WANTS.get(self.kind, self.kind)
        return f"{self.count} {noun} for {wants} for {what}"


@dataclass(frozen=True)
class ReasonGroup:
    connection: str
    reason: str
    count: int
    record_keys: list[str]
    invoice_numbers: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[tuple[str, str]]:
        return _numbered(self.record_keys, self.invoice_numbers)


def _numbered(record_keys: list[str], invoice_numbers: list[str]) -> list[tuple[str, str]]:
    """Each record key with its invoice number ("" where the numbers were not read)."""
    return list(zip(record_keys, invoice_numbers or [""] * len(record_keys), strict=True))


async def waiting_groups(conn: Connection) -> list[Group]:
    rows = await conn.fetch(
        f"""WITH {_PARKED}
            SELECT connection, w->>'kind' AS kind, w->>'coupa_value' AS coupa_value,
                   coalesce(max(w->>'label'), '') AS label, count(*) AS n,
                   min(updated_at) AS since,
                   array_agg(record_key ORDER BY updated_at, record_key) AS keys,
                   array_agg(invoice_number ORDER BY updated_at, record_key) AS numbers
              FROM parked, jsonb_array_elements(coalesce(waiting_for, '[]')) AS w
             GROUP BY 1, 2, 3
             ORDER BY n DESC, since, connection, kind, coupa_value"""  # noqa: S608 - only constant SQL is put in
    )
    return [
        Group(
            r["connection"],
            r["kind"],
            r["coupa_value"],
            r["label"],
            r["n"],
            r["since"],
            list(r["keys"]),
            list(r["numbers"]),
        )
        for r in rows
    ]


async def subject_of(conn: Connection, connection: str, kind: str, coupa_value: str) -> str:
    """How the exceptions page named the group a fix was for (its Coupa value if none waits)."""
    for group in await waiting_groups(conn):
        if (group.connection, group.kind, group.coupa_value) == (connection, kind, coupa_value):
            return group.subject
    return f"Coupa {MAP_KIND_FOR.get(kind, kind)} {coupa_value}"


async def reason_groups(conn: Connection) -> list[ReasonGroup]:
    """Parked records no map can fix, and flagged ones nobody acknowledged, by reason."""
    rows = await conn.fetch(
        f"""WITH {_PARKED}, {_FLAGGED},
            waiting AS (
                SELECT connection, coalesce(parked_reason, '') AS reason, record_key, updated_at,
                       invoice_number
                  FROM parked WHERE jsonb_array_length(coalesce(waiting_for, '[]')) = 0
                UNION ALL
                SELECT connection, 'Flagged: ' || reason, record_key, updated_at, invoice_number
                  FROM flagged)
            SELECT connection, reason, count(*) AS n,
                   array_agg(record_key ORDER BY updated_at, record_key) AS keys,
                   array_agg(invoice_number ORDER BY updated_at, record_key) AS numbers
              FROM waiting
             GROUP BY 1, 2 ORDER BY n DESC, connection, reason"""  # noqa: S608 - only constant SQL is put in
    )
    return [
        ReasonGroup(r["connection"], r["reason"], r["n"], list(r["keys"]), list(r["numbers"]))
        for r in rows
    ]


@dataclass(frozen=True)
class Choice:
    """One Deltek value a map may point at, with words to recognise it by."""

    value: str
    words: str


async def choices(conn: Connection, connection: str, map_kind: str) -> list[Choice]:
    """What a map of ``map_kind`` may point at: the usable rows of the reference cache.

    The same view the mapper resolves against (``load_reference``), so what is offered here is
    what resolves: active vendors with a vendor number, active accounts, active projects.
    """
    ref = await load_reference(conn, connection)
    if map_kind == "supplier":
        found = [
            Choice(v.vendor, v.name)
            for v in ref.vendors_by_client.values()
            if v.active and v.vendor
        ]
    elif map_kind == "account":
        found = [Choice(a.account, a.name) for a in ref.accounts.values() if a.status == "A"]
    else:
        found = [
            Choice(p.wbs1, p.name)
            for key, p in ref.projects.items()
            if key[1:] == ("", "") and p.status == "A"
        ]
    return sorted(found, key=lambda c: c.value)

"""Explicit maps as CSV: the one format ``connector mappings import|export`` and the console share.

A file is the header ``coupa_value,deltek_value`` and one map per line. It is checked whole
before anything is written (values trimmed, none empty, no Coupa value twice), and every problem
is reported with its line number, so an import is all or nothing. What export writes, import
takes back unchanged.
"""

from __future__ import annotations

import csv
import io

from shared.reference.view import Reference

# The kinds as a person names them (CLI ``--kind``, console) -> the kind a map row holds.
KINDS = {"suppliers": "supplier", "accounts": "account", "projects": "project"}
HEADER = ("coupa_value", "deltek_value")


class MappingFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_csv(text: str) -> list[tuple[str, str]]:
    """The rows of a maps file, or every problem in it (``MappingFileError``)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise MappingFileError([f"line 1: the header must be {','.join(HEADER)}"])
    problems: list[str] = []
    rows: list[tuple[str, str]] = []
    first_seen: dict[str, int] = {}
    for fields in reader:
        number = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != 2:
            problems.append(f"line {number}: expected 2 values, found {len(fields)}")
            continue
        coupa, deltek = (f.strip() for f in fields)
        missing = [name for name, value in zip(HEADER, (coupa, deltek), strict=True) if not value]
        if missing:
            problems.append(f"line {number}: {' and '.join(missing)} is empty")
            continue
        if coupa in first_seen:
            problems.append(f"line {number}: {coupa} is already mapped on line {first_seen[coupa]}")
            continue
        first_seen[coupa] = number
        rows.append((coupa, deltek))
    if problems:
        raise MappingFileError(problems)
    return rows


def to_csv(rows: list[tuple[str, str]]) -> str:
    """``rows`` as a maps file that :func:`parse_csv` reads back to the same rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def is_known(ref: Reference, kind: str, deltek: str) -> bool:
    """Whether ``deltek`` is in the reference cache for a map of ``kind``.

    An unknown value is still imported (with a warning): the cache may be older than the map.
    """
    if kind == "supplier":
        return deltek in ref.vendors_by_number or deltek in ref.vendors_by_client
    if kind == "account":
        return deltek in ref.accounts
    return (deltek, "", "") in ref.projects

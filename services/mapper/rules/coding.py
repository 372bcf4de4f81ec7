"""Where a Coupa account books in Deltek: its segments to a GL account and WBS1/WBS2/WBS3.

Which segment is which comes from the connection's ``mapping`` settings. An explicit account map
keys on the full Coupa account code (most specific) or the GL segment value; a project map keys
on the project segment value and gives WBS1. Without a map the segment value is taken as the
Deltek value itself. Every result is checked against the reference cache: the GL account exists
and is active; the project, phase and task exist, are active ("A") and take charges (charge type
R, or H for overhead projects; P promotional projects are refused). A project with phases needs
the phase, a phase with tasks the task; a phase or task segment on a project without sub-levels
is ignored, since Deltek refuses a WBS2 the project does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.mapper.rules.outcome import Problem
from shared.connection_settings import MappingSettings
from shared.coupa.models import Account
from shared.reference.view import CachedProject, Reference

CHARGEABLE = frozenset({"R", "H"})
_STATUS_WORDS = {"D": "dormant", "I": "inactive (closed)"}
_NO_WBS: tuple[None, None, None] = (None, None, None)


@dataclass(frozen=True)
class Coding:
    account: str
    wbs1: str | None = None
    wbs2: str | None = None
    wbs3: str | None = None


def segment(account: Account, number: int | None) -> str | None:
    return account.segment(number) if number is not None else None


def resolve_coding(
    account: Account, settings: MappingSettings, ref: Reference
) -> Coding | list[Problem]:
    """The Deltek coding of one Coupa account, or every problem with it."""
    code = str(account.code or account.name or account.id or "?")
    problems: list[Problem] = []
    gl = _gl_account(account, code, settings, ref, problems)
    wbs = _wbs(account, code, settings, ref, problems)
    if problems or gl is None:
        return problems
    return Coding(gl, *wbs)


def _gl_account(
    account: Account,
    code: str,
    settings: MappingSettings,
    ref: Reference,
    problems: list[Problem],
) -> str | None:
    value = segment(account, settings.gl_account_segment)
    wait = {"kind": "account", "coupa_value": value or code, "label": f"Coupa account {code}"}
    explicit = ref.mapped("account", code, value)
    target = explicit or value
    if target is None:
        problems.append(
            Problem(
                f"Coupa account {code} has no GL segment (segment-{settings.gl_account_segment})",
                wait,
            )
        )
        return None
    found = ref.accounts.get(target)
    if found is None:
        if explicit is not None:
            reason = (
                f"Coupa account {code} is mapped to Deltek GL account {explicit}, which is not "
                "in the Deltek chart of accounts"
            )
        else:
            reason = f"Coupa GL segment {value} (account {code}) has no Deltek GL account"
        problems.append(Problem(reason, wait))
        return None
    if found.status != "A":
        problems.append(
            Problem(
                f"Deltek GL account {found.account} ({found.name}) for Coupa account {code} "
                "is inactive",
                wait,
            )
        )
        return None
    return found.account


def _wbs(
    account: Account,
    code: str,
    settings: MappingSettings,
    ref: Reference,
    problems: list[Problem],
) -> tuple[str | None, str | None, str | None]:
    value = segment(account, settings.project_segment)
    if value is None:
        return _NO_WBS  # a GL-only (overhead) line
    wait = {"kind": "project", "coupa_value": value, "label": f"Coupa project code {value}"}
    explicit = ref.mapped("project", value)
    wbs1 = explicit or value
    project = ref.projects.get((wbs1, "", ""))
    if project is None:
        reason = (
            f"Coupa project code {value} is mapped to Deltek project {wbs1}, which Deltek does "
            "not have"
            if explicit
            else f"Coupa project code {value} has no Deltek project"
        )
        problems.append(Problem(reason, wait))
        return _NO_WBS
    levels: list[str] = []
    row = project
    for sub, word, number in (
        (segment(account, settings.phase_segment), "phase", settings.phase_segment),
        (segment(account, settings.task_segment), "task", settings.task_segment),
    ):
        if not _chargeable(row, problems, wait):
            return _NO_WBS
        if not row.sub_level:
            return wbs1, *_pad(levels)  # a deeper segment on a row without sub-levels is ignored
        if sub is None:
            source = f"Coupa account {code} names none" + (f" (segment-{number})" if number else "")
            problems.append(Problem(f"{_describe(row)} has {word}s in Deltek; {source}", wait))
            return _NO_WBS
        key = (wbs1, sub, "") if not levels else (wbs1, levels[0], sub)
        child = ref.projects.get(key)
        if child is None:
            problems.append(Problem(f"{_describe(row)} has no {word} {sub} in Deltek", wait))
            return _NO_WBS
        levels.append(sub)
        row = child
    if not _chargeable(row, problems, wait):
        return _NO_WBS
    return wbs1, *_pad(levels)


def _pad(levels: list[str]) -> tuple[str | None, str | None]:
    padded: list[str | None] = [*levels, None, None]
    return padded[0], padded[1]


def _describe(row: CachedProject) -> str:
    parts = [part for part in (row.wbs1, row.wbs2.strip(), row.wbs3.strip()) if part]
    word = ("project", "phase", "task")[len(parts) - 1]
    return f"Deltek {word} {'/'.join(parts)} ({row.name})"


def _chargeable(row: CachedProject, problems: list[Problem], wait: dict[str, str]) -> bool:
    if row.status != "A":
        word = _STATUS_WORDS.get(row.status, f"not active (status {row.status})")
        problems.append(Problem(f"{_describe(row)} is {word}", wait))
        return False
    if (row.charge_type or "R") not in CHARGEABLE:
        kind = "promotional" if row.charge_type == "P" else f"charge type {row.charge_type}"
        problems.append(
            Problem(f"{_describe(row)} is {kind} and does not take vendor invoice costs", wait)
        )
        return False
    return True


def named_account(account: str, setting: str, ref: Reference) -> Coding | Problem:
    """A GL account the connection names for charges or tax, checked like any other."""
    wait = {"kind": "account", "coupa_value": account, "label": f"mapping.{setting}"}
    found = ref.accounts.get(account)
    if found is None:
        return Problem(
            f"The connection's {setting} {account} is not in the Deltek chart of accounts", wait
        )
    if found.status != "A":
        return Problem(
            f"The connection's {setting} {account} ({found.name}) is inactive in Deltek", wait
        )
    return Coding(found.account)

"""The chaos run's schedule and report with several posters: every poster can be hit, one is the
mid-run victim, and the report tells which faults hit which poster."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

from devstack.chaos_faults import Fault, FaultSchedule
from devstack.chaos_report import ChaosReport
from devstack.checker import Verdict
from devstack.supervisor import Child, Stack
from shared.secrets import generate_key
from shared.settings import Settings


def _stack(tmp_path: Path, services: list[str]) -> Stack:
    settings = Settings(state_dir=str(tmp_path), master_key=SecretStr(generate_key()))
    stack = Stack(argparse.Namespace(), settings, sims=True)
    stack.children = [
        Child(name, kind, 0, [], {}, tmp_path / f"{name}.log", "/healthz")
        for name, kind in [("coupa-sim", "simulator"), *((name, "service") for name in services)]
    ]
    return stack


async def test_the_random_kill_can_hit_every_poster_and_the_last_one_is_killed_mid_run(tmp_path):
    stack = _stack(tmp_path, ["ingest", "mapper", "poster", "poster-2", "poster-3"])
    schedule = FaultSchedule(stack, random.Random(5), every=2)
    # Children without a process: the kill only names its target.
    hit = {(await schedule._kill_service()).target for _ in range(200)}
    assert hit == {"ingest", "mapper", "poster", "poster-2", "poster-3"}
    assert [child.name for child in stack.posters()] == ["poster", "poster-2", "poster-3"]
    assert schedule.victim is not None
    assert schedule.victim.name == "poster-3"


def test_one_poster_has_no_mid_run_victim(tmp_path):
    stack = _stack(tmp_path, ["ingest", "mapper", "poster"])
    assert FaultSchedule(stack, random.Random(5), every=2).victim is None


def test_the_report_says_which_faults_hit_which_poster():
    faults = Counter(
        {
            Fault("SIGKILL", "poster"): 3,
            Fault("SIGKILL", "poster-2"): 1,
            Fault("SIGKILL", "poster-2", "mid-run, holding 2 ledger lease(s)"): 1,
            Fault("SIGKILL", "postgres", "restarted by the supervisor"): 4,
            Fault("deltek 5xx"): 2,
        }
    )
    verdict = Verdict(approved=10, posted=10, duplicates=0, parked=0, failed=0, problems=[])
    report = ChaosReport(
        verdict, Counter(posted=10), [], [], Counter(), faults, ["poster", "poster-2", "poster-3"]
    )
    lines = report.table().splitlines()
    assert "      4  SIGKILL postgres (restarted by the supervisor)" in lines
    assert "      1  SIGKILL poster-2 (mid-run, holding 2 ledger lease(s))" in lines
    assert "      2  deltek 5xx" in lines
    start = lines.index("posters: 3 in one consumer group")
    assert lines[start + 1 : start + 4] == [
        "  poster     3x SIGKILL",
        "  poster-2   1x SIGKILL, 1x SIGKILL (mid-run, holding 2 ledger lease(s))",
        "  poster-3   no fault hit it",
    ]

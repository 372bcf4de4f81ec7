"""``./run bench``: how fast and how cheaply the pipeline books invoices, as medians of runs.

On one throwaway stack (started with as many posters as asked for) and a simulator pair of the
naive script's own: the naive script's runs first, then for each poster count, most first (the
extra posters are stopped as the count goes down), a warm-up and the pipeline's runs; Call Out
answer times last, since their pushes leave a backlog behind. The tables print at the end, the
JSON goes to ``--json``. ``--quick`` shrinks every size for a try in a couple of minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import callouts
from bench.baseline import naive_runs
from bench.figures import PipelineRun, Window, summarise
from bench.pipeline import Pipeline, keep_posters
from bench.report import show
from bench.sims import Sims, sim_pair
from bench.stats import percentile
from devstack.supervisor import Stack
from devstack.throwaway import throwaway_stack

# Each size: (full, --quick).
SIZES: dict[str, tuple[Any, Any]] = {
    "invoices": (200, 20),
    "runs": (3, 1),
    "posters": ("1,2,4", "1,2"),
    "trickle_seconds": (30.0, 10.0),
    "callouts": (1000, 200),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sizes = parser.add_argument_group("sizes (full / --quick)")
    sizes.add_argument("--invoices", type=int, help="invoices per burst (200 / 20)")
    sizes.add_argument("--runs", type=int, help="runs of each measurement (3 / 1)")
    sizes.add_argument("--posters", help="poster counts, comma-separated (1,2,4 / 1,2)")
    sizes.add_argument("--trickle-seconds", type=float, help="length of the trickle (30 / 10)")
    sizes.add_argument(
        "--callouts", type=int, help="pushes per Call Out run, 0 for none (1000 / 200)"
    )
    parser.add_argument("--quick", action="store_true", help="the small sizes")
    parser.add_argument("--trickle-rate", type=float, default=2.0, help="approvals per second")
    parser.add_argument("--rate", type=float, default=50.0, help="paced Call Outs per second")
    parser.add_argument("--concurrency", type=int, default=20, help="flat-out Call Out senders")
    parser.add_argument(
        "--poll-interval", type=float, default=15.0, help="the connection's Coupa poll, seconds"
    )
    parser.add_argument("--json", type=Path, help="also write the figures and every run here")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder and logs")
    args = parser.parse_args()
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.posters = sorted({int(n) for n in str(args.posters).split(",")})
    if args.runs < 1 or args.invoices < 1 or not args.posters or min(args.posters) < 1:
        parser.error("--runs, --invoices and every poster count must be at least 1")
    return args


async def _pipeline_runs(stack: Stack, args: argparse.Namespace, posters: int) -> list[PipelineRun]:
    runs = []
    async with aiohttp.ClientSession() as http:
        pipeline = Pipeline(stack, http)
        await pipeline.warm_up()
        for run in range(args.runs):
            seed = 1000 * posters + 10 * run
            result = await pipeline.run(
                args.invoices, args.trickle_rate, args.trickle_seconds, seed
            )
            runs.append(result)
            burst, unslowed = result.burst, result.unslowed
            print(
                f"{posters} poster(s), run {run + 1}/{args.runs}: burst {burst.throughput:.2f}/s, "
                f"trickle p50 {percentile(result.trickle, 0.5):.2f} s "
                f"p99 {percentile(result.trickle, 0.99):.2f} s, "
                f"latency off {unslowed.throughput:.2f}/s",
                flush=True,
            )
    return runs


async def _callouts(stack: Stack, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    async with aiohttp.ClientSession() as http:
        await Sims.of(stack).latency(http, real=False)
    first_ids = count(10_000_000, args.callouts)
    paced = [
        await callouts.paced(stack, args.callouts, args.rate, next(first_ids))
        for _ in range(args.runs)
    ]
    flat = [
        await callouts.flat_out(stack, args.callouts, args.concurrency, next(first_ids))
        for _ in range(args.runs)
    ]
    return {
        f"{args.rate:g}/s paced": callouts.figures(paced),
        f"{args.concurrency} senders flat out": callouts.figures(flat),
    }


def main() -> None:
    args = _arguments()
    started = datetime.now(UTC)
    naive: list[Window] = []
    pipeline: dict[int, list[PipelineRun]] = {}
    pushed: dict[str, dict[str, float]] = {}
    stack_args = argparse.Namespace(posters=max(args.posters), keep=args.keep)
    with throwaway_stack(
        stack_args, label="bench", poll_interval_seconds=args.poll_interval
    ) as stack:
        with sim_pair(stack.logs) as pair:
            naive = asyncio.run(naive_runs(stack, pair, args.invoices, args.runs))
        for posters in sorted(args.posters, reverse=True):
            keep_posters(stack, posters)
            pipeline[posters] = asyncio.run(_pipeline_runs(stack, args, posters))
        if args.callouts:
            pushed = asyncio.run(_callouts(stack, args))
    document = {
        "command": shlex.join(["./run", "bench", *sys.argv[1:]]),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "settings": {
            name: getattr(args, name)
            for name in (*SIZES, "trickle_rate", "rate", "concurrency", "poll_interval")
        },
        "medians": summarise(naive, pipeline),
        "callouts": pushed,
        "runs": {
            "naive": [asdict(window) for window in naive],
            "posters": {str(n): [asdict(run) for run in runs] for n, runs in pipeline.items()},
        },
    }
    show(document)
    if args.json:
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        print(f"figures written to {args.json}", flush=True)


main()

"""``./run bench``: the benchmarks, each repeated and reported as medians (machines are noisy)."""

from __future__ import annotations

import argparse
import asyncio
from itertools import count

from bench import callouts, pipeline
from devstack.throwaway import throwaway_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--callouts", type=int, default=1000, help="pushes per callout run")
    parser.add_argument("--rate", type=float, default=50.0, help="paced pushes per second")
    parser.add_argument("--concurrency", type=int, default=20, help="flat-out senders")
    parser.add_argument("--invoices", type=int, default=200, help="invoices per pipeline run")
    args = parser.parse_args()
    first_ids = count(10_000_000, args.callouts)
    with throwaway_stack(label="bench") as stack:
        # The pipeline first: the callout runs leave a backlog the pipeline would wait behind.
        print(pipeline.measure(stack, args.invoices, args.runs), flush=True)
        runs = [
            asyncio.run(callouts.paced(stack, args.callouts, args.rate, next(first_ids)))
            for _ in range(args.runs)
        ]
        print(callouts.report(f"{args.rate:.0f}/s paced", runs), flush=True)
        runs = [
            asyncio.run(callouts.flat_out(stack, args.callouts, args.concurrency, next(first_ids)))
            for _ in range(args.runs)
        ]
        print(callouts.report(f"{args.concurrency} senders flat out", runs), flush=True)


main()

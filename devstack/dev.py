"""``connector dev``: the whole stack on the embedded default, up until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from devstack import supervisor as local
from devstack.flow import FlowWatch
from devstack.sim_setup import prepare_sim_connection
from shared.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    local.add_arguments(parser)
    parser.add_argument(
        "--no-sims", action="store_true", help="do not start the Coupa and Deltek simulators"
    )
    parser.add_argument(
        "--trickle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="approve a new invoice in the Coupa simulator this often (0: never)",
    )


def run(args: argparse.Namespace) -> int:
    stack = local.Stack(args, Settings(), sims=not args.no_sims)
    stack.install_signal_handlers()
    try:
        stack.start()
        if stack.sims:
            prepare_sim_connection(stack)
        print("connector dev is up:\n" + stack.summary() + "\nCtrl-C stops everything.", flush=True)
        assert stack.endpoints is not None
        coupa = stack.child("coupa-sim").url if stack.sims else None
        stack.supervise(FlowWatch(stack.endpoints.database_url, coupa, args.trickle))
    except local.StackAlreadyRunningError as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"dev: could not start: {exc}", file=sys.stderr)
        return 1
    except local.StopRequested as reason:
        print(f"dev: {reason}, stopping", flush=True)
    finally:
        stack.shutdown()
        print("dev: stopped", flush=True)
    return 0

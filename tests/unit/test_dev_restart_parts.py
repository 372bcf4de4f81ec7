"""The parts of ``connector dev`` that make a second run, or a failed one, make sense: the
Coupa simulator's ids above the earlier run's, the flags' help, a child's last words."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from devstack import dev, ports
from devstack.supervisor import Stack, last_line
from shared.endpoints import Endpoints
from shared.settings import Settings
from simulators.coupa import cli as coupa_cli
from simulators.coupa.options import CoupaSimOptions
from simulators.coupa.store import CoupaStore


def test_ids_made_after_seeding_go_above_the_floor_and_the_seeded_ones_stay():
    plain = CoupaStore(CoupaSimOptions())
    floored = CoupaStore(CoupaSimOptions(ids_above=90_000))
    # The same seeded data: an earlier run's records of it still describe it.
    assert floored.collections == plain.collections
    supplier = floored.create_supplier({"name": "Northwind Survey"})
    invoice = floored.create_invoice(supplier["id"], None, "pending_approval")
    order = floored.create_purchase_order()
    assert min(supplier["id"], invoice["id"], order["id"]) > 90_000
    assert plain.create_invoice(None, None, "pending_approval")["id"] < 90_000


def test_the_stack_starts_the_coupa_simulator_above_the_highest_id_it_found(tmp_path: Path):
    args = argparse.Namespace(
        **{dest: 20000 + n for n, dest in enumerate(ports.PORT_FLAGS.values())}
    )
    stack = Stack(args, Settings(state_dir=str(tmp_path)), sims=True)
    stack.endpoints = Endpoints("postgresql://127.0.0.1:1/x", "127.0.0.1:2")
    stack.coupa_ids_above = 48414
    coupa = next(child for child in stack._children() if child.name == "coupa-sim")
    parser = argparse.ArgumentParser()
    coupa_cli.add_arguments(parser)
    sim_args = parser.parse_args(coupa.argv[coupa.argv.index("coupa") + 1 :])
    assert coupa_cli.options_from_args(sim_args).ids_above == 48414


def test_dev_help_says_what_starts_and_every_port_with_its_default():
    parser = argparse.ArgumentParser(prog="connector dev")
    dev.add_arguments(parser)
    text = " ".join(parser.format_help().split())  # as wrapped for any terminal width
    assert "the console (http://127.0.0.1:8080)" in text
    assert "--console-port PORT" in text
    assert text.count("(default:") == len(ports.PORT_FLAGS) + 2  # with console and trickle


def test_a_bound_port_is_not_free_and_is_named_with_its_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not ports.port_is_free(port)
        args = argparse.Namespace(console_port=port)
        with pytest.raises(ports.PortInUseError, match=f"port {port} .console. is in use; choose"):
            ports.ensure_free(args, {"console": "console_port"})
    assert ports.port_is_free(port)


def test_a_childs_last_line_is_its_reason(tmp_path: Path):
    log = tmp_path / "console.log"
    log.write_text('{"level": "INFO"}\nconnector console: port 8080 is in use\n\n')
    assert last_line(log) == "connector console: port 8080 is in use"
    log.write_text("")
    assert last_line(log) == "it wrote nothing"
    assert last_line(tmp_path / "missing.log") == "it wrote nothing"


def test_throwaway_stacks_ports_default_to_a_free_one():
    parser = argparse.ArgumentParser(prog="connector demo")
    ports.add_arguments(parser, free_ports=True)
    assert all(value is None for value in vars(parser.parse_args([])).values())
    text = " ".join(parser.format_help().split())
    assert "None" not in text
    assert text.count("(default: a free one)") == len(ports.PORT_FLAGS)

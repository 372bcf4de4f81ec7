"""Simulator secrets reach the simulators through their environment, never their command line,
which every user of the machine can read (``ps``)."""

from __future__ import annotations

import argparse

from devstack.supervisor import Stack
from shared.endpoints import Endpoints
from shared.settings import Settings
from simulators.coupa import cli as coupa_cli
from simulators.deltek import cli as deltek_cli


def parse(module: object, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(argv)


def test_the_dev_stack_gives_the_callout_secret_to_the_coupa_simulator_in_its_environment(
    tmp_path,
):
    ports = ("ingest", "mapper", "poster", "coupa_sim", "deltek_sim")
    args = argparse.Namespace(**{f"{name}_port": 20000 + n for n, name in enumerate(ports)})
    stack = Stack(args, Settings(state_dir=str(tmp_path)), sims=True)
    stack.endpoints = Endpoints("postgresql://127.0.0.1:1/x", "127.0.0.1:2")
    children = {child.name: child for child in stack._children()}
    assert len(stack.callout_secret) >= 32
    for child in children.values():
        assert not any(stack.callout_secret in arg for arg in child.argv), child.name
    coupa = children["coupa-sim"]
    assert coupa.env[coupa_cli.COUPA_SIM_CALLOUT_SECRET] == stack.callout_secret
    assert coupa_cli.COUPA_SIM_CALLOUT_SECRET not in children["deltek-sim"].env


def test_the_simulators_read_their_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("COUPA_SIM_CALLOUT_SECRET", "env-callout-secret")
    monkeypatch.setenv("COUPA_SIM_CLIENT_SECRET", "env-client-secret")
    monkeypatch.setenv("DELTEK_SIM_PASSWORD", "env-password")
    coupa = coupa_cli.options_from_args(parse(coupa_cli, ["--client-id", "cid"]))
    assert coupa.callout.secret == "env-callout-secret"
    assert coupa.client_secret == "env-client-secret"
    deltek = deltek_cli.build_options(parse(deltek_cli, ["--strict"]))
    assert deltek.credentials.password == "env-password"
    assert deltek.credentials.client_secret == "sim-secret"  # the published default stays
    flagged = coupa_cli.options_from_args(parse(coupa_cli, ["--callout-secret", "by-hand"]))
    assert flagged.callout.secret == "by-hand"

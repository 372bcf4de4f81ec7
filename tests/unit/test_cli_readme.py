"""The README's commands are the parser's: the Commands section lists every subcommand
``connector`` offers and no other, every command named anywhere exists, and commands are named
one way (``connector <command>``; ``./run`` only in the Quickstart and for its own test/bench)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from services.cli.main import build_parser

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
RUN_OWN = {"test", "bench"}


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = _subcommands(parser)
    return dict(sub.choices) if sub else {}


COMMANDS = {name: set(_choices(sub)) for name, sub in _choices(build_parser()).items()}


def _offered() -> set[str]:
    """Each command with each of its actions, and alone where it runs without one."""
    offered = set()
    for name, parser in _choices(build_parser()).items():
        sub = _subcommands(parser)
        offered |= {f"{name} {action}" for action in COMMANDS[name]}
        if sub is None or not sub.required:
            offered.add(name)
    return offered


def _named(text: str) -> list[list[str]]:
    """The words after ``connector`` in each code span, up to the first argument or flag."""
    named = []
    for span in re.findall(r"`connector ([^`]*)`", text):
        words = []
        for token in span.split():
            if not re.fullmatch(r"[a-z][a-z-]*", token):
                break
            words.append(token)
        named.append(words)
    return named


def test_the_commands_section_lists_exactly_what_the_parser_offers():
    listed = set()
    table = "\n".join(line for line in _section("Commands").splitlines() if line.startswith("|"))
    for words in filter(None, _named(table)):
        listed.add(" ".join(words[:2] if COMMANDS.get(words[0]) else words[:1]))
    assert listed == _offered()


def test_every_command_the_readme_names_exists():
    for words in filter(None, _named(README)):
        assert words[0] in COMMANDS, f"`connector {' '.join(words)}` names no command"
        actions = COMMANDS[words[0]]
        if actions and len(words) > 1:
            assert words[1] in actions, f"`connector {' '.join(words)}` names no action"


def test_commands_are_named_as_installed_outside_the_quickstart():
    quickstart = _section("Quickstart")
    rest = README.replace(quickstart, "")
    through_run = set(re.findall(r"\./run ([a-z][a-z-]*)", rest))
    assert through_run <= RUN_OWN, f"name these as `connector ...`: {through_run - RUN_OWN}"

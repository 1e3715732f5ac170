"""Every command's --help ends with an example that parses; options go where people type them."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

from router.cli import build_parser, commands
from router.cli.examples import EXAMPLES

COMMANDS = [" ".join(path) for path, _ in commands(build_parser())]


def examples_of(parser: argparse.ArgumentParser) -> list[str]:
    """The example lines at the end of a command's --help."""
    epilog = parser.epilog or ""
    if not epilog.startswith("example"):
        return []
    return [line.strip() for line in epilog.splitlines()[1:] if line.strip()]


def test_every_command_has_an_example_and_no_example_is_stale() -> None:
    parsers = dict(commands(build_parser()))
    assert [c for c in COMMANDS if not examples_of(parsers[tuple(c.split())])] == []
    assert sorted(set(EXAMPLES) - set(COMMANDS)) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_each_example_parses_and_runs_its_command(command: str) -> None:
    for example in examples_of(dict(commands(build_parser()))[tuple(command.split())]):
        if example.startswith("eval "):  # the completion line, as a shell runs it
            example = shlex.split(example)[1].removeprefix("$(").removesuffix(")")
        words = shlex.split(example)
        assert words[0] == "hotline-router"
        root = build_parser()
        args = root.parse_args(words[1:])
        parser = dict(commands(root))[tuple(command.split())]
        assert args.handler == parser.get_default("handler"), example
        assert example in parser.format_help()


def test_database_url_goes_before_or_after_the_command() -> None:
    parser = build_parser()
    after = parser.parse_args(["hotline", "list", "--database-url", "postgresql://a@b/c"])
    before = parser.parse_args(["--database-url", "postgresql://a@b/c", "hotline", "list"])
    neither = parser.parse_args(["hotline", "list"])
    assert after.database_url == before.database_url == "postgresql://a@b/c"
    assert neither.database_url is None


def test_every_billing_command_names_its_hotline_the_same_way() -> None:
    for path, parser in commands(build_parser()):
        if path[0] != "billing" or path == ("billing", "rate"):
            continue
        options = {o for action in parser._actions for o in action.option_strings}
        assert {"--hotline", "--json"} <= options, path


def test_tab_completion_answers_from_the_parser() -> None:
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("r") as out:
        env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "hotline-router billing st",
               "COMP_POINT": "25", "_ARGCOMPLETE_STDOUT_FILENAME": out.name}
        done = subprocess.run([sys.executable, "-m", "router"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert out.read().split("\x0b") == ["statement "]
    code = subprocess.run([sys.executable, "-m", "router", "completion", "bash"],
                          capture_output=True, text=True, timeout=60)
    assert "hotline-router" in code.stdout
    assert "complete" in code.stdout

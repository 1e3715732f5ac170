"""The docs stay honest: their commands parse, their settings table is complete, and
the strategy they show is the plug-in the tests install and route a call with."""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest

from router.cli import build_parser
from router.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
GUIDES = ("operations", "admin", "schema", "billing", "strategies", "development")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(path: Path, languages: tuple[str, ...] = ("", "sh", "console")) -> list[str]:
    return [m[2] for m in _FENCE.finditer(path.read_text()) if m[1] in languages]


def command_lines(text: str) -> list[str]:
    """`hotline-router …` lines of a code block: continuations joined, comments and a
    leading `$ ` or VAR=value assignments dropped."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip().removeprefix("$ ")
        words = line.split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # ARI_PASSWORD=… hotline-router …
        if words and words[0] == "hotline-router":
            found.append(" ".join(words))
    return found


_SHELL_TOOLS = ("head", "tail", "grep", "less", "jq", "sort", "wc")
DOCUMENTED = [(path.name, line) for path in DOCS for block in code_blocks(path)
              for line in command_lines(block)]


def test_there_are_documented_commands_in_every_guide() -> None:
    assert {name for name, _ in DOCUMENTED} >= {"README.md", "admin.md", "billing.md",
                                                "operations.md"}
    assert len(DOCUMENTED) > 80


@pytest.mark.parametrize(("doc", "line"), DOCUMENTED)
def test_every_documented_command_parses_with_the_real_parser(doc: str, line: str) -> None:
    words = shlex.split(line, comments=True)
    if "|" in words and words[words.index("|") + 1] in _SHELL_TOOLS:
        words = words[:words.index("|")]  # `hotline-router calls | head`
    if ">" in words:
        words = words[:words.index(">")]  # `… > 2026-10.csv`
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as exc:
        raise AssertionError(f"{doc}: {line!r} does not parse") from exc


def test_the_settings_table_lists_every_setting() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    table = [row for row in text.splitlines() if row.startswith("| `")]
    documented = {m[1] for row in table if (m := re.match(r"\| `([a-z_]+)` \|", row))}
    assert documented >= {f.name for f in fields(Settings)}, (
        {f.name for f in fields(Settings)} - documented)
    for name in (f.name for f in fields(Settings)):
        row = next(r for r in table if r.startswith(f"| `{name}` |"))
        assert f"`{name.upper()}`" in row, row  # its environment variable


def test_the_strategy_example_is_the_tested_plug_in() -> None:
    plugin = REPO / "tests" / "plugins" / "hotline_reverse"
    guide = REPO / "docs" / "strategies.md"
    assert (plugin / "hotline_reverse.py").read_text().strip() in [
        block.removeprefix("# hotline_reverse.py\n").strip()
        for block in code_blocks(guide, ("python",))]
    toml = [block for block in code_blocks(guide, ("toml",)) if "entry-points" in block]
    assert toml
    assert all(line in (plugin / "pyproject.toml").read_text()
               for line in toml[0].splitlines() if line and not line.startswith("#"))


def test_the_readme_is_a_front_door_and_its_guides_exist() -> None:
    readme = (REPO / "README.md").read_text()
    assert 100 <= len(readme.splitlines()) <= 150
    for guide in GUIDES:
        assert (REPO / "docs" / f"{guide}.md").is_file()
        assert f"(docs/{guide}.md)" in readme
    assert "make demo" in readme
    assert "make test" in readme


def test_documented_links_between_guides_resolve() -> None:
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{path.name}: {target}"


def test_the_parser_walk_finds_every_command() -> None:
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"run", "migrate", "billing", "plan", "completion"} <= set(actions[0].choices)


_CREDIT_WORDS = ("refund", "goodwill", "credit", "compensat", "退款", "补偿")


def test_an_adjustment_that_gives_money_back_is_positive() -> None:
    """`billing adjust --fen N`: N is what it does to the balance (router/billing/ledger.py:
    a charge negative), so a refund in the docs or the --help examples must be positive."""
    from router.cli.examples import EXAMPLES
    lines = [line for _, line in DOCUMENTED if line.startswith("hotline-router billing adjust")]
    lines += list(EXAMPLES["billing adjust"])
    assert len(lines) >= 3
    for line in lines:
        args = build_parser().parse_args(shlex.split(line, comments=True)[1:])
        gives_back = any(word in args.note.lower() for word in _CREDIT_WORDS)
        assert (args.fen > 0) == gives_back, line


def test_the_schema_guide_lists_every_table() -> None:
    created = {m[1] for path in sorted((REPO / "migrations").glob("[0-9]*.sql"))
               for m in re.finditer(r"(?im)^CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)",
                                    path.read_text())}
    schema = (REPO / "docs" / "schema.md").read_text()
    assert len(created) > 20
    assert sorted(t for t in created if f"`{t}`" not in schema) == []
    for words in ("row-level security", "hotline_router_customer", "api_tokens"):
        assert words in schema.lower(), words

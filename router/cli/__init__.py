# PYTHON_ARGCOMPLETE_OK
"""`hotline-router …`: one module per topic registers its subcommands here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence

import argcomplete

from router import __version__, logs, runner
from router.callers import printable
from router.cli import (
    billing,
    bindings,
    calendar,
    caller_lists,
    calls,
    completion,
    config,
    daemon,
    errors,
    groups,
    history,
    hotlines,
    local_contexts,
    menus,
    notifications,
    numbers,
    phones,
    plans,
    queue,
    recordings,
    rules,
    schedules,
    stats,
    strategies,
    tokens,
    web,
)
from router.cli.examples import EXAMPLES

# Each topic is a module with ``register(sub)`` adding its subcommands; a new
# topic (groups, plans, …) is a new module listed here. Configuration tables
# get list/show/update/enable/disable/delete from router/cli/crud.py by
# describing the table (see router/cli/hotlines.py for the pattern).
TOPICS = (daemon, config, completion, hotlines, phones, bindings, strategies, calls, billing,
          numbers, groups, caller_lists, schedules, calendar, menus, rules, plans, stats, queue,
          web, tokens, local_contexts, notifications, recordings, history)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline-router",
        description="Routes calls to 400/800 hotline numbers over Asterisk ARI.",
        epilog="exit codes: 0 done, 1 a check found something, 2 refused (bad input or "
               "settings), 3 database or Asterisk, 4 this machine (port, folder, file), "
               "130 interrupted; see docs/operations.md")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for topic in TOPICS:
        topic.register(sub)
    for path, command in commands(parser):
        _finish(path, command)
    return parser


DATABASE_URL_HELP = "PostgreSQL URL (env DATABASE_URL); before or after the command"


Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every command that runs something, with its words: (("billing", "rate"), parser)."""
    # argparse keeps subparsers in a private attribute; walking it is what
    # completion and help tools do too.
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not found or parser.get_default("handler") is not None:
        yield path, parser  # a command, perhaps with optional subcommands (calls, calls show)
    if not found:
        return
    seen: set[int] = set()
    for name, child in found[0].choices.items():
        if id(child) not in seen:  # aliases name the same parser
            seen.add(id(child))
            yield from commands(child, (*path, name))


def _finish(path: tuple[str, ...], command: argparse.ArgumentParser) -> None:
    """What every command shares: --database-url after it too, and its example."""
    if not any("--database-url" in a.option_strings for a in command._actions):
        # SUPPRESS: given before the command, the value is not reset to None here.
        command.add_argument("--database-url", default=argparse.SUPPRESS,
                             help=DATABASE_URL_HELP)
    example = EXAMPLES.get(" ".join(path))
    if example and not command.epilog:  # a topic module may give its own
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        lines = "\n".join(f"  {line}" for line in example)
        command.epilog = f"example{'s' if len(example) > 1 else ''}:\n{lines}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    # Log lines go to stderr, so --json output on stdout stays parseable; `run`
    # configures logging again from its settings.
    logs.configure("console", "info")
    try:
        code = errors.exit_code_of(runner.run(args.handler(args)))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`… | head`): say nothing, and keep Python's
        # final flush from failing again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return errors.CLOSED_PIPE
    except KeyboardInterrupt:
        return errors.INTERRUPTED
    except errors.EXPLAINED as exc:  # anything else is a bug: its traceback stays
        message, code = errors.explain(exc, args.command)
        print(f"hotline-router: {printable(message)}", file=sys.stderr)
        return code

"""Subcommands built from a TableSpec: list, show, update, enable, disable, delete.

A topic module makes its subparsers, adds what is special to it (usually
`add`), then calls :func:`register` with its table's spec. Every output has a
``--json`` form: `list` prints one object per line, the others one object.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from typing import Any

from router import admin, crud
from router.cli.common import as_dict, pool, print_record, print_table


def add_key_arguments(parser: argparse.ArgumentParser, keys: tuple[crud.Key, ...]) -> None:
    for key in keys:
        parser.add_argument(key.column, metavar=key.metavar, help=key.help)


def key_texts(args: argparse.Namespace, keys: tuple[crud.Key, ...]) -> list[str]:
    return [getattr(args, key.column) for key in keys]


def changes_from(args: argparse.Namespace, spec: crud.TableSpec) -> dict[str, Any]:
    """The --flags given, parsed, by column."""
    changes = {}
    for flag in spec.fields:
        text = getattr(args, f"set_{flag.column}", None)
        if text is not None:
            try:
                changes[flag.column] = flag.parse(text)
            except ValueError:
                raise admin.AdminError(f"{flag.flag}: {text!r} is not a valid value") from None
    return changes


async def show_row(db: Any, spec: crud.TableSpec, row: Any, as_json: bool) -> None:
    details = await spec.details(db, row) if spec.details else {}
    if as_json:
        shown = as_dict(row)
        shown.update({name: [as_dict(r) for r in rows] for name, rows in details.items()})
        print(json.dumps(shown, ensure_ascii=False))
        return
    print_record(row)
    for name, rows in details.items():
        print(f"\n{name.replace('_', ' ')}:")
        if rows:
            print_table(rows, list(rows[0]))
        else:
            print("(none)")


async def _list(spec: crud.TableSpec, args: argparse.Namespace) -> int:
    async with pool(args) as db:
        where = {}
        if spec.filter_key is not None and getattr(args, "filter", None):
            where = await crud.resolve(db, spec, [args.filter], [spec.filter_key])
        rows = await crud.list_rows(db, spec, where)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, spec.list_columns)
    return 0


async def _show(spec: crud.TableSpec, args: argparse.Namespace) -> int:
    named = " ".join(key_texts(args, spec.keys))
    async with pool(args) as db:
        where = await crud.resolve(db, spec, key_texts(args, spec.keys))
        row = await crud.get_row(db, spec, where, named)
        await show_row(db, spec, row, args.json)
    return 0


async def _update(spec: crud.TableSpec, args: argparse.Namespace) -> int:
    named = " ".join(key_texts(args, spec.keys))
    changes = changes_from(args, spec)
    async with pool(args) as db:
        where = await crud.resolve(db, spec, key_texts(args, spec.keys))
        row = await crud.update_row(db, spec, where, changes, named)
        await show_row(db, spec, row, args.json)
    return 0


async def _set_enabled(spec: crud.TableSpec, enabled: bool, args: argparse.Namespace) -> int:
    named = " ".join(key_texts(args, spec.keys))
    async with pool(args) as db:
        where = await crud.resolve(db, spec, key_texts(args, spec.keys))
        row = await crud.update_row(db, spec, where, {"enabled": enabled}, named)
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print(f"{spec.noun} {named} {'enabled' if enabled else 'disabled'}")
    return 0


async def _delete(spec: crud.TableSpec, args: argparse.Namespace) -> int:
    named = " ".join(key_texts(args, spec.keys))
    async with pool(args) as db:
        where = await crud.resolve(db, spec, key_texts(args, spec.keys))
        await crud.delete_row(db, spec, where, named)
    if args.json:
        print(json.dumps({"deleted": named}))
    else:
        print(f"{spec.noun} {named} deleted")
    return 0


def add_field_flags(parser: argparse.ArgumentParser, spec: crud.TableSpec,
                    skip: tuple[str, ...] = ()) -> None:
    """A --flag per settable column (not those in ``skip``); unset flags stay None."""
    for flag in spec.fields:
        if flag.column in skip:
            continue
        parser.add_argument(flag.flag, dest=f"set_{flag.column}", metavar=flag.metavar,
                            help=flag.help)


def subcommand(topic: Any, name: str, help_text: str, **options: Any) -> argparse.ArgumentParser:
    """A subcommand with the ``--json`` flag every admin command has."""
    parser: argparse.ArgumentParser = topic.add_parser(name, help=help_text, **options)
    parser.add_argument("--json", action="store_true", help="JSON output")
    return parser


def register(topic: Any, spec: crud.TableSpec) -> None:
    """Add the generic subcommands for ``spec`` to a topic's subparsers."""
    listing = subcommand(topic, "list", f"list {spec.nouns}")
    if spec.filter_key is not None:
        listing.add_argument("filter", nargs="?", metavar=spec.filter_key.metavar,
                             help=f"only those of this {spec.filter_key.noun}")
    listing.set_defaults(handler=partial(_list, spec))

    commands = [("show", f"one {spec.noun}, in full", _show),
                ("update", f"change {spec.a_noun}", _update),
                ("delete", f"delete {spec.a_noun}", _delete)]
    for name, help_text, handler in commands:
        parser = subcommand(topic, name, help_text)
        add_key_arguments(parser, spec.keys)
        if name == "update":
            add_field_flags(parser, spec)
        parser.set_defaults(handler=partial(handler, spec))
    if spec.has_enabled:
        for name, enabled in (("enable", True), ("disable", False)):
            parser = subcommand(topic, name, f"{name} {spec.a_noun}")
            add_key_arguments(parser, spec.keys)
            parser.set_defaults(handler=partial(_set_enabled, spec, enabled))

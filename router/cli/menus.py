"""`menu …`: voice menus (语音导航) of a hotline and their keys."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from router import admin, crud
from router.cli import asterisk
from router.cli import crud as crud_cli
from router.cli.bindings import HOTLINE
from router.cli.common import as_dict, pool
from router.cli.plan_names import hotline_id, named_id
from router.plan_store import sound_list

NAME = crud.Key("name", "MENU", "voice menu", help="the menu's name, e.g. main")


async def keys(db: Any, menu: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT k.key, k.action, g.name AS group_name, s.name AS submenu
           FROM menu_keys k LEFT JOIN phone_groups g ON g.id = k.group_id
           LEFT JOIN voice_menus s ON s.id = k.submenu_id
           WHERE k.menu_id = $1 ORDER BY k.key""", menu["id"])
    return {"keys": [dict(r) for r in rows]}


MENUS = crud.TableSpec(
    noun="menu",
    table="voice_menus",
    keys=(HOTLINE, NAME),
    fields=(
        crud.Field("name", "--name", str, "a new name", "NAME"),
        crud.Field("prompt", "--prompt", str,
                   "sound names, comma-separated, e.g. demo-congrats,digits/1", "SOUNDS"),
        crud.Field("timeout_s", "--timeout", int, "seconds to wait for a key", "SECONDS"),
        crud.Field("attempts", "--attempts", int,
                   "prompts before the default (invalid key or no input)", "N"),
        crud.Field("invalid_sound", "--invalid-sound", str, "played after an invalid key",
                   "SOUNDS"),
    ),
    select="""SELECT m.id, m.hotline_id, h.number AS hotline, m.name, m.prompt, m.timeout_s,
                     m.attempts, m.invalid_sound, g.name AS default_group
              FROM voice_menus m JOIN hotlines h ON h.id = m.hotline_id
              LEFT JOIN phone_groups g ON g.id = m.default_group_id""",
    order_by="hotline, name",
    list_columns=("hotline", "name", "prompt", "timeout_s", "attempts", "default_group"),
    details=keys,
    has_enabled=False,
    filter_key=HOTLINE,
)


async def _check_sounds(args: argparse.Namespace) -> None:
    """The prompt and invalid-key sounds must be sounds Asterisk has."""
    for flag, what in (("set_prompt", "--prompt"), ("set_invalid_sound", "--invalid-sound")):
        value = getattr(args, flag, None)
        if value:
            await asterisk.check_sounds(sound_list(value), what)


async def add(args: argparse.Namespace) -> int:
    await _check_sounds(args)
    async with pool(args) as db:
        hotline = await hotline_id(db, args.hotline)
        values = {"hotline_id": hotline, "name": args.menu, **crud_cli.changes_from(args, MENUS)}
        if args.default_group:
            values["default_group_id"] = await named_id(db, "phone_groups", hotline,
                                                        args.default_group)
        row = await crud.insert_row(db, MENUS, values)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"menu {row['name']} added to {row['hotline']}")
    return 0


async def set_key(args: argparse.Namespace) -> int:
    needs_target = args.key_action in ("group", "submenu")
    if needs_target != bool(args.target):
        raise admin.AdminError(f"{args.key_action} " + ("needs a GROUP or MENU name" if
                                                        needs_target else "takes no target"))
    async with pool(args) as db:
        hotline = await hotline_id(db, args.hotline)
        menu = await named_id(db, "voice_menus", hotline, args.menu)
        group = submenu = None
        if args.key_action == "group":
            group = await named_id(db, "phone_groups", hotline, args.target)
        elif args.key_action == "submenu":
            submenu = await named_id(db, "voice_menus", hotline, args.target)
        with admin.refusals():
            await db.execute(
                """INSERT INTO menu_keys (menu_id, key, action, group_id, submenu_id)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (menu_id, key) DO UPDATE SET action = EXCLUDED.action,
                       group_id = EXCLUDED.group_id, submenu_id = EXCLUDED.submenu_id""",
                menu, args.key, args.key_action, group, submenu)
    shown = {"menu": args.menu, "key": args.key, "action": args.key_action,
             "target": args.target}
    print(json.dumps(shown, ensure_ascii=False) if args.json else
          f"menu {args.menu}: key {args.key} -> {args.key_action} {args.target or ''}".rstrip())
    return 0


async def remove_key(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        menu = await named_id(db, "voice_menus", await hotline_id(db, args.hotline), args.menu)
        removed = await db.fetchval(
            "WITH gone AS (DELETE FROM menu_keys WHERE menu_id = $1 AND key = $2 RETURNING 1) "
            "SELECT count(*) FROM gone", menu, args.key)
    if not removed:
        raise admin.AdminError(f"menu {args.menu} has no key {args.key}")
    print(json.dumps({"removed": args.key}) if args.json
          else f"menu {args.menu}: key {args.key} removed")
    return 0


def _named(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hotline", metavar="NUMBER")
    parser.add_argument("menu", metavar="MENU")


def register(sub: Any) -> None:
    topic = sub.add_parser("menu", help="voice menus (语音导航)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "add a voice menu to a hotline")
    _named(parser)
    crud_cli.add_field_flags(parser, MENUS, skip=("name",))
    parser.add_argument("--default-group", metavar="GROUP",
                        help="where callers go when they press no valid key")
    parser.set_defaults(handler=add)

    parser = crud_cli.subcommand(topic, "key", "what a key does: group GROUP, submenu MENU, "
                                 "repeat, back")
    _named(parser)
    parser.add_argument("key", metavar="KEY", help="0-9, * or #")
    parser.add_argument("key_action", metavar="ACTION", choices=("group", "submenu", "repeat",
                                                                  "back"))
    parser.add_argument("target", metavar="TARGET", nargs="?", help="group or menu name")
    parser.set_defaults(handler=set_key)

    parser = crud_cli.subcommand(topic, "remove-key", "remove a key from a menu")
    _named(parser)
    parser.add_argument("key", metavar="KEY")
    parser.set_defaults(handler=remove_key)
    crud_cli.register(topic, MENUS)
    generic_update = topic.choices["update"].get_default("handler")

    async def update(args: argparse.Namespace) -> int:
        await _check_sounds(args)
        code: int = await generic_update(args)
        return code

    topic.choices["update"].set_defaults(handler=update)

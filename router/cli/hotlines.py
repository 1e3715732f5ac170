"""`hotline …`: the 400/800 numbers.

The pattern for any configuration table: describe it once as a TableSpec,
add the subcommands special to it (here `add`), and let router/cli/crud.py
add list, show, update, enable, disable and delete.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from router import admin, crud
from router.admin import AdminError
from router.cli import crud as crud_cli
from router.cli.common import as_dict, pool

NUMBER = crud.Key("number", "NUMBER", "hotline", help="the 400/800 number, e.g. 4008001234")


async def bound_phones(db: Any, hotline: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT b.position, p.id AS phone_id, p.dial_string, p.label, p.capacity, b.weight,
                  b.enabled AS binding_enabled, p.enabled AS phone_enabled,
                  s.active_calls
           FROM bound_phones b JOIN phones p ON p.id = b.phone_id
           LEFT JOIN phone_state s ON s.phone_id = p.id
           WHERE b.hotline_id = $1 ORDER BY b.position, p.id""", hotline["id"])
    return {"bound_phones": [dict(r) for r in rows]}


def yes_no(text: str) -> bool:
    """yes/no (also true/false, on/off)."""
    word = text.strip().lower()
    if word in ("yes", "true", "on"):
        return True
    if word in ("no", "false", "off"):
        return False
    raise AdminError(f"{text!r}: give yes or no")


HOTLINES = crud.TableSpec(
    noun="hotline",
    table="hotlines",
    keys=(NUMBER,),
    fields=(
        crud.Field("number", "--number", str, "a new number for this hotline", "NUMBER"),
        crud.Field("name", "--name", str, "a name for people"),
        crud.Field("strategy", "--strategy", str, "answering rule, e.g. sequential", "NAME"),
        crud.Field("strategy_options", "--options", crud.json_object,
                   "the rule's options as a JSON object", "JSON"),
        crud.Field("ring_timeout_s", "--ring-timeout", int, "seconds each phone rings",
                   "SECONDS"),
        crud.Field("total_timeout_s", "--total-timeout", int,
                   "seconds to hunt before overflow", "SECONDS"),
        crud.Field("max_attempts", "--max-attempts", crud.optional_int,
                   "phones to try at most ('none': all)", "N"),
        crud.Field("overflow", "--overflow", str,
                   "when no phone answers: busy, queue, forward or voicemail", "RULE"),
        crud.Field("overflow_max_wait_s", "--overflow-max-wait", int,
                   "seconds a queued caller waits", "SECONDS"),
        crud.Field("overflow_forward_to", "--overflow-forward-to", crud.optional_text,
                   "dial string to forward to ('none': unset)", "DIALSTRING"),
        crud.Field("confirm_key", "--confirm-key", crud.confirm_key,
                   "answer screening: the key a phone presses to take a call, 0-9 * # "
                   "('none': off)", "KEY"),
        crud.Field("confirm_timeout_s", "--confirm-timeout", int,
                   "seconds to press it after the prompt", "SECONDS"),
        crud.Field("confirm_prompt", "--confirm-prompt", str,
                   "sounds the screened phone hears after the whisper", "SOUND[,SOUND…]"),
        crud.Field("whisper_sound", "--whisper", crud.optional_text,
                   "sounds the answering phone hears before the bridge, never the caller "
                   "('none': unset)", "SOUND[,SOUND…]"),
        crud.Field("ringback_sound", "--ringback", crud.optional_text,
                   "the caller's ringback (企业彩铃), looped as early media ('none': ring tone)",
                   "SOUND[,SOUND…]"),
        crud.Field("caller_id_shown", "--caller-id", str,
                   "what bound phones see: caller, hotline (the 400 number) or prefix", "WHAT"),
        crud.Field("caller_id_prefix", "--caller-id-prefix", crud.optional_text,
                   "put before the caller's number with --caller-id prefix, e.g. 400-",
                   "TEXT"),
        crud.Field("transfer_numbers", "--transfer-numbers", crud.optional_text,
                   "outside numbers bound phones may transfer callers to: digit prefixes, "
                   "e.g. 138,139,010 ('none': no outside number)", "PREFIX[,PREFIX…]"),
        crud.Field("transfer_dial", "--transfer-dial", crud.optional_text,
                   "how an allowed outside number is dialled: a dial string with {number} "
                   "in it ('none': unset)", "DIALSTRING"),
        crud.Field("auto_pause_after", "--auto-pause-after", crud.optional_int,
                   "pause a phone after this many of its calls in a row went unanswered "
                   "or were rejected ('none': off; docs/presence.md)", "N"),
        crud.Field("record_percent", "--record", int,
                   "share of answered calls recorded, in percent (0 none, 100 all)", "PERCENT"),
        crud.Field("record_format", "--record-format", str,
                   "recording file format: wav, gsm, ulaw, alaw or sln", "FORMAT"),
        crud.Field("record_notice", "--record-notice", crud.optional_text,
                   "sounds the caller hears before ringing when calls are recorded, as early "
                   "media ('none': unset)", "SOUND[,SOUND…]"),
        crud.Field("record_retention_days", "--record-retention", int,
                   "days recordings are kept before the purge deletes them", "DAYS"),
        crud.Field("closed_action", "--when-closed", str,
                   "when the plan says closed: announce or voicemail", "ACTION"),
        crud.Field("voicemail_max_s", "--voicemail-max", int,
                   "the longest voicemail message, in seconds (5-600)", "SECONDS"),
        crud.Field("voicemail_prompt", "--voicemail-prompt", str,
                   "sounds a caller hears before the voicemail beep", "SOUND[,SOUND…]"),
        # The hold queue (docs/queue.md).
        crud.Field("queue_max_waiting", "--queue-max-waiting", crud.optional_int,
                   "most callers waiting at once; one more gets --queue-overflow "
                   "('none': no limit)", "N"),
        crud.Field("queue_music_class", "--queue-music", str,
                   "music on hold class waiting callers hear (musiconhold.conf)", "CLASS"),
        crud.Field("queue_announce_position", "--queue-announce-position", yes_no,
                   "tell a waiting caller their place ('you are caller number N')", "yes|no"),
        crud.Field("queue_announce_every_s", "--queue-announce-every", int,
                   "repeat the place this often while waiting (0: only on joining)",
                   "SECONDS"),
        crud.Field("queue_announce_hold", "--queue-announce-hold", yes_no,
                   "also tell the expected wait, from recent answered waits", "yes|no"),
        crud.Field("queue_overflow", "--queue-overflow", str,
                   "a caller who cannot wait (queue full, waited the longest): busy, "
                   "forward (to --overflow-forward-to) or voicemail", "RULE"),
    ),
    select="""SELECT h.id, h.number, h.name, h.strategy, h.strategy_options, h.ring_timeout_s,
                     h.total_timeout_s, h.max_attempts, h.overflow, h.overflow_max_wait_s,
                     h.overflow_forward_to, h.confirm_key, h.confirm_timeout_s,
                     h.confirm_prompt, h.whisper_sound, h.ringback_sound, h.caller_id_shown,
                     h.caller_id_prefix, h.transfer_numbers, h.transfer_dial,
                     h.auto_pause_after, h.record_percent, h.record_format, h.record_notice,
                     h.record_retention_days, h.closed_action, h.voicemail_max_s,
                     h.voicemail_prompt, h.queue_max_waiting, h.queue_music_class,
                     h.queue_announce_position, h.queue_announce_every_s,
                     h.queue_announce_hold, h.queue_overflow, h.enabled,
                     (SELECT count(*) FROM bound_phones b WHERE b.hotline_id = h.id) AS phones,
                     h.created_at, h.updated_at
              FROM hotlines h""",
    order_by="number",
    list_columns=("number", "name", "strategy", "ring_timeout_s", "overflow", "enabled",
                  "phones"),
    validate=admin.check_strategy,
    details=bound_phones,
)


async def add(args: argparse.Namespace) -> int:
    # Flags not given take the table's defaults (sequential, 15 s, …).
    values = {"number": args.number, **crud_cli.changes_from(args, HOTLINES)}
    async with pool(args) as db:
        row = await crud.insert_row(db, HOTLINES, values)
    if args.json:
        print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print(f"hotline {row['number']} added (id {row['id']}, strategy {row['strategy']})")
    return 0


def register(sub: Any) -> None:
    topic = sub.add_parser("hotline", help="hotlines (400/800 numbers)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    parser = crud_cli.subcommand(topic, "add", "add a 400/800 hotline", aliases=["create"])
    parser.add_argument("number", metavar="NUMBER")
    crud_cli.add_field_flags(parser, HOTLINES, skip=("number",))
    parser.set_defaults(handler=add)
    crud_cli.register(topic, HOTLINES)

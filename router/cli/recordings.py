"""`recordings …`: the calls Asterisk recorded (list), one recording's file
(get, through ARI) and the purge of those past their hotline's retention."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from router.ari import AriError
from router.call.recording import asterisk_of
from router.cli import arguments, asterisk, errors
from router.cli.common import as_dict, display_zone, pool, print_table
from router.recordings import orphans, rows
from router.recordings import purge as purging

COLUMNS = ("id", "hotline", "caller", "kind", "started_at", "duration_ms", "size_bytes",
           "format", "purged_at", "call_id")


def _aware(value: datetime | None) -> datetime | None:
    """A time given without an offset is in the operator's display zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(display_zone()))


async def list_recordings(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        found = await rows.list_recordings(db, args.hotline, _aware(args.since), args.limit)
    if args.json:
        for row in found:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(found, COLUMNS)
    return errors.DONE


async def get(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await rows.find(db, args.id)
    if row is None:
        raise errors.CliError(f"no recording {args.id}: give a recording id or a call id "
                              "from `hotline-router recordings list`", errors.REFUSED)
    if row["purged_at"] is not None:
        raise errors.CliError(f"recording {row['id']} was purged at {row['purged_at']} "
                              "(past its hotline's retention): its file is gone", errors.FOUND)
    target = Path(args.output)
    async with asterisk.connect() as ari:
        if ari.client is None:
            raise errors.CliError(ari.unavailable, errors.UNREACHABLE)
        if asterisk_of(ari.client) != row["asterisk"]:
            raise errors.CliError(
                f"recording {row['id']} is held by the Asterisk at {row['asterisk']}, not "
                f"{asterisk_of(ari.client)}: set ari_url to it", errors.REFUSED)
        chunks: list[bytes] = []
        try:
            size = await ari.client.recording_file(row["name"], chunks.append)
        except AriError as exc:
            raise errors.CliError(f"Asterisk has no file for recording {row['id']} "
                                  f"({exc.message})", errors.UNREACHABLE) from None
    try:
        await asyncio.to_thread(target.write_bytes, b"".join(chunks))
    except OSError as exc:
        raise errors.CliError(f"--output {target}: {exc.strerror}; give a writable file",
                              errors.LOCAL) from None
    print(f"recording {row['id']} ({row['format']}, {size} bytes) written to {target}")
    return errors.DONE


async def purge(args: argparse.Namespace) -> int:
    now = _aware(args.now) or datetime.now(UTC)
    async with pool(args) as db, asterisk.connect() as ari:
        if ari.client is None:
            raise errors.CliError(ari.unavailable, errors.UNREACHABLE)
        try:
            # Files without a row are looked for as of now, never a --now ahead:
            # a call that just ended may still be writing its file and row.
            swept = await orphans.sweep(db, ari.client, asterisk_of(ari.client),
                                        datetime.now(UTC))
        except AriError as exc:
            raise errors.CliError(f"Asterisk did not list its recordings ({exc.message})",
                                  errors.UNREACHABLE) from None
        done = await purging.purge(db, ari.client, asterisk_of(ari.client), now)
    if swept.adopted or swept.failed:
        print(f"files without a row: {swept.adopted} given one, {swept.failed} unreadable")
    print(f"recordings purged: {done.deleted} files deleted, {done.missing} already gone, "
          f"{done.failed} failed")
    return errors.FOUND if done.failed or swept.failed else errors.DONE


def register(sub: Any) -> None:
    topic = sub.add_parser("recordings", help="call recordings: list, get a file, purge "
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = topic.add_parser("list", help="recordings, newest first")
    parser.add_argument("--hotline", metavar="NUMBER", help="only this hotline's")
    parser.add_argument("--since", type=arguments.iso_time, metavar="TIME",
                        help="started at or after: a day or a time (without an offset: "
                             "the display zone)")
    parser.add_argument("--limit", type=arguments.positive_int, default=100,
                        help="at most this many (default 100)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=list_recordings)
    parser = topic.add_parser("get", help="write a recording's file, fetched from Asterisk")
    parser.add_argument("id", metavar="ID", help="the recording's id, or its call's id")
    parser.add_argument("--output", "-o", required=True, metavar="FILE",
                        help="where to write it, e.g. call.wav")
    parser.set_defaults(handler=get)
    parser = topic.add_parser("purge", help="delete recordings past their hotline's retention "
                              "from Asterisk (the one ari_url names) and mark them purged; "
                              "files left without a row are given one first")
    parser.add_argument("--now", type=arguments.iso_time, metavar="TIME",
                        help="purge as if it were this time (default: now)")
    parser.set_defaults(handler=purge)

"""`billing …`: tariffs, packages, top-ups, balances, statements, rerate, reconcile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.admin import AdminError
from router.billing import cdr, config, ledger, rater, reconcile, render, rerate, statements
from router.billing.money import seconds, yuan
from router.billing.months import Month, MonthError
from router.billing.rating import Rating
from router.cli import arguments
from router.cli.common import plain, pool


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except MonthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rated(rating: Rating) -> str:
    """'95.002 s = 2 x 60 s (2 included) at ¥0.12'"""
    return (f"{seconds(rating.billable_ms)} s = {rating.units} x {rating.unit_s} s "
            f"({rating.included_units} included) at {yuan(rating.price_per_unit_fen)}")


def _per_unit(fen: int | None) -> str:
    return "tariff price" if fen is None else f"{fen} fen"


async def tariff_set(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await config.set_tariff(db, args.number, args.price_fen, args.unit_s, args.valid_from,
                                      args.note)
    print(f"tariff of {args.number} from {plain(row['valid_from'])}: "
          f"{row['price_per_unit_fen']} fen per {row['unit_s']} s")
    return 0


async def tariff_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await config.tariffs(db, args.number)
    print(f"{'valid from (UTC)':<26} {'unit':>5} {'price/unit':>11}  note")
    for row in rows:
        print(f"{plain(row['valid_from']):<26} {str(row['unit_s']) + ' s':>5} "
              f"{str(row['price_per_unit_fen']) + ' fen':>11}  {row['note']}")
    return 0


async def package_add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await config.add_package(db, args.number, args.valid_from, args.valid_until,
                                       args.included_minutes, args.overage_fen, args.minimum_fen,
                                       args.prepaid_fen, args.name)
    print(f"package {row['id']} of {args.number}: {plain(row['valid_from'])} to "
          f"{plain(row['valid_until'])}, {row['included_minutes']} min a month included, "
          f"overage {_per_unit(row['overage_per_unit_fen'])} per unit, minimum spend "
          f"{yuan(row['monthly_minimum_fen'])} a month"
          + (f", {yuan(args.prepaid_fen)} prepaid" if args.prepaid_fen else ""))
    return 0


async def package_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await config.packages(db, args.number)
    for row in rows:
        print(f"{row['id']:>4}  {plain(row['valid_from'])} to {plain(row['valid_until'])}  "
              f"{row['included_minutes']} min/month included, overage "
              f"{_per_unit(row['overage_per_unit_fen'])}, minimum "
              f"{yuan(row['monthly_minimum_fen'])}/month  {row['name']}")
    return 0


async def settings_set(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await config.set_settings(db, args.number, args.time_zone, args.low_balance_fen,
                                        args.at_zero_balance)
    print(f"billing of {args.number}: months in {row['time_zone']}, low balance below "
          f"{yuan(row['low_balance_fen'])}, at zero balance: {row['at_zero_balance']}")
    return 0


async def topup(args: argparse.Namespace) -> int:
    if args.fen <= 0:
        raise AdminError("a top-up must be a positive amount of fen")
    async with pool(args) as db:
        balance = await config.top_up(db, args.number, args.fen, args.note)
    print(f"{args.number} topped up {yuan(args.fen)}; balance {yuan(balance)}")
    return 0


async def balance(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        found = await config.hotline(db, args.number)
        amount = await ledger.balance(db, found.hotline_id)
        entries = await ledger.recent(db, found.hotline_id, args.entries)
        waiting = await rater.waiting(db, found.hotline_id)
    state = ("low" if amount < found.low_balance_fen else "ok")
    print(f"{found.number}: balance {yuan(amount)} ({state}; low below "
          f"{yuan(found.low_balance_fen)}; at zero balance: {found.at_zero_balance})")
    if waiting:
        print(f"{waiting} answered call(s) waiting to be rated")
    if entries:
        print(f"\n{'#':>6} {'entered (UTC)':<24} {'kind':<14} {'month':<7} {'amount':>11}  note")
    for entry in entries:
        kind = entry["kind"] if entry["kind"] != "adjustment" else f"adj. {entry['adjusts']}"
        month = entry["month"].isoformat()[:7] if entry["month"] else ""
        note = entry["note"] or (f"call {entry['call_id']}" if entry["call_id"] else "")
        print(f"{entry['id']:>6} {plain(entry['entered_at']):<24} {kind:<14.14} {month:<7} "
              f"{yuan(entry['amount_fen']):>11}  {note}")
    return 0


@contextmanager
def _not_found_said() -> Iterator[None]:
    """No such hotline (or month of it): the billing code's LookupError, as the admin's error."""
    try:
        yield
    except LookupError as exc:
        raise AdminError(str(exc)) from None


async def statement(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        with _not_found_said():
            found = await statements.load(db, args.hotline, args.month)
    sys.stdout.write(render.render(found, args.format))
    return 0


async def rerate_month(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        with _not_found_said():
            results = await rerate.rerate(db, args.month, args.hotline)
    changed = [r for r in results if r.calls or r.minimum]
    for result in changed:
        print(f"{result.number} {result.month}: {len(result.calls)} call(s) changed, "
              f"net {yuan(result.delta_fen)}")
        for change in sorted(result.calls, key=lambda c: result.started_at[c.call_id]):
            print(f"  call {change.call_id} started {plain(result.started_at[change.call_id])}:")
            before, after = change.before, change.after
            print(f"    was {_rated(before.rating)}, charged {yuan(before.charged_fen)}")
            print(f"    now {_rated(after)}, charged {yuan(after.charge_fen)}")
        if result.minimum:
            print(f"  minimum-spend top-up: {yuan(result.minimum.before_fen)} -> "
                  f"{yuan(result.minimum.after_fen)}")
    if not changed:
        print(f"nothing to change: {len(results)} hotline(s) of {args.month} already rated "
              "as their tariffs and packages say")
    return 0


async def rate_now(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        done = await rater.rate_ready(db, delay_s=0)
        settled = await rater.settle_months(db, delay_s=0)
    for hotline in done:
        print(f"{hotline.number}: {len(hotline.calls)} call(s) rated, "
              f"{yuan(sum(r.charge_fen for r in hotline.calls.values()))}; "
              f"balance {yuan(hotline.balance_fen)}")
    for month in settled:
        print(f"{month.number} {month.month.isoformat()[:7]}: minimum spend "
              f"{yuan(month.minimum_fen)}, top-up {yuan(month.top_up_fen)}")
    if not done and not settled:
        print("nothing to rate")
    return 0


async def reconcile_cdr(args: argparse.Namespace) -> int:
    try:
        records = cdr.read(args.cdr_csv)
    except (OSError, cdr.CdrError) as exc:
        raise AdminError(f"cannot read {args.cdr_csv}: {exc}") from None
    async with pool(args) as db:
        with _not_found_said():
            result = await reconcile.reconcile(db, records, args.hotline, args.month,
                                             args.tolerance)
    for pair in result.disagreements:
        ours = pair.ours
        print(f"disagree  call {ours.call_id} ({ours.hotline}, channel {ours.caller_channel}, "
              f"started {plain(ours.started_at)}): ours {seconds(ours.billable_ms)} s"
              f"{'' if ours.rated else ' (not rated yet)'}, Asterisk {pair.asterisk.billsec_s} s,"
              f" difference {pair.difference_s:+} s")
    for ours in result.missing_in_cdr:
        print(f"no CDR    call {ours.call_id} ({ours.hotline}, channel {ours.caller_channel}, "
              f"started {plain(ours.started_at)}): ours {seconds(ours.billable_ms)} s")
    for theirs in result.unknown_to_us:
        print(f"not ours  CDR {theirs.uniqueid} (dst {theirs.dst}, started "
              f"{plain(theirs.start) if theirs.start else '?'}): Asterisk {theirs.billsec_s} s")
    print(f"compared {len(result.pairs)} call(s); largest difference "
          f"{result.largest_difference_s} s; {len(result.disagreements)} over "
          f"{args.tolerance} s, {len(result.missing_in_cdr)} missing from the CDR, "
          f"{len(result.unknown_to_us)} unknown to us")
    return 0 if result.agrees else 1


def register(sub: Any) -> None:
    billing = sub.add_parser("billing", help="tariffs, packages, balances, statements")
    billing = billing.add_subparsers(dest="action", required=True, metavar="ACTION")

    tariff = billing.add_parser("tariff", help="a hotline's price per unit").add_subparsers(
        dest="tariff_action", required=True, metavar="ACTION")
    parser = tariff.add_parser("set", help="add a tariff from a date on, or fix the one there")
    parser.add_argument("number", metavar="NUMBER")
    parser.add_argument("--price-fen", type=int, required=True, help="price per unit, in fen")
    parser.add_argument("--unit-s", type=int, default=60, help="billing unit in seconds (60, 6 …)")
    parser.add_argument("--from", dest="valid_from",
                        help="from when (default now); a date is midnight in the billing time zone")
    parser.add_argument("--note", default="")
    parser.set_defaults(handler=tariff_set)
    parser = tariff.add_parser("list", help="a hotline's tariffs")
    parser.add_argument("number", metavar="NUMBER")
    parser.set_defaults(handler=tariff_list)

    package = billing.add_parser("package", help="prepaid packages").add_subparsers(
        dest="package_action", required=True, metavar="ACTION")
    parser = package.add_parser("add", help="add a package (and top up its prepaid amount)")
    parser.add_argument("number", metavar="NUMBER")
    parser.add_argument("--from", dest="valid_from", required=True, help="e.g. 2026-12-01")
    parser.add_argument("--until", dest="valid_until", required=True,
                        help="end, exclusive, e.g. 2027-12-01")
    parser.add_argument("--included-minutes", type=int, default=0, help="free minutes a month")
    parser.add_argument("--overage-fen", type=int,
                        help="price per unit after the included minutes (default: the tariff's)")
    parser.add_argument("--minimum-fen", type=int, default=0, help="monthly minimum spend, fen")
    parser.add_argument("--prepaid-fen", type=int, default=0, help="top up this much now")
    parser.add_argument("--name", default="")
    parser.set_defaults(handler=package_add)
    parser = package.add_parser("list", help="a hotline's packages")
    parser.add_argument("number", metavar="NUMBER")
    parser.set_defaults(handler=package_list)

    parser = billing.add_parser("settings", help="billing time zone, low balance, zero balance")
    parser.add_argument("number", metavar="NUMBER")
    parser.add_argument("--time-zone", help="month boundaries (default Asia/Shanghai)")
    parser.add_argument("--low-balance-fen", type=int, help="log and flag below this balance")
    parser.add_argument("--at-zero-balance", choices=("keep-routing", "refuse"))
    parser.set_defaults(handler=settings_set)

    parser = billing.add_parser("topup", help="credit a hotline's prepaid balance")
    parser.add_argument("number", metavar="NUMBER")
    parser.add_argument("--fen", type=int, required=True, help="amount in fen (30000 = ¥300)")
    parser.add_argument("--note", default="")
    parser.set_defaults(handler=topup)

    parser = billing.add_parser("balance", help="a hotline's balance and latest ledger entries")
    parser.add_argument("number", metavar="NUMBER")
    parser.add_argument("--entries", type=arguments.positive_int, default=20)
    parser.set_defaults(handler=balance)

    parser = billing.add_parser("statement", help="a hotline's monthly statement")
    parser.add_argument("--hotline", required=True, metavar="NUMBER")
    parser.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    parser.add_argument("--format", choices=render.FORMATS, default="table")
    parser.set_defaults(handler=statement)

    parser = billing.add_parser("rerate", help="re-derive a month's charges (as adjustments)")
    parser.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    parser.add_argument("--hotline", metavar="NUMBER", help="only this hotline")
    parser.set_defaults(handler=rerate_month)

    parser = billing.add_parser("rate", help="rate waiting calls now (the routers do it anyway)")
    parser.set_defaults(handler=rate_now)

    parser = billing.add_parser("reconcile",
                                help="compare billable seconds with Asterisk's CDR billsec")
    parser.add_argument("cdr_csv", type=Path, metavar="CDR_CSV",
                        help="cdr_custom's Master.csv (see dialplan/cdr_custom.conf)")
    parser.add_argument("--hotline", metavar="NUMBER", help="only this hotline's calls")
    parser.add_argument("--month", type=_month,
                        help="only calls started this month (YYYY-MM); also lists our answered "
                             "calls of the month missing from the CDR")
    parser.add_argument("--tolerance", type=arguments.seconds, default=Decimal(1),
                        help="seconds (default 1)")
    parser.set_defaults(handler=reconcile_cdr)

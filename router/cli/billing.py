"""`billing …`: tariffs, packages, top-ups, adjustments, balances, statements, rerate, reconcile.

Every command names its hotline with ``--hotline NUMBER`` (the older
positional form still works), prints times in the hotline's billing time
zone, and has ``--json`` (ISO times in UTC, amounts in fen).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.admin import AdminError
from router.billing import (
    cdr,
    config,
    ledger,
    rater,
    reconcile,
    render,
    rerate,
    statements,
    terms,
)
from router.billing.money import seconds, yuan
from router.billing.months import Month, MonthError
from router.billing.rating import Rating
from router.cli import arguments, output
from router.cli.common import display_zone, plain, pool


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


def _emit(args: argparse.Namespace, shown: Any) -> None:
    """One JSON object on a line (times ISO in UTC)."""
    print(json.dumps(shown, ensure_ascii=False, default=plain))


def number_of(args: argparse.Namespace) -> str:
    """The hotline: ``--hotline NUMBER``, or the older positional NUMBER."""
    given = {n for n in (getattr(args, "hotline", None), getattr(args, "number", None)) if n}
    if len(given) > 1:
        raise AdminError(f"two hotlines given ({', '.join(sorted(given))}); give one with "
                         "--hotline NUMBER")
    if not given:
        raise AdminError("which hotline? give --hotline NUMBER")
    return str(given.pop())


async def _zone(db: Any, number: str) -> str:
    return (await config.hotline(db, number)).time_zone


def _rerated_lines(results: Sequence[rerate.Rerated], zone: str) -> Iterator[str]:
    for result in results:
        yield (f"{result.number} {result.month}: {len(result.calls)} call(s) changed, "
               f"net {yuan(result.delta_fen)}")
        for change in sorted(result.calls, key=lambda c: result.started_at[c.call_id]):
            started = output.local(result.started_at[change.call_id], zone)
            yield f"  call {change.call_id} started {started}:"
            before, after = change.before, change.after
            yield f"    was {_rated(before.rating)}, charged {yuan(before.charged_fen)}"
            yield f"    now {_rated(after)}, charged {yuan(after.charge_fen)}"
        if result.minimum:
            yield (f"  minimum-spend top-up: {yuan(result.minimum.before_fen)} -> "
                   f"{yuan(result.minimum.after_fen)}")


def _rerated_json(results: Sequence[rerate.Rerated]) -> list[dict[str, Any]]:
    return [{"hotline": r.number, "month": str(r.month), "delta_fen": r.delta_fen,
             "calls": [{"call_id": str(c.call_id), "started_at": plain(r.started_at[c.call_id]),
                        "was_fen": c.before.charged_fen, "now_fen": c.after.charge_fen}
                       for c in r.calls],
             "minimum_spend": {"was_fen": r.minimum.before_fen, "now_fen": r.minimum.after_fen}
             if r.minimum else None} for r in results]


# --- terms -------------------------------------------------------------------


async def tariff_set(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        changed = await config.set_tariff(db, number, args.price_fen, args.unit_s,
                                          args.valid_from, args.note)
        zone = await _zone(db, number)
    row = changed.row
    if args.json:
        _emit(args, {"hotline": number, **{k: plain(v) for k, v in dict(row).items()},
                     "rerated": _rerated_json(changed.rerated)})
        return 0
    output.say(f"tariff of {number} from {output.local(row['valid_from'], zone)}: "
               f"{row['price_per_unit_fen']} fen per {row['unit_s']} s")
    _say_rerated(changed.rerated, zone)
    return 0


def _say_rerated(results: Sequence[rerate.Rerated], zone: str) -> None:
    if results:
        output.say("calls already charged under the old terms were re-derived (adjustments):")
        for line in _rerated_lines(results, zone):
            output.say(line)


async def tariff_list(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        rows = await config.tariffs(db, number)
        zone = await _zone(db, number)
    if args.json:
        for row in rows:
            _emit(args, {"hotline": number, **{k: plain(v) for k, v in dict(row).items()}})
        return 0
    output.print_table([{**dict(r), "unit": f"{r['unit_s']} s",
                         "price": f"{r['price_per_unit_fen']} fen"} for r in rows],
                       ("valid_from", "unit", "price", "note"), zone,
                       headers=(f"valid from ({zone})", "unit", "price/unit", "note"),
                       right=("unit", "price"))
    return 0


async def package_add(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        changed = await config.add_package(db, number, args.valid_from, args.valid_until,
                                           args.included_minutes, args.overage_fen,
                                           args.minimum_fen, args.prepaid_fen, args.name)
        zone = await _zone(db, number)
    row = changed.row
    if args.json:
        _emit(args, {"hotline": number, **{k: plain(v) for k, v in dict(row).items()},
                     "prepaid_fen": args.prepaid_fen,
                     "rerated": _rerated_json(changed.rerated)})
        return 0
    output.say(f"package {row['id']} of {number}: {output.local(row['valid_from'], zone)} to "
               f"{output.local(row['valid_until'], zone)}, {row['included_minutes']} min a "
               f"month included, overage {_per_unit(row['overage_per_unit_fen'])} per unit, "
               f"minimum spend {yuan(row['monthly_minimum_fen'])} a month"
               + (f", {yuan(args.prepaid_fen)} prepaid" if args.prepaid_fen else ""))
    _say_rerated(changed.rerated, zone)
    return 0


async def package_list(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        rows = await config.packages(db, number)
        zone = await _zone(db, number)
    if args.json:
        for row in rows:
            _emit(args, {"hotline": number, **{k: plain(v) for k, v in dict(row).items()}})
        return 0
    output.print_table(
        [{**dict(r), "overage": _per_unit(r["overage_per_unit_fen"]),
          "minimum": yuan(r["monthly_minimum_fen"])} for r in rows],
        ("id", "valid_from", "valid_until", "included_minutes", "overage", "minimum", "name"),
        zone, headers=("id", f"from ({zone})", "until", "included min/month", "overage/unit",
                       "minimum/month", "name"), right=("id", "included_minutes", "minimum"))
    return 0


async def settings_set(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        row = await config.set_settings(db, number, args.time_zone, args.low_balance_fen,
                                        args.at_zero_balance)
    if args.json:
        _emit(args, {"hotline": number, **dict(row)})
        return 0
    output.say(f"billing of {number}: months in {row['time_zone']}, low balance below "
               f"{yuan(row['low_balance_fen'])}, at zero balance: {row['at_zero_balance']}")
    return 0


# --- money -------------------------------------------------------------------


async def topup(args: argparse.Namespace) -> int:
    number = number_of(args)
    if args.fen <= 0:
        raise AdminError("a top-up must be a positive amount of fen; to take money off, "
                         "use 'billing adjust --fen -N --note WHY'")
    async with pool(args) as db:
        balance = await config.top_up(db, number, args.fen, args.note)
    if args.json:
        _emit(args, {"hotline": number, "amount_fen": args.fen, "balance_fen": balance})
    else:
        output.say(f"{number} topped up {yuan(args.fen)}; balance {yuan(balance)}")
    return 0


async def adjust(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        balance = await config.adjust(db, number, args.fen, args.note,
                                      args.month.first_day if args.month else None)
    if args.json:
        _emit(args, {"hotline": number, "amount_fen": args.fen, "balance_fen": balance,
                     "month": str(args.month) if args.month else None, "note": args.note})
    else:
        output.say(f"{number} adjusted by {yuan(args.fen)} ({args.note})"
                   + (f" on the {args.month} statement" if args.month else "")
                   + f"; balance {yuan(balance)}")
    return 0


async def balance(args: argparse.Namespace) -> int:
    number = number_of(args)
    async with pool(args) as db:
        found = await config.hotline(db, number)
        amount = await ledger.balance(db, found.hotline_id)
        entries = await ledger.recent(db, found.hotline_id, args.entries)
        waiting = await rater.waiting(db, found.hotline_id)
        no_tariff = await rater.waiting_for_tariff(db, found.hotline_id)
    state = "low" if amount < found.low_balance_fen else "ok"
    if args.json:
        _emit(args, {"hotline": number, "balance_fen": amount, "state": state,
                     "low_balance_fen": found.low_balance_fen,
                     "at_zero_balance": found.at_zero_balance, "waiting_calls": waiting,
                     "waiting_for_tariff": no_tariff.calls,
                     "earliest_waiting_for_tariff": plain(no_tariff.earliest),
                     "entries": [{k: plain(v) for k, v in dict(e).items()} for e in entries]})
        return 0
    zone = found.time_zone
    output.say(f"{found.number}: balance {yuan(amount)} ({state}; low below "
               f"{yuan(found.low_balance_fen)}; at zero balance: {found.at_zero_balance})")
    if no_tariff.calls:
        assert no_tariff.earliest is not None
        output.say(f"{no_tariff.calls} answered call(s) wait for a tariff: the first started "
                   f"{output.local(no_tariff.earliest, zone)}, before any tariff of this "
                   "hotline. Set packages first, then 'billing tariff set --hotline "
                   f"{number} --price-fen N --from {no_tariff.earliest_local_day(zone)}'")
    if waiting - no_tariff.calls > 0:
        output.say(f"{waiting - no_tariff.calls} answered call(s) waiting to be rated "
                   "(the routers rate them within seconds; 'billing rate' does it now)")
    if entries:
        print()
        output.print_table(
            [{**dict(e), "what": e["kind"] if e["kind"] != "adjustment"
              else f"adj. {e['adjusts']}",
              "month": e["month"].isoformat()[:7] if e["month"] else "",
              "amount": yuan(e["amount_fen"]),
              "note": e["note"] or (f"call {e['call_id']}" if e["call_id"] else "")}
             for e in entries],
            ("id", "entered_at", "what", "month", "amount", "note"), zone,
            headers=("#", f"entered ({zone})", "kind", "month", "amount", "note"),
            right=("id", "amount"))
    return 0


# --- statements and checks ---------------------------------------------------


@contextmanager
def _not_found_said() -> Iterator[None]:
    """No such hotline (or month of it): the billing code's LookupError, as the admin's error."""
    try:
        yield
    except LookupError as exc:
        raise AdminError(str(exc)) from None


_SUFFIX = {"table": "txt", "csv": "csv", "json": "json"}


async def statement(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else args.format
    if args.all and (args.hotline or args.number):
        raise AdminError("give --hotline NUMBER or --all, not both")
    async with pool(args) as db:
        with _not_found_said():
            numbers = ([number_of(args)] if not args.all
                       else await statements.billed_hotlines(db, args.month))
            found = [await statements.load(db, number, args.month) for number in numbers]
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for one in found:
            path = args.output_dir / f"statement-{one.number}-{one.month}.{_SUFFIX[fmt]}"
            path.write_text(render.render(one, fmt), encoding="utf-8")
            print(path)
        return 0
    if not args.all:
        sys.stdout.write(render.render(found[0], fmt))
    elif fmt == "json":
        for one in found:
            print(json.dumps(render.to_json(one), ensure_ascii=False))
    elif fmt == "csv":
        for index, one in enumerate(found):
            render.to_csv_rows(one, sys.stdout, header=index == 0)
    else:
        sys.stdout.write("\n".join(render.render(one, fmt) for one in found))
    return 0


async def rerate_month(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        with _not_found_said():
            results = await rerate.rerate(db, args.month, args.hotline)
        zones = {r.number: await _zone(db, r.number) for r in results}
    changed = [r for r in results if r.calls or r.minimum]
    if args.json:
        _emit(args, {"month": str(args.month), "hotlines": len(results),
                     "changed": _rerated_json(changed)})
        return 0
    for result in changed:
        for line in _rerated_lines([result], zones[result.number]):
            output.say(line)
    if not changed:
        output.say(f"nothing to change: {len(results)} hotline(s) of {args.month} already "
                   "rated as their tariffs and packages say")
    return 0


async def rate_now(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        done = await rater.rate_ready(db, delay_s=0)
        settled = await rater.settle_months(db, delay_s=0)
    if args.json:
        _emit(args, {"rated": [{"hotline": h.number, "calls": len(h.calls),
                                "charged_fen": sum(r.charge_fen for r in h.calls.values()),
                                "balance_fen": h.balance_fen} for h in done],
                     "settled": [{"hotline": m.number, "month": m.month.isoformat()[:7],
                                  "minimum_fen": m.minimum_fen, "top_up_fen": m.top_up_fen}
                                 for m in settled]})
        return 0
    for hotline in done:
        output.say(f"{hotline.number}: {len(hotline.calls)} call(s) rated, "
                   f"{yuan(sum(r.charge_fen for r in hotline.calls.values()))}; "
                   f"balance {yuan(hotline.balance_fen)}")
    for month in settled:
        output.say(f"{month.number} {month.month.isoformat()[:7]}: minimum spend "
                   f"{yuan(month.minimum_fen)}, top-up {yuan(month.top_up_fen)}")
    if not done and not settled:
        output.say("nothing to rate")
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
        found = await terms.find(db, args.hotline) if args.hotline else None
        zone = found.time_zone if found is not None else display_zone()
    if args.json:
        _emit(args, {
            "compared": len(result.pairs), "largest_difference_s": str(result.largest_difference_s),
            "tolerance_s": str(args.tolerance),
            "disagree": [{"call_id": str(p.ours.call_id), "hotline": p.ours.hotline,
                          "caller_channel": p.ours.caller_channel,
                          "started_at": plain(p.ours.started_at),
                          "ours_s": str(seconds(p.ours.billable_ms)),
                          "asterisk_s": str(p.asterisk.billsec_s),
                          "difference_s": str(p.difference_s)} for p in result.disagreements],
            "missing_in_cdr": [{"call_id": str(o.call_id), "hotline": o.hotline,
                                "started_at": plain(o.started_at),
                                "ours_s": str(seconds(o.billable_ms))}
                               for o in result.missing_in_cdr],
            "unknown_to_us": [{"uniqueid": t.uniqueid, "dst": t.dst,
                               "started_at": plain(t.start), "asterisk_s": str(t.billsec_s)}
                              for t in result.unknown_to_us],
            "agrees": result.agrees})
        return 0 if result.agrees else 1
    for pair in result.disagreements:
        ours = pair.ours
        output.say(f"disagree  call {ours.call_id} ({ours.hotline}, channel "
                   f"{ours.caller_channel}, started {output.local(ours.started_at, zone)}): "
                   f"ours {seconds(ours.billable_ms)} s"
                   f"{'' if ours.rated else ' (not rated yet)'}, Asterisk "
                   f"{pair.asterisk.billsec_s} s, difference {pair.difference_s:+} s")
    for ours in result.missing_in_cdr:
        output.say(f"no CDR    call {ours.call_id} ({ours.hotline}, channel "
                   f"{ours.caller_channel}, started {output.local(ours.started_at, zone)}): "
                   f"ours {seconds(ours.billable_ms)} s")
    for theirs in result.unknown_to_us:
        started = output.local(theirs.start, zone) if theirs.start else "?"
        output.say(f"not ours  CDR {theirs.uniqueid} (dst {theirs.dst}, started {started}): "
                   f"Asterisk {theirs.billsec_s} s")
    output.say(f"compared {len(result.pairs)} call(s); largest difference "
               f"{result.largest_difference_s} s; {len(result.disagreements)} over "
               f"{args.tolerance} s, {len(result.missing_in_cdr)} missing from the CDR, "
               f"{len(result.unknown_to_us)} unknown to us (times in {zone})")
    return 0 if result.agrees else 1


# --- the parser ----------------------------------------------------------------


def _command(topic: Any, name: str, help_text: str, hotline: str = "required"
             ) -> argparse.ArgumentParser:
    """A billing command with --json and (unless ``hotline`` is 'none') --hotline."""
    parser: argparse.ArgumentParser = topic.add_parser(name, help=help_text)
    if hotline != "none":
        parser.add_argument("--hotline", metavar="NUMBER",
                            help="the hotline" + (" (default: all)" if hotline == "optional"
                                                  else ""))
    if hotline == "required":
        # The older form, `billing tariff set 4008001234 …`, still works.
        parser.add_argument("number", nargs="?", metavar="NUMBER", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="JSON (times ISO in UTC, fen)")
    return parser


def register(sub: Any) -> None:
    billing = sub.add_parser("billing", help="tariffs, packages, balances, statements")
    billing = billing.add_subparsers(dest="action", required=True, metavar="ACTION")

    tariff = billing.add_parser("tariff", help="a hotline's price per unit").add_subparsers(
        dest="tariff_action", required=True, metavar="ACTION")
    parser = _command(tariff, "set", "add a tariff from a date on, or fix the one there "
                      "(calls already charged from then on are re-derived)")
    parser.add_argument("--price-fen", type=int, required=True, help="price per unit, in fen")
    parser.add_argument("--unit-s", type=int, default=60, help="billing unit in seconds (60, 6 …)")
    parser.add_argument("--from", dest="valid_from",
                        help="from when (default now); a date or a time without offset is "
                             "in the hotline's billing time zone")
    parser.add_argument("--note", default="")
    parser.set_defaults(handler=tariff_set)
    parser = _command(tariff, "list", "a hotline's tariffs")
    parser.set_defaults(handler=tariff_list)

    package = billing.add_parser("package", help="prepaid packages").add_subparsers(
        dest="package_action", required=True, metavar="ACTION")
    parser = _command(package, "add", "add a package (and top up its prepaid amount); calls "
                      "of its period already charged are re-derived")
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
    parser = _command(package, "list", "a hotline's packages")
    parser.set_defaults(handler=package_list)

    parser = _command(billing, "settings", "billing time zone, low balance, zero balance")
    parser.add_argument("--time-zone", help="month boundaries (default Asia/Shanghai)")
    parser.add_argument("--low-balance-fen", type=int, help="log and flag below this balance")
    parser.add_argument("--at-zero-balance", choices=("keep-routing", "refuse"))
    parser.set_defaults(handler=settings_set)

    parser = _command(billing, "topup", "credit a hotline's prepaid balance")
    parser.add_argument("--fen", type=int, required=True, help="amount in fen (30000 = ¥300)")
    parser.add_argument("--note", default="")
    parser.set_defaults(handler=topup)

    parser = _command(billing, "adjust", "correct a balance: a negative amount charges, a "
                      "positive one credits (kept in the ledger with its reason)")
    parser.add_argument("--fen", type=int, required=True,
                        help="what it does to the balance, in fen: 500 refunds ¥5.00, "
                             "-500 charges ¥5.00")
    parser.add_argument("--note", required=True, help="why (stays in the ledger)")
    parser.add_argument("--month", type=_month,
                        help="show it on this month's statement (YYYY-MM)")
    parser.set_defaults(handler=adjust)

    parser = _command(billing, "balance", "a hotline's balance, calls waiting, latest entries")
    parser.add_argument("--entries", type=arguments.positive_int, default=20)
    parser.set_defaults(handler=balance)

    parser = _command(billing, "statement", "monthly statements: one hotline, or --all")
    parser.add_argument("--all", action="store_true",
                        help="every hotline with a tariff, a package or charges that month")
    parser.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    parser.add_argument("--format", choices=render.FORMATS, default="table")
    parser.add_argument("--output-dir", type=Path, metavar="DIR",
                        help="write one file per hotline there (statement-NUMBER-MONTH.csv …)")
    parser.set_defaults(handler=statement)

    parser = _command(billing, "rerate", "re-derive a month's charges (as adjustments)",
                      hotline="optional")
    parser.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    parser.set_defaults(handler=rerate_month)

    parser = _command(billing, "rate", "rate waiting calls now (the routers do it anyway)",
                      hotline="none")
    parser.set_defaults(handler=rate_now)

    parser = _command(billing, "reconcile",
                      "compare billable seconds with Asterisk's CDR billsec", hotline="optional")
    parser.add_argument("cdr_csv", type=Path, metavar="CDR_CSV",
                        help="cdr_custom's Master.csv (see dialplan/cdr_custom.conf)")
    parser.add_argument("--month", type=_month,
                        help="only calls started this month (YYYY-MM); also lists our answered "
                             "calls of the month missing from the CDR")
    parser.add_argument("--tolerance", type=arguments.seconds, default=Decimal(1),
                        help="seconds (default 1)")
    parser.set_defaults(handler=reconcile_cdr)

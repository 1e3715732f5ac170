"""Bad admin rows are refused by the database itself, with a readable reason."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

import strategies
from router import admin


@pytest.mark.parametrize(("sql", "args", "reason"), [
    ("INSERT INTO hotlines (number) VALUES ($1)", ["40012345"],
     "hotline number must be 400 or 800 then 7 digits"),
    ("INSERT INTO hotlines (number) VALUES ($1)", ["9008001234"],
     "hotline number must be 400 or 800 then 7 digits"),
    ("INSERT INTO hotlines (number, ring_timeout_s) VALUES ($1, 0)", ["4001112222"],
     "hotline ring timeout must be 1 to 300 seconds"),
    ("INSERT INTO hotlines (number, strategy) VALUES ($1, 'Robin; DROP')", ["4001112223"],
     "hotline strategy must be a lowercase name"),
    ("INSERT INTO phones (dial_string) VALUES ($1)", ["PJSIP/a&PJSIP/b"],
     "phone dial string must be tech slash resource no separators"),
    ("INSERT INTO phones (dial_string) VALUES ($1)", ["PJSIP/1001,30"],
     "phone dial string must be tech slash resource no separators"),
    ("INSERT INTO phones (dial_string) VALUES ($1)", ["PJSIP/x\nexten"],
     "phone dial string must be tech slash resource no separators"),
    ("INSERT INTO phones (dial_string) VALUES ($1)", ["Local/s@ctx(evil)"],
     "phone dial string must be tech slash resource no separators"),
    ("INSERT INTO phones (dial_string, capacity) VALUES ($1, 0)", ["PJSIP/cap0"],
     "phone capacity must be 1 to 100 calls"),
])
async def test_database_refuses_bad_rows_with_a_reason(db: Any, sql: str, args: list[Any],
                                                       reason: str) -> None:
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute(sql, *args)
    assert admin.explain(refused.value) == reason


async def test_adding_a_duplicate_hotline_says_so(db: Any) -> None:
    await admin.add_hotline(db, "4001239876")
    with pytest.raises(admin.AdminError, match="hotline number is unique"):
        await admin.add_hotline(db, "4001239876")


async def test_binding_to_an_unknown_hotline_says_so(db: Any) -> None:
    with pytest.raises(admin.AdminError, match="no hotline 4001230000"):
        await admin.add_phone(db, "4001230000", "PJSIP/phones/sip:1@127.0.0.1:5999")


async def test_unknown_strategy_is_refused_with_the_installed_ones(db: Any) -> None:
    with pytest.raises(admin.AdminError, match=r"no strategy named 'fastest'.*sequential"):
        await admin.add_hotline(db, "4001239877", strategy="fastest")


async def test_a_hotline_with_call_records_cannot_be_deleted(db: Any) -> None:
    row = await admin.add_hotline(db, "4001239878")
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at)
           VALUES (gen_random_uuid(), $1, '4001239878', '1', random()::text, 'r', now())""",
        row["id"])
    with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError):
        await db.execute("DELETE FROM hotlines WHERE id = $1", row["id"])


@pytest.mark.parametrize(("strategy", "options", "message"), [
    ("ring_progressively", {"interval": 5},
     "strategy ring_progressively has no option 'interval' (allowed: interval_s)"),
    ("ring_progressively", {"interval_s": 0},
     "strategy ring_progressively option 'interval_s' must be a number of seconds from 1 to 60"),
    ("ring_progressively", {"interval_s": "5"},
     "strategy ring_progressively option 'interval_s' must be a number of seconds from 1 to 60"),
    ("round_robin", {"start": 2}, "strategy round_robin has no option 'start' (allowed: none)"),
    ("sequential", [1, 2], 'strategy options must be a JSON object, e.g. {"interval_s": 5}'),
])
async def test_bad_strategy_options_are_refused_naming_the_option(
        db: Any, strategy: str, options: Any, message: str) -> None:
    await db.execute("INSERT INTO hotlines (number) VALUES ('4001230001') ON CONFLICT DO NOTHING")
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute("UPDATE hotlines SET strategy = $1, strategy_options = $2 "
                         "WHERE number = '4001230001'", strategy, options)
    assert admin.explain(refused.value) == f"hotline 4001230001: {message}"


async def test_good_options_and_plugin_rules_are_accepted(db: Any) -> None:
    await db.execute("INSERT INTO hotlines (number, strategy, strategy_options) "
                     "VALUES ('4001230002', 'ring_progressively', $1)", {"interval_s": 3})
    strategies.get("ring_progressively").validate({"interval_s": 3})  # the router agrees
    await db.execute("INSERT INTO hotlines (number, strategy, strategy_options) "
                     "VALUES ('4001230003', 'my_plugin_rule', $1)", {"anything": True})


def python_problem(strategy: str, options: dict[str, Any]) -> str | None:
    try:
        strategies.get(strategy).validate(options)
    except strategies.OptionError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("options", [
    {}, {"interval_s": 1}, {"interval_s": 5}, {"interval_s": 60}, {"interval_s": 1.5},
    {"interval_s": 0.999}, {"interval_s": 60.5}, {"interval_s": 0}, {"interval_s": 61},
    {"interval_s": -5}, {"interval_s": "5"}, {"interval_s": True}, {"interval_s": None},
    {"interval": 5}, {"interval_s": 5, "speed": 1},
])
async def test_the_database_and_the_router_judge_ring_progressively_alike(
        db: Any, options: dict[str, Any]) -> None:
    in_sql = await db.fetchval("SELECT strategy_options_problem('ring_progressively', $1)",
                               options)
    assert in_sql == python_problem("ring_progressively", options)


@pytest.mark.parametrize("strategy", ["fewest_calls", "least_talk_time", "longest_idle", "random",
                                      "round_robin", "sequential", "simultaneous", "weighted"])
@pytest.mark.parametrize("options", [{}, {"interval_s": 5}, {"weight": 1}])
async def test_the_database_and_the_router_judge_rules_without_options_alike(
        db: Any, strategy: str, options: dict[str, Any]) -> None:
    in_sql = await db.fetchval("SELECT strategy_options_problem($1, $2)", strategy, options)
    assert in_sql == python_problem(strategy, options)


async def test_forward_overflow_needs_a_number_to_forward_to(db: Any) -> None:
    with pytest.raises(asyncpg.exceptions.CheckViolationError) as refused:
        await db.execute("INSERT INTO hotlines (number, overflow) VALUES ('4001230004', 'forward')")
    assert admin.explain(refused.value) == "hotline forward overflow needs overflow forward to"

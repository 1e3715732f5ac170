"""The admin and operator experience, as they meet it: the CLI against the real database.

One test per kind of friction: a dry run down to the phones, values that can never
work refused, billing that does not depend on command order, local times, errors that
say what to do, and a clerk's month end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from router import db as router_db
from router import migrate
from router.billing import ledger
from tests.billing_helpers import add_call
from tests.conftest import TEST_DB
from tests.lab import database
from tests.web.conftest import WEB_LOGIN

# Asterisk is not reachable here: sound names cannot be checked, only warned about.
NO_ASTERISK = {"ARI_URL": "http://127.0.0.1:9", "ARI_PASSWORD": "x"}


def run(url: str, *args: str, env: dict[str, str] | None = None,
        stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *args, "--database-url", url],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **NO_ASTERISK, **(env or {})})


def ok(url: str, *args: str) -> str:
    done = run(url, *args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def refused(url: str, *args: str) -> str:
    done = run(url, *args)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()  # one line
    return line.removeprefix("hotline-router: ")


def number() -> str:
    return f"400{uuid.uuid4().int % 10**7:07d}"


# --- 1. plan explain walks to the phones ------------------------------------------------


def test_plan_explain_shows_the_ring_plan_and_says_when_nobody_can_ring(database_url: str
                                                                        ) -> None:
    hotline = number()
    ok(database_url, "hotline", "add", hotline)
    dial = [f"PJSIP/phones/sip:9{n}@10.1.0.{n}" for n in range(1, 4)]
    ok(database_url, "phone", "add", hotline, dial[0], "--label", "前台")
    ok(database_url, "phone", "add", hotline, dial[1], "--label", "客服")
    ok(database_url, "phone", "add", hotline, dial[2], "--label", "值班")
    ok(database_url, "group", "add", hotline, "duty", dial[2])
    ok(database_url, "group", "add", hotline, "service", dial[1], dial[0])
    ok(database_url, "menu", "add", hotline, "main", "--prompt", "demo-congrats",
       "--default-group", "service")
    ok(database_url, "menu", "key", hotline, "main", "9", "group", "duty")
    ok(database_url, "rule", "add", hotline, "--action", "menu", "--menu", "main")

    def explain(*extra: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(ok(database_url, "plan", "explain", hotline,
                                              "--caller", "13912345678", "--json", *extra))
        return shown

    # No keys: the menu times out to its default group, rung in the group's order.
    default = explain()
    assert (default["result"], default["rings"], default["rings_no_one"]) == (
        "menu", "service", False)
    assert "no input" in default["reason"]
    ids = [p["phone_id"] for p in default["phones"]]
    assert default["ring_plan"] == [[ids[0]], [ids[1]]]
    assert [(p["label"], p["state"], p["wave"]) for p in default["phones"]] == [
        ("客服", "idle", 1), ("前台", "idle", 2)]

    # Key 9 leads to duty, whose only member's binding is disabled: a dead end, said plainly.
    ok(database_url, "binding", "disable", hotline, dial[2])
    dead = explain("--keys", "9")
    assert (dead["keys"], dead["rings"], dead["rings_no_one"]) == ("9", "duty", True)
    assert dead["ring_plan"] == []
    assert [(p["label"], p["state"], p["detail"]) for p in dead["phones"]] == [
        ("值班", "disabled", "binding disabled for this hotline")]
    table = ok(database_url, "plan", "explain", hotline, "--caller", "13912345678",
               "--keys", "9")
    assert "RINGS NO ONE: every phone of group duty is disabled" in table

    # A busy phone is skipped, and shown as busy.
    ok(database_url, "binding", "enable", hotline, dial[2])
    ok(database_url, "phone", "disable", dial[0])
    partly = explain()
    assert [(p["label"], p["state"]) for p in partly["phones"]] == [
        ("客服", "idle"), ("前台", "disabled")]
    assert len(partly["ring_plan"]) == 1


async def test_plan_explain_reads_local_time_and_shows_busy_and_wrap_up(
        db: Any, database_url: str) -> None:
    hotline = number()
    ok(database_url, "hotline", "add", hotline)
    ok(database_url, "phone", "add", hotline, "PJSIP/phones/sip:81@10.2.0.1")
    ok(database_url, "phone", "add", hotline, "PJSIP/phones/sip:82@10.2.0.2")
    ok(database_url, "schedule", "add", hotline, "office")
    ok(database_url, "schedule", "hours", hotline, "office", "--days", "mon-fri",
       "--opens", "09:00", "--closes", "18:00")
    ok(database_url, "rule", "add", hotline, "--action", "closed", "--schedule", "office",
       "--when", "closed")
    busy, resting = [await db.fetchval("SELECT id FROM phones WHERE dial_string = $1", d)
                     for d in ("PJSIP/phones/sip:81@10.2.0.1", "PJSIP/phones/sip:82@10.2.0.2")]
    await db.execute("UPDATE phone_state SET active_calls = 1 WHERE phone_id = $1", busy)
    await db.execute("UPDATE phones SET wrap_up_s = 600 WHERE id = $1", resting)
    await db.execute("UPDATE phone_state SET last_call_ended_at = now() WHERE phone_id = $1",
                     resting)

    def explain(at: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(ok(database_url, "plan", "explain", hotline,
                                              "--caller", "02161234567", "--at", at, "--json"))
        return shown

    # 17:30 in Shanghai is open; the same wall-clock time in UTC is 01:30 there: closed.
    assert explain("2026-11-27T17:30")["result"] == "default"
    assert explain("2026-11-27T17:30")["at"] == "2026-11-27 17:30:00+08:00"
    assert explain("2026-11-27T17:30:00+00:00")["result"] == "closed"
    shown = explain("2026-11-27T10:00")
    assert [p["state"] for p in shown["phones"]] == ["busy", "wrap-up"]
    assert shown["rings_no_one"] is True
    assert "no phone of group" in shown["why"]
    await db.execute("UPDATE phone_state SET active_calls = 0 WHERE phone_id = $1", busy)


# --- 2. values that can never work are refused ------------------------------------------


def test_values_that_can_never_work_are_refused_with_what_to_do(database_url: str) -> None:
    hotline = number()
    ok(database_url, "hotline", "add", hotline)
    ok(database_url, "phone", "add", hotline, "PJSIP/phones/sip:71@10.3.0.1")
    ok(database_url, "group", "add", hotline, "sh", "PJSIP/phones/sip:71@10.3.0.1")
    why = refused(database_url, "rule", "add", hotline, "--action", "group", "--group", "sh",
                  "--region", "Shangai")
    assert "no region is called 'Shangai'" in why
    assert "did you mean shanghai" in why
    for place in ("上海", "Shanghai", "江苏", "常州", "021", "0519"):
        ok(database_url, "rule", "add", hotline, "--action", "group", "--group", "sh",
           "--region", place)
    assert "area code 0999" in refused(database_url, "callers", "add", "vip", "0999",
                                       "--match", "area-code")

    ok(database_url, "schedule", "add", hotline, "office")
    why = refused(database_url, "schedule", "override", hotline, "office", "closed",
                  "--until", "2020-01-01T09:00")
    assert why.startswith("--until 2020-01-01 09:00:00+08:00 is already past")
    later = (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    said = ok(database_url, "schedule", "override", hotline, "office", "closed",
              "--until", later.isoformat())
    assert f"until {later.isoformat(sep=' ')}+08:00" in said  # read as Shanghai time

    # Without an Asterisk to ask, sounds are accepted with a warning naming them.
    done = run(database_url, "plan", "settings", hotline, "--greeting", "hello-wrld")
    assert done.returncode == 0, done.stderr
    assert "warning: could not check --greeting against Asterisk's sounds" in done.stderr
    assert "hello-wrld" in done.stderr


# --- 3. billing does not depend on the order of commands --------------------------------


async def test_tariff_and_package_in_either_order_charge_the_same(db: Any,
                                                                  database_url: str) -> None:
    start = datetime(2025, 3, 10, 2, tzinfo=UTC)
    charged = []
    for order in (("package", "tariff"), ("tariff", "package")):
        hotline = number()
        ok(database_url, "hotline", "add", hotline)
        hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", hotline)
        calls = [await add_call(db, hotline_id, hotline, start + timedelta(hours=n),
                                talk_ms=61_000 * (n + 1)) for n in range(3)]
        balance = ok(database_url, "billing", "balance", "--hotline", hotline)
        assert "3 answered call(s) wait for a tariff: the first started 2025-03-10 10:00:00+08:00" \
            in balance
        assert "--from 2025-03-10" in balance
        for step in order:
            if step == "tariff":
                ok(database_url, "billing", "tariff", "set", "--hotline", hotline,
                   "--price-fen", "12", "--from", "2025-01-01")
            else:
                ok(database_url, "billing", "package", "add", "--hotline", hotline, "--from",
                   "2025-01-01", "--until", "2026-01-01", "--included-minutes", "3")
            # a router rates the waiting calls between the two commands
            ok(database_url, "billing", "rate")
        assert "wait for a tariff" not in ok(database_url, "billing", "balance", "--hotline",
                                             hotline)
        charged.append([await db.fetchval(
            "SELECT -sum(amount_fen) FROM ledger WHERE call_id = $1", call) for call in calls])
        assert await ledger.balance(db, hotline_id) == -sum(charged[-1])
    # 2 + 3 + 4 units at 12 fen; the first 3 included, in the order the calls ended
    assert charged[0] == charged[1] == [0, 24, 48]


# --- 4 and 8. local times, and a clerk's month end ---------------------------------------


async def test_a_clerk_closes_a_month_for_every_customer(db: Any, database_url: str,
                                                         tmp_path: Path) -> None:
    month_start = datetime(2027, 4, 30, 16, tzinfo=UTC)  # 2027-05-01 00:00 in Shanghai
    numbers = [number(), number()]
    for n, hotline in enumerate(numbers):
        ok(database_url, "hotline", "add", hotline)
        ok(database_url, "billing", "tariff", "set", "--hotline", hotline, "--price-fen", "12",
           "--from", "2027-01-01")
        hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", hotline)
        await add_call(db, hotline_id, hotline, month_start + timedelta(hours=1 + n),
                       talk_ms=61_000, caller="=2+5")
    ok(database_url, "billing", "package", "add", "--hotline", numbers[0], "--from",
       "2027-05-01", "--until", "2027-08-01", "--minimum-fen", "1000")
    ok(database_url, "billing", "rate")

    # a negative adjustment on the month's statement
    adjusted = json.loads(ok(database_url, "billing", "adjust", "--hotline", numbers[1],
                             "--fen", "-500", "--note", "late fee", "--month", "2027-05",
                             "--json"))
    assert (adjusted["amount_fen"], adjusted["balance_fen"]) == (-500, -24 - 500)
    assert "needs --note" in refused(database_url, "billing", "adjust", "--hotline",
                                     numbers[1], "--fen", "-5", "--note", " ")

    # every customer at once, one CSV
    both = ok(database_url, "billing", "statement", "--all", "--month", "2027-05",
              "--format", "csv")
    rows = [line.split(",") for line in both.splitlines()]
    mine = [row for row in rows if row[0] in numbers]
    assert {row[0] for row in mine} == set(numbers)
    assert all(row[4] == "'=2+5" for row in mine if row[1] == "call")
    assert rows[0][0] == "hotline"
    assert sum(row[0] == "hotline" for row in rows) == 1  # one header
    # one file per customer
    listed = ok(database_url, "billing", "statement", "--all", "--month", "2027-05",
                "--output-dir", str(tmp_path)).split()
    for hotline in numbers:
        assert str(tmp_path / f"statement-{hotline}-2027-05.txt") in listed
    first = (tmp_path / f"statement-{numbers[0]}-2027-05.txt").read_text()
    assert "outcome" in first
    assert "2027-05-01 01:00:00" in first  # the call's start in Shanghai time
    assert "if the month ended now it would add ¥9.76" in first
    second = json.loads(ok(database_url, "billing", "statement", "--hotline", numbers[1],
                           "--month", "2027-05", "--json"))
    assert second["total_fen"] == 24 + 500
    assert second["minimum_spend_preview_fen"] is None

    # --json everywhere, times ISO in UTC there, local in tables
    tariffs = [json.loads(line) for line in ok(database_url, "billing", "tariff", "list",
                                                "--hotline", numbers[0], "--json").splitlines()]
    assert tariffs[0]["valid_from"] == "2026-12-31T16:00:00.000Z"
    assert "2027-01-01 00:00:00+08:00" in ok(database_url, "billing", "tariff", "list",
                                             "--hotline", numbers[0])
    packages = ok(database_url, "billing", "package", "list", "--hotline", numbers[0])
    assert "2027-05-01 00:00:00+08:00" in packages
    shown = json.loads(ok(database_url, "billing", "balance", "--hotline", numbers[1], "--json"))
    assert shown["balance_fen"] == -524
    assert shown["entries"][0]["note"] == "late fee"
    for args in (["billing", "settings", "--hotline", numbers[0]],
                 ["billing", "rerate", "--month", "2027-05", "--hotline", numbers[0]],
                 ["billing", "rate"],
                 ["billing", "topup", "--hotline", numbers[0], "--fen", "100"]):
        json.loads(ok(database_url, *args, "--json"))
    # the older positional form still works
    assert "balance" in ok(database_url, "billing", "balance", numbers[0])


# --- 8. weights, holidays --------------------------------------------------------------


async def test_a_group_member_follows_its_binding_weight_unless_the_group_sets_one(
        db: Any, database_url: str) -> None:
    hotline = number()
    ok(database_url, "hotline", "add", hotline)
    ok(database_url, "phone", "add", hotline, "PJSIP/phones/sip:61@10.4.0.1")
    ok(database_url, "group", "add", hotline, "w", "PJSIP/phones/sip:61@10.4.0.1",
       "--strategy", "weighted")
    ok(database_url, "binding", "update", hotline, "PJSIP/phones/sip:61@10.4.0.1",
       "--weight", "70")

    def member() -> dict[str, Any]:
        shown = json.loads(ok(database_url, "group", "show", hotline, "w", "--json"))
        found: dict[str, Any] = shown["members"][0]
        return found

    assert (member()["weight"], member()["weight_from"]) == (70, "binding")
    ok(database_url, "group", "add-member", hotline, "w", "PJSIP/phones/sip:61@10.4.0.1",
       "--weight", "30")
    assert (member()["weight"], member()["weight_from"]) == (30, "group")
    done = run(database_url, "binding", "update", hotline, "PJSIP/phones/sip:61@10.4.0.1",
               "--weight", "50")
    assert done.returncode == 0
    assert "group w keeps its own weight 30" in done.stderr
    ok(database_url, "group", "add-member", hotline, "w", "PJSIP/phones/sip:61@10.4.0.1",
       "--weight", "binding")
    assert (member()["weight"], member()["weight_from"]) == (50, "binding")

    from router.directory import find_hotline  # what a call's strategy is handed
    found = await find_hotline(db, hotline)
    assert found is not None
    (group,) = found.hotline.plan.groups.values()
    (candidate,) = found.idle_candidates(datetime.now(UTC), group)
    assert candidate.weight == 50


def test_holidays_are_entered_as_ranges_and_listed_beside_the_packages(database_url: str
                                                                       ) -> None:
    said = ok(database_url, "calendar", "add", "2031-10-01", "--to", "2031-10-07",
              "--kind", "holiday", "--name", "国庆节")
    assert "2031-10-01 to 2031-10-07 (7 days)" in said
    assert "is before" in refused(database_url, "calendar", "add", "2031-10-09", "--to",
                                  "2031-10-08", "--kind", "holiday")
    listed = [json.loads(line) for line in ok(database_url, "calendar", "list", "--year", "2031",
                                               "--json").splitlines()]
    assert [row["day"] for row in listed if row["name"] == "国庆节"] == [
        f"2031-10-0{d}" for d in range(1, 8)]
    package = [json.loads(line) for line in ok(database_url, "calendar", "list", "--year",
                                                "2026", "--json").splitlines()]
    assert {"day": "2026-10-01", "kind": "holiday", "name": "National Day",
            "source": "chinese-calendar", "weekday": "thu"} in package
    assert any(row["kind"] == "makeup-workday" for row in package)


# --- 5. errors say what went wrong and what to do ----------------------------------------


def test_a_closed_pipe_is_quiet(database_url: str) -> None:
    ok(database_url, "hotline", "add", number())
    listing = subprocess.Popen([sys.executable, "-m", "router", "hotline", "list",
                                "--database-url", database_url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert listing.stdout is not None
    listing.stdout.close()  # the reader is gone before a line is written: `… | head -0`
    assert listing.wait(60) == 141
    assert listing.stderr is not None
    assert listing.stderr.read() == b""


async def test_a_database_not_migrated_says_to_run_migrate() -> None:
    url = await database.recreate(f"{TEST_DB}_empty")
    done = run(url, "hotline", "list")
    assert done.returncode == 3
    assert done.stderr.strip().endswith("run 'hotline-router migrate' as the database owner")
    assert 'relation "hotlines" does not exist' in done.stderr


@pytest.mark.parametrize("command", [("web", "--listen", "127.0.0.1:9"), ("run",)])
async def test_the_web_process_and_the_router_refuse_an_unmigrated_database(
        command: tuple[str, ...]) -> None:
    url = await database.recreate(f"{TEST_DB}_empty")
    done = run(url, *command)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line == ("hotline-router: the database is not migrated for this version (the "
                    "database has no migrations applied); run 'hotline-router migrate' as the "
                    "database owner")


async def test_the_web_process_names_the_first_migration_missing(database_url: str) -> None:
    url = await database.fresh(f"{TEST_DB}_behind")
    last = migrate.available()[-1]
    connection = await router_db.connect(url)
    try:
        await connection.execute("DELETE FROM schema_migrations WHERE version = $1",
                                 last.version)
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1",
                                         WEB_LOGIN):
            await connection.execute(f"CREATE ROLE {WEB_LOGIN} LOGIN IN ROLE hotline_router_web")
    finally:
        await connection.close()
    done = run(url.replace("//postgres@", f"//{WEB_LOGIN}@", 1), "web", "--listen",
               "127.0.0.1:9")
    assert done.returncode == 3, done.stderr
    assert f"migration {last.version:04d}_{last.name} is not applied" in done.stderr
    assert done.stderr.strip().endswith("run 'hotline-router migrate' as the database owner")


async def test_migrate_without_createrole_says_it_needs_it(database_url: str) -> None:
    """migrate creates and grants the hotline_router_* roles: the database's owner alone
    cannot (docs/operations.md)."""
    url = await database.recreate(f"{TEST_DB}_no_createrole")
    connection = await router_db.connect(url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = 'hr_owner'"):
            await connection.execute("CREATE ROLE hr_owner LOGIN NOCREATEROLE")
        await connection.execute(f'ALTER DATABASE "{TEST_DB}_no_createrole" OWNER TO hr_owner')
    finally:
        await connection.close()
    done = run(url.replace("//postgres@", "//hr_owner@", 1), "migrate")
    assert done.returncode == 3, done.stderr
    line = done.stderr.strip().splitlines()[-1]  # after the log of migrations it applied
    assert line.startswith("hotline-router: migrate creates the hotline_router_* roles and "
                           "grants them, so its login needs CREATEROLE or superuser ("), line


async def test_migrate_as_a_login_that_does_not_own_the_schema_says_who_does(
        database_url: str) -> None:
    url = await database.recreate(f"{TEST_DB}_unowned")
    connection = await router_db.connect(url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = 'hr_stranger'"):
            await connection.execute("CREATE ROLE hr_stranger LOGIN")
    finally:
        await connection.close()
    done = run(url.replace("//postgres@", "//hr_stranger@", 1), "migrate")
    assert done.returncode == 3, done.stderr
    assert "migrations need the owner of the database's schema" in done.stderr
    assert "permission denied for schema public" in done.stderr


def test_the_database_unreachable_names_the_setting() -> None:
    done = run("postgresql://postgres@127.0.0.1:9/none", "hotline", "list")
    assert done.returncode == 3
    assert done.stderr.startswith("hotline-router: cannot connect to the database at "
                                  "127.0.0.1:9/none")
    assert "database_url (DATABASE_URL or --database-url)" in done.stderr


def test_run_refuses_a_missing_spool_folder_and_a_port_in_use(database_url: str,
                                                             tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run(database_url, "run", env={"SPOOL_DIR": str(blocker / "spool")})
    assert done.returncode == 4, done.stderr
    assert f"spool_dir {blocker / 'spool'}" in done.stderr
    assert "set spool_dir (SPOOL_DIR)" in done.stderr

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = run(database_url, "run", env={"SPOOL_DIR": str(tmp_path / "spool"),
                                             "HTTP_LISTEN": f"127.0.0.1:{port}",
                                             "ROUTER_ID": "experience-port-test"})
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"hotline-router: http_listen 127.0.0.1:{port}: cannot listen there (address already "
        "in use); stop what holds that port or set http_listen (HTTP_LISTEN or --http-listen) "
        "to a free HOST:PORT")


def test_a_wrong_setting_value_names_it() -> None:
    done = run("postgresql://postgres@127.0.0.1:9/none", "config", "check",
               env={"DISPLAY_TIME_ZONE": "CST"})
    assert done.returncode == 2
    assert "display_time_zone must be a tz database name" in done.stderr


"""The plan CLI as an admin runs it (as the admin role), against the real database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router import db as router_db
from tests.db.test_cli import cli

ADMIN_LOGIN = "hotline_router_test_plan_admin"


@pytest.fixture(scope="module")
async def admin_url(database_url: str) -> str:
    """The test database as the admin CLI sees it: a login in the admin role."""
    connection = await router_db.connect(database_url)
    try:
        if not await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1",
                                         ADMIN_LOGIN):
            await connection.execute(
                f"CREATE ROLE {ADMIN_LOGIN} LOGIN IN ROLE hotline_router_admin")
    finally:
        await connection.close()
    return database_url.replace("//postgres@", f"//{ADMIN_LOGIN}@", 1)


def ok(url: str, *args: str) -> str:
    done = cli(url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(url: str, *args: str) -> str:
    done = cli(url, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    return done.stderr.strip().removeprefix("hotline-router: ")


def test_an_admin_builds_a_plan_and_dry_runs_it(admin_url: str) -> None:
    number = "4006570001"
    ok(admin_url, "hotline", "add", number)
    for n in (1, 2, 3):
        ok(admin_url, "phone", "add", number, f"PJSIP/phones/sip:80{n}@10.0.0.{n}")
    ok(admin_url, "group", "add", number, "sales", "PJSIP/phones/sip:801@10.0.0.1",
       "--strategy", "simultaneous")
    ok(admin_url, "group", "add", number, "service", "PJSIP/phones/sip:802@10.0.0.2")
    ok(admin_url, "group", "add", number, "duty", "PJSIP/phones/sip:803@10.0.0.3")
    ok(admin_url, "group", "add-member", number, "service", "PJSIP/phones/sip:803@10.0.0.3")
    ok(admin_url, "callers", "add", "vip", "+86 139-1234-5678", "--hotline", number)
    ok(admin_url, "callers", "add", "blacklist", "0755", "--match", "area-code",
       "--hotline", number)
    ok(admin_url, "schedule", "add", number, "office")
    ok(admin_url, "schedule", "hours", number, "office", "--days", "mon-fri",
       "--opens", "09:00", "--closes", "18:00")
    ok(admin_url, "menu", "add", number, "main", "--prompt", "demo-congrats",
       "--default-group", "service")
    ok(admin_url, "menu", "key", number, "main", "1", "group", "sales")
    ok(admin_url, "rule", "add", number, "--action", "group", "--group", "sales",
       "--list", "vip")
    ok(admin_url, "rule", "add", number, "--action", "group", "--group", "duty",
       "--schedule", "office", "--when", "closed")
    ok(admin_url, "rule", "add", number, "--action", "menu", "--menu", "main")
    ok(admin_url, "plan", "settings", number, "--greeting", "hello-world")

    def explain(caller: str, at: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(ok(admin_url, "plan", "explain", number,
                                              "--caller", caller, "--at", at, "--json"))
        return shown

    weekday, saturday = "2026-11-27T10:00:00+08:00", "2026-11-28T10:00:00+08:00"
    assert explain("13912345678", saturday)["group"] == "sales"
    assert explain("02161234567", saturday)["group"] == "duty"
    assert explain("02161234567", "2026-10-10T10:00:00+08:00")["menu"] == "main"  # 调休
    assert explain("02161234567", weekday)["menu"] == "main"
    assert explain("075512345678", weekday)["result"] == "blacklisted"
    plan = json.loads(ok(admin_url, "plan", "show", number, "--json"))
    assert [(r["position"], r["action"], r["target"]) for r in plan["rules"]] == [
        (1, "group", "sales"), (2, "group", "duty"), (3, "menu", "main")]
    assert plan["settings"]["greeting_sound"] == "hello-world"

    shown = json.loads(ok(admin_url, "schedule", "override", number, "office", "open",
                          "--until", "2099-01-01T09:00:00+08:00", "--json"))
    assert shown == {"override": "open", "until": "2099-01-01T01:00:00.000Z"}  # JSON: UTC
    assert explain("02161234567", saturday)["menu"] == "main"
    rules = [json.loads(line) for line in
             ok(admin_url, "rule", "list", number, "--json").splitlines()]
    first_rule = next(r["id"] for r in rules if r["position"] == 1)
    ok(admin_url, "rule", "disable", str(first_rule))
    assert explain("13912345678", saturday)["menu"] == "main"  # override open: no duty


def test_refusals_name_the_reason(admin_url: str) -> None:
    number = "4006570002"
    ok(admin_url, "hotline", "add", number)
    ok(admin_url, "group", "add", number, "sales")
    ok(admin_url, "menu", "add", number, "main", "--prompt", "digits/1",
       "--default-group", "sales")
    assert refused(admin_url, "rule", "add", number, "--action", "group", "--group", "nope") == (
        f"no group 'nope' on hotline {number}")
    assert refused(admin_url, "rule", "add", number, "--action", "group") == (
        "rule group action needs a group and only it")
    assert refused(admin_url, "group", "delete", number, "sales") == (
        "group is the default of a voice menu")
    assert refused(admin_url, "group", "add", number, "sales") == (
        "group name is already used by this hotline")
    assert refused(admin_url, "schedule", "add", number, "x", "--makeup-as", "sun") == (
        "schedule makeup workday must be mon to fri")
    ok(admin_url, "schedule", "add", number, "office")
    assert refused(admin_url, "schedule", "hours", number, "office", "--days", "mon",
                   "--opens", "18:00", "--closes", "09:00") == "window must close after it opens"
    assert refused(admin_url, "menu", "key", number, "main", "2", "submenu", "main") == (
        "a voice menu cannot lead back to itself")
    assert refused(admin_url, "plan", "settings", number, "--time-zone", "Mars/Base") == (
        "plan time zone must be a known zone")
    assert refused(admin_url, "callers", "add", "blacklist", "abc") == (
        "caller list number or prefix must be 1 to 20 digits")


def test_holidays_admins_enter_override_the_package(admin_url: str) -> None:
    """2027 is beyond chinese-calendar 1.11.0: its days come from calendar_days."""
    number = "4006570003"
    ok(admin_url, "hotline", "add", number)
    ok(admin_url, "phone", "add", number, "PJSIP/phones/sip:804@10.0.0.4")
    ok(admin_url, "group", "add", number, "duty", "PJSIP/phones/sip:804@10.0.0.4")
    ok(admin_url, "schedule", "add", number, "office")
    ok(admin_url, "schedule", "hours", number, "office", "--days", "mon-fri",
       "--opens", "09:00", "--closes", "18:00")
    ok(admin_url, "rule", "add", number, "--action", "group", "--group", "duty",
       "--schedule", "office", "--when", "closed")

    def group_at(at: str) -> str | None:
        shown: dict[str, Any] = json.loads(ok(admin_url, "plan", "explain", number,
                                              "--caller", "02161234567", "--at", at, "--json"))
        group: str | None = shown["group"]
        return group

    new_year, saturday = "2027-01-01T10:00:00+08:00", "2027-01-02T10:00:00+08:00"
    assert (group_at(new_year), group_at(saturday)) == (None, "duty")  # plain weekdays
    try:
        ok(admin_url, "calendar", "add", "2027-01-01", "--kind", "holiday", "--name", "元旦")
        ok(admin_url, "calendar", "add", "2027-01-02", "--kind", "makeup-workday")
        assert (group_at(new_year), group_at(saturday)) == ("duty", None)
        listed = [json.loads(line) for line in
                  ok(admin_url, "calendar", "list", "--json").splitlines()]
        assert {"day": "2027-01-01", "kind": "holiday", "name": "元旦", "source": "admin",
                "weekday": "fri"} in listed
        assert refused(admin_url, "calendar", "update", "2027-01-01", "--name", "x" * 41) == (
            "calendar day name must be at most 40 characters")
        assert refused(admin_url, "calendar", "add", "2027-01-01", "--kind", "holiday") == (
            "calendar days pkey")
    finally:
        for day in ("2027-01-01", "2027-01-02"):
            cli(admin_url, "calendar", "delete", day)
    assert group_at(new_year) is None

"""Admin CLI round trips against the real database: create, show, update, delete.

Every refusal is the database's own, worded by the constraint's name, and
exits 2; the same refusals meet an admin in psql.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.db.test_cli import cli


def ok(database_url: str, *args: str) -> str:
    done = cli(database_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(database_url: str, *args: str) -> str:
    done = cli(database_url, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


def test_hotline_round_trip(database_url: str) -> None:
    added = json.loads(ok(database_url, "hotline", "add", "4007000001", "--name", "Sales",
                          "--ring-timeout", "20", "--json"))
    assert (added["number"], added["name"], added["ring_timeout_s"]) == ("4007000001", "Sales", 20)

    shown = json.loads(ok(database_url, "hotline", "show", "4007000001", "--json"))
    assert shown["strategy"] == "sequential"
    assert shown["enabled"] is True
    assert shown["bound_phones"] == []

    updated = json.loads(ok(database_url, "hotline", "update", "4007000001", "--name", "Support",
                            "--strategy", "random", "--ring-timeout", "30", "--json"))
    assert (updated["name"], updated["strategy"], updated["ring_timeout_s"]) == (
        "Support", "random", 30)
    overflow = json.loads(ok(database_url, "hotline", "update", "4007000001", "--overflow",
                             "queue", "--max-attempts", "2", "--total-timeout", "90", "--json"))
    assert (overflow["overflow"], overflow["max_attempts"], overflow["total_timeout_s"]) == (
        "queue", 2, 90)
    unlimited = json.loads(ok(database_url, "hotline", "update", "4007000001",
                              "--max-attempts", "none", "--json"))
    assert unlimited["max_attempts"] is None
    renamed = json.loads(ok(database_url, "hotline", "update", "4007000001",
                            "--number", "4007000002", "--json"))
    assert renamed["number"] == "4007000002"

    assert "disabled" in ok(database_url, "hotline", "disable", "4007000002")
    assert json.loads(ok(database_url, "hotline", "show", "4007000002", "--json"))[
        "enabled"] is False
    assert "enabled" in ok(database_url, "hotline", "enable", "4007000002")

    listed = [json.loads(line) for line in
              ok(database_url, "hotline", "list", "--json").splitlines()]
    assert "4007000002" in [row["number"] for row in listed]
    table = ok(database_url, "hotline", "list")
    assert table.splitlines()[0].split()[:3] == ["number", "name", "strategy"]

    assert "deleted" in ok(database_url, "hotline", "delete", "4007000002")
    assert refused(database_url, "hotline", "show", "4007000002") == (
        "hotline-router: no hotline 4007000002")


async def test_phone_and_binding_round_trip(database_url: str, db: Any) -> None:
    ok(database_url, "hotline", "add", "4007000010")
    phone = json.loads(ok(database_url, "phone", "create", "PJSIP/phones/sip:1@10.0.0.1",
                          "--label", "desk", "--capacity", "2", "--json"))
    assert (phone["label"], phone["capacity"], phone["hotlines"]) == ("desk", 2, 0)
    phone_id = str(phone["id"])

    bound = json.loads(ok(database_url, "binding", "add", "4007000010", phone_id, "--json"))
    assert (bound["hotline"], bound["position"]) == ("4007000010", 1)
    # by dial string as well as by id; the second phone goes last
    ok(database_url, "phone", "add", "4007000010", "PJSIP/phones/sip:2@10.0.0.2")
    listed = [json.loads(line) for line in
              ok(database_url, "binding", "list", "4007000010", "--json").splitlines()]
    assert [(r["dial_string"], r["position"]) for r in listed] == [
        ("PJSIP/phones/sip:1@10.0.0.1", 1), ("PJSIP/phones/sip:2@10.0.0.2", 2)]

    moved = json.loads(ok(database_url, "binding", "update", "4007000010",
                          "PJSIP/phones/sip:1@10.0.0.1", "--position", "3", "--json"))
    assert moved["position"] == 3
    ok(database_url, "binding", "disable", "4007000010", phone_id)
    assert await db.fetchval("SELECT enabled FROM bound_phones WHERE phone_id = $1",
                             int(phone_id)) is False

    shown = json.loads(ok(database_url, "hotline", "show", "4007000010", "--json"))
    assert [(p["dial_string"], p["binding_enabled"]) for p in shown["bound_phones"]] == [
        ("PJSIP/phones/sip:2@10.0.0.2", True), ("PJSIP/phones/sip:1@10.0.0.1", False)]

    updated = json.loads(ok(database_url, "phone", "update", phone_id, "--capacity", "5",
                            "--label", "front desk", "--json"))
    assert (updated["capacity"], updated["label"]) == (5, "front desk")
    assert json.loads(ok(database_url, "phone", "show", phone_id, "--json"))["hotlines"] == [
        {"hotline": "4007000010", "position": 3, "weight": 1, "binding_enabled": False}]
    tuned = json.loads(ok(database_url, "phone", "update", phone_id, "--wrap-up", "30", "--json"))
    assert tuned["wrap_up_s"] == 30
    weighted = json.loads(ok(database_url, "binding", "update", "4007000010", phone_id,
                             "--weight", "70", "--json"))
    assert weighted["weight"] == 70

    ok(database_url, "binding", "delete", "4007000010", phone_id)
    assert refused(database_url, "binding", "show", "4007000010", phone_id) == (
        f"hotline-router: no binding 4007000010 {phone_id}")
    ok(database_url, "phone", "delete", phone_id)
    assert refused(database_url, "phone", "show", phone_id) == (
        f"hotline-router: no phone {phone_id}")


@pytest.mark.parametrize(("args", "reason"), [
    (("hotline", "add", "4001"), "hotline number must be 400 or 800 then 7 digits"),
    (("hotline", "add", "4007000020"), "hotline number is unique"),
    (("hotline", "update", "4007000020", "--ring-timeout", "301"),
     "hotline ring timeout must be 1 to 300 seconds"),
    (("hotline", "update", "4007000020", "--strategy", "fastest"),
     "no strategy named 'fastest' is installed"),
    (("hotline", "update", "4007000020", "--options", "[1]"), "must be a JSON object"),
    (("hotline", "update", "4007000020", "--ring-timeout", "soon"),
     "--ring-timeout: 'soon' is not a valid value"),
    (("hotline", "update", "4007000020"), "nothing to change"),
    (("hotline", "update", "4007000020", "--overflow", "forward"),
     "hotline forward overflow needs overflow forward to"),
    (("hotline", "update", "4007000020", "--overflow", "hangup"),
     "hotline overflow must be busy queue forward or voicemail"),
    (("phone", "update", "PJSIP/phones/sip:20@10.0.0.20", "--wrap-up", "-1"),
     "phone wrap up must be 0 to 3600 seconds"),
    (("binding", "update", "4007000020", "PJSIP/phones/sip:20@10.0.0.20", "--weight", "101"),
     "bound phone weight must be 0 to 100"),
    (("hotline", "update", "4009999998", "--name", "x"), "no hotline 4009999998"),
    (("hotline", "delete", "4007000021"),
     "hotline has call records disable it instead of deleting"),
    (("phone", "create", "PJSIP/a&PJSIP/b"),
     "phone dial string must be tech slash resource no separators"),
    (("phone", "create", "PJSIP/phones/sip:20@10.0.0.20"), "phone dial string is unique"),
    (("phone", "update", "PJSIP/phones/sip:20@10.0.0.20", "--capacity", "0"),
     "phone capacity must be 1 to 100 calls"),
    (("binding", "add", "4007000020", "PJSIP/phones/sip:20@10.0.0.20"),
     "phone is already bound to this hotline"),
    (("binding", "update", "4007000020", "PJSIP/phones/sip:20@10.0.0.20", "--position", "0"),
     "bound phone position must be positive"),
    (("binding", "add", "4007000020", "PJSIP/nobody"), "no phone PJSIP/nobody"),
    (("binding", "add", "4009999997", "PJSIP/phones/sip:20@10.0.0.20"), "no hotline 4009999997"),
])
async def test_each_refusal_exits_2_with_the_reason(
        database_url: str, db: Any, args: tuple[str, ...], reason: str) -> None:
    if not await db.fetchval("SELECT true FROM hotlines WHERE number = '4007000020'"):
        ok(database_url, "hotline", "add", "4007000020")
        ok(database_url, "phone", "add", "4007000020", "PJSIP/phones/sip:20@10.0.0.20")
        ok(database_url, "hotline", "add", "4007000021")
        await db.execute(
            """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                                  started_at)
               SELECT gen_random_uuid(), id, number, '1', random()::text, 'r', now() FROM hotlines
               WHERE number = '4007000021'""")
    message = refused(database_url, *args)
    assert message.startswith("hotline-router: ")
    assert reason in message


async def test_psql_meets_the_same_refusal(db: Any) -> None:
    import asyncpg

    from router import admin

    await db.execute("INSERT INTO hotlines (number) VALUES ('4007000030')")
    await db.execute(
        """INSERT INTO calls (id, hotline_id, dialled, caller, caller_channel, router_id,
                              started_at)
           SELECT gen_random_uuid(), id, number, '1', random()::text, 'r', now() FROM hotlines
           WHERE number = '4007000030'""")
    with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError) as refusal:
        await db.execute("DELETE FROM hotlines WHERE number = '4007000030'")
    assert refusal.value.constraint_name == (
        "hotline_has_call_records_disable_it_instead_of_deleting")
    assert admin.explain(refusal.value) == (
        "hotline has call records disable it instead of deleting")


async def test_screening_is_set_per_hotline_and_overridden_per_group_and_binding(
        database_url: str, db: Any, hotline_number: str) -> None:
    number = hotline_number
    ok(database_url, "hotline", "add", number)
    ok(database_url, "phone", "add", number, f"PJSIP/phones/sip:{number}@10.0.0.30")
    phone_id = str(await db.fetchval(
        "SELECT id FROM phones WHERE dial_string = $1", f"PJSIP/phones/sip:{number}@10.0.0.30"))
    fresh = json.loads(ok(database_url, "hotline", "show", number, "--json"))
    assert (fresh["confirm_key"], fresh["confirm_timeout_s"], fresh["caller_id_shown"]) == (
        "none", 10, "caller")

    on = json.loads(ok(database_url, "hotline", "update", number, "--confirm-key", "1",
                       "--whisper", "hello-world,digits/4", "--ringback", "my-ringback",
                       "--caller-id", "prefix", "--caller-id-prefix", "400-", "--json"))
    assert (on["confirm_key"], on["whisper_sound"], on["ringback_sound"],
            on["caller_id_shown"], on["caller_id_prefix"]) == (
        "1", "hello-world,digits/4", "my-ringback", "prefix", "400-")
    off = json.loads(ok(database_url, "hotline", "update", number, "--confirm-key",
                        "none", "--whisper", "none", "--json"))
    assert (off["confirm_key"], off["whisper_sound"]) == ("none", None)

    assert refused(database_url, "hotline", "update", number, "--confirm-key", "12") == (
        "hotline-router: hotline confirm key must be none or one key 0 to 9 star or hash")
    assert "hotline confirm timeout must be 1 to 60 seconds" in refused(
        database_url, "hotline", "update", number, "--confirm-timeout", "0")
    assert "caller id prefix is needed for prefix" in refused(
        database_url, "hotline", "update", number, "--caller-id-prefix", "none")
    assert "hotline sounds must be sound names separated by commas" in refused(
        database_url, "hotline", "update", number, "--whisper", "../etc/passwd")

    ok(database_url, "group", "add", number, "sales", phone_id)
    group = json.loads(ok(database_url, "group", "update", number, "sales",
                          "--confirm-key", "#", "--json"))
    assert group["confirm_key"] == "#"
    inherit = json.loads(ok(database_url, "group", "update", number, "sales",
                            "--confirm-key", "inherit", "--json"))
    assert inherit["confirm_key"] is None
    binding = json.loads(ok(database_url, "binding", "update", number, phone_id,
                            "--confirm-key", "none", "--json"))
    assert binding["confirm_key"] == "none"
    assert "binding confirm key must be none or one key" in refused(
        database_url, "binding", "update", number, phone_id, "--confirm-key", "a")

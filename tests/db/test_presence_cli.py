"""`hotline-router phone sign-in|sign-out|pause|resume|status|history` as an admin runs
them (the admin role), against the real database."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import uuid4

from tests.db.test_plan_cli import admin_url, ok, refused

__all__ = ["admin_url"]  # the fixture, shared with the plan CLI's tests


def new_hotline_with_phones(url: str, count: int) -> tuple[str, list[int]]:
    number = f"400{uuid4().int % 10**7:07d}"
    ok(url, "hotline", "add", number)
    ids = []
    for n in range(count):
        added = json.loads(ok(url, "phone", "add", number,
                              f"PJSIP/phones/sip:{n}{uuid4().hex[:8]}@10.0.0.9", "--json"))
        ids.append(added["phone_id"])
    return number, ids


def status(url: str, *args: str) -> dict[int, dict[str, Any]]:
    rows = [json.loads(line) for line in ok(url, "phone", "status", "--json", *args).splitlines()]
    return {row["phone"]: row for row in rows}


def test_an_admin_pauses_resumes_and_signs_out_a_phone(admin_url: str) -> None:
    number, (first, second) = new_hotline_with_phones(admin_url, 2)

    assert ok(admin_url, "phone", "pause", str(first), "--reason", "lunch").strip() == (
        f"phone {first} paused (lunch)")
    assert ok(admin_url, "phone", "sign-out", str(second)).strip() == (
        f"phone {second} signed out")
    shown = status(admin_url, "--hotline", number)
    assert set(shown) == {first, second}
    assert (shown[first]["state"], shown[first]["reason"]) == ("paused", "lunch")
    assert shown[second]["state"] == "signed out"
    assert datetime.fromisoformat(shown[first]["since"].replace("Z", "+00:00")).tzinfo

    assert refused(admin_url, "phone", "resume", str(second)) == (
        f"phone {second} is signed out, not paused: nothing to resume (sign it in instead)")
    assert ok(admin_url, "phone", "resume", str(first)).strip() == f"phone {first} signed in"
    assert ok(admin_url, "phone", "sign-in", str(first)).strip() == (
        f"phone {first} was already signed in")

    history = [json.loads(line) for line in
               ok(admin_url, "phone", "history", str(first), "--json").splitlines()]
    assert [(h["presence"], h["reason"], h["source"]) for h in history] == [
        ("signed_in", None, "cli"), ("paused", "lunch", "cli")]  # newest first


def test_the_table_shows_since_in_the_hotlines_zone(admin_url: str) -> None:
    number, (phone,) = new_hotline_with_phones(admin_url, 1)
    ok(admin_url, "plan", "settings", number, "--time-zone", "Asia/Urumqi")
    ok(admin_url, "phone", "pause", str(phone), "--reason", "meeting")

    table = ok(admin_url, "phone", "status", "--hotline", number)

    (line,) = [row for row in table.splitlines() if row.startswith(str(phone))]
    assert line.split()[2:4] == ["paused", "meeting"]  # no label: state, reason
    assert "+06:00" in line  # since when, in the hotline's zone


def test_bad_presence_input_is_refused_in_one_line(admin_url: str) -> None:
    _, (phone,) = new_hotline_with_phones(admin_url, 1)
    assert "the following arguments are required: --reason" in refused(
        admin_url, "phone", "pause", str(phone))
    assert "phone pause reason must be 1 to 40 printable characters" in refused(
        admin_url, "phone", "pause", str(phone), "--reason", "x" * 41)
    assert refused(admin_url, "phone", "sign-out", "999999999") == "no phone 999999999"
    assert refused(admin_url, "phone", "status", "--hotline", "4009999999").startswith(
        "no hotline 4009999999")


def test_auto_pause_and_the_delays_are_set_with_update(admin_url: str) -> None:
    number, (phone,) = new_hotline_with_phones(admin_url, 1)
    ok(admin_url, "hotline", "update", number, "--auto-pause-after", "3")
    ok(admin_url, "phone", "update", str(phone), "--auto-pause-after", "2",
       "--reject-delay", "10", "--no-answer-delay", "30")

    hotline = json.loads(ok(admin_url, "hotline", "show", number, "--json"))
    shown = json.loads(ok(admin_url, "phone", "show", str(phone), "--json"))

    assert hotline["auto_pause_after"] == 3
    assert (shown["auto_pause_after"], shown["reject_delay_s"], shown["no_answer_delay_s"],
            shown["presence"]) == (2, 10, 30, "signed_in")
    ok(admin_url, "phone", "update", str(phone), "--auto-pause-after", "none")
    assert json.loads(ok(admin_url, "phone", "show", str(phone), "--json"))[
        "auto_pause_after"] is None
    assert "phone auto pause after must be 1 to 100 missed calls or empty" in refused(
        admin_url, "phone", "update", str(phone), "--auto-pause-after", "0")

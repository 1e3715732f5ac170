"""What the CLI and the router ask the lab's real Asterisk: its sounds, its endpoints,
and whether it accepts the ARI login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess

pytestmark = pytest.mark.lab


def run(database_url: str, lab: AsteriskLab, *args: str,
        **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *args, "--database-url", database_url],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "ARI_URL": lab.ari_url, "ARI_USER": lab.ari_user,
             "ARI_PASSWORD": lab.ari_password, **env})


def test_sound_names_are_checked_against_the_sounds_asterisk_lists(
        database_url: str, lab: AsteriskLab, hotline_number: str) -> None:
    assert run(database_url, lab, "hotline", "add", hotline_number).returncode == 0
    typo = run(database_url, lab, "plan", "settings", hotline_number, "--greeting", "hello-wrld")
    assert typo.returncode == 2
    (line,) = typo.stderr.strip().splitlines()
    assert line.startswith(f"hotline-router: --greeting: Asterisk at {lab.ari_url} has no "
                           "sound 'hello-wrld'; did you mean hello-world")
    assert line.endswith("give a name it lists (GET /ari/sounds), or install the sound first")
    good = run(database_url, lab, "plan", "settings", hotline_number, "--greeting",
               "hello-world", "--busy", "all-circuits-busy-now,digits/1")
    assert good.returncode == 0, good.stderr
    assert good.stderr == ""
    menu = run(database_url, lab, "menu", "add", hotline_number, "main", "--prompt",
               "demo-congrats,no-such-prompt")
    assert menu.returncode == 2
    assert "has no sound 'no-such-prompt'" in menu.stderr
    wrong_login = run(database_url, lab, "plan", "settings", hotline_number, "--closed",
                      "vm-nobodyavail", ARI_PASSWORD="wrong")
    assert wrong_login.returncode == 0
    assert "refused the ARI login (401); check ari_user and ari_password" in wrong_login.stderr


def test_plan_explain_says_which_phones_asterisk_cannot_reach(
        database_url: str, lab: AsteriskLab, hotline_number: str) -> None:
    for args in (["hotline", "add", hotline_number],
                 ["phone", "add", hotline_number, "PJSIP/no-such-endpoint", "--label", "gone"],
                 ["phone", "add", hotline_number, "PJSIP/phones/sip:1@127.0.0.1:5999"]):
        assert run(database_url, lab, *args).returncode == 0
    done = run(database_url, lab, "plan", "explain", hotline_number, "--caller",
               "13912345678", "--json")
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    assert "registration" not in shown  # Asterisk answered
    assert [(p["label"], p["state"]) for p in shown["phones"]] == [
        ("gone", "no such endpoint"), ("", "idle")]


def test_a_wrong_ari_password_stops_run_and_names_the_setting(
        daemon_database_url: str, lab: AsteriskLab, tmp_path: Path) -> None:
    done = run(daemon_database_url, lab, "run", ARI_PASSWORD="wrong",
               SPOOL_DIR=str(tmp_path / "spool"), ARI_APP="hotline-router-wrong-login")
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"hotline-router: Asterisk at {lab.ari_url} refused the ARI login (401); check "
        "ari_user and ari_password (ARI_USER, ARI_PASSWORD or --ari-user/--ari-password) "
        "against its ari.conf")


def test_the_router_reports_its_ari_connection_and_build(router: RouterProcess) -> None:
    metrics = router.metrics()
    assert metrics.value("hotline_router_ari_connected") == 1
    assert metrics.has("hotline_router_build_info")
    assert metrics.has("process_resident_memory_bytes")


async def test_a_router_starting_logs_the_sounds_asterisk_lacks(
        db: Any, routers: Any, hotline_number: str) -> None:
    """A greeting entered with psql (no CLI check) that Asterisk does not have: the
    router says so when it starts, naming the hotline, the setting and the sound."""
    hotline_id = await db.fetchval(
        "INSERT INTO hotlines (number) VALUES ($1) RETURNING id", hotline_number)
    await db.execute("INSERT INTO plan_settings (hotline_id, greeting_sound) VALUES ($1, $2)",
                     hotline_id, "hello-world,no-such-greeting")
    started = routers("hotline-router-sounds")
    lines = [json.loads(line) for line in started.log_tail(200_000).splitlines()
             if line.startswith("{")]
    missing = [line for line in lines if line["event"].startswith("sound missing on asterisk")
               and line.get("hotline") == hotline_number]
    assert [(m["setting"], m["sound"]) for m in missing] == [
        ("greeting_sound", "no-such-greeting")]

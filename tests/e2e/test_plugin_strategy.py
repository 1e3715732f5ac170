"""A third-party strategy, installed as a package, routes a real call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PhoneFactory, RouterFactory, dialplan_global, legs_of, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab

pytestmark = pytest.mark.lab

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "hotline_reverse"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plug-in, pip-installed into a folder of its own."""
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(PLUGIN)],
                   check=True, capture_output=True, timeout=120)
    return target


def test_the_strategies_command_lists_the_plugin(plugin_site: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "router", "strategies"],
                            env={"PYTHONPATH": str(plugin_site), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert "reverse" in names
    assert "sequential" in names


async def test_a_plugin_strategy_routes_a_real_call(
        db: Any, lab: AsteriskLab, routers: RouterFactory, phones: PhoneFactory, plugin_site: Path,
        hotline_number: str) -> None:
    top, bottom = phones(), phones()
    routers("hotline-router-plugin", {"PYTHONPATH": str(plugin_site)})
    # An admin with psql: the database accepts any rule name; the router finds it.
    hotline_id = await db.fetchval(
        "INSERT INTO hotlines (number, strategy) VALUES ($1, 'reverse') RETURNING id",
        hotline_number)
    for position, phone in enumerate([top, bottom], start=1):
        phone_id = await db.fetchval(
            "INSERT INTO phones (dial_string) VALUES ($1) RETURNING id", phone.dial_string)
        await db.execute("INSERT INTO bound_phones (hotline_id, phone_id, position) "
                         "VALUES ($1, $2, $3)", hotline_id, phone_id, position)

    with dialplan_global(lab, "ROUTER_APPS", "^hotline-router-plugin$"):
        seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=500)

    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)
    assert call["router_id"] == "hotline-router-plugin"
    assert call["answered_dial_string"] == bottom.dial_string
    assert [leg["dial_string"] for leg in await legs_of(db, call["id"])] == [bottom.dial_string]

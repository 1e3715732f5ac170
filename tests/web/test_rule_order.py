"""A rule placed at a position is tried there: the rules from that position on move
down (rules are tried by (position, id), so an older rule at the same position
would otherwise come first). The settings page puts "closed outside hours" at 1."""

from __future__ import annotations

from typing import Any

from tests.db.test_cli import cli
from tests.web.conftest import bearer, make_account


async def test_a_rule_posted_at_position_1_is_tried_first(
        api: Any, db: Any, hotline_number: str) -> None:
    account = await make_account(db, hotline_number)
    rules = f"/api/v1/hotlines/{account.number}/rules"
    for name in ("vip", "north"):
        made = await api.post(rules, headers=bearer(account.token),
                              json={"action": "refuse", "name": name})
        assert made.status == 201, await made.text()
    made = await api.post(rules, headers=bearer(account.token), json={
        "action": "closed", "name": "非工作时间", "position": 1})
    assert made.status == 201, await made.text()
    listed = await (await api.get(rules, headers=bearer(account.token))).json()
    assert [(r["name"], r["position"]) for r in listed] == [
        ("非工作时间", 1), ("vip", 2), ("north", 3)]
    north = listed[2]["id"]
    moved = await api.patch(f"{rules}/{north}", headers=bearer(account.token),
                            json={"position": 1})
    assert moved.status == 200, await moved.text()
    listed = await (await api.get(rules, headers=bearer(account.token))).json()
    assert [r["name"] for r in listed] == ["north", "非工作时间", "vip"]


async def test_rule_add_at_position_1_in_the_cli_is_tried_first(
        db: Any, database_url: str, hotline_number: str) -> None:
    await db.execute("INSERT INTO hotlines (number) VALUES ($1)", hotline_number)
    for name in ("vip", "north"):
        done = cli(database_url, "rule", "add", hotline_number, "--action", "refuse",
                   "--name", name)
        assert done.returncode == 0, done.stderr
    done = cli(database_url, "rule", "add", hotline_number, "--action", "closed", "--name",
               "night", "--position", "1")
    assert done.returncode == 0, done.stderr
    names = await db.fetch("SELECT r.name FROM plan_rules r JOIN hotlines h "
                           "ON h.id = r.hotline_id WHERE h.number = $1 "
                           "ORDER BY r.position, r.id", hotline_number)
    assert [r["name"] for r in names] == ["night", "vip", "north"]

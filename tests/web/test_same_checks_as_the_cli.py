"""The API refuses what the CLI refuses before writing (router/plan_checks.py): a caller
region no caller is in, an area code that does not exist, an override already past.
The CLI's side: tests/db/test_admin_experience.py (typos and past times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import Account, bearer, make_account


@pytest.fixture
async def account(db: Any, hotline_number: str) -> Account:
    return await make_account(db, hotline_number)


async def refusal(response: Any) -> str:
    data = await response.json()
    assert response.status == 422, data
    return str(data["error"]["message"])


async def test_a_rule_region_typo_is_refused_with_a_guess(api: Any, account: Account) -> None:
    rules = f"/api/v1/hotlines/{account.number}/rules"
    message = await refusal(await api.post(rules, headers=bearer(account.token),
                                           json={"action": "closed", "caller_region": "Shangai"}))
    assert message.startswith("caller_region: no region is called 'Shangai'")
    assert "did you mean shanghai" in message
    made = await api.post(rules, headers=bearer(account.token),
                          json={"action": "closed", "caller_region": "上海"})
    assert made.status == 201, await made.text()
    rule = (await made.json())["id"]
    message = await refusal(await api.patch(f"{rules}/{rule}", headers=bearer(account.token),
                                            json={"caller_region": "Jaingsu"}))
    assert message.startswith("caller_region: no region is called 'Jaingsu'")


async def test_an_unknown_area_code_is_refused(api: Any, db: Any, account: Account) -> None:
    callers = f"/api/v1/hotlines/{account.number}/callers"
    message = await refusal(await api.post(callers, headers=bearer(account.token), json={
        "list": "vip", "value": "0999", "match": "area-code"}))
    assert message.startswith("value: area code 0999: no region is called '0999'")
    made = await api.post(callers, headers=bearer(account.token),
                          json={"list": "vip", "value": "755", "match": "area-code"})
    assert made.status == 201, await made.text()
    assert (await made.json())["value"] == "0755"
    assert await db.fetchval("SELECT count(*) FROM caller_lists WHERE value = '0999'") == 0


async def test_an_override_ending_in_the_past_is_refused(api: Any, account: Account) -> None:
    schedules = f"/api/v1/hotlines/{account.number}/schedules"
    made = await api.post(schedules, headers=bearer(account.token), json={"name": "office"})
    assert made.status == 201, await made.text()
    message = await refusal(await api.patch(
        f"{schedules}/office", headers=bearer(account.token),
        json={"override": "closed", "override_until": "2020-01-01T09:00:00+08:00"}))
    assert message.startswith("override_until 2020-01-01 09:00:00+08:00 is already past")
    # Without an offset: the hotline's wall time (Asia/Shanghai by default), as in the CLI.
    later = (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    changed = await api.patch(f"{schedules}/office", headers=bearer(account.token),
                              json={"override": "closed", "override_until": later.isoformat()})
    assert changed.status == 200, await changed.text()
    stored = datetime.fromisoformat((await changed.json())["override_until"])
    assert stored == later.replace(tzinfo=UTC) - timedelta(hours=8)


async def test_a_member_without_a_weight_follows_its_binding_as_in_the_cli(
        api: Any, db: Any, account: Account) -> None:
    phone = await db.fetchval(
        "INSERT INTO phones (dial_string, label) VALUES ($1, 'a') RETURNING id",
        f"PJSIP/phones/sip:w{account.number}@127.0.0.1:5")
    await db.execute("INSERT INTO bound_phones (hotline_id, phone_id, position, weight) "
                     "SELECT id, $2, 1, 30 FROM hotlines WHERE number = $1",
                     account.number, phone)
    groups = f"/api/v1/hotlines/{account.number}/groups"
    made = await api.post(groups, headers=bearer(account.token),
                          json={"name": "sales", "strategy": "weighted"})
    assert made.status == 201, await made.text()
    response = await api.put(f"{groups}/sales/members", headers=bearer(account.token),
                             json=[{"phone_id": phone}])
    group = await response.json()
    assert response.status == 200, group
    assert [(m["weight"], m["weight_from"]) for m in group["members"]] == [(30, "binding")]
    assert await db.fetchval("SELECT weight FROM group_members WHERE phone_id = $1",
                             phone) is None

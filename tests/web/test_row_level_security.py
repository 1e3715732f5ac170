"""A customer token sees and changes only its own hotlines: enforced by PostgreSQL.

Each test tries, with customer A's token, to reach customer B's hotline, calls
or phones: directly, through filters, and in SQL as the customer role with no
Python in between.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from router import db as router_db
from tests.web import seed
from tests.web.conftest import Account, bearer, make_account


def caller_of(account: Account, key: str) -> str:
    return f"13{8 if key == 'a' else 9}0000{account.number[-4:]}"


@pytest.fixture
async def two(db: Any, hotline_number: str) -> tuple[Account, Account, dict[str, Any]]:
    """Customers A and B with a hotline, a phone and a call each."""
    a = await make_account(db, hotline_number)
    b_number = "800" + hotline_number[3:]
    b = await make_account(db, b_number)
    ids: dict[str, Any] = {}
    for account, key in ((a, "a"), (b, "b")):
        phone = await seed.bound_phone(db, account.number,
                                       f"PJSIP/phones/sip:{key}{account.number}@127.0.0.1:5",
                                       f"话机 {key}")
        ids[f"{key}_phone"] = phone
        ids[f"{key}_call"] = await seed.call(
            db, account.number, caller_of(account, key), datetime.now(UTC), 2.0,
            phone_id=phone)
    return a, b, ids


async def test_a_customer_lists_only_its_own_hotlines_calls_and_phones(
        api: Any, two: Any) -> None:
    a, _, ids = two
    response = await api.get("/api/v1/hotlines", headers=bearer(a.token))
    hotlines = await response.json()
    assert response.status == 200, hotlines
    assert [h["number"] for h in hotlines] == [a.number]
    calls = (await (await api.get("/api/v1/calls", headers=bearer(a.token))).json())["calls"]
    assert {c["hotline"] for c in calls} == {a.number}
    assert str(ids["b_call"]) not in {c["id"] for c in calls}
    phones = await (await api.get("/api/v1/phones", headers=bearer(a.token))).json()
    assert [p["id"] for p in phones] == [ids["a_phone"]]
    live = await (await api.get("/api/v1/live", headers=bearer(a.token))).json()
    assert {p["id"] for p in live["phones"]} == {ids["a_phone"]}
    assert {t["hotline"] for t in live["today"]} == {a.number}


@pytest.mark.parametrize("path", [
    "/api/v1/hotlines/{b}",
    "/api/v1/hotlines/{b}/phones",
    "/api/v1/hotlines/{b}/rules",
    "/api/v1/hotlines/{b}/schedules",
    "/api/v1/hotlines/{b}/stats",
    "/api/v1/hotlines/{b}/stats/hours?format=csv",
    "/api/v1/hotlines/{b}/statements/2026-10",
    "/api/v1/calls?hotline={b}",
    "/api/v1/calls/{b_call}",
])
async def test_another_customers_hotline_is_not_found(api: Any, two: Any, path: str) -> None:
    a, b, ids = two
    response = await api.get(path.format(b=b.number, b_call=ids["b_call"]),
                             headers=bearer(a.token))
    assert response.status == 404
    assert (await response.json())["error"]["message"].startswith("no ")


async def test_filters_cannot_reach_another_customers_calls(api: Any, two: Any) -> None:
    a, b, _ = two
    b_caller = caller_of(b, "b")
    for query in (f"caller={b_caller}", "caller=13*", "outcome=answered",
                  "since=2000-01-01T00:00:00Z", "outcome=live"):
        found = await (await api.get(f"/api/v1/calls?{query}", headers=bearer(a.token))).json()
        assert all(c["hotline"] == a.number for c in found["calls"]), query
    found = await (await api.get(f"/api/v1/calls?caller={b_caller}",
                                 headers=bearer(a.token))).json()
    assert found["calls"] == []


async def test_a_customer_cannot_change_another_customers_hotline_or_phones(
        api: Any, db: Any, two: Any) -> None:
    a, b, ids = two
    attempts = [
        ("PATCH", f"/api/v1/hotlines/{b.number}", {"ring_timeout_s": 42}),
        ("PATCH", f"/api/v1/hotlines/{b.number}/phones/{ids['b_phone']}", {"enabled": False}),
        ("PATCH", f"/api/v1/hotlines/{a.number}/phones/{ids['b_phone']}", {"enabled": False}),
        ("POST", f"/api/v1/hotlines/{b.number}/schedules", {"name": "office"}),
        ("POST", f"/api/v1/hotlines/{b.number}/callers", {"list": "blacklist", "value": "1"}),
    ]
    for method, path, body in attempts:
        response = await api.request(method, path, json=body, headers=bearer(a.token))
        assert response.status == 404, (method, path, await response.text())
    assert await db.fetchval("SELECT ring_timeout_s FROM hotlines WHERE number = $1",
                             b.number) == 15
    assert await db.fetchval("SELECT enabled FROM bound_phones WHERE phone_id = $1",
                             ids["b_phone"])
    assert not await db.fetchval(
        "SELECT count(*) FROM schedules s JOIN hotlines h ON h.id = s.hotline_id "
        "WHERE h.number = $1", b.number)


async def test_a_customer_changes_its_own_everyday_settings_but_not_the_operators(
        api: Any, db: Any, two: Any) -> None:
    a, _, ids = two
    response = await api.patch(f"/api/v1/hotlines/{a.number}", headers=bearer(a.token),
                               json={"strategy": "round_robin", "ring_timeout_s": 25})
    assert response.status == 200, await response.text()
    response = await api.patch(f"/api/v1/hotlines/{a.number}/phones/{ids['a_phone']}",
                               headers=bearer(a.token), json={"weight": 70})
    assert (await response.json())["weight"] == 70
    for body in ({"number": "4009999998"}, {"enabled": False}, {"customer": None},
                 {"overflow_forward_to": "PJSIP/trunk/0085212345678"}):
        response = await api.patch(f"/api/v1/hotlines/{a.number}", headers=bearer(a.token),
                                   json=body)
        assert response.status == 403
    response = await api.post("/api/v1/hotlines", headers=bearer(a.token),
                              json={"number": "4009999997"})
    assert response.status == 403
    assert "operator" in (await response.json())["error"]["message"]


async def test_the_database_itself_hides_other_customers_rows(
        web_database_url: str, two: Any) -> None:
    """No Python filter involved: SQL as the customer role, with A's token."""
    a, b, ids = two
    connection = await router_db.connect(web_database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('role', 'hotline_router_customer', true), "
                "set_config('hotline_router.token', $1, true)", a.token)
            assert await connection.fetchval(
                "SELECT count(*) FROM calls WHERE id = $1", ids["b_call"]) == 0
            assert await connection.fetchval(
                "SELECT count(*) FROM call_legs l JOIN calls c ON c.id = l.call_id "
                "WHERE c.dialled = $1", b.number) == 0
            assert await connection.fetchval(
                "SELECT count(*) FROM phones WHERE id = $1", ids["b_phone"]) == 0
            assert await connection.execute(
                "UPDATE bound_phones SET enabled = false WHERE phone_id = $1",
                ids["b_phone"]) == "UPDATE 0"
            assert await connection.fetchval(
                "SELECT count(*) FROM calls WHERE id = $1", ids["a_call"]) == 1
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                await connection.execute("SELECT * FROM api_tokens")
        # Without a token, the customer role sees nothing at all.
        async with connection.transaction():
            await connection.execute("SELECT set_config('role', 'hotline_router_customer', true)")
            assert await connection.fetchval("SELECT count(*) FROM calls") == 0
        # The web login alone (no SET ROLE) cannot read records either.
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await connection.fetchval("SELECT count(*) FROM calls")
    finally:
        await connection.close()


async def test_a_revoked_token_is_refused_at_once(api: Any, db: Any, two: Any) -> None:
    a, _, _ = two
    assert (await api.get("/api/v1/me", headers=bearer(a.token))).status == 200
    token_id = await db.fetchval(
        "SELECT t.id FROM api_tokens t JOIN customers c ON c.id = t.customer_id "
        "WHERE c.name = $1", a.customer)
    await db.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", token_id)
    response = await api.get("/api/v1/me", headers=bearer(a.token))
    assert response.status == 401
    assert (await response.json())["error"]["message"] == "this API token is unknown or revoked"


async def test_a_customer_cannot_set_where_calls_are_forwarded(
        api: Any, db: Any, web_database_url: str, two: Any) -> None:
    """A forwarding target is a dial string: it costs money and reaches any line, so
    only the operator sets it. The customer may still choose 'forward' to the
    operator's target."""
    a, _, _ = two
    response = await api.patch(f"/api/v1/hotlines/{a.number}", headers=bearer(a.token),
                               json={"overflow_forward_to": "PJSIP/trunk/sip:00882123@1.2.3.4"})
    assert response.status == 403, await response.text()
    assert (await response.json())["error"]["message"] == (
        "a customer token cannot change 'overflow_forward_to'; ask the operator")
    assert await db.fetchval("SELECT overflow_forward_to FROM hotlines WHERE number = $1",
                             a.number) is None
    await db.execute("UPDATE hotlines SET overflow_forward_to = 'PJSIP/backup' "
                     "WHERE number = $1", a.number)
    response = await api.patch(f"/api/v1/hotlines/{a.number}", headers=bearer(a.token),
                               json={"overflow": "forward"})
    assert response.status == 200, await response.text()
    # In SQL as the customer role: the column grant refuses it too.
    connection = await router_db.connect(web_database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('role', 'hotline_router_customer', true), "
                "set_config('hotline_router.token', $1, true)", a.token)
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                await connection.execute(
                    "UPDATE hotlines SET overflow_forward_to = 'PJSIP/x' WHERE number = $1",
                    a.number)
    finally:
        await connection.close()
    assert await db.fetchval("SELECT overflow_forward_to FROM hotlines WHERE number = $1",
                             a.number) == "PJSIP/backup"

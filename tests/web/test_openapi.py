"""The OpenAPI document is valid, and every route it documents answers as documented."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from openapi_spec_validator import validate

from router.web import api as web_api
from tests.web import seed
from tests.web.conftest import bearer

# The order a client would walk a fresh hotline in: read, create, change, delete.
_METHODS = ("get", "post", "put", "patch", "delete")


async def test_the_document_is_valid_openapi(api: Any) -> None:
    response = await api.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate(document)
    served = {(r.method.lower(), web_api.PREFIX + r.path) for r in web_api.ROUTES}
    served.add(("get", web_api.PREFIX + "/openapi.json"))
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item}
    assert documented == served


async def test_every_documented_route_answers(api: Any, db: Any, operator_token: str,
                                              hotline_number: str) -> None:
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, '走查')", hotline_number)
    phone = await seed.bound_phone(db, hotline_number,
                                   f"PJSIP/phones/sip:walk{hotline_number}@127.0.0.1:5", "走查")
    call_id = await seed.call(db, hotline_number, "13800138000", datetime.now(UTC), 1.5,
                              phone_id=phone)
    await db.execute("INSERT INTO phone_groups (hotline_id, name) SELECT id, 'walk' "
                     "FROM hotlines WHERE number = $1", hotline_number)
    await db.execute("INSERT INTO schedules (hotline_id, name) SELECT id, 'walk' "
                     "FROM hotlines WHERE number = $1", hotline_number)
    rule = await db.fetchval("INSERT INTO plan_rules (hotline_id, position, action) "
                             "SELECT id, 9, 'closed' FROM hotlines WHERE number = $1 "
                             "RETURNING id", hotline_number)
    entry = await db.fetchval("INSERT INTO caller_lists (hotline_id, list, value) "
                              "SELECT id, 'vip', '13800000001' FROM hotlines WHERE number = $1 "
                              "RETURNING id", hotline_number)
    values = {"number": hotline_number, "phone_id": str(phone), "name": "walk",
              "rule_id": str(rule), "entry_id": str(entry), "call_id": str(call_id),
              "table": "hours", "month": "2026-10"}
    document = await (await api.get("/api/v1/openapi.json")).json()
    answered = []
    for method in _METHODS:
        for path, item in document["paths"].items():
            operation = item.get(method)
            if operation is None:
                continue
            url = re.sub(r"{(\w+)}", lambda m: values[m[1]], path)
            if url.endswith("/hotlines") and method == "post":
                body: Any = {**operation["requestBody"]["content"]["application/json"]
                             ["example"], "number": "4009" + hotline_number[4:]}
            elif "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["example"]
            else:
                body = None
            if url.endswith("/live/stream"):
                async with api.get(url, headers=bearer(operator_token)) as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/event-stream")
                    first = await asyncio.wait_for(
                        response.content.readuntil(b"\r\n\r\n"), 10)
                    assert first.startswith(b"event: view"), first
                answered.append((method, path, 200))
                continue
            headers = {} if operation.get("security") == [] else bearer(operator_token)
            response = await api.request(method, url, json=body, headers=headers)
            text = await response.text()
            assert str(response.status) in operation["responses"], (method, url, text)
            if (method, path) == ("delete", "/api/v1/hotlines/{number}"):
                # Records outlive configuration: the documented refusal.
                assert response.status == 422, text
                assert "hotline has call records disable it instead of deleting" in text
            else:
                assert response.status < 300, (method, url, response.status, text)
            answered.append((method, path, response.status))
    assert len(answered) == len(web_api.ROUTES) + 1  # and the document itself


async def test_errors_are_json_sentences(api: Any, operator_token: str) -> None:
    cases = [
        ("GET", "/api/v1/hotlines", None, {}, 401, "an API token is needed"),
        ("GET", "/api/v1/no-such-thing", None, bearer(operator_token), 404, "no API route"),
        ("POST", "/api/v1/hotlines", {"number": "12345"}, bearer(operator_token), 422,
         "hotline number must be 400 or 800 then 7 digits"),
        ("POST", "/api/v1/hotlines", {"number": "4001112223", "colour": "red"},
         bearer(operator_token), 400, "request body: Object contains unknown field `colour`"),
        ("GET", "/api/v1/calls?outcome=lost", None, bearer(operator_token), 400,
         "outcome must be one of"),
        ("GET", "/api/v1/calls?since=2026-10-01%2B08:00", None, bearer(operator_token), 400,
         "since: '2026-10-01+08:00' is not an ISO date or time, e.g. 2026-10-01 (a day)"),
        ("GET", "/api/v1/calls/not-a-uuid", None, bearer(operator_token), 400,
         "is not a call id"),
        ("POST", "/api/v1/phones", {"dial_string": "Local/s@router-down"},
         bearer(operator_token), 422, "goes into the router's own context router-down"),
        ("POST", "/api/v1/phones", {"dial_string": "Local/s@nowhere-listed"},
         bearer(operator_token), 422, "hotline-router local-context add nowhere-listed"),
    ]
    for method, path, body, headers, status, message in cases:
        response = await api.request(method, path, json=body, headers=headers)
        data = await response.json()
        assert response.status == status, (path, data)
        assert data["error"]["status"] == status
        assert message in data["error"]["message"], (path, data)

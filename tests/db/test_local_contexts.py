"""Local/<extension>@<context> dial strings: only into contexts an operator listed,
never into the router's own dialplan. Refused by the database (psql meets the
same sentence) and by the CLI in one line that says what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.db.test_admin_cli import ok, refused

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan" / "extensions.conf"


def router_contexts() -> list[str]:
    """Every context of the router's dialplan ([globals] is settings, not a context)."""
    names = re.findall(r"^\[([A-Za-z0-9_-]+)\]", DIALPLAN.read_text(), re.MULTILINE)
    return [name for name in names if name != "globals"]


def test_the_dialplan_has_the_contexts_the_guard_knows() -> None:
    assert set(router_contexts()) == {"from-callers", "hotline", "router-reoffer",
                                      "router-down", "from-phones", "phone-features",
                                      "phone-feature-said", "phone-consult",
                                      "phone-consult-refused"}


@pytest.mark.parametrize("context", router_contexts())
async def test_no_dial_string_enters_the_routers_own_contexts(
        db: Any, hotline_number: str, context: str) -> None:
    with pytest.raises(asyncpg.exceptions.CheckViolationError,
                       match="local_context_cannot_be_one_of_the_routers_own_contexts"):
        await db.execute("INSERT INTO local_contexts (context) VALUES ($1)", context)
    dial = f"Local/{hotline_number}@{context}"
    own = f"goes into the router's own context {context}, so a hotline could call itself"
    with pytest.raises(asyncpg.exceptions.CheckViolationError, match=own):
        await db.execute("INSERT INTO phones (dial_string) VALUES ($1)", dial)
    await db.execute("INSERT INTO hotlines (number) VALUES ($1)", hotline_number)
    with pytest.raises(asyncpg.exceptions.CheckViolationError, match=own):
        await db.execute("UPDATE hotlines SET overflow_forward_to = $2 WHERE number = $1",
                         hotline_number, dial)


async def test_a_local_dial_string_needs_its_context_listed(db: Any, hotline_number: str) -> None:
    context = f"ivr-{hotline_number}"
    dial = f"Local/8001@{context}"
    with pytest.raises(asyncpg.exceptions.CheckViolationError,
                       match=f"goes into context {context}, which is not listed: "
                             f"hotline-router local-context add {context}"):
        await db.execute("INSERT INTO phones (dial_string) VALUES ($1)", dial)
    await db.execute("INSERT INTO local_contexts (context) VALUES ($1)", context)
    await db.execute("INSERT INTO phones (dial_string) VALUES ($1), ($2)", dial, dial + "/n")
    await db.execute("INSERT INTO hotlines (number, overflow, overflow_forward_to) "
                     "VALUES ($1, 'forward', $2)", hotline_number, f"Local/9@{context}")
    # Listed contexts stay listed while something dials into them.
    with pytest.raises(asyncpg.exceptions.CheckViolationError,
                       match=f"context {context} is still dialled"):
        await db.execute("DELETE FROM local_contexts WHERE context = $1", context)


@pytest.mark.parametrize("dial", ["Local/8001", "Local/a/b@ivr", "Local/8001@ivr@hotline",
                                  "Local/8001@ivr/n/x"])
async def test_an_ambiguous_local_dial_string_is_refused(db: Any, dial: str) -> None:
    await db.execute("INSERT INTO local_contexts (context) VALUES ('ivr') ON CONFLICT DO NOTHING")
    with pytest.raises(asyncpg.exceptions.CheckViolationError,
                       match=r"must be Local/<extension>@<context> \(optionally /n\)"):
        await db.execute("INSERT INTO phones (dial_string) VALUES ($1)", dial)


async def test_other_technologies_are_not_judged_here(db: Any, hotline_number: str) -> None:
    await db.execute("INSERT INTO phones (dial_string) VALUES ($1)",
                     f"PJSIP/phones/sip:{hotline_number}@127.0.0.1:5")


def test_the_cli_refuses_in_one_line_and_lists_contexts(database_url: str,
                                                        hotline_number: str) -> None:
    context = f"queue-{hotline_number}"
    message = refused(database_url, "phone", "create", "Local/s@router-down")
    assert message.count("\n") == 0
    assert "router's own context router-down" in message
    ok(database_url, "hotline", "add", hotline_number)
    message = refused(database_url, "hotline", "update", hotline_number,
                      "--overflow-forward-to", f"Local/{hotline_number}@hotline")
    assert message.count("\n") == 0
    assert "so a hotline could call itself" in message
    message = refused(database_url, "phone", "add", hotline_number, f"Local/1@{context}")
    assert message.count("\n") == 0
    assert f"hotline-router local-context add {context}" in message
    message = refused(database_url, "local-context", "add", "hotline")
    assert message == "hotline-router: local context cannot be one of the routers own contexts"

    ok(database_url, "local-context", "add", context, "--note", "sales queue")
    assert "already listed" in refused(database_url, "local-context", "add", context)
    ok(database_url, "phone", "add", hotline_number, f"Local/1@{context}")
    listed = [json.loads(line) for line in
              ok(database_url, "local-context", "list", "--json").splitlines()]
    assert {"context": context, "phones": 1, "note": "sales queue"}.items() <= next(
        row for row in listed if row["context"] == context).items()
    assert "still dialled" in refused(database_url, "local-context", "remove", context)
    assert "is not listed" in refused(database_url, "local-context", "remove", "nowhere")

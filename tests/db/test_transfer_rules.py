"""A hotline's transfer rules: set with the CLI, refused when malformed, read
for a transfer (router/transfer_rules.py) with the labels of its bound phones."""

from __future__ import annotations

import json
from typing import Any

from router import transfer_rules
from tests.db.test_admin_cli import ok, refused


async def test_transfer_rules_are_set_refused_and_read(database_url: str, db: Any,
                                                      hotline_number: str) -> None:
    number = hotline_number
    ok(database_url, "hotline", "add", number)
    desk = f"PJSIP/phones/sip:{number}@10.0.0.40"
    ok(database_url, "phone", "add", number, desk, "--label", "Sales Desk")
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    phone_id = await db.fetchval("SELECT id FROM phones WHERE dial_string = $1", desk)

    fresh = await transfer_rules.load(db, hotline_id)
    assert (fresh.labels, fresh.prefixes, fresh.dial) == ({"sales desk": phone_id}, (), None)
    assert fresh.outside_dial_string("13900001111") is None  # none allowed by default

    shown = json.loads(ok(database_url, "hotline", "update", number,
                          "--transfer-dial", "PJSIP/carrier/sip:{number}@10.0.0.1",
                          "--transfer-numbers", "139,010", "--json"))
    assert (shown["transfer_numbers"], shown["transfer_dial"]) == (
        "139,010", "PJSIP/carrier/sip:{number}@10.0.0.1")
    rules = await transfer_rules.load(db, hotline_id)
    assert rules.outside_dial_string("13900001111") == "PJSIP/carrier/sip:13900001111@10.0.0.1"
    assert rules.outside_dial_string("13800001111") is None
    assert rules.outside_dial_string("139;evil") is None

    assert "transfer numbers must be digit prefixes with commas" in refused(
        database_url, "hotline", "update", number, "--transfer-numbers", "139,*")
    assert "transfer dial must be a dial string with number in it" in refused(
        database_url, "hotline", "update", number, "--transfer-dial", "PJSIP/carrier")
    assert "transfer numbers need a transfer dial" in refused(
        database_url, "hotline", "update", number, "--transfer-dial", "none")

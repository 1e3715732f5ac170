"""The queue on the admin CLI: hotline settings (refused ones in the database's
words) and `queue`, who waits in the order they are served."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from router import waiting
from tests.db.test_admin_cli import ok, refused


async def test_queue_settings_round_trip_and_refusals(database_url: str) -> None:
    ok(database_url, "hotline", "add", "4007700001")
    updated = json.loads(ok(
        database_url, "hotline", "update", "4007700001", "--overflow", "queue",
        "--queue-max-waiting", "3", "--queue-music", "calm", "--queue-announce-position", "yes",
        "--queue-announce-every", "30", "--queue-announce-hold", "yes", "--json"))
    assert (updated["queue_max_waiting"], updated["queue_music_class"],
            updated["queue_announce_position"], updated["queue_announce_every_s"],
            updated["queue_announce_hold"], updated["queue_overflow"]) == (
        3, "calm", True, 30, True, "busy")
    assert json.loads(ok(database_url, "hotline", "update", "4007700001",
                         "--queue-max-waiting", "none", "--json"))["queue_max_waiting"] is None
    assert "hotline queue announce every must be 0 or 10 to 600 seconds" in refused(
        database_url, "hotline", "update", "4007700001", "--queue-announce-every", "5")
    assert "hotline queue overflow forward needs overflow forward to" in refused(
        database_url, "hotline", "update", "4007700001", "--queue-overflow", "forward")
    assert "give yes or no" in refused(
        database_url, "hotline", "update", "4007700001", "--queue-announce-hold", "maybe")


async def test_queue_lists_waiters_in_the_order_served(database_url: str, db: Any) -> None:
    hotline_id = json.loads(ok(database_url, "hotline", "add", "4007700002", "--json"))["id"]
    await db.execute("INSERT INTO routers (router_id, app, ari_url) VALUES ('cli-r', 'a', 'u') "
                     "ON CONFLICT (router_id) DO UPDATE SET last_seen_at = now()")
    t0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    first, vip = uuid4(), uuid4()
    await waiting.join(db, first, hotline_id, 0, "cli-r", False, t0, None, 15.0)
    await waiting.join(db, vip, hotline_id, 0, "cli-r", True, t0 + timedelta(seconds=5),
                       None, 15.0)
    shown = json.loads(ok(database_url, "queue", "4007700002", "--json"))
    assert [(w["call_id"], w["position"], w["vip"]) for w in shown] == [
        (str(vip), 1, True), (str(first), 2, False)]
    table = ok(database_url, "queue", "4007700002")
    assert "10:00:05" in table  # arrival in the hotline's zone (Asia/Shanghai)
    assert "no hotline 4007700099" in refused(database_url, "queue", "4007700099")
    await waiting.leave(db, first, answered=False)
    await waiting.leave(db, vip, answered=False)
    assert "nobody is waiting for 4007700002" in ok(database_url, "queue", "4007700002")

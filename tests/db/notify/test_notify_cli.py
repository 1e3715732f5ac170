"""The notification commands as an admin types them: targets added, refused in
one line, listed without secrets; dead notifications listed and retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.db.test_admin_cli import ok, refused


async def test_targets_round_trip_and_dead_letters_are_listed_and_retried(
        db: Any, database_url: str, tmp_path: Path) -> None:
    number = "4001699001"
    ok(database_url, "hotline", "add", number)
    added = json.loads(ok(database_url, "notify-target", "add", number, "crm",
                          "http://127.0.0.1:9/hook", "--events", "call.ended,call.missed",
                          "--missed", "busy,no-answer", "--fold-minutes", "10", "--json"))
    assert (added["events"], added["missed_outcomes"], added["fold_minutes"]) == (
        "call.ended,call.missed", "busy,no-answer", 10)
    assert len(added["secret"]) >= 40  # made, and shown this once
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-0123456789\n")
    ok(database_url, "notify-target", "add", number, "ops", "https://ops.example.com/x",
       "--secret-file", str(secret_file))
    assert await db.fetchval("SELECT secret FROM notify_targets WHERE name = 'ops'") == (
        "from-a-file-0123456789")  # the only target named ops

    assert refused(database_url, "notify-target", "add", number, "bad",
                   "ftp://x.example.com/") == (
        "hotline-router: notify target webhook address must be an http or https url")
    assert refused(database_url, "notify-target", "add", number, "crm",
                   "https://crm.example.com/") == (
        "hotline-router: notify target name is unique per hotline")
    assert refused(database_url, "notify-target", "add", number, "late", "https://x.example/",
                   "--events", "call.late").startswith(
        "hotline-router: event 'call.late' is not known: use ")

    listed = [json.loads(line) for line in
              ok(database_url, "notify-target", "list", number, "--json").splitlines()]
    assert [t["name"] for t in listed] == ["crm", "ops"]
    assert all("secret" not in t for t in listed)
    ok(database_url, "notify-target", "disable", number, "ops")
    assert await db.fetchval("SELECT enabled FROM notify_targets WHERE name = 'ops'") is False

    # A dead notification, as a dispatcher leaves it after its last try.
    hotline_id = await db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    dead_id = await db.fetchval(
        """INSERT INTO notification_outbox (target_id, hotline_id, event, event_key, event_at,
                                            state, attempts, last_error)
           SELECT id, $1, 'call.missed', 'cli-test', now(), 'dead', 8, 'HTTP 503'
           FROM notify_targets WHERE name = 'crm' AND hotline_id = $1 RETURNING id""",
        hotline_id)
    dead = [json.loads(line) for line in
            ok(database_url, "notifications", "list", "--dead", "--hotline", number,
               "--json").splitlines()]
    assert [(d["id"], d["state"], d["last_error"]) for d in dead] == [
        (dead_id, "dead", "HTTP 503")]
    assert "notification(s) due again" in ok(database_url, "notifications", "retry", str(dead_id))
    row = await db.fetchrow("SELECT state, attempts FROM notification_outbox WHERE id = $1",
                            dead_id)
    assert (row["state"], row["attempts"]) == ("pending", 0)
    assert refused(database_url, "notifications", "retry", str(dead_id)) == (
        f"hotline-router: notification {dead_id} is pending, not dead: only dead "
        "notifications are retried")
    assert refused(database_url, "notifications", "retry").startswith(
        "hotline-router: name the dead notifications to retry")
    ok(database_url, "notify-target", "remove", number, "crm")
    assert await db.fetchval("SELECT count(*) FROM notification_outbox WHERE id = $1",
                             dead_id) == 0
    assert "webhook" in ok(database_url, "notifications", "senders")

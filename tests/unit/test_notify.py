"""Notification parts that need no database: the webhook signature, the sender
plug-ins' loading, and the documented examples being the real ones."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from router.notify import signing
from router.notify.senders import (
    ENTRY_POINT_GROUP,
    Delivery,
    SendContext,
    SendError,
    Target,
    Undeliverable,
    installed,
)
from router.notify.webhook import WEBHOOK

REPO = Path(__file__).resolve().parents[2]
SECRET = "secret-0123456789abcdef"
BODY = b'{"event":"call.missed"}'
# openssl dgst -sha256 -hmac "$SECRET" over '1700000000.{"event":"call.missed"}'
KNOWN = "v1=d52112605cce52befa1a249bb0062364e7bd43ffc9d781005e67c8cec6f12933"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    assert signing.signature(SECRET, 1_700_000_000, BODY) == KNOWN


def test_the_headers_carry_event_delivery_timestamp_and_signature() -> None:
    headers = signing.headers(SECRET, 1_700_000_000, BODY, "call.missed", "812")
    assert headers == {"Content-Type": "application/json", "X-Hotline-Timestamp": "1700000000",
                       "X-Hotline-Signature": KNOWN, "X-Hotline-Event": "call.missed",
                       "X-Hotline-Delivery": "812"}


@pytest.mark.parametrize(("secret", "body", "now", "changes", "valid"), [
    (SECRET, BODY, 1_700_000_000, {}, True),
    (SECRET, BODY, 1_700_000_300, {}, True),                     # at the tolerance
    (SECRET, BODY, 1_700_000_301, {}, False),                    # a replay, later
    (SECRET, BODY, 1_699_999_699, {}, False),                    # a clock far behind
    ("another-secret-0123456", BODY, 1_700_000_000, {}, False),
    (SECRET, b'{"event":"call.ended"}', 1_700_000_000, {}, False),
    (SECRET, BODY, 1_700_000_000, {"X-Hotline-Timestamp": "1700000001"}, False),
    (SECRET, BODY, 1_700_000_000, {"X-Hotline-Timestamp": "soon"}, False),
    (SECRET, BODY, 1_700_000_000, {"X-Hotline-Signature": KNOWN.upper()}, False),
    (SECRET, BODY, 1_700_000_000, {"X-Hotline-Signature": None}, False),
])
def test_a_receiver_accepts_only_the_signed_body_in_time(
        secret: str, body: bytes, now: int, changes: dict[str, str | None], valid: bool) -> None:
    headers: dict[str, str] = signing.headers(SECRET, 1_700_000_000, BODY, "call.missed", "1")
    for name, value in changes.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    assert signing.verify(secret, headers, body, now) is valid


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def test_the_documented_verification_example_accepts_our_signature() -> None:
    (example,) = [b for b in _python_blocks((REPO / "docs" / "notifications.md").read_text())
                  if "def verified" in b]
    scope: dict[str, object] = {}
    exec(compile(example, "notifications.md", "exec"), scope)
    verified = scope["verified"]
    import time
    now = int(time.time())
    headers = signing.headers(SECRET, now, BODY, "call.missed", "1")
    assert verified(SECRET, headers, BODY) is True  # type: ignore[operator]
    assert verified(SECRET, headers, BODY + b" ") is False  # type: ignore[operator]
    stale = signing.headers(SECRET, now - 600, BODY, "call.missed", "1")
    assert verified(SECRET, stale, BODY) is False  # type: ignore[operator]


def test_the_documented_sender_example_is_the_test_plugin() -> None:
    plugin = REPO / "tests" / "plugins" / "hotline_sms_file" / "hotline_sms_file.py"
    blocks = [b.removeprefix("# hotline_sms_file.py\n").strip()
              for b in _python_blocks((REPO / "docs" / "notifications.md").read_text())]
    assert plugin.read_text().strip() in blocks


def _distribution(site: Path, name: str, entry_points: str) -> None:
    """A minimal installed distribution in ``site`` (what pip would leave)."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_points}\n")


def test_senders_load_from_the_entry_point_group_and_a_broken_one_is_left_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = REPO / "tests" / "plugins" / "hotline_sms_file" / "hotline_sms_file.py"
    (tmp_path / "hotline_sms_file.py").write_text(plugin.read_text())
    (tmp_path / "not_a_sender.py").write_text("THING = 42\n")
    _distribution(tmp_path, "hotline_sms_file", "sms_file = hotline_sms_file:SMS_FILE")
    _distribution(tmp_path, "broken_sender", "pager = no_such_module:PAGER")
    _distribution(tmp_path, "odd_sender", "odd = not_a_sender:THING")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = installed()
    finally:
        for module in ("hotline_sms_file", "not_a_sender"):
            sys.modules.pop(module, None)
    assert sorted(found) == ["sms_file", "webhook"]
    assert type(found["sms_file"]).__name__ == "SmsFileSender"
    assert type(found["webhook"]).__module__ == "router.notify.webhook"


@pytest.mark.parametrize(("status", "raised"), [
    (200, None), (204, None), (302, SendError), (400, Undeliverable), (401, Undeliverable),
    (404, Undeliverable), (408, SendError), (429, SendError), (500, SendError),
    (503, SendError)])
async def test_the_webhook_sender_tells_a_delivery_a_refusal_and_a_retry_apart(
        status: int, raised: type[Exception] | None) -> None:
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        headers = {"Location": "http://127.0.0.1:9/elsewhere"} if status == 302 else {}
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    delivery = Delivery(id=7, event="call.missed", payload={"a": 1}, body=b'{"a":1}', text="t",
                        attempt=1, target=Target(1, "crm", "webhook", url, SECRET))
    now = datetime.now(UTC)
    try:
        async with aiohttp.ClientSession() as http:
            context = SendContext(http=http, timeout_s=2.0, now=now)
            if raised is None:
                await WEBHOOK.send(delivery, context)
            else:
                with pytest.raises(raised, match=f"HTTP {status}"):
                    await WEBHOOK.send(delivery, context)
    finally:
        await runner.cleanup()
    (request,) = seen  # one request, no redirect followed
    assert bodies == [b'{"a":1}']
    assert request.headers["X-Hotline-Delivery"] == "7"
    assert signing.verify(SECRET, dict(request.headers), bodies[0], now.timestamp())

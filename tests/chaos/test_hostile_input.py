"""Hostile input: fuzzed ARI events, odd caller ids, and secrets that must not leak."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import urllib.request
from typing import Any

import pytest

from tests.conftest import PhoneFactory, RouterFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.fake_ari import FakeAri

pytestmark = [pytest.mark.lab, pytest.mark.chaos]

FUZZED = 3000
ARI_SECRET = "ari-secret-Zq81x"
DB_SECRET = "db-secret-Pw44k"


def _channel(rng: random.Random) -> dict[str, Any]:
    return {"id": rng.choice(["1795.1", "1795.2", f"{rng.random()}", "x" * 300, ""]),
            "name": "PJSIP/callers-0001", "state": rng.choice(["Ring", "Up", "Down", 7]),
            "caller": {"name": "", "number": rng.choice(["13800138000", "", "+86 21", "☎"])},
            "dialplan": {"context": "hotline", "exten": "4008001234", "priority": 1}}


def _templates(rng: random.Random) -> list[dict[str, Any]]:
    channel = _channel(rng)
    return [
        {"type": "StasisStart", "channel": channel,
         "args": [rng.choice(["4008001234", "", "9" * 5000, "400;DROP TABLE calls", "８００"])]},
        {"type": "Dial", "peer": channel, "dialstatus": rng.choice(["ANSWER", "BUSY", "", 5])},
        {"type": "ChannelDestroyed", "channel": channel, "cause": rng.choice([16, -1, "x"])},
        {"type": "ChannelHangupRequest", "channel": channel},
        {"type": "ChannelStateChange", "channel": channel},
        {"type": "StasisEnd", "channel": channel},
        {"type": "PlaybackFinished", "playback": {"id": "p", "target_uri": "channel:1795.1"}},
        {"type": "CallBroadcast", "channel": channel, "called": "4008001234"},
        {"type": "ChannelDtmfReceived", "channel": channel, "digit": rng.choice(["1", "#", ""])},
        {"type": "ApplicationReplaced"},
        {"type": "ChannelVarset", "variable": "X", "value": "Y"},
    ]


def _mutate(rng: random.Random, event: dict[str, Any]) -> Any:
    """Break one thing about an event, or nothing."""
    choice = rng.randrange(9)
    key = rng.choice(list(event))
    if choice == 0:
        event.pop(key)
    elif choice == 1:
        event[key] = rng.choice([None, 0, -1, 1e308, [], {}, "", "\x00", [event.get(key)]])
    elif choice == 2:
        event["timestamp"] = rng.choice(["", "yesterday", "2026-13-45T99:99:99.999+9999", 5])
    elif choice == 3:
        event[key] = {"deep": [[[[{"deeper": ["…" * 50]}]]]]}
    elif choice == 4:
        event["type"] = rng.choice(["", "Stasis Start", "stasisstart", None, 12, "A" * 1000])
    elif choice == 5:
        return [event]  # JSON, but not an object
    return event


def fuzz_corpus(seed: int, count: int) -> list[str | bytes]:
    rng = random.Random(seed)
    corpus: list[str | bytes] = []
    for _ in range(count):
        kind = rng.randrange(10)
        if kind == 0:
            corpus.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        elif kind == 1:
            text = json.dumps(_mutate(rng, rng.choice(_templates(rng))))
            corpus.append(text[: rng.randrange(1, len(text) + 1)])  # truncated JSON
        else:
            corpus.append(json.dumps(_mutate(rng, rng.choice(_templates(rng)))))
    return corpus


def healthy(http_port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=3) as reply:
        return bool(reply.status == 200)


async def test_fuzzed_ari_events_never_crash_the_router_or_leak_secrets(
        db: Any, lab: AsteriskLab, routers: RouterFactory, daemon_database_url: str) -> None:
    seed = random.randrange(10**6)
    fake = FakeAri(ARI_SECRET, fuzz_corpus(seed, FUZZED), refuse_first=2).start()
    try:
        with_secret = daemon_database_url.replace("@", f":{DB_SECRET}@", 1)  # trust auth ignores it
        router = routers("hotline-router-fuzz", {"ARI_URL": fake.url, "ARI_PASSWORD": ARI_SECRET,
                                                 "DATABASE_URL": with_secret})
        assert await asyncio.to_thread(fake.done.wait, 60), "the fuzz corpus was not consumed"
        await asyncio.sleep(3)  # let the calls the fuzz started fail and close
        scraped = router.metrics()
        rejected = scraped.value("hotline_router_ari_events_rejected_total")
        log = router.log_path.read_text()
        print(f"\nfuzz: {fake.sent} hostile messages (seed {seed}), {rejected:.0f} rejected as "
              f"malformed, {fake.rest_calls} REST calls answered 404, websocket connections "
              f"{fake.connections}", file=sys.stderr)

        assert router.process is not None
        assert router.process.poll() is None
        assert healthy(router.http_port)
        assert router.readyz()[1]["ari_connected"] is True
        assert fake.connections == 1  # never dropped the stream over bad input
        assert fake.refused == 2
        # a refused login is retried, and each refusal names the settings to check
        assert log.count("ari login refused: check ari_user and ari_password") == 2
        assert rejected > FUZZED / 10
        assert ARI_SECRET not in log
        assert DB_SECRET not in log
        assert "Traceback" not in log  # no input reached an unexpected failure
        open_calls = await db.fetchval(
            "SELECT count(*) FROM calls WHERE router_id LIKE 'hotline-router-fuzz@%' "
            "AND ended_at IS NULL")
        assert open_calls == 0  # calls the fuzz started were closed, not left dangling
    finally:
        fake.stop()


ODD_CALLERS = ["anonymous", "+8613800138000", "0086-21-5555-1234", "1" * 64, "abc*#"]


async def test_odd_caller_ids_are_routed_and_recorded_as_given(
        db: Any, lab: AsteriskLab, router: Any, phones: PhoneFactory, hotline_number: str) -> None:
    await add_hotline(db, hotline_number, [phones(answer_after_ms=200)])
    for n, caller in enumerate(ODD_CALLERS):
        seen = await sipp.call(lab.sip_address, hotline_number, caller=caller, hold_ms=500)
        assert seen.result == "answered", (caller, seen.errors)
        await wait_for_call(db, hotline_number, count=n + 1)
    records = await wait_for_call(db, hotline_number, count=len(ODD_CALLERS))
    assert sorted(r["caller"] for r in records) == sorted(ODD_CALLERS)
    assert all(r["outcome"] == "answered" for r in records)


def test_the_fuzz_corpus_is_hostile_enough() -> None:
    corpus = fuzz_corpus(1, 500)
    assert any(isinstance(m, bytes) for m in corpus)
    assert sum(1 for m in corpus if isinstance(m, str) and '"StasisStart"' in m) > 20
    assert fuzz_corpus(2, 50) == fuzz_corpus(2, 50)  # a seed reproduces a failing run

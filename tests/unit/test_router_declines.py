"""A router that can record a call nowhere takes none (issue 13, item 1).

While neither the database nor the spool takes records, it does not claim
StasisBroadcast offers (a peer or the dialplan's fallback takes them), sends a
call that reaches it by plain Stasis() back to the dialplan, and /readyz says
``recording: false``. It takes calls again once a record can be kept.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

from router import metrics
from router.ari import events as ev
from router.records import CallStarted
from router.service import REOFFER_CONTEXT, Router
from router.settings import Settings
from tests.unit.scripted_ari import T0


class Asterisk:
    """The ARI requests a router makes about calls it is offered, recorded."""

    def __init__(self) -> None:
        self.claimed: list[str] = []
        self.handed_back: list[tuple[str, str, str]] = []

    async def claim(self, channel_id: str, app: str) -> bool:
        self.claimed.append(channel_id)
        return True

    async def continue_in_dialplan(self, channel_id: str, context: str, exten: str) -> None:
        self.handed_back.append((channel_id, context, exten))


class Pool:
    async def fetchval(self, sql: str, *args: Any) -> Any:
        return True


def started() -> CallStarted:
    return CallStarted(uuid4(), 1, "4001234567", "13800138000", "c0", "router-test", T0)


def caller(channel_id: str) -> ev.Channel:
    return ev.Channel(id=channel_id, state="Ring", caller=ev.CallerId(number="13800138000"),
                      dialplan=ev.DialplanCEP(context="hotline", exten="4001234567"))


async def test_a_router_that_cannot_record_declines_new_calls(tmp_path: Path) -> None:
    asterisk = Asterisk()
    router = Router(Settings(spool_dir=str(tmp_path)), Pool(), asterisk)  # type: ignore[arg-type]
    store = router.store
    store.healthy = False  # the database is away…

    def refuse(record: Any) -> None:
        raise OSError(30, "Read-only file system")

    store.spool.append = refuse  # type: ignore[method-assign]
    await store.write(started())
    assert not store.can_record  # …and the spool refuses records
    declined = metrics.BROADCASTS.labels(result="declined")._value.get()

    router.on_event(ev.CallBroadcast(channel=caller("c1")))
    router.on_event(ev.StasisStart(channel=caller("c2"), args=["4001234567"]))
    await asyncio.gather(*router.tasks)

    assert asterisk.claimed == []
    assert metrics.BROADCASTS.labels(result="declined")._value.get() == declined + 1
    assert asterisk.handed_back == [("c2", REOFFER_CONTEXT, "4001234567")]
    assert len(router.registry) == 0
    checks = await router.readiness()
    assert checks["recording"] is False
    assert checks["accepting_calls"] is False

    del store.spool.append  # the disk takes records again: the next record goes there,
    await store.write(started())  # behind the one kept in memory
    assert store.can_record
    assert store.spool.pending == 2
    router.on_event(ev.CallBroadcast(channel=caller("c3")))
    await asyncio.gather(*router.tasks)
    assert asterisk.claimed == ["c3"]

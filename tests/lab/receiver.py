"""A local webhook receiver for the notification tests: an aiohttp server on
loopback that verifies each request's signature and keeps what it got."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from router.notify import signing


@dataclass
class Received:
    delivery: str
    event: str
    document: dict[str, Any]
    verified: bool
    arrived: float          # time.time() when the request arrived
    arrived_mono: float     # time.monotonic() then


@dataclass
class Receiver:
    """``secret``: what it verifies with; ``status``: what it answers; ``hang_s``:
    how long it waits before answering (a slow or dead endpoint)."""

    secret: str
    status: int = 200
    hang_s: float = 0.0
    got: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        arrived, arrived_mono = time.time(), time.monotonic()
        ok = signing.verify(self.secret, dict(request.headers), body, arrived)
        self.got.append(Received(request.headers.get(signing.DELIVERY_HEADER, ""),
                                 request.headers.get(signing.EVENT_HEADER, ""),
                                 json.loads(body), ok, arrived, arrived_mono))
        self._arrived.set()
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        return web.Response(status=self.status if ok else 401)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, event: str) -> list[Received]:
        return [r for r in self.got if r.event == event]

    async def wait_for(self, event: str, count: int = 1, timeout_s: float = 30.0
                       ) -> list[Received]:
        """The first ``count`` requests of ``event`` once they arrived (fails after the limit)."""
        deadline = time.monotonic() + timeout_s
        while len(self.of(event)) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.of(event))} of {count} {event} within {timeout_s} s"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))
        return self.of(event)[:count]

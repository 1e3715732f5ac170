"""A stand-in Asterisk that speaks ARI badly, to feed the router hostile input.

Its websocket sends whatever messages the test gives it; every REST call gets
404. It runs in its own thread, so it keeps serving while the test waits.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Sequence

from aiohttp import WSMsgType, web

from tests.lab import sipp


class FakeAri:
    def __init__(self, password: str, messages: Sequence[str | bytes],
                 refuse_first: int = 0) -> None:
        self.password = password
        self.messages = list(messages)
        self.port = sipp.free_port_pair()[0]
        self.refuse_first = refuse_first  # answer the first connections with 401
        self.connections = 0
        self.refused = 0
        self.sent = 0
        self.rest_calls = 0
        self.done = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAri:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def stop(self) -> None:
        async def close() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"hotline-router:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self.refused < self.refuse_first or not self._authorised(request):
            self.refused += 1
            return web.json_response({"message": "Authentication required"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        for message in self.messages:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_str(message)
            self.sent += 1
        self.done.set()
        async for incoming in ws:  # hold the connection open, as Asterisk does
            if incoming.type == WSMsgType.CLOSE:
                break
        return ws

    async def _rest(self, request: web.Request) -> web.Response:
        self.rest_calls += 1
        return web.json_response({"message": "Not found"}, status=404)

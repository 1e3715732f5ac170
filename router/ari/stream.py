"""The ARI event websocket, kept connected.

The reader only decodes and hands events on: Asterisk drops a websocket whose
reader stalls, so nothing here awaits call logic. After every (re)connect the
``on_connected`` hook runs, where the router reconciles what it missed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import structlog

from router import metrics
from router.ari import events
from router.ari.client import basic_auth
from router.ari.websocket_rest import WebSocketRest

log = structlog.get_logger("router.ari")


class EventStream:
    def __init__(self, base_url: str, user: str, password: str, apps: Sequence[str],
                 on_event: Callable[[events.AnyEvent | events.OtherEvent], None],
                 on_connected: Callable[[], Coroutine[Any, Any, None]] | None = None,
                 backoff_initial_s: float = 0.2, backoff_max_s: float = 10.0,
                 rest: WebSocketRest | None = None) -> None:
        self._url = (base_url.rstrip("/").replace("http://", "ws://", 1)
                     .replace("https://", "wss://", 1) + "/ari/events")
        self._params = {"app": ",".join(apps), "subscribeAll": "false"}
        self._headers = {"Authorization": basic_auth(user, password)}
        self._user = user
        self._on_event = on_event
        self._on_connected = on_connected
        # Requests and their responses share the socket with the events.
        self._rest = rest
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self.connected = asyncio.Event()
        self.connections = 0
        # When the last connection was lost: events after it never reached us.
        self.lost_at: datetime | None = None
        self.reconnects = 0
        self.bad_messages = 0
        # The events counter's child per type, looked up once (labels() takes a lock).
        self._counted: dict[type, Any] = {}

    async def run(self) -> None:
        """Connect, read, and reconnect with capped exponential backoff and jitter."""
        delay = self._backoff_initial
        async with aiohttp.ClientSession(headers=self._headers) as session:
            while True:
                try:
                    async with session.ws_connect(self._url, params=self._params,
                                                  heartbeat=15, max_msg_size=0) as ws:
                        log.info("ari connected", url=self._url, apps=self._params["app"])
                        delay = self._backoff_initial
                        self.connections += 1
                        self.connected.set()
                        metrics.ARI_CONNECTED.set(1)
                        if self._rest is not None:  # usable once probed (on_connected)
                            self._rest.attach(ws)
                        if self._on_connected is not None:
                            asyncio.get_running_loop().create_task(self._on_connected())
                        try:
                            await self._read(ws)
                        finally:
                            if self._rest is not None:
                                self._rest.detach()
                    log.warning("ari websocket closed", url=self._url)
                except aiohttp.WSServerHandshakeError as exc:
                    if exc.status == 401:  # retried: the password may be fixed in ari.conf
                        log.error("ari login refused: check ari_user and ari_password "
                                  "(ARI_USER, ARI_PASSWORD) against Asterisk's ari.conf",
                                  url=self._url, ari_user=self._user, status=exc.status)
                    else:
                        log.warning("ari connect failed", url=self._url, status=exc.status,
                                    error=exc.message)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    log.warning("ari connect failed", url=self._url,
                                error=str(exc) or type(exc).__name__)
                if self.connected.is_set():
                    self.lost_at = datetime.now(UTC)
                self.connected.clear()
                metrics.ARI_CONNECTED.set(0)
                self.reconnects += 1
                metrics.ARI_RECONNECTS.inc()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self._backoff_max)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self._dispatch(message.data)
            elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break

    def _dispatch(self, raw: str | bytes) -> None:
        if self._rest is not None and self._rest.resolve(raw):
            return
        try:
            event = events.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bad_messages += 1
            metrics.ARI_EVENTS_REJECTED.inc()
            log.warning("ari event ignored: malformed", error=str(exc)[:200])
            return
        kind = type(event)
        counter = self._counted.get(kind)
        if counter is None:
            counter = self._counted[kind] = metrics.ARI_EVENTS.labels(
                type="other" if kind is events.OtherEvent else kind.__name__)
        counter.inc()
        try:
            self._on_event(event)
        except Exception:
            log.exception("ari event handler failed", event_type=type(event).__name__)

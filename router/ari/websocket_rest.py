"""ARI requests on the event websocket instead of separate HTTP requests.

Asterisk 20.14, 21.9 and 22.4 take REST requests as JSON messages on the
websocket that carries the application's events (``RESTRequest``) and answer
each with a ``RESTResponse`` message holding the same ``request_id``, its
status and, as a string, the body HTTP would have returned (docs.asterisk.org,
"ARI REST over WebSocket"). One socket then carries a call's whole dialogue:
no HTTP request, connection pool or header parsing per step.

Older Asterisks ignore such messages: the first request after each connect is
a probe (sent once the application's event filter is set, which must let
``RESTResponse`` through), and without an answer within
:data:`PROBE_TIMEOUT_S` the router keeps to HTTP on that connection. Binary
bodies (a recording's file) are refused over the websocket (406), so callers
fetch those over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

import msgspec
import structlog

from router import deadline, metrics
from router.ari.client import UNREACHABLE, AriError, query_text

log = structlog.get_logger("router.ari")

# An Asterisk that takes requests on the websocket answers the probe in a few
# ms; one that does not never answers it.
PROBE_TIMEOUT_S = 2.0
# The marker of a response among events: looked for before decoding, so the
# event path pays one substring search per message.
_MARKER = "RESTResponse"


class Socket(Protocol):
    """What is needed of the connected websocket (aiohttp's ClientWebSocketResponse)."""

    async def send_str(self, data: str) -> None: ...


class RestResponse(msgspec.Struct, frozen=True):
    type: str
    request_id: str = ""
    status_code: int = 0
    reason_phrase: str = ""
    message_body: str | None = None


_decode_response = msgspec.json.Decoder(RestResponse).decode
# JSON both ways with msgspec, as the events are (about 4x the json module's
# speed on these messages); Asterisk reads compact JSON like any other.
_encode = msgspec.json.Encoder().encode
decode_body = msgspec.json.Decoder().decode
_SENT = metrics.ARI_REQUESTS.labels(transport="websocket")  # labels() looked up once


class WebSocketRest:
    """Sends ARI requests on the event websocket and matches their responses.

    ``supported`` is None until the probe of the current connection has
    answered (True) or timed out (False); requests go over the websocket only
    while it is True.
    """

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self.supported: bool | None = None
        self._socket: Socket | None = None
        self._pending: dict[str, asyncio.Future[RestResponse]] = {}
        self._ids = (str(n) for n in itertools.count(1))

    @property
    def usable(self) -> bool:
        return self._socket is not None and self.supported is True

    def attach(self, socket: Socket) -> None:
        """A new connection: requests may use it once the probe answers."""
        self._socket, self.supported = socket, None

    def detach(self) -> None:
        """The connection is gone: requests waiting on it fail as unreachable (they
        may or may not have run, as with an HTTP connection reset)."""
        self._socket, self.supported = None, None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionResetError("ARI websocket closed"))

    async def probe(self) -> bool:
        """Ask this connection for Asterisk's info: whether it answers on the websocket."""
        socket = self._socket
        if socket is None:
            return False
        try:
            response = await self._exchange(socket, "GET", "asterisk/info", None,
                                            PROBE_TIMEOUT_S)
            answered = 200 <= response.status_code < 300
        except (TimeoutError, OSError):
            answered = False
        if self._socket is socket:
            self.supported = answered
            log.info("ari requests go over the websocket" if answered
                     else "ari requests go over http: no answer on the websocket")
        return answered

    def resolve(self, raw: str | bytes) -> bool:
        """Hand a response to the request waiting for it; False for anything else
        (an event), which goes on to the event decoder."""
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        if _MARKER not in text:
            return False
        try:
            response = _decode_response(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        if response.type != _MARKER:
            return False
        future = self._pending.pop(response.request_id, None)
        if future is not None and not future.done():
            future.set_result(response)
        return True

    async def request(self, method: str, path: str,
                      params: Mapping[str, object | None] | None = None,
                      body: Any = None) -> Any:
        """One ARI call on the websocket, as :meth:`AriClient.request` (decoded JSON,
        None when empty). Raises AriError: the status Asterisk gave, or 0
        (UNREACHABLE) when the socket closed or no response came in time."""
        socket = self._socket
        if socket is None:
            raise AriError(method, path, UNREACHABLE, "unreachable: ARI websocket not connected")
        uri = path.lstrip("/")
        query = query_text(params or {})
        if query:
            uri = f"{uri}?{urlencode(query)}"
        try:
            response = await self._exchange(socket, method, uri, body, self.timeout_s)
        except (TimeoutError, OSError) as exc:
            raise AriError(method, path, UNREACHABLE,
                           f"unreachable: {type(exc).__name__} {exc}"[:300]) from exc
        text = response.message_body or ""
        if response.status_code >= 400:
            message = text or response.reason_phrase
            with contextlib.suppress(ValueError, AttributeError):
                message = json.loads(text).get("message", text)
            raise AriError(method, path, response.status_code, str(message).strip()[:300])
        return decode_body(text) if text else None  # a DecodeError is a ValueError

    async def _exchange(self, socket: Socket, method: str, uri: str, body: Any,
                        timeout_s: float) -> RestResponse:
        request_id = next(self._ids)
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id,
                                   "method": method, "uri": uri}
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = _encode(body).decode()
        future: asyncio.Future[RestResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await socket.send_str(_encode(message).decode())
            _SENT.inc()
            return await deadline.within(timeout_s, future)
        finally:
            self._pending.pop(request_id, None)

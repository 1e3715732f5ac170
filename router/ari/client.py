"""ARI REST calls over one aiohttp session.

Credentials travel in the Authorization header, never in a URL, so no URL
that reaches a log line carries the password.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from router import metrics

if TYPE_CHECKING:
    from router.ari.websocket_rest import WebSocketRest

# AriError.status when no HTTP answer came back at all.
UNREACHABLE = 0


class AriError(Exception):
    """ARI answered with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}")
        self.status = status
        self.method = method
        self.path = path
        self.message = message


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value; it never goes into a URL, hence a log line."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def query_text(params: Mapping[str, object | None]) -> dict[str, str]:
    """Query parameters as ARI reads them: None left out, booleans as true/false."""
    return {k: _text(v) for k, v in params.items() if v is not None}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AriClient:
    """The REST half of ARI. One instance per Asterisk server.

    Requests go over the event websocket when ``websocket`` is set and its
    connection answers requests (router/ari/websocket_rest.py), else over HTTP.
    """

    def __init__(self, base_url: str, user: str, password: str,
                 timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": basic_auth(user, password)}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.websocket: WebSocketRest | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str,
                      params: Mapping[str, object | None] | None = None,
                      body: Any = None) -> Any:
        """One ARI call; returns decoded JSON (or None for 204).

        Raises AriError: with the HTTP status, or status 0 when Asterisk could
        not be reached at all (connection refused, reset, or timed out).
        """
        if self.websocket is not None and self.websocket.usable:
            return await self.websocket.request(method, path, params, body)
        return await self.http_request(method, path, params, body)

    async def http_request(self, method: str, path: str,
                           params: Mapping[str, object | None] | None = None,
                           body: Any = None) -> Any:
        """:meth:`request` over HTTP, whatever the websocket can do."""
        url = f"{self.base_url}/ari{path}"
        metrics.ARI_REQUESTS.labels(transport="http").inc()
        try:
            async with self.session.request(method, url, params=query_text(params or {}),
                                            json=body) as response:
                text = await response.text()
                if response.status >= 400:
                    message = text
                    with contextlib.suppress(ValueError, AttributeError):
                        message = json.loads(text).get("message", text)
                    raise AriError(method, path, response.status, message.strip()[:300])
                return json.loads(text) if text else None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AriError(method, path, UNREACHABLE,
                           f"unreachable: {type(exc).__name__} {exc}"[:300]) from exc

    # --- channels -----------------------------------------------------------

    async def create_channel(self, endpoint: str, app: str, channel_id: str,
                             originator: str | None = None,
                             variables: Mapping[str, str] | None = None) -> Any:
        """Create (but do not dial) an outgoing channel placed in ``app``."""
        body = {"variables": dict(variables)} if variables else None
        return await self.request("POST", "/channels/create", {
            "endpoint": endpoint, "app": app, "channelId": channel_id,
            "originator": originator}, body)

    async def dial(self, channel_id: str, caller: str | None = None,
                   timeout_s: int | None = None) -> None:
        await self.request("POST", f"/channels/{channel_id}/dial",
                           {"caller": caller, "timeout": timeout_s})

    async def ring(self, channel_id: str) -> None:
        """Send ringing to an unanswered channel (SIP 180)."""
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def progress(self, channel_id: str) -> None:
        """Open early media on an unanswered channel (SIP 183)."""
        await self.request("POST", f"/channels/{channel_id}/progress")

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        """Hang up; False when the channel was already gone (not an error)."""
        try:
            await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def transfer_progress(self, channel_id: str, state: str) -> None:
        """Tell the phone that asked for a transfer (REFER) how it went: one of
        channel_progress, channel_answered, channel_unavailable, channel_declined
        (SIP NOTIFY 100, 200, 503, 603; POST /channels/{id}/transfer_progress,
        Asterisk 22.3+)."""
        await self.request("POST", f"/channels/{channel_id}/transfer_progress",
                           {"states": state})

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int = 1) -> None:
        """Let the channel leave Stasis and go on in the dialplan at this place."""
        await self.request("POST", f"/channels/{channel_id}/continue",
                           {"context": context, "extension": extension, "priority": priority})

    async def play(self, channel_id: str, media: str | Iterable[str],
                   playback_id: str | None = None) -> Any:
        media_list = [media] if isinstance(media, str) else list(media)
        return await self.request("POST", f"/channels/{channel_id}/play",
                                  {"media": ",".join(media_list), "playbackId": playback_id})

    async def stop_playback(self, playback_id: str) -> None:
        try:
            await self.request("DELETE", f"/playbacks/{playback_id}")
        except AriError as exc:
            if exc.status != 404:
                raise

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        try:
            await self.request("DELETE", f"/channels/{channel_id}/moh")
        except AriError as exc:
            if exc.status != 404:
                raise

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/variable",
                           {"variable": name, "value": value})

    async def get_variable(self, channel_id: str, name: str) -> str:
        """A channel variable or dialplan function's value ("" when unset)."""
        reply = await self.request("GET", f"/channels/{channel_id}/variable",
                                   {"variable": name})
        return str((reply or {}).get("value", ""))

    async def list_channels(self) -> list[Any]:
        return list(await self.request("GET", "/channels") or [])

    # --- bridges ------------------------------------------------------------

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> Any:
        return await self.request("POST", "/bridges",
                                  {"type": bridge_type, "bridgeId": bridge_id})

    async def add_to_bridge(self, bridge_id: str, channel_ids: Iterable[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel",
                           {"channel": ",".join(channel_ids)})

    async def remove_from_bridge(self, bridge_id: str, channel_ids: Iterable[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/removeChannel",
                           {"channel": ",".join(channel_ids)})

    async def destroy_bridge(self, bridge_id: str) -> bool:
        try:
            await self.request("DELETE", f"/bridges/{bridge_id}")
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def list_bridges(self) -> list[Any]:
        return list(await self.request("GET", "/bridges") or [])

    async def record_bridge(self, bridge_id: str, name: str, file_format: str) -> Any:
        """Record the bridge's mixed audio into Asterisk's storage as ``name``.

        ARI POST /bridges/{bridgeId}/record: ``ifExists=fail`` (a name is never
        overwritten), no beep, no time or silence limit, no key ends it; the
        recording ends when the bridge is destroyed or it is stopped. Returns
        the LiveRecording (its ``state`` is ``queued`` at first).
        """
        return await self.request("POST", f"/bridges/{bridge_id}/record", {
            "name": name, "format": file_format, "ifExists": "fail", "beep": False,
            "maxDurationSeconds": 0, "maxSilenceSeconds": 0, "terminateOn": "none"})

    async def record_channel(self, channel_id: str, name: str, file_format: str,
                             max_duration_s: int, max_silence_s: int) -> Any:
        """Record what the channel says (a voicemail message) as ``name``.

        ARI POST /channels/{channelId}/record: a beep first, ``ifExists=fail``;
        it ends after ``max_duration_s`` (maxDurationSeconds), after
        ``max_silence_s`` of silence (maxSilenceSeconds), on # (terminateOn),
        or when the channel hangs up. Returns the LiveRecording.
        """
        return await self.request("POST", f"/channels/{channel_id}/record", {
            "name": name, "format": file_format, "ifExists": "fail", "beep": True,
            "maxDurationSeconds": max_duration_s, "maxSilenceSeconds": max_silence_s,
            "terminateOn": "#"})

    # --- recordings -----------------------------------------------------------

    async def stop_recording(self, name: str) -> bool:
        """Stop a live recording and store it; False when it is not live (404)."""
        try:
            await self.request("POST", f"/recordings/live/{name}/stop")
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def live_recording(self, name: str) -> Any | None:
        """The LiveRecording (``state``, ``duration`` in whole seconds, …), or None
        when it is not live (finished, or never started)."""
        try:
            return await self.request("GET", f"/recordings/live/{name}")
        except AriError as exc:
            if exc.status == 404:
                return None
            raise

    async def stored_recording(self, name: str) -> Any | None:
        """The StoredRecording (``name``, ``format``), or None when there is none."""
        try:
            return await self.request("GET", f"/recordings/stored/{name}")
        except AriError as exc:
            if exc.status == 404:
                return None
            raise

    async def stored_recordings(self) -> list[Any]:
        """Every StoredRecording Asterisk holds (``name``, ``format``). Raises AriError."""
        return list(await self.request("GET", "/recordings/stored") or [])

    async def recording_head(self, name: str, head_bytes: int = 64) -> tuple[int, bytes]:
        """The stored recording's size in bytes and its first ``head_bytes``
        bytes, without reading the rest when Asterisk gives its length.

        Raises AriError (404: no such recording).
        """
        path = f"/recordings/stored/{name}/file"
        try:
            async with self.session.get(f"{self.base_url}/ari{path}") as response:
                if response.status >= 400:
                    raise AriError("GET", path, response.status, (await response.text())[:300])
                head = await response.content.read(head_bytes)
                if response.content_length is not None:
                    response.close()  # the rest is not needed: drop the connection
                    return response.content_length, head
                rest = await response.read()
                return len(head) + len(rest), head
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AriError("GET", path, UNREACHABLE,
                           f"unreachable: {type(exc).__name__} {exc}"[:300]) from exc

    async def recording_file(self, name: str, chunk: Callable[[bytes], object]) -> int:
        """Stream the stored recording's file to ``chunk(bytes)``; bytes read.

        Raises AriError (404: no such recording).
        """
        path = f"/recordings/stored/{name}/file"
        total = 0
        try:
            async with self.session.get(f"{self.base_url}/ari{path}",
                                        timeout=aiohttp.ClientTimeout(total=None,
                                                                      sock_read=30)) as response:
                if response.status >= 400:
                    raise AriError("GET", path, response.status, (await response.text())[:300])
                async for data in response.content.iter_chunked(65536):
                    chunk(data)
                    total += len(data)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AriError("GET", path, UNREACHABLE,
                           f"unreachable: {type(exc).__name__} {exc}"[:300]) from exc
        return total

    async def delete_recording(self, name: str) -> bool:
        """Delete a stored recording's file; False when there was none (404)."""
        try:
            await self.request("DELETE", f"/recordings/stored/{name}")
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- applications and events -------------------------------------------

    async def claim(self, channel_id: str, app: str) -> bool:
        """Claim a StasisBroadcast channel; False when another app won (409)."""
        try:
            await self.request("POST", "/events/claim",
                               {"channelId": channel_id, "application": app})
        except AriError as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    async def application_channels(self, app: str) -> list[str]:
        """The ids of the channels ``app`` is subscribed to."""
        return list((await self.request("GET", f"/applications/{app}") or {})
                    .get("channel_ids", []))

    async def subscribe(self, app: str, channel_ids: Iterable[str]) -> None:
        """Send ``app`` the events of these channels (e.g. to adopt another app's calls)."""
        await self.request("POST", f"/applications/{app}/subscription",
                           {"eventSource": ",".join(f"channel:{c}" for c in channel_ids)})

    async def allow_events(self, app: str, types: Iterable[str]) -> None:
        """Send ``app`` only these event types (Asterisk drops the rest at the source)."""
        await self.request("PUT", f"/applications/{app}/eventFilter",
                           body={"allowed": [{"type": name} for name in types],
                                 "disallowed": []})

    async def get_global(self, name: str) -> str:
        """A global dialplan variable ("" when unset)."""
        reply = await self.request("GET", "/asterisk/variable", {"variable": name})
        return str((reply or {}).get("value", ""))

    async def set_global(self, name: str, value: str) -> None:
        await self.request("POST", "/asterisk/variable", {"variable": name, "value": value})

    async def info(self) -> Any:
        return await self.request("GET", "/asterisk/info")

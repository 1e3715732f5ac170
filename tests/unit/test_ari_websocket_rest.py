"""ARI requests on the event websocket (router/ari/websocket_rest.py), against a
small local server that speaks the protocol as Asterisk documents it, or, like
an older Asterisk, ignores requests on the websocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from router import metrics
from router.ari import events as ev
from router.ari.client import UNREACHABLE, AriClient, AriError
from router.ari.stream import EventStream
from router.ari.websocket_rest import WebSocketRest

STASIS_START = {"type": "StasisStart", "timestamp": "2026-11-30T08:00:00.000+0000",
                "application": "app", "args": [],
                "channel": {"id": "c1", "name": "PJSIP/x-1", "state": "Ring",
                            "caller": {"name": "", "number": "13800138000"},
                            "dialplan": {"context": "from-carrier", "exten": "4001234567",
                                         "priority": 1}}}


@dataclass
class FakeAsterisk:
    """Answers RESTRequest messages (unless ``answers`` is off), sends an event
    before each response, and serves the same requests over HTTP."""

    answers: bool = True
    over_websocket: list[dict[str, Any]] = field(default_factory=list)
    over_http: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    silent_uris: set[str] = field(default_factory=set)  # requests left unanswered

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            sent = json.loads(message.data)
            self.over_websocket.append(sent)
            if not self.answers or sent["uri"] in self.silent_uris:
                continue
            await ws.send_str(json.dumps(STASIS_START))  # events interleave with responses
            status, body = self.answer(sent["method"], sent["uri"])
            response: dict[str, Any] = {
                "type": "RESTResponse", "transaction_id": "", "request_id": sent["request_id"],
                "status_code": status, "reason_phrase": "x", "uri": sent["uri"],
                "timestamp": "2026-11-30T08:00:00.000+0000", "application": "app"}
            if body is not None:
                response["message_body"] = json.dumps(body)
            await ws.send_str(json.dumps(response))
        return ws

    def answer(self, method: str, uri: str) -> tuple[int, Any]:
        if uri.startswith("asterisk/info"):
            return 200, {"system": {"version": "22.10.1"}}
        if uri.startswith("channels/gone"):
            return 404, {"message": "Channel not found"}
        if method == "POST" and uri.startswith("channels/create"):
            return 200, {"id": "leg-1"}
        return 204, None

    async def http(self, request: web.Request) -> web.Response:
        self.over_http.append(f"{request.method} {request.path_qs}")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def asterisk(fake: FakeAsterisk) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/ari/events", fake.events)
    app.router.add_route("*", "/ari/{tail:.*}", fake.http)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def connected(fake: FakeAsterisk, received: list[Any]) -> AsyncIterator[AriClient]:
    async with asterisk(fake) as url:
        rest = WebSocketRest(timeout_s=1.0)
        client = AriClient(url, "u", "p")
        client.websocket = rest
        async def probe() -> None:  # as the router does once its event filter is set
            await rest.probe()

        stream = EventStream(url, "u", "p", ["app"], received.append, probe, rest=rest)
        task = asyncio.ensure_future(stream.run())
        try:
            await asyncio.wait_for(stream.connected.wait(), 5)
            for _ in range(200):  # the probe's answer, or its timeout
                if rest.supported is not None:
                    break
                await asyncio.sleep(0.01)
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.close()


async def test_requests_and_their_answers_travel_on_the_event_websocket() -> None:
    fake, received = FakeAsterisk(), list[Any]()
    async with connected(fake, received) as client:
        assert client.websocket is not None
        assert client.websocket.usable
        created = await client.create_channel("PJSIP/phones/sip:phone@127.0.0.1:5070", "app",
                                              "leg-1", originator="c1",
                                              variables={"CALLERID(num)": "138"})
        await client.dial("leg-1", caller="c1", timeout_s=20)
        await client.play("c1", ["sound:hello-world", "digits:42"], playback_id="p 1")
        with pytest.raises(AriError) as gone:
            await client.answer("gone")

    assert created == {"id": "leg-1"}
    assert gone.value.status == 404
    assert gone.value.message == "Channel not found"
    assert fake.over_http == []
    sent = {m["uri"].split("?")[0]: m for m in fake.over_websocket}
    assert sent["asterisk/info"]["method"] == "GET"  # the probe
    create = sent["channels/create"]
    assert create["uri"] == ("channels/create?endpoint=PJSIP%2Fphones%2Fsip%3Aphone%40127.0.0.1"
                             "%3A5070&app=app&channelId=leg-1&originator=c1")
    assert create["content_type"] == "application/json"
    assert json.loads(create["message_body"]) == {"variables": {"CALLERID(num)": "138"}}
    assert sent["channels/leg-1/dial"]["uri"] == "channels/leg-1/dial?caller=c1&timeout=20"
    assert sent["channels/c1/play"]["uri"] == \
        "channels/c1/play?media=sound%3Ahello-world%2Cdigits%3A42&playbackId=p+1"
    # The events sent between the responses reached the router, responses did not.
    assert received
    assert all(isinstance(e, ev.StasisStart) for e in received)


async def test_an_asterisk_that_does_not_answer_on_the_websocket_is_asked_over_http(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("router.ari.websocket_rest.PROBE_TIMEOUT_S", 0.2)
    fake = FakeAsterisk(answers=False)
    async with connected(fake, []) as client:
        assert client.websocket is not None
        assert client.websocket.supported is False
        await client.answer("c1")
    assert [m["uri"] for m in fake.over_websocket] == ["asterisk/info"]
    assert fake.over_http == ["POST /ari/channels/c1/answer"]


async def test_a_request_whose_socket_closes_fails_as_unreachable() -> None:
    fake = FakeAsterisk(silent_uris={"channels/c1/answer"})
    async with connected(fake, []) as client:
        pending = asyncio.ensure_future(client.answer("c1"))
        for _ in range(100):
            if any(m["uri"] == "channels/c1/answer" for m in fake.over_websocket):
                break
            await asyncio.sleep(0.01)
        await fake.sockets[0].close()
        with pytest.raises(AriError) as lost:
            await pending
    assert lost.value.status == UNREACHABLE


async def test_a_request_not_answered_in_time_fails_as_unreachable() -> None:
    fake = FakeAsterisk(silent_uris={"channels/c1/answer"})
    async with connected(fake, []) as client:
        assert client.websocket is not None
        client.websocket.timeout_s = 0.1
        with pytest.raises(AriError) as late:
            await client.answer("c1")
    assert late.value.status == UNREACHABLE
    assert "TimeoutError" in late.value.message


def test_the_event_filter_lets_responses_through() -> None:
    """Asterisk drops what an application's event filter does not allow, the
    responses to websocket requests included."""
    assert "RESTResponse" in ev.ALLOWED_TYPES
    assert set(ev.ROUTED_TYPES) < set(ev.ALLOWED_TYPES)


def test_an_event_is_not_taken_for_a_response() -> None:
    rest = WebSocketRest()
    assert not rest.resolve(json.dumps(STASIS_START))
    # A caller id may hold the word: only a message of that type is a response.
    tricky = {**STASIS_START, "channel": {**STASIS_START["channel"],  # type: ignore[dict-item]
                                          "caller": {"name": "RESTResponse", "number": "1"}}}
    assert not rest.resolve(json.dumps(tricky))
    assert rest.resolve(b'{"type": "RESTResponse", "request_id": "nobody waits"}')


async def test_events_are_counted_by_type_and_responses_are_not() -> None:
    counted = metrics.ARI_EVENTS.labels(type="StasisStart")
    other = metrics.ARI_EVENTS.labels(type="other")
    before, other_before = counted._value.get(), other._value.get()
    fake, received = FakeAsterisk(), list[Any]()
    async with connected(fake, received) as client:
        await client.dial("leg-1", caller="c1", timeout_s=20)
        await client.answer("c1")
        await fake.sockets[0].send_str(json.dumps({"type": "ChannelTalkingStarted",
                                                   "channel": {"id": "c1"}}))
        for _ in range(100):
            if len(received) == 4:
                break
            await asyncio.sleep(0.01)

    # The fake sends one StasisStart before each response: the probe's and two.
    assert [type(e).__name__ for e in received] == ["StasisStart"] * 3 + ["OtherEvent"]
    assert counted._value.get() == before + 3
    assert other._value.get() == other_before + 1  # an unmodelled type, not its own label

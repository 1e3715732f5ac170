"""Presence rules without a database: feature codes, recognising a phone's address,
who a call may be offered to, and the state shown to the admin."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router import settings as settings_module
from router.ari import AriError, events
from router.directory import BoundPhone, Hotline, Lookup, Overflow, PhoneState
from router.endpoints import EndpointStates
from router.presence import (
    Presence,
    Request,
    address_of,
    derived_state,
    endpoint_of,
    feature_call,
    parse_code,
)
from router.settings import Settings, SettingsError

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DEFAULTS = Settings()


@pytest.mark.parametrize(("dialled", "request_"), [
    ("*71", Request(Presence.SIGNED_IN)),
    ("*72", Request(Presence.SIGNED_OUT)),
    ("*73", Request(Presence.PAUSED, "break")),
    ("*7312", Request(Presence.PAUSED, "12")),
    ("*74", Request(Presence.SIGNED_IN, resume=True)),
    ("*75", None),
    ("*711", None),          # not the sign-in code with something after it
    ("*73x", None),
    ("*731234567", None),    # a reason of at most 6 digits
    ("4008001234", None),
])
def test_feature_codes(dialled: str, request_: Request | None) -> None:
    assert parse_code(dialled, DEFAULTS) == request_


def test_the_codes_are_settings() -> None:
    custom = Settings(presence_sign_in_code="*11", presence_sign_out_code="*12",
                      presence_pause_code="*13", presence_resume_code="*14")
    assert parse_code("*11", custom) == Request(Presence.SIGNED_IN)
    assert parse_code("*131", custom) == Request(Presence.PAUSED, "1")
    assert parse_code("*71", custom) is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"presence_sign_in_code": "71"}, "presence_sign_in_code must be '\\*' and 1-4 digits"),
    ({"presence_pause_code": "*7"}, "presence_pause_code \\*7 is the start of"),
    ({"presence_resume_code": "*71"}, "is the start of"),
])
def test_bad_codes_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_module.validate(replace(DEFAULTS, **changes))


@pytest.mark.parametrize(("dial_string", "address"), [
    ("PJSIP/phones/sip:8001@10.0.0.5:5081", "10.0.0.5:5081"),
    ("PJSIP/phones/sip:8001@10.0.0.5", "10.0.0.5:5060"),
    ("PJSIP/phones/sip:8001@10.0.0.5:5070;transport=udp", "10.0.0.5:5070"),
    ("PJSIP/carrier/sip:13800138000@10.1.1.1:5060", None),  # a trunk: never an identity
    ("PJSIP/agent1", None),
])
def test_the_address_a_dial_string_reaches(dial_string: str, address: str | None) -> None:
    assert address_of(dial_string) == address


@pytest.mark.parametrize(("channel", "endpoint"), [
    ("PJSIP/callers-0000001a", "callers"),
    ("PJSIP/agent-one-00000002", "agent-one"),
    ("Local/x@y-00000001;1", ""),
])
def test_the_endpoint_of_a_channel(channel: str, endpoint: str) -> None:
    assert endpoint_of(channel) == endpoint


def lookup(*states: PhoneState) -> Lookup:
    phones = tuple(BoundPhone(phone_id=i, dial_string=f"PJSIP/p{i}", position=i, capacity=1,
                              weight=1, wrap_up_s=0) for i in range(1, len(states) + 1))
    hotline = Hotline(id=1, number="4008001234", enabled=True, strategy="sequential",
                      strategy_options={}, ring_timeout_s=15, total_timeout_s=60,
                      max_attempts=None, overflow=Overflow.BUSY, overflow_max_wait_s=60,
                      overflow_forward_to=None, phones=phones)
    return Lookup(hotline, {p.phone_id: s for p, s in zip(phones, states, strict=True)})


def test_only_signed_in_phones_past_their_delay_are_offered_a_call() -> None:
    found = lookup(PhoneState(), PhoneState(presence="paused"), PhoneState(presence="signed_out"),
                   PhoneState(offer_after=NOW + timedelta(seconds=1)),
                   PhoneState(offer_after=NOW))
    assert [c.phone_id for c in found.idle_candidates(NOW)] == [1, 5]


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"enabled": True, "presence": "signed_in", "active_calls": 0,
                               "capacity": 1, "wrap_up_s": 0, "last_call_ended_at": None,
                               "offer_after": None}
    return {**base, **changes}


@pytest.mark.parametrize(("changes", "ringing", "shown"), [
    ({}, False, "idle"),
    ({"enabled": False, "presence": "paused"}, False, "disabled"),
    ({"presence": "paused"}, False, "paused"),
    ({"presence": "signed_out"}, False, "signed out"),
    ({"active_calls": 1}, False, "busy"),
    ({"active_calls": 1}, True, "ringing"),
    ({"wrap_up_s": 30, "last_call_ended_at": NOW - timedelta(seconds=10)}, False, "wrap-up"),
    ({"wrap_up_s": 30, "last_call_ended_at": NOW - timedelta(seconds=30)}, False, "idle"),
    ({"offer_after": NOW + timedelta(seconds=5)}, False, "delayed"),
])
def test_the_state_an_admin_sees(changes: dict[str, object], ringing: bool, shown: str) -> None:
    assert derived_state(row(**changes), NOW, ringing) == shown


# --- device state: endpoints Asterisk reports offline --------------------------


def test_an_endpoint_state_change_decodes() -> None:
    raw = json.dumps({"type": "EndpointStateChange", "application": "hotline-router",
                      "timestamp": "2026-11-30T06:00:00.000+0000",
                      "endpoint": {"technology": "PJSIP", "resource": "agent1",
                                   "state": "offline", "channel_ids": []}})
    event = events.decode(raw)
    assert isinstance(event, events.EndpointStateChange)
    assert (event.endpoint.resource, event.endpoint.state) == ("agent1", "offline")
    assert events.channel_of(event) is None
    assert "EndpointStateChange" in events.ROUTED_TYPES  # let through the event filter


async def test_offline_endpoints_follow_the_events() -> None:
    states = EndpointStates()
    ari = FakeAri([
        {"technology": "PJSIP", "resource": "agent1", "state": "offline"},
        {"technology": "PJSIP", "resource": "agent2", "state": "online"},
        {"technology": "PJSIP", "resource": "agent3", "state": "unknown"},
        {"technology": "PJSIP", "resource": "callers", "state": "offline"},  # not a phone
        {"technology": "IAX2", "resource": "peer", "state": "offline"}])
    await states.follow(ari, "app", ["PJSIP/agent1", "PJSIP/agent2", "PJSIP/agent3",
                                     "IAX2/peer"], afresh=True)
    assert states.offline == {"PJSIP/agent1"}
    assert states.note("PJSIP", "agent2", "offline")
    assert not states.note("PJSIP", "agent2", "offline")  # no change
    assert states.note("PJSIP", "agent1", "online")
    assert not states.note("IAX2", "peer", "offline")
    assert states.offline == {"PJSIP/agent2"}


def test_a_phone_whose_endpoint_is_offline_is_not_offered_but_uris_are() -> None:
    found = lookup(PhoneState(), PhoneState(), PhoneState())
    offline = replace(found, offline=frozenset({"PJSIP/p2", "PJSIP/phones"}))
    assert [c.phone_id for c in offline.idle_candidates(NOW)] == [1, 3]


class FakeAri:
    def __init__(self, endpoints: list[dict[str, str]], refuse: str = "") -> None:
        self.endpoints = endpoints
        self.refuse = refuse
        self.requests: list[tuple[str, str, object]] = []

    async def request(self, method: str, path: str, params: Any = None) -> object:
        if params and params.get("eventSource") == self.refuse:
            raise AriError(method, path, 422, "no such endpoint")
        self.requests.append((method, path, params))
        if method == "GET" and path == "/endpoints/PJSIP":
            return self.endpoints
        if method == "GET":
            return {"technology": "PJSIP", "resource": path.rpartition("/")[2],
                    "state": "offline"}
        return None


async def test_only_the_bound_phones_endpoints_are_followed() -> None:
    ari = FakeAri([{"technology": "PJSIP", "resource": "agent1", "state": "offline"}],
                  refuse="endpoint:PJSIP/gone")
    states = EndpointStates()
    bound = ["PJSIP/agent1", "PJSIP/phones/sip:8001@10.0.0.5:5060", "Local/1@x", "PJSIP/gone"]
    await states.follow(ari, "app-a", bound, afresh=True)
    assert ari.requests == [
        ("POST", "/applications/app-a/subscription", {"eventSource": "endpoint:PJSIP/agent1"}),
        ("GET", "/endpoints/PJSIP", None)]
    assert states.offline == {"PJSIP/agent1"}
    assert not states.wants(bound)  # PJSIP/gone is asked again only after a reconnect
    assert not states.note("PJSIP", "callers", "offline")  # no bound phone's endpoint

    ari.requests.clear()
    ari.refuse = ""
    assert states.wants(["PJSIP/agent2"])
    await states.follow(ari, "app-a", ["PJSIP/agent2"])
    assert ari.requests == [
        ("POST", "/applications/app-a/subscription", {"eventSource": "endpoint:PJSIP/agent2"}),
        ("GET", "/endpoints/PJSIP/agent2", None),  # a phone bound since: its state now
        ("DELETE", "/applications/app-a/subscription", {"eventSource": "endpoint:PJSIP/agent1"})]
    assert states.offline == {"PJSIP/agent2"}  # agent1 is no phone's any more
    assert not states.wants(["PJSIP/agent2"])


# --- a feature call, with stand-ins for ARI and the database -----------------------


class FeatureAri:
    def __init__(self, remote: str = "127.0.0.1:5081", gone: bool = False) -> None:
        self.remote = remote
        self.gone = gone
        self.continued: list[tuple[str, str, str]] = []

    async def get_variable(self, channel_id: str, name: str) -> str:
        assert name == "CHANNEL(pjsip,remote_addr)"
        return self.remote

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str) -> None:
        if self.gone:
            raise OSError("the agent hung up")
        self.continued.append((channel_id, context, extension))


class FeatureDb:
    """Knows one phone (id 7) at 127.0.0.1:5081; records set_presence calls."""

    def __init__(self, presence: str = "signed_in") -> None:
        self.presence = presence
        self.changes: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, int]]:
        assert "FROM phones" in sql
        return [{"id": 7}] if args[1] == "127.0.0.1:5081" else []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        sql = " ".join(sql.split())
        if "FROM phone_state WHERE phone_id = $1 AND presence = 'paused'" in sql:
            if self.presence != "paused":
                return None
            self.changes.append((args[0], "signed_in", None, *args[1:]))
            return True
        if sql.startswith("SELECT presence FROM phone_state"):
            return self.presence
        self.changes.append(args)
        return True


@pytest.mark.parametrize(("dialled", "presence", "said", "change"), [
    ("*7312", "signed_in", "paused", (7, "paused", "12", "phone", "callers 127.0.0.1:5081")),
    ("*72", "signed_in", "signed-out", (7, "signed_out", None, "phone", "callers 127.0.0.1:5081")),
    ("*74", "paused", "signed-in", (7, "signed_in", None, "phone", "callers 127.0.0.1:5081")),
    ("*74", "signed_out", "refused", None),   # nothing to resume
    ("*79", "signed_in", "refused", None),    # not a code
])
async def test_a_feature_call_changes_the_phone_and_says_so(
        dialled: str, presence: str, said: str, change: tuple[Any, ...] | None) -> None:
    ari, db = FeatureAri(), FeatureDb(presence)
    assert await feature_call(ari, db, DEFAULTS, "c1", "PJSIP/callers-00000001", dialled) == said
    assert ari.continued == [("c1", "phone-feature-said", said)]
    assert db.changes == ([change] if change else [])


async def test_a_feature_call_from_an_unknown_address_is_refused() -> None:
    ari, db = FeatureAri(remote="127.0.0.1:6000"), FeatureDb()
    assert await feature_call(ari, db, DEFAULTS, "c1", "PJSIP/callers-1", "*71") == "refused"
    assert db.changes == []


async def test_an_agent_who_hung_up_at_once_still_gets_the_change() -> None:
    ari, db = FeatureAri(gone=True), FeatureDb()
    assert await feature_call(ari, db, DEFAULTS, "c1", "PJSIP/callers-1", "*72") == "signed-out"
    assert len(db.changes) == 1

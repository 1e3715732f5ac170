"""The JSON API, /api/v1: every route is declared once in ROUTES, which serves it and
documents it (router/web/openapi.py).

Each request runs in one transaction as its token's role (router/web/auth.py):
a customer token simply cannot see other customers' rows, so a hotline it
does not own is "not found" (404), exactly like one that does not exist.
Writes go through the same table descriptions and SQL as the CLI
(router/crud.py), so refusals read the same.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
from aiohttp import web
from aiohttp_sse import EventSourceResponse

import strategies
from router import admin, call_log, crud, stats
from router.billing import render as statement_render
from router.billing import statements
from router.billing.months import Month, MonthError
from router.cli.bindings import BINDINGS
from router.cli.caller_lists import ENTRIES, stored_value
from router.cli.groups import GROUPS
from router.cli.hotlines import HOTLINES
from router.cli.phones import PHONES
from router.cli.rules import RULES
from router.cli.schedules import SCHEDULES
from router.web import auth, schemas
from router.web.errors import ApiError
from router.web.live import LiveHub
from router.web.present import as_json

PREFIX = "/api/v1"
RECHECK_TOKEN_S = 30.0  # an open live stream re-checks its token this often
POOL: web.AppKey[Any] = web.AppKey("pool")
HUB: web.AppKey[LiveHub] = web.AppKey("hub")
PRINCIPAL: web.RequestKey[auth.Principal] = web.RequestKey("principal", auth.Principal)


@dataclass
class Ctx:
    """What a handler gets: the request, a scoped connection, who asks, the body."""

    request: web.Request
    db: Any
    who: auth.Principal
    body: Any = None

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    def query(self, name: str) -> str | None:
        value = self.request.query.get(name)
        return value if value not in (None, "") else None


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str           # below PREFIX, aiohttp style: /hotlines/{number}
    summary: str
    handler: Handler
    tag: str
    body: Any = None    # a schemas.Body class, or list[...] of one
    query: tuple[Param, ...] = ()
    operator_only: bool = False
    status: int = 200
    example: Any = None  # a valid body, for the document and the route walk test
    produces: tuple[str, ...] = ("application/json",)
    scoped: bool = True  # False: the handler manages its own database access (streams)


# --- helpers ---------------------------------------------------------------------------

async def principal_of(request: web.Request) -> auth.Principal:
    """The token's principal; 401 without a valid token."""
    if PRINCIPAL in request:
        return request[PRINCIPAL]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        # The console's cookie; writes must be JSON, which a cross-site form
        # cannot send without a preflight we never answer (and the cookie is SameSite).
        cookie = request.cookies.get(auth.COOKIE, "")
        if cookie and (request.method in ("GET", "HEAD")
                       or request.content_type == "application/json"):
            token = cookie
    if not token:
        raise ApiError(401, "an API token is needed: send 'Authorization: Bearer hr_…' "
                            "(create one with 'hotline-router token create')")
    found = await auth.authenticate(request.app[POOL], token)
    if found is None:
        raise ApiError(401, "this API token is unknown or revoked")
    request[PRINCIPAL] = found
    return found


async def hotline_id(ctx: Ctx) -> int:
    """The id of the path's hotline, if this token may see it; else 404."""
    number = ctx.param("number")
    found = await ctx.db.fetchval("SELECT id FROM hotlines WHERE number = $1", number)
    if found is None:
        raise ApiError(404, f"no hotline {number}")
    return int(found)


async def named(ctx: Ctx, table: str, noun: str, hotline: int, name: str) -> int:
    found = await ctx.db.fetchval(f"SELECT id FROM {table} WHERE hotline_id = $1 AND name = $2",
                                  hotline, name)
    if found is None:
        raise ApiError(404, f"no {noun} {name!r} on hotline {ctx.param('number')}")
    return int(found)


async def customer_ref(ctx: Ctx, name: str | None) -> int | None:
    if name is None:
        return None
    found = await ctx.db.fetchval("SELECT id FROM customers WHERE name = $1", name)
    if found is None:
        raise ApiError(422, f"no customer {name}")
    return int(found)


def operator_fields(ctx: Ctx, given: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    if ctx.who.is_operator:
        return
    for name in fields:
        if name in given:
            raise ApiError(403, f"a customer token cannot change {name!r}; ask the operator")


def rows(found: Any) -> list[dict[str, Any]]:
    return [as_json(r) for r in found]


def parse_time(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{name}: {text!r} is not an ISO time, "
                            "e.g. 2026-11-28T09:00:00+08:00") from None
    if value.tzinfo is None:
        raise ApiError(400, f"{name}: {text!r} needs an offset, e.g. {text}+08:00")
    return value


def parse_day(name: str, text: str | None, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{name}: {text!r} is not a date, e.g. 2026-10-12") from None


def parse_int(name: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name}: {text!r} is not a whole number") from None


# --- hotlines ---------------------------------------------------------------------------

async def me(ctx: Ctx) -> Any:
    return {"token": ctx.who.name, "scope": ctx.who.scope, "customer": ctx.who.customer}


async def list_hotlines(ctx: Ctx) -> Any:
    return rows(await crud.list_rows(ctx.db, HOTLINES))


async def hotline_detail(ctx: Ctx) -> Any:
    await hotline_id(ctx)
    row = await crud.get_row(ctx.db, HOTLINES, {"number": ctx.param("number")})
    details = await HOTLINES.details(ctx.db, row) if HOTLINES.details else {}
    zone = await ctx.db.fetchval(
        "SELECT time_zone FROM plan_settings WHERE hotline_id = $1", row["id"])
    return {**as_json(row), "time_zone": zone or "Asia/Shanghai",
            **{name: rows(found) for name, found in details.items()}}


async def _hotline_values(ctx: Ctx, given: dict[str, Any]) -> dict[str, Any]:
    if "customer" in given:
        given["customer_id"] = await customer_ref(ctx, given.pop("customer"))
    return given


async def add_hotline(ctx: Ctx) -> Any:
    values = await _hotline_values(ctx, ctx.body.given())
    row = await crud.insert_row(ctx.db, HOTLINES, values)
    return as_json(row)


async def change_hotline(ctx: Ctx) -> Any:
    given = ctx.body.given()
    operator_fields(ctx, given, ("number", "enabled", "customer", "overflow_forward_to"))
    await hotline_id(ctx)
    number = ctx.param("number")
    row = await crud.update_row(ctx.db, HOTLINES, {"number": number},
                                await _hotline_values(ctx, given), number)
    return as_json(row)


async def delete_hotline(ctx: Ctx) -> Any:
    await hotline_id(ctx)
    await crud.delete_row(ctx.db, HOTLINES, {"number": ctx.param("number")}, ctx.param("number"))
    return {"deleted": ctx.param("number")}


# --- phones and bindings ------------------------------------------------------------------

async def list_phones(ctx: Ctx) -> Any:
    return rows(await crud.list_rows(ctx.db, PHONES))


async def add_phone(ctx: Ctx) -> Any:
    return as_json(await crud.insert_row(ctx.db, PHONES, ctx.body.given()))


async def _phone(ctx: Ctx) -> int:
    text = ctx.param("phone_id")
    found = await ctx.db.fetchval("SELECT id FROM phones WHERE id::text = $1", text)
    if found is None:
        raise ApiError(404, f"no phone {text}")
    return int(found)


async def change_phone(ctx: Ctx) -> Any:
    phone = await _phone(ctx)
    return as_json(await crud.update_row(ctx.db, PHONES, {"id": phone}, ctx.body.given(),
                                         str(phone)))


async def list_bindings(ctx: Ctx) -> Any:
    return rows(await crud.list_rows(ctx.db, BINDINGS, {"hotline_id": await hotline_id(ctx)}))


async def add_binding(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    given = ctx.body.given()
    if ("phone_id" in given) == ("dial_string" in given):
        raise ApiError(400, "give phone_id (an existing phone) or dial_string (a new one)")
    if "dial_string" in given:
        row = await crud.insert_row(ctx.db, PHONES, {
            "dial_string": given["dial_string"], "label": given.get("label", "")})
        phone = row["id"]
    else:
        phone = given["phone_id"]
    position = given.get("position")
    if position is None:
        position = await ctx.db.fetchval(
            "SELECT coalesce(max(position), 0) + 1 FROM bound_phones WHERE hotline_id = $1",
            hotline)
    with admin.refusals():
        await ctx.db.execute(
            "INSERT INTO bound_phones (hotline_id, phone_id, position) VALUES ($1, $2, $3)",
            hotline, phone, position)
    return as_json(await crud.get_row(ctx.db, BINDINGS, {"hotline_id": hotline,
                                                          "phone_id": phone}))


async def _binding(ctx: Ctx) -> dict[str, Any]:
    hotline = await hotline_id(ctx)
    phone = parse_int("phone_id", ctx.param("phone_id"), 0)
    if not await ctx.db.fetchval(
            "SELECT true FROM bound_phones WHERE hotline_id = $1 AND phone_id = $2",
            hotline, phone):
        raise ApiError(404, f"phone {phone} is not bound to {ctx.param('number')}")
    return {"hotline_id": hotline, "phone_id": phone}


async def change_binding(ctx: Ctx) -> Any:
    where = await _binding(ctx)
    return as_json(await crud.update_row(ctx.db, BINDINGS, where, ctx.body.given(),
                                         f"{ctx.param('number')} {where['phone_id']}"))


async def delete_binding(ctx: Ctx) -> Any:
    where = await _binding(ctx)
    await crud.delete_row(ctx.db, BINDINGS, where)
    return {"unbound": where["phone_id"]}


# --- groups ------------------------------------------------------------------------------

async def list_groups(ctx: Ctx) -> Any:
    found = await crud.list_rows(ctx.db, GROUPS, {"hotline_id": await hotline_id(ctx)})
    out = []
    for row in found:
        details = await GROUPS.details(ctx.db, row) if GROUPS.details else {}
        out.append({**as_json(row), **{k: rows(v) for k, v in details.items()}})
    return out


async def add_group(ctx: Ctx) -> Any:
    values = {"hotline_id": await hotline_id(ctx), **ctx.body.given()}
    return as_json(await crud.insert_row(ctx.db, GROUPS, values))


async def change_group(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    group = await named(ctx, "phone_groups", "group", hotline, ctx.param("name"))
    return as_json(await crud.update_row(ctx.db, GROUPS, {"id": group}, ctx.body.given(),
                                         ctx.param("name")))


async def delete_group(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    group = await named(ctx, "phone_groups", "group", hotline, ctx.param("name"))
    await crud.delete_row(ctx.db, GROUPS, {"id": group}, ctx.param("name"))
    return {"deleted": ctx.param("name")}


async def set_members(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    group = await named(ctx, "phone_groups", "group", hotline, ctx.param("name"))
    with admin.refusals():
        await ctx.db.execute("DELETE FROM group_members WHERE group_id = $1", group)
        for member in ctx.body:
            await ctx.db.execute(
                "INSERT INTO group_members (group_id, phone_id, position, weight) "
                "VALUES ($1, $2, $3, $4)", group, member.phone_id, member.position, member.weight)
    row = await crud.get_row(ctx.db, GROUPS, {"id": group})
    details = await GROUPS.details(ctx.db, row) if GROUPS.details else {}
    return {**as_json(row), **{k: rows(v) for k, v in details.items()}}


# --- plan rules ------------------------------------------------------------------------

async def _rule_values(ctx: Ctx, hotline: int, given: dict[str, Any]) -> dict[str, Any]:
    """Names of schedule, group and menu -> their ids within the hotline."""
    for key, table, column, noun in (("schedule", "schedules", "schedule_id", "schedule"),
                                     ("group", "phone_groups", "group_id", "group"),
                                     ("menu", "voice_menus", "menu_id", "voice menu")):
        if key in given:
            name = given.pop(key)
            given[column] = None if name is None else await named(ctx, table, noun, hotline,
                                                                  name)
    return given


async def list_rules(ctx: Ctx) -> Any:
    return rows(await crud.list_rows(ctx.db, RULES, {"hotline_id": await hotline_id(ctx)}))


async def add_rule(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    values = await _rule_values(ctx, hotline, ctx.body.given())
    if "position" not in values:
        values["position"] = await ctx.db.fetchval(
            "SELECT coalesce(max(position), 0) + 1 FROM plan_rules WHERE hotline_id = $1",
            hotline)
    return as_json(await crud.insert_row(ctx.db, RULES, {"hotline_id": hotline, **values}))


async def _rule(ctx: Ctx) -> tuple[int, int]:
    hotline = await hotline_id(ctx)
    rule = parse_int("rule_id", ctx.param("rule_id"), 0)
    if not await ctx.db.fetchval("SELECT true FROM plan_rules WHERE id = $1 AND hotline_id = $2",
                                 rule, hotline):
        raise ApiError(404, f"no rule {rule} on hotline {ctx.param('number')}")
    return hotline, rule


async def change_rule(ctx: Ctx) -> Any:
    hotline, rule = await _rule(ctx)
    values = await _rule_values(ctx, hotline, ctx.body.given())
    return as_json(await crud.update_row(ctx.db, RULES, {"id": rule}, values, str(rule)))


async def delete_rule(ctx: Ctx) -> Any:
    _, rule = await _rule(ctx)
    await crud.delete_row(ctx.db, RULES, {"id": rule}, str(rule))
    return {"deleted": rule}


# --- caller lists ------------------------------------------------------------------------

async def list_callers(ctx: Ctx) -> Any:
    return rows(await crud.list_rows(ctx.db, ENTRIES, {"hotline_id": await hotline_id(ctx)}))


async def add_caller(ctx: Ctx) -> Any:
    body = ctx.body
    values = {"hotline_id": await hotline_id(ctx), "list": body.list, "match": body.match,
              "value": stored_value(body.match, body.value), "note": body.note}
    return as_json(await crud.insert_row(ctx.db, ENTRIES, values))


async def delete_caller(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    entry = parse_int("entry_id", ctx.param("entry_id"), 0)
    if not await ctx.db.fetchval(
            "SELECT true FROM caller_lists WHERE id = $1 AND hotline_id = $2", entry, hotline):
        raise ApiError(404, f"no entry {entry} on hotline {ctx.param('number')}")
    await crud.delete_row(ctx.db, ENTRIES, {"id": entry}, str(entry))
    return {"deleted": entry}


# --- schedules ---------------------------------------------------------------------------

async def _schedule_json(ctx: Ctx, schedule: int) -> dict[str, Any]:
    row = await crud.get_row(ctx.db, SCHEDULES, {"id": schedule})
    details = await SCHEDULES.details(ctx.db, row) if SCHEDULES.details else {}
    return {**as_json(row), **{k: rows(v) for k, v in details.items()}}


async def list_schedules(ctx: Ctx) -> Any:
    hotline = await hotline_id(ctx)
    return [await _schedule_json(ctx, r["id"])
            for r in await crud.list_rows(ctx.db, SCHEDULES, {"hotline_id": hotline})]


async def add_schedule(ctx: Ctx) -> Any:
    values = {"hotline_id": await hotline_id(ctx), **ctx.body.given()}
    row = await crud.insert_row(ctx.db, SCHEDULES, values)
    return await _schedule_json(ctx, row["id"])


async def _schedule(ctx: Ctx) -> int:
    hotline = await hotline_id(ctx)
    return await named(ctx, "schedules", "schedule", hotline, ctx.param("name"))


async def schedule_detail(ctx: Ctx) -> Any:
    return await _schedule_json(ctx, await _schedule(ctx))


async def change_schedule(ctx: Ctx) -> Any:
    schedule = await _schedule(ctx)
    given = ctx.body.given()
    if given.get("override") is None and "override" in given:
        given.setdefault("override_until", None)  # "follow the hours" ends any override
    await crud.update_row(ctx.db, SCHEDULES, {"id": schedule}, given, ctx.param("name"))
    return await _schedule_json(ctx, schedule)


async def delete_schedule(ctx: Ctx) -> Any:
    schedule = await _schedule(ctx)
    await crud.delete_row(ctx.db, SCHEDULES, {"id": schedule}, ctx.param("name"))
    return {"deleted": ctx.param("name")}


async def set_hours(ctx: Ctx) -> Any:
    """Replace the schedule's opening hours with the given windows, all or nothing."""
    schedule = await _schedule(ctx)
    with admin.refusals():
        await ctx.db.execute("DELETE FROM schedule_windows WHERE schedule_id = $1", schedule)
        for window in ctx.body:
            await ctx.db.execute(
                """INSERT INTO schedule_windows (schedule_id, days, opens, closes)
                   VALUES ($1, $2, $3::text::time, $4::text::time)""",
                schedule, window.days, window.opens, window.closes)
    return await _schedule_json(ctx, schedule)


# --- calls, live view, statistics, statements ---------------------------------------------

CALL_TIMES = ("started_at", "caller_answered_at", "answered_at", "ended_at")


def call_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return as_json(row, row["time_zone"], CALL_TIMES)


def call_filter(ctx: Ctx) -> call_log.CallFilter:
    before = None
    if ctx.query("before"):
        at_text, _, id_text = (ctx.query("before") or "").rpartition("_")
        try:
            before = (parse_time("before", at_text) or datetime.min, UUID(id_text))
        except ValueError:
            raise ApiError(400, "before: use the next_before value of the previous page") from None
    return call_log.CallFilter(
        hotline=ctx.query("hotline"), caller=ctx.query("caller"), outcome=ctx.query("outcome"),
        since=parse_time("since", ctx.query("since")),
        until=parse_time("until", ctx.query("until")), before=before,
        limit=parse_int("limit", ctx.query("limit"), 50))


def next_before(found: list[Any], limit: int) -> str | None:
    """The cursor of the next (older) page, when this one was full."""
    if len(found) < limit:
        return None
    last = found[-1]
    return f"{as_json(last)['started_at']}_{last['id']}"


async def list_calls(ctx: Ctx) -> Any:
    wanted = call_filter(ctx)
    found = await call_log.list_calls(ctx.db, wanted)
    return {"calls": [call_json(r) for r in found],
            "next_before": next_before(found, wanted.limit)}


async def call_detail(ctx: Ctx) -> Any:
    try:
        call_id = UUID(ctx.param("call_id"))
    except ValueError:
        raise ApiError(400, f"{ctx.param('call_id')!r} is not a call id (a UUID)") from None
    found = await call_log.call_detail(ctx.db, call_id)
    if found is None:
        raise ApiError(404, f"no call {call_id}")
    call = found["call"]
    zone = call["time_zone"]
    return {**call_json(call),
            "plan_rule": as_json(found["rule"]) if found["rule"] else None,
            "charge_fen": found["charge_fen"],
            "legs": [as_json(leg, zone, ("dial_started_at", "answered_at", "confirmed_at",
                                         "ended_at"))
                     for leg in found["legs"]]}


async def live(ctx: Ctx) -> Any:
    text, _ = await ctx.request.app[HUB].view_for(ctx.who, fresh_today=True)
    return json.loads(text)


async def live_stream(ctx: Ctx) -> web.StreamResponse:
    """Server-sent events: one ``view`` event per change (the whole live view)."""
    hub = ctx.request.app[HUB]
    subscriber = await hub.subscribe(ctx.who)
    response = EventSourceResponse(ping_interval=15)
    await response.prepare(ctx.request)
    # Ends when the browser goes away (seen by the stream's pings) even while
    # nothing changes, so no handler outlives its connection.
    closed = asyncio.ensure_future(response.wait())
    try:
        checked = time.monotonic()
        while not closed.done():
            getting = asyncio.ensure_future(subscriber.queue.get())
            await asyncio.wait((getting, closed), timeout=RECHECK_TOKEN_S,
                               return_when=asyncio.FIRST_COMPLETED)
            view = getting.result() if getting.done() else None
            getting.cancel()
            if time.monotonic() - checked >= RECHECK_TOKEN_S:
                # A token revoked while its stream is open stops receiving.
                if await auth.authenticate(ctx.request.app[POOL], ctx.who.token) is None:
                    break
                checked = time.monotonic()
            if view is not None and not closed.done():
                await response.send(view, event="view")
    except ConnectionError:
        pass  # the browser went away mid-send
    finally:
        hub.unsubscribe(subscriber)
        closed.cancel()
        response.stop_streaming()
    return response


def _period(ctx: Ctx) -> tuple[date, date]:
    today = stats.local_today()
    first = parse_day("from", ctx.query("from"), today)
    return first, parse_day("to", ctx.query("to"), first)


async def report(ctx: Ctx) -> Any:
    first, last = _period(ctx)
    found = await stats.report(ctx.db, ctx.param("number"), first, last,
                               parse_int("service_level_s", ctx.query("service_level_s"),
                                         stats.SERVICE_LEVEL_S))
    return {"hotline": found.number, "name": found.name, "time_zone": found.time_zone,
            "from": found.first_day.isoformat(), "to": found.last_day.isoformat(),
            "service_level_s": found.service_level_s,
            **{table: stats.rows(found, table) for table in stats.TABLES}}


async def report_table(ctx: Ctx) -> Any:
    table = ctx.param("table")
    if table not in stats.TABLES:
        raise ApiError(404, f"no report table {table!r} (tables: {', '.join(stats.TABLES)})")
    first, last = _period(ctx)
    found = await stats.report(ctx.db, ctx.param("number"), first, last,
                               parse_int("service_level_s", ctx.query("service_level_s"),
                                         stats.SERVICE_LEVEL_S))
    fmt = ctx.query("format") or "json"
    name = f"{found.number}-{table}-{first}-{last}"
    if fmt == "csv":
        return web.Response(text=stats.to_csv(found, table), content_type="text/csv",
                            charset="utf-8", headers={
                                "Content-Disposition": f'attachment; filename="{name}.csv"'})
    if fmt != "json":
        raise ApiError(400, "format must be json or csv")
    return stats.rows(found, table)


async def statement(ctx: Ctx) -> Any:
    await hotline_id(ctx)
    try:
        month = Month.parse(ctx.param("month"))
    except MonthError as exc:
        raise ApiError(400, str(exc)) from None
    found = await statements.load(ctx.db, ctx.param("number"), month)
    fmt = ctx.query("format") or "json"
    if fmt == "csv":
        return web.Response(text=statement_render.to_csv(found), content_type="text/csv",
                            charset="utf-8")
    if fmt != "json":
        raise ApiError(400, "format must be json or csv")
    return statement_render.to_json(found)


async def list_strategies(ctx: Ctx) -> Any:
    return [{"name": name, "description": rule.description}
            for name, rule in sorted(strategies.installed().items())]


def _query(*names: tuple[str, str]) -> tuple[Param, ...]:
    return tuple(Param(name, text) for name, text in names)


_PERIOD = _query(("from", "first local day, YYYY-MM-DD (default today)"),
                 ("to", "last local day, inclusive (default: from)"),
                 ("service_level_s", "answered within this many seconds counts for the "
                                     "service level (default 20)"))
_H = "/hotlines/{number}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/me", "who this token is", me, "access"),
    Route("GET", "/hotlines", "hotlines this token may see", list_hotlines, "hotlines"),
    Route("POST", "/hotlines", "add a hotline", add_hotline, "hotlines", schemas.HotlineNew,
          operator_only=True, status=201,
          example={"number": "4009990001", "name": "示例", "strategy": "sequential"}),
    Route("GET", _H, "one hotline, with its bound phones", hotline_detail, "hotlines"),
    Route("PATCH", _H, "change a hotline (answering rule, timeouts, overflow)", change_hotline,
          "hotlines", schemas.HotlineChange,
          example={"strategy": "round_robin", "ring_timeout_s": 20}),
    Route("DELETE", _H, "delete a hotline without call records", delete_hotline, "hotlines",
          operator_only=True),
    Route("GET", "/phones", "phones this token may see", list_phones, "phones"),
    Route("POST", "/phones", "create a phone", add_phone, "phones", schemas.PhoneNew,
          operator_only=True, status=201,
          example={"dial_string": "PJSIP/phones/sip:8009@10.0.0.9", "label": "前台"}),
    Route("PATCH", "/phones/{phone_id}", "change a phone", change_phone, "phones",
          schemas.PhoneChange, operator_only=True, example={"label": "前台 2"}),
    Route("GET", _H + "/phones", "the hotline's bound phones, in hunting order", list_bindings,
          "phones"),
    Route("POST", _H + "/phones", "bind a phone to the hotline", add_binding, "phones",
          schemas.BindingNew, operator_only=True, status=201,
          example={"dial_string": "PJSIP/phones/sip:8010@10.0.0.10", "label": "销售 3"}),
    Route("PATCH", _H + "/phones/{phone_id}", "order, weight or on/off of a bound phone",
          change_binding, "phones", schemas.BindingChange,
          example={"position": 1, "weight": 50, "enabled": True}),
    Route("DELETE", _H + "/phones/{phone_id}", "unbind a phone", delete_binding, "phones",
          operator_only=True),
    Route("GET", _H + "/groups", "phone groups, with members", list_groups, "plans"),
    Route("POST", _H + "/groups", "add a phone group", add_group, "plans", schemas.GroupNew,
          status=201, example={"name": "sales", "strategy": "simultaneous"}),
    Route("PATCH", _H + "/groups/{name}", "change a group", change_group, "plans",
          schemas.GroupChange, example={"strategy": "random"}),
    Route("PUT", _H + "/groups/{name}/members", "set a group's members (bound phones)",
          set_members, "plans", list[schemas.Member], example=[]),
    Route("DELETE", _H + "/groups/{name}", "delete a group", delete_group, "plans"),
    Route("GET", _H + "/rules", "plan rules, in order", list_rules, "plans"),
    Route("POST", _H + "/rules", "add a plan rule", add_rule, "plans", schemas.RuleNew,
          status=201, example={"action": "closed", "name": "夜间", "caller_region": "上海"}),
    Route("PATCH", _H + "/rules/{rule_id}", "change a plan rule", change_rule, "plans",
          schemas.RuleChange, example={"enabled": False}),
    Route("DELETE", _H + "/rules/{rule_id}", "delete a plan rule", delete_rule, "plans"),
    Route("GET", _H + "/callers", "the hotline's caller list entries", list_callers, "plans"),
    Route("POST", _H + "/callers", "put a caller on a list", add_caller, "plans",
          schemas.CallerEntryNew, status=201,
          example={"list": "blacklist", "value": "13900000000", "note": "骚扰"}),
    Route("DELETE", _H + "/callers/{entry_id}", "take an entry off its list", delete_caller,
          "plans"),
    Route("GET", _H + "/schedules", "business hours", list_schedules, "schedules"),
    Route("POST", _H + "/schedules", "add a schedule", add_schedule, "schedules",
          schemas.ScheduleNew, status=201, example={"name": "office"}),
    Route("GET", _H + "/schedules/{name}", "one schedule with its hours", schedule_detail,
          "schedules"),
    Route("PATCH", _H + "/schedules/{name}", "change a schedule; closed/open now",
          change_schedule, "schedules", schemas.ScheduleChange,
          example={"override": "closed", "override_until": "2030-01-01T09:00:00+08:00"}),
    Route("PUT", _H + "/schedules/{name}/hours", "replace a schedule's opening hours",
          set_hours, "schedules", list[schemas.Window],
          example=[{"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "09:00",
                    "closes": "18:00"}]),
    Route("DELETE", _H + "/schedules/{name}", "delete a schedule", delete_schedule,
          "schedules"),
    Route("GET", "/calls", "the call log, newest first", list_calls, "calls", query=_query(
        ("hotline", "a 400/800 number"),
        ("caller", "a caller number, or a prefix ending in *"),
        ("outcome", "answered, busy, no-answer, … ; missed (offered, not answered); live"),
        ("since", "started at or after (ISO time with offset)"),
        ("until", "started before (ISO time with offset)"),
        ("before", "the next_before value of the previous page"),
        ("limit", "calls per page, 1–1000 (default 50)"))),
    Route("GET", "/calls/{call_id}", "one call in full: plan decision, menu keys, legs, charge",
          call_detail, "calls"),
    Route("GET", "/live", "calls in progress, phones by state, today's figures", live, "live"),
    Route("GET", "/live/stream", "the live view, pushed (server-sent events, event 'view')",
          live_stream, "live", produces=("text/event-stream",), scoped=False),
    Route("GET", _H + "/stats", "the hotline's report: per hour, per day, per phone, total",
          report, "reports", query=_PERIOD),
    Route("GET", _H + "/stats/{table}", "one report table (hours, days, phones, total)",
          report_table, "reports",
          query=(*_PERIOD, Param("format", "json (default) or csv",
                                 {"type": "string", "enum": ["json", "csv"]})),
          produces=("application/json", "text/csv")),
    Route("GET", _H + "/statements/{month}", "the monthly statement (YYYY-MM)", statement,
          "billing", query=(Param("format", "json (default) or csv",
                                  {"type": "string", "enum": ["json", "csv"]}),),
          produces=("application/json", "text/csv")),
    Route("GET", "/strategies", "installed answering rules", list_strategies, "hotlines"),
)


def endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one route: token, scope, body, transaction, JSON."""

    async def handle(request: web.Request) -> web.StreamResponse:
        who = await principal_of(request)
        if route.operator_only and not who.is_operator:
            raise ApiError(403, f"only an operator token may {route.summary}")
        body = None
        if route.body is not None:
            raw = await request.read()
            body = msgspec.json.decode(raw or b"{}", type=route.body)
        if not route.scoped:
            result = await route.handler(Ctx(request, None, who, body))
        else:
            async with auth.scoped(request.app[POOL], who) as db:
                result = await route.handler(Ctx(request, db, who, body))
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, status=route.status,
                                 dumps=lambda data: json.dumps(data, ensure_ascii=False))

    return handle


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, endpoint(route))

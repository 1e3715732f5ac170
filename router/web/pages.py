"""The console's pages: server-rendered (jinja2), Chinese, times in the hotline's zone.

No build step and nothing fetched from elsewhere: templates, one stylesheet
and two small scripts in this package. The wallboard updates itself from the
live stream (server-sent events); the settings page sends its edits to the
JSON API, so the console can do nothing the API cannot.

Signing in stores the token in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import jinja2
from aiohttp import web

from router import call_log, crud, stats, zones
from router.billing.money import yuan
from router.cli.bindings import BINDINGS
from router.cli.hotlines import HOTLINES
from router.cli.rules import RULES
from router.cli.schedules import SCHEDULES
from router.web import api, auth, errors, plots, present
from router.web.errors import ApiError
from router.web.live import PHONE_STATES

SETTINGS: web.AppKey[Any] = web.AppKey("web_settings")
HERE = Path(__file__).parent

PHONE_STATES_ZH = {"disabled": "停用", "talking": "通话中", "ringing": "振铃中", "paused": "小休",
                   "signed-out": "已签出", "busy": "占线", "wrap-up": "整理中", "idle": "空闲"}
assert set(PHONE_STATES_ZH) == set(PHONE_STATES)

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_env.globals.update(
    outcomes=present.OUTCOMES_ZH, call_states=present.CALL_STATES_ZH,
    leg_results=present.LEG_RESULTS_ZH, plan_results=present.PLAN_RESULTS_ZH,
    phone_states=PHONE_STATES_ZH, strategies_zh=present.STRATEGIES_ZH, days_zh=present.DAYS_ZH,
    local=present.local_text, secs=present.seconds_text, percent=present.percent,
    yuan=yuan, shown=present.shown)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    who = request.get(api.PRINCIPAL)
    html = _env.get_template(template).render(who=who, path=request.path, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


async def page_error(request: web.Request, status: int, message: str) -> web.StreamResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


async def signed_in(request: web.Request) -> auth.Principal:
    """The principal of the console's cookie; else to the sign-in page."""
    try:
        return await api.principal_of(request)
    except ApiError:
        raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs})) from None


def local_path(target: str) -> str:
    """``target`` when it is a path on this site, else "/": after signing in the browser
    goes there, so it must never lead elsewhere (``//host``, ``/\\host`` and ``https:``
    are other sites to a browser)."""
    if (not target.startswith("/") or target[1:2] in ("/", "\\")
            or any(ch.isspace() or not ch.isprintable() for ch in target)):
        return "/"
    return target


async def hotlines_of(db: Any) -> list[Any]:
    return await crud.list_rows(db, HOTLINES)


def chosen(request: web.Request, hotlines: list[Any]) -> str | None:
    """The hotline in ?hotline=, else the first the token sees."""
    wanted = request.query.get("hotline")
    numbers = [h["number"] for h in hotlines]
    if wanted:
        if wanted not in numbers:
            raise ApiError(404, f"no hotline {wanted}")
        return wanted
    return numbers[0] if numbers else None


# --- sign in ----------------------------------------------------------------------------

async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", message="",
                  next=local_path(request.query.get("next", "/")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    token = str(form.get("token", "")).strip()
    target = local_path(str(form.get("next", "/")))
    who = await auth.authenticate(request.app[api.POOL], token)
    if who is None:
        return render(request, "login.html", status=401, next=target,
                      message="令牌无效或已吊销 (the token is unknown or revoked)")
    response = web.HTTPSeeOther(target)
    response.set_cookie(auth.COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=request.app[SETTINGS].secure_cookie, max_age=30 * 86400)
    raise response


async def logout(_: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.COOKIE, path="/")
    raise response


async def home(_: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/wallboard")


# --- pages ------------------------------------------------------------------------------

async def wallboard(request: web.Request) -> web.Response:
    await signed_in(request)
    return render(request, "wallboard.html")


async def calls(request: web.Request) -> web.Response:
    who = await signed_in(request)
    query = request.query
    async with auth.scoped(request.app[api.POOL], who) as db:
        hotlines = await hotlines_of(db)
        wanted = call_log.CallFilter(
            hotline=query.get("hotline") or None, caller=query.get("caller") or None,
            outcome=query.get("outcome") or None,
            since=_day_start(query.get("day")), until=_day_start(query.get("day"), 1),
            before=_before(query.get("before")), limit=50)
        found = await call_log.list_calls(db, wanted)
    return render(request, "calls.html", hotlines=hotlines, calls=found, query=query,
                  next_before=api.next_before(found, wanted.limit))


def _day_start(day: str | None, plus: int = 0) -> datetime | None:
    """The start of a local day: naive, so each call's hotline zone applies (call_log)."""
    if not day:
        return None
    try:
        first = date.fromisoformat(day) + timedelta(days=plus)
    except ValueError:
        raise ApiError(400, f"day: {day!r} is not a date, e.g. 2026-10-12") from None
    return datetime.combine(first, time())


def _before(text: str | None) -> tuple[Any, UUID] | None:
    if not text:
        return None
    at_text, _, id_text = text.rpartition("_")
    try:
        at = api.parse_time("before", at_text)
        return (at, UUID(id_text)) if at and at.tzinfo else None
    except ValueError:
        raise ApiError(400, "before: use the link to the next page") from None


async def call_page(request: web.Request) -> web.Response:
    who = await signed_in(request)
    try:
        call_id = UUID(request.match_info["call_id"])
    except ValueError:
        raise ApiError(404, "no such call") from None
    async with auth.scoped(request.app[api.POOL], who) as db:
        found = await call_log.call_detail(db, call_id)
    if found is None:
        raise ApiError(404, f"no call {call_id}")
    return render(request, "call.html", **found)


async def reports(request: web.Request) -> web.Response:
    who = await signed_in(request)
    found = None
    async with auth.scoped(request.app[api.POOL], who) as db:
        hotlines = await hotlines_of(db)
        number = chosen(request, hotlines)
        # "today" is the hotline's (another hotline's zone may be on another date)
        today = await zones.hotline_today(db, number) if number else date.today()
        first = _date(request.query.get("from"), today - timedelta(days=6))
        last = _date(request.query.get("to"), today if "from" not in request.query else first)
        if number:
            found = await stats.report(db, number, first, last)
    context: dict[str, Any] = {"hotlines": hotlines, "number": number, "report": found,
                               "first": first, "last": last}
    if found is not None:
        context["hour_plot"] = plots.stacked(found.hours, [f.key for f in found.hours],
                                             label_every=3)
        context["day_plot"] = plots.stacked(found.days, [f.key[5:] for f in found.days],
                                            label_every=max(1, len(found.days) // 10))
    return render(request, "reports.html", **context)


def _date(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{text!r} is not a date, e.g. 2026-10-12") from None


async def settings_page(request: web.Request) -> web.Response:
    who = await signed_in(request)
    async with auth.scoped(request.app[api.POOL], who) as db:
        hotlines = await hotlines_of(db)
        number = chosen(request, hotlines)
        context: dict[str, Any] = {"hotlines": hotlines, "number": number}
        if number is not None:
            hotline = await crud.get_row(db, HOTLINES, {"number": number})
            context["hotline"] = hotline
            context["bindings"] = await crud.list_rows(db, BINDINGS,
                                                       {"hotline_id": hotline["id"]})
            schedules = []
            for row in await crud.list_rows(db, SCHEDULES, {"hotline_id": hotline["id"]}):
                details = await SCHEDULES.details(db, row) if SCHEDULES.details else {}
                schedules.append({"row": row, "hours": details.get("hours", [])})
            context["schedules"] = schedules
            context["rules"] = await crud.list_rows(db, RULES, {"hotline_id": hotline["id"]})
    installed = sorted(await api.list_strategies(api.Ctx(request, None, who)),
                       key=lambda s: s["name"])
    return render(request, "settings.html", strategies=installed, **context)


def add_routes(app: web.Application) -> None:
    app[errors.PAGE_ERROR] = page_error
    app.router.add_get("/", home)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/logout", logout)
    app.router.add_get("/wallboard", wallboard)
    app.router.add_get("/calls", calls)
    app.router.add_get("/calls/{call_id}", call_page)
    app.router.add_get("/reports", reports)
    app.router.add_get("/settings", settings_page)
    app.router.add_static("/static", HERE / "static")

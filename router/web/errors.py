"""Errors as the API answers them: JSON with a sentence an admin can act on.

``{"error": {"status": 422, "message": "hotline ring timeout must be 1 to 300 seconds"}}``
The sentences are the database's own (its constraints are named as
sentences), the same the CLI prints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import structlog
from aiohttp import web

from router import admin
from router.call_log import CallLogError
from router.stats import StatsError

log = structlog.get_logger("router.web")


PageError = Callable[[web.Request, int, str], Awaitable[web.StreamResponse]]
# How the console shows an error as a page (set by router/web/pages.py).
PAGE_ERROR: web.AppKey[PageError] = web.AppKey("page_error")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(what: str) -> ApiError:
    return ApiError(404, what)


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


def as_api_error(exc: BaseException) -> ApiError | None:
    """The API's answer for a known kind of failure; None for a bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, msgspec.ValidationError):
        return ApiError(400, f"request body: {exc}")
    if isinstance(exc, msgspec.DecodeError):
        return ApiError(400, f"request body is not valid JSON: {exc}")
    if isinstance(exc, LookupError):
        return ApiError(404, str(exc.args[0]) if exc.args else "not found")
    if isinstance(exc, CallLogError | StatsError):
        return ApiError(400, str(exc))
    if isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
        return ApiError(403, "this token may not do that (" + admin.explain(exc) + ")")
    if isinstance(exc, admin.AdminError):
        return ApiError(422, str(exc))
    if isinstance(exc, asyncpg.exceptions.DataError):
        return ApiError(400, admin.explain(exc))
    if isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError
                  | asyncpg.exceptions.RaiseError):
        return ApiError(422, admin.explain(exc))
    return None


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every API failure as JSON; a bug is logged and answered 500 without details."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        message = exc.reason
        if exc.status == 404:
            message = (f"no API route {request.method} {request.path}; the routes are listed "
                       "in /api/v1/openapi.json")
        elif exc.status == 405:
            message = (f"{request.method} is not allowed on {request.path} (allowed: "
                       f"{exc.headers.get('Allow', 'none')})")
        return web.json_response(error_body(exc.status, message), status=exc.status,
                                 headers={k: v for k, v in exc.headers.items()
                                          if k in ("Allow", "WWW-Authenticate")})
    except Exception as exc:
        known = as_api_error(exc)
        if known is None:
            log.exception("request failed", path=request.path, method=request.method)
            known = ApiError(500, "internal error; the web log has the details")
        if not request.path.startswith("/api/"):
            page_error: PageError = request.app[PAGE_ERROR]
            return await page_error(request, known.status, known.message)
        return web.json_response(error_body(known.status, known.message), status=known.status)

"""The router's own HTTP listener: liveness, readiness and Prometheus metrics.

Binds to 127.0.0.1 unless told otherwise; it says nothing secret.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.metrics import REGISTRY
from router.settings import parse_listen


class ListenError(RuntimeError):
    """The health and metrics listener cannot bind; the message names the setting."""


async def start(listen: str, ready: Callable[[], Awaitable[dict[str, bool]]]) -> web.AppRunner:
    """Serve /healthz, /readyz and /metrics; stop with ``await runner.cleanup()``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            checks = await asyncio.wait_for(ready(), timeout=2)
        except TimeoutError:
            checks = {"checks_timed_out": False}
        ok = all(checks.values())
        return web.json_response({"ready": ok, **checks}, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(REGISTRY))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = parse_listen(listen)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise ListenError(
            f"http_listen {listen}: cannot listen there ({reason}); stop what holds that "
            "port or set http_listen (HTTP_LISTEN or --http-listen) to a free HOST:PORT"
        ) from None
    return runner

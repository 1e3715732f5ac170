"""`hotline-router web`: the console and the API in one aiohttp application.

Listens on loopback by default (``WEB_LISTEN``, 127.0.0.1:8096): TLS and
any public address belong to the reverse proxy in front (see docs/web.md).
Database: ``WEB_DATABASE_URL``, else ``DATABASE_URL``; in production a login
in the hotline_router_web role.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from aiohttp import web

from router import db as router_db
from router import settings as router_settings
from router.web import api, errors, openapi, pages
from router.web.live import LiveHub

log = structlog.get_logger("router.web")

DEFAULT_LISTEN = "127.0.0.1:8096"


@dataclass(frozen=True)
class WebSettings:
    database_url: str
    listen: str = DEFAULT_LISTEN
    # Mark the console's cookie Secure (set when the proxy in front serves HTTPS).
    secure_cookie: bool = False


def load_settings(database_url: str | None = None, listen: str | None = None) -> WebSettings:
    """Flags < … : ``listen`` flag, else WEB_LISTEN; database flag, WEB_DATABASE_URL, the
    router's DATABASE_URL (and its config file)."""
    url = (database_url or os.environ.get("WEB_DATABASE_URL")
           or router_settings.from_env().database_url)
    address = listen or os.environ.get("WEB_LISTEN") or DEFAULT_LISTEN
    try:
        _, port = router_settings.parse_listen(address)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise router_settings.SettingsError(
            f"web listen address must be HOST:PORT, e.g. {DEFAULT_LISTEN} (got {address!r})"
        ) from None
    secure = os.environ.get("WEB_SECURE_COOKIE", "").lower() in ("1", "yes", "true")
    return WebSettings(url, address, secure)


async def openapi_document(_: web.Request) -> web.Response:
    return web.json_response(openapi.document())


def build_app(config: WebSettings) -> web.Application:
    app = web.Application(middlewares=[errors.json_errors], client_max_size=256 * 1024)
    app[pages.SETTINGS] = config

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await router_db.connect_pool(config.database_url, min_size=2, max_size=10)
        hub = LiveHub(pool, config.database_url)
        app[api.POOL], app[api.HUB] = pool, hub
        hub.start()
        yield
        await hub.stop()
        try:
            await asyncio.wait_for(pool.close(), 5)
        except TimeoutError:  # a connection never given back: the console stops all the same
            log.warning("database connections closed by force at shutdown")
            pool.terminate()

    app.cleanup_ctx.append(resources)
    app.router.add_get(api.PREFIX + "/openapi.json", openapi_document)
    api.add_routes(app)
    pages.add_routes(app)
    return app


async def serve(config: WebSettings, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = build_app(config)
    # A browser that leaves ends its handler at once (its live stream included).
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2, handler_cancellation=True)
    await runner.setup()
    host, port = router_settings.parse_listen(config.listen)
    await web.TCPSite(runner, host, port).start()
    log.info("web console listening", address=f"http://{config.listen}/")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("web console stopped")



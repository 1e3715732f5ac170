"""Running the daemon's coroutines on the fastest event loop available.

uvloop (libuv) roughly halves the cost of the socket work that dominates a
router's CPU (ARI over HTTP and websocket, PostgreSQL). Where it is not
installed, the standard loop does the same job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)

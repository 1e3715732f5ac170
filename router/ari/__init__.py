"""A thin asyncio client for the Asterisk REST Interface (ARI)."""

from router.ari.client import AriClient, AriError
from router.ari.stream import EventStream

__all__ = ["AriClient", "AriError", "EventStream"]

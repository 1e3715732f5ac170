"""What the admin CLI asks Asterisk over ARI: its sounds, and whether phones are registered.

Asterisk is asked when the settings say where it is (ari_url, ari_user,
ari_password: file, environment). When it cannot be asked, the CLI goes on and
says so in a warning: an admin may prepare a hotline before its Asterisk runs.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from router import settings as settings_module
from router.admin import AdminError
from router.ari import AriClient, AriError
from router.cli.output import warn

TIMEOUT_S = 3.0


def login_refused(url: str) -> str:
    """The one line for a wrong ARI login, naming the settings to fix."""
    return (f"Asterisk at {url} refused the ARI login (401); check ari_user and ari_password "
            "(ARI_USER, ARI_PASSWORD or --ari-user/--ari-password) against its ari.conf")


@dataclass
class Asterisk:
    """An ARI client, or why there is none (``unavailable``)."""

    url: str
    client: AriClient | None
    unavailable: str = ""
    _sounds: set[str] | None = field(default=None, repr=False)

    async def sounds(self) -> set[str] | None:
        """The sound names Asterisk has (GET /sounds), or None when it cannot be asked."""
        if self._sounds is None and self.client is not None:
            try:
                found = await self.client.request("GET", "/sounds")
            except AriError as exc:
                self.unavailable = (login_refused(self.url) if exc.status == 401
                                    else f"ari_url {self.url}: {exc.message}")
                self.client = None
                return None
            self._sounds = {str(entry.get("id", "")) for entry in found or []}
        return self._sounds

    async def endpoint_state(self, dial_string: str) -> str | None:
        """'online', 'offline', 'unknown' for a registering endpoint (``PJSIP/8001``);
        None when Asterisk cannot say (a SIP URI, a trunk, no ARI)."""
        tech, _, resource = dial_string.partition("/")
        if self.client is None or not resource or "/" in resource or "@" in resource:
            return None
        try:
            found = await self.client.request("GET", f"/endpoints/{tech}/{resource}")
        except AriError as exc:
            return "missing" if exc.status == 404 else None
        return str((found or {}).get("state") or "unknown")


@asynccontextmanager
async def connect() -> AsyncIterator[Asterisk]:
    """Asterisk as the settings name it; ``client`` None (and why) when it does not answer."""
    config = settings_module.from_env()
    client = AriClient(config.ari_url, config.ari_user, config.ari_password,
                       timeout_s=TIMEOUT_S)
    asterisk = Asterisk(config.ari_url, client)
    try:
        try:
            await client.info()
        except AriError as exc:
            asterisk.client = None
            asterisk.unavailable = (login_refused(config.ari_url) if exc.status == 401
                                    else f"ari_url {config.ari_url}: {exc.message}")
        yield asterisk
    finally:
        await client.close()


async def check_sounds(names: Iterable[str], what: str) -> None:
    """Refuse sound names Asterisk does not have; warn when Asterisk cannot be asked.

    Raises AdminError naming the sound, a close match, and where the list came from.
    """
    wanted = [n for n in dict.fromkeys(names) if n]
    if not wanted:
        return
    async with connect() as asterisk:
        known = await asterisk.sounds()
        if known is None:
            warn(f"could not check {what} against Asterisk's sounds ({asterisk.unavailable}); "
                 f"make sure it has: {', '.join(wanted)}")
            return
    missing = [n for n in wanted if n not in known]
    if missing:
        name = missing[0]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise AdminError(f"{what}: Asterisk at {asterisk.url} has no sound {name!r}; {hint}"
                         "give a name it lists (GET /ari/sounds), or install the sound first")

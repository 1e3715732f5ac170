"""Daemon settings: defaults, then a TOML file, then environment variables, then flags.

Each later source overrides the earlier ones. The TOML file uses the setting
names as keys (``ari_url = "http://…"``); each environment variable is the
name in capitals (``ARI_URL``). :func:`load` validates everything at once and
names the source of a bad value, so ``hotline-router config check`` can tell
an operator which line to fix.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/hotline_router"
# Where `--config` defaults from, so a container or unit file can point at its file.
CONFIG_ENV = "HOTLINE_ROUTER_CONFIG"
SECRET_SETTINGS = ("ari_password", "database_url")
# Query parameters of a connection URL that hold a secret (libpq's password,
# sslpassword, and any other *password*, *passphrase*, *secret* or *token*).
_SECRET_PARAMETER = re.compile(r"password|passphrase|secret|token", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting is missing, unknown or has a bad value; the message says which."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "hotline-router"
    ari_password: str = field(default="", repr=False)
    # A file holding the ARI password (its first line), instead of ari_password:
    # a flag is visible to every local user in the process list, and an
    # environment variable to whoever may read the process's environment.
    ari_password_file: str = ""
    ari_app: str = "hotline-router"
    # How ARI requests travel: "auto" sends them on the event websocket when
    # Asterisk answers there (20.14, 21.9, 22.4 and later), else over HTTP;
    # "http" always over HTTP.
    ari_transport: str = "auto"
    # Identifies this router's claims and records; stable across restarts.
    router_id: str = ""
    # Health endpoints; loopback unless the operator says otherwise.
    http_listen: str = "127.0.0.1:8095"
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    # On SIGTERM, how long live calls may go on before the router hangs them up.
    # Long, because cutting a customer's call is worse than a slow restart;
    # a second SIGTERM ends the calls at once.
    drain_timeout_s: float = 300.0
    # How often gauges read from the database (busy phones) are refreshed.
    metrics_refresh_s: float = 5.0
    # Call records wait here while the database is away (see router/spool.py).
    spool_dir: str = "/var/lib/hotline-router/spool"
    # A database call on the call path that takes longer means "away".
    db_timeout_s: float = 1.0
    # Heartbeats; a router silent for a lease is dead and its calls are adopted.
    heartbeat_s: float = 1.0
    router_lease_s: float = 15.0
    # The longest a call may last; no claim outlives it.
    max_call_s: float = 14_400.0
    # How long a phone must stay in the call's bridge before the caller is
    # answered: a phone that answers and hangs up at once within it is a failed
    # ring attempt, and the caller is neither answered nor billed for it.
    seat_guard_s: float = 0.2
    # Pins the clock hotline plans read their schedules by (ISO 8601 with an
    # offset), for drills and tests: "as if it were National Day". Records
    # keep real time. Empty: the real clock.
    plan_clock: str = ""
    # Billing: an ended call waits this long before it is rated (late records
    # of the call land first), and the rating loop pauses this long between passes.
    rating_delay_s: float = 2.0
    rating_interval_s: float = 1.0
    # Notifications (router/notify): "daemon" sends the outbox from each router, in
    # tasks and connections of their own; "off" leaves it to `notifications dispatch`.
    notify_dispatch: str = "daemon"
    notify_timeout_s: float = 5.0   # one try to one target (a webhook's whole request)
    # Recordings (router/recordings): how often the router deletes those past
    # their hotline's retention from its Asterisk (0: never; `recordings purge`).
    recording_purge_interval_s: float = 3600.0
    # Call history (router/history.py): whole months of calls and their legs
    # kept before `history purge` drops them, counted back from the month
    # before the current UTC month; 0 keeps them forever. The ledger and
    # statements are kept whatever this says; so is a month with a recording
    # not purged yet.
    history_keep_months: int = 0
    # Times shown to people that belong to no one hotline (tables, logs read by
    # people): a tz database name. A hotline's own times use its zone.
    display_time_zone: str = "Asia/Shanghai"
    # Feature codes an agent dials on a bound phone (router/presence.py): sign
    # in, sign out, pause (its reason digits follow, e.g. *7312), resume.
    presence_sign_in_code: str = "*71"
    presence_sign_out_code: str = "*72"
    presence_pause_code: str = "*73"
    presence_resume_code: str = "*74"

    @property
    def pinned_plan_time(self) -> datetime | None:
        """``plan_clock`` as an aware time, or None for the real clock."""
        return datetime.fromisoformat(self.plan_clock) if self.plan_clock else None

    @property
    def effective_router_id(self) -> str:
        """ROUTER_ID, else ``app@asterisk-host:port``: unique (one app name per
        Asterisk websocket) and stable across restarts."""
        return self.router_id or f"{self.ari_app}@{urlsplit(self.ari_url).netloc}"

    def __repr__(self) -> str:
        return f"Settings({self.masked()})"

    def typed(self) -> dict[str, str | float]:
        """Every setting with its own type (numbers as numbers), secrets replaced by ***."""
        shown: dict[str, str | float] = {f.name: getattr(self, f.name) for f in fields(self)}
        shown.update(self.masked_secrets())
        return shown

    def masked_secrets(self) -> dict[str, str]:
        return {"ari_password": "***" if self.ari_password else "",
                "database_url": mask_url(self.database_url)}

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets replaced by ***."""
        shown = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        shown.update(self.masked_secrets())
        return shown


ENV_NAMES = {f.name: f.name.upper() for f in fields(Settings)}
_DEFAULTS = Settings()


@dataclass(frozen=True)
class Loaded:
    """Effective settings, and where each value came from."""

    settings: Settings
    sources: dict[str, str]  # setting name -> "default" | "file PATH" | "env NAME" | "flag"


def load(config_file: str | Path | None = None, environ: Mapping[str, str] | None = None,
         **flags: Any) -> Loaded:
    """Defaults < TOML file < environment < non-None ``flags``; validated.

    ``config_file`` None means: the file named by $HOTLINE_ROUTER_CONFIG, if set.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources = {name: "default" for name in ENV_NAMES}
    path = config_file if config_file is not None else environ.get(CONFIG_ENV) or None
    if path is not None:
        for name, value in _read_toml(Path(path)).items():
            values[name] = _convert(name, value, f"{path}")
            sources[name] = f"file {path}"
    for name, env in ENV_NAMES.items():
        if env in environ:
            values[name] = _convert(name, environ[env], f"${env}")
            sources[name] = f"env {env}"
    for name, value in flags.items():
        if name not in ENV_NAMES:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _convert(name, value, f"--{name.replace('_', '-')}")
            sources[name] = "flag"
    if values.get("ari_password_file"):
        if values.get("ari_password"):
            raise SettingsError(
                f"ari_password ({sources['ari_password']}) and ari_password_file "
                f"({sources['ari_password_file']}) are both given: keep only the file")
        values["ari_password"] = read_secret_file(values["ari_password_file"],
                                                  "ari_password_file")
        sources["ari_password"] = f"{sources['ari_password_file']} (ari_password_file)"
    settings = replace(_DEFAULTS, **values)
    validate(settings)
    return Loaded(settings, sources)


def read_secret_file(path: str, name: str) -> str:
    """The secret in the file at ``path``: its first line, without the line end.

    Raises SettingsError (naming setting ``name``) when it cannot be read or is empty.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"{name} {path}: cannot read it ({reason})") from None
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise SettingsError(f"{name} {path}: the file is empty; put the password on its "
                            "first line")
    return secret


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``environ`` (default: os.environ, with its config file), then flags."""
    return load(None, environ, **overrides).settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(ENV_NAMES))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}; "
                            f"known: {', '.join(ENV_NAMES)}")
    return data


def _convert(name: str, value: Any, source: str) -> Any:
    """``value`` as the setting's type (env and flags give text, TOML gives typed values)."""
    wanted = type(getattr(_DEFAULTS, name))
    if wanted is float:
        if isinstance(value, bool):
            raise SettingsError(f"{name} ({source}) must be a number of seconds, not {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{name} ({source}) must be a number of seconds, not {value!r}") from None
    if wanted is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise SettingsError(f"{name} ({source}) must be a whole number, not {value!r}")
    if not isinstance(value, str):
        shown = "a secret" if name in SECRET_SETTINGS else repr(value)  # never echo one
        raise SettingsError(f"{name} ({source}) must be text, not {shown}")
    return value


_LOG_FORMATS = ("auto", "json", "console")
_URL_SCHEMES = {"database_url": ("postgresql://", "postgres://"),
                "ari_url": ("http://", "https://")}


def validate(settings: Settings) -> None:
    """Raise SettingsError naming every bad value at once."""
    problems = []
    for name, schemes in _URL_SCHEMES.items():
        if not getattr(settings, name).startswith(schemes):
            problems.append(f"{name} must start with {' or '.join(schemes)}")
    if urlsplit(settings.ari_url).username is not None:  # it would reach the router id and logs
        problems.append("ari_url must not carry a user or password: use ari_user and "
                        "ari_password")
    if settings.ari_transport not in ("auto", "http"):
        problems.append("ari_transport must be auto or http")
    if settings.notify_dispatch not in ("daemon", "off"):
        problems.append("notify_dispatch must be daemon or off")
    if not 0 < settings.notify_timeout_s <= 300:
        problems.append("notify_timeout_s must be more than 0 and at most 300 seconds")
    if not 0 <= settings.recording_purge_interval_s <= 604_800:
        problems.append("recording_purge_interval_s must be 0 (never) to 604800 seconds")
    if not 0 <= settings.history_keep_months <= 1200:
        problems.append("history_keep_months must be 0 (keep forever) to 1200 months")
    if settings.log_format not in _LOG_FORMATS:
        problems.append(f"log_format must be one of {', '.join(_LOG_FORMATS)}")
    if settings.log_level.upper() not in logging.getLevelNamesMapping():
        problems.append("log_level must be debug, info, warning or error")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", settings.ari_app):
        problems.append("ari_app must be 1-80 letters, digits, '.', '_' or '-'")
    if settings.router_id and not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", settings.router_id):
        problems.append("router_id must be 1-80 letters, digits, '.', '_' or '-'")
    try:
        _, port = parse_listen(settings.http_listen)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        problems.append("http_listen must be HOST:PORT, e.g. 127.0.0.1:8095")
    if not 0 <= settings.drain_timeout_s <= 86_400:
        problems.append("drain_timeout_s must be 0 to 86400 seconds")
    if not 0.1 <= settings.metrics_refresh_s <= 3600:
        problems.append("metrics_refresh_s must be 0.1 to 3600 seconds")
    if not settings.spool_dir:
        problems.append("spool_dir must name a folder")
    if not 0.05 <= settings.db_timeout_s <= 60:
        problems.append("db_timeout_s must be 0.05 to 60 seconds")
    if not 0.1 <= settings.heartbeat_s <= 60:
        problems.append("heartbeat_s must be 0.1 to 60 seconds")
    if not settings.heartbeat_s * 3 <= settings.router_lease_s <= 3600:
        problems.append("router_lease_s must be at least 3 heartbeats and at most 3600 seconds")
    if not 60 <= settings.max_call_s <= 86_400:
        problems.append("max_call_s must be 60 to 86400 seconds")
    if not 0 <= settings.seat_guard_s <= 2:
        problems.append("seat_guard_s must be 0 to 2 seconds")
    for name in ("rating_delay_s", "rating_interval_s"):
        if not 0 <= getattr(settings, name) <= 86_400:
            problems.append(f"{name} must be 0 to 86400 seconds")
    if settings.plan_clock:
        try:
            pinned = datetime.fromisoformat(settings.plan_clock)
        except ValueError:
            pinned = None
        if pinned is None or pinned.tzinfo is None:
            problems.append("plan_clock must be an ISO 8601 time with an offset, "
                            "e.g. 2026-10-01T10:00:00+08:00")
    problems.extend(_feature_code_problems(settings))
    if not _known_zone(settings.display_time_zone):
        problems.append("display_time_zone must be a tz database name, e.g. Asia/Shanghai")
    if problems:
        raise SettingsError("; ".join(problems))


def _feature_code_problems(settings: Settings) -> list[str]:
    """Each code '*' and 1-4 digits, and none the start of another (a pause
    code's reason digits follow it, so a longer code could never be told apart)."""
    codes = {f.name: getattr(settings, f.name) for f in fields(settings)
             if f.name.startswith("presence_") and f.name.endswith("_code")}
    problems = [f"{name} must be '*' and 1-4 digits, e.g. *71" for name, code in codes.items()
                if not re.fullmatch(r"\*[0-9]{1,4}", code)]
    if not problems:
        for name, code in codes.items():
            for other, longer in codes.items():
                if other != name and longer.startswith(code):
                    problems.append(f"{name} {code} is the start of {other} {longer}: "
                                    "choose codes that differ")
    return problems


def _known_zone(name: str) -> bool:
    """A tz database name (Asia/Shanghai, UTC); not an abbreviation or offset."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8095' -> ('127.0.0.1', 8095); '[::1]:8095' works too."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def mask_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db; every
    secret query parameter (``password``, ``sslpassword``, any name holding
    password, passphrase, secret or token, percent-encoded or not) is masked
    too. Read by hand, not by urlsplit: a password may hold "@" or "/", which
    libpq and asyncpg accept unescaped."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    # The query starts at the first "?" followed by a parameter name and "=":
    # a "?" inside a password is followed by more password.
    found = _QUERY_START.search(rest)
    query_at = found.start() if found else len(rest)
    at = rest.rfind("@", 0, query_at)
    if at != -1 and ":" in rest[:at]:
        rest = f"{rest[:at].split(':', 1)[0]}:***{rest[at:]}"
    found = _QUERY_START.search(rest)
    if found is None:
        return f"{scheme}://{rest}"
    return f"{scheme}://{rest[:found.start() + 1]}" + "&".join(
        _mask_parameter(part) for part in rest[found.start() + 1:].split("&"))


_QUERY_START = re.compile(r"\?(?=[A-Za-z_%][A-Za-z0-9_%.-]*=)")


def _mask_parameter(part: str) -> str:
    """``name=value`` with the value masked when the name says it is a secret."""
    name, sep, value = part.partition("=")
    if sep and value and _SECRET_PARAMETER.search(unquote_plus(name)):
        return f"{name}=***"
    return part

"""Daemon settings: environment variables, overridden by command-line flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/hotline_router"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "hotline-router"
    ari_password: str = field(default="", repr=False)
    ari_app: str = "hotline-router"
    # Identifies this router's claims and records; stable across restarts.
    router_id: str = ""
    # Health endpoints; loopback unless the operator says otherwise.
    http_listen: str = "127.0.0.1:8095"
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"

    @property
    def effective_router_id(self) -> str:
        """ROUTER_ID, else ``app@asterisk-host:port``: unique (one app name per
        Asterisk websocket) and stable across restarts."""
        return self.router_id or f"{self.ari_app}@{urlsplit(self.ari_url).netloc}"

    def __repr__(self) -> str:
        return f"Settings({self.masked()})"

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets replaced by ***."""
        shown = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        shown["ari_password"] = "***" if self.ari_password else ""
        shown["database_url"] = mask_url(self.database_url)
        return shown


ENV_NAMES = {f.name: f.name.upper() for f in fields(Settings)}


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``environ`` (default: os.environ), then non-None overrides."""
    environ = dict(os.environ) if environ is None else environ
    values = {name: environ[env] for name, env in ENV_NAMES.items() if env in environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)


def mask_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)

"""structlog setup: JSON lines in production, readable lines in a terminal."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from router.settings import mask_url

# A database URL anywhere in a log line (an error's text, a traceback).
_DATABASE_URL = re.compile(r"postgres(?:ql)?://[^\s'\"]+")


def mask_secrets(_logger: Any, _method: str,
                 event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the password and secret parameters of every database
    URL in a text value read ``***`` (settings.mask_url), whatever logged it."""
    for key, value in event.items():
        if isinstance(value, str) and "://" in value:
            event[key] = _DATABASE_URL.sub(lambda m: mask_url(m.group(0)), value)
    return event


def configure(fmt: str = "auto", level: str = "info") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        # ensure_ascii off: 上海 stays 上海 in a log line, so grep finds it.
        structlog.processors.JSONRenderer(ensure_ascii=False) if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            mask_secrets,  # after the traceback is text, so it is masked too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # asyncpg's pool retries its connection floor with a traceback each time
    # (backing off from 1 s) while the database is away; the store already says
    # the outage once, so these become one line each.
    logging.getLogger("asyncpg.pool").addFilter(_one_line)


def _one_line(record: logging.LogRecord) -> bool:
    """Fold a library's traceback into its message: a reason, not a stack."""
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True

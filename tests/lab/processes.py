"""The lab's child processes (router, web console, Kamailio, sipp): stopped
politely, then by force, and the tail of their logs for error messages."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def stop(process: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM,
         wait_s: float = 10.0) -> None:
    """Send ``sig`` to a running ``process``; kill it if it has not exited
    within ``wait_s`` seconds. Nothing happens to one already gone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, chars: int = 4000) -> str:
    """The last ``chars`` characters of a log file ("" before it exists)."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""

"""`hotline-router run` as operators run it, in a child process of the lab."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.errors import LabError


class RouterProcess:
    def __init__(self, lab: AsteriskLab, database_url: str, app: str, log_path: Path,
                 extra_env: dict[str, str] | None = None) -> None:
        self.lab = lab
        self.app = app
        self.log_path = log_path
        self.http_port = sipp.free_port_pair()[0]
        self.env = {**os.environ, "DATABASE_URL": database_url, "ARI_URL": lab.ari_url,
                    "ARI_USER": lab.ari_user, "ARI_PASSWORD": lab.ari_password,
                    "ARI_APP": app, "LOG_FORMAT": "json",
                    "HTTP_LISTEN": f"127.0.0.1:{self.http_port}", **(extra_env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> RouterProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "router", "run"], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"router exited at start:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.1)
        raise LabError(f"router did not become ready:\n{self.log_tail()}")

    def ready(self) -> bool:
        """The router's own /readyz: ARI connected and database reachable."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz",
                                        timeout=1) as response:
                return bool(json.loads(response.read()).get("ready"))
        except (OSError, ValueError):
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

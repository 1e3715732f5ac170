"""`hotline-router web` in a child process, as operators run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.lab import processes, sipp
from tests.lab.errors import LabError


class WebProcess:
    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = sipp.free_port_pair()[0]
        self.log_path = log_path
        self.env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json",
                    "WEB_LISTEN": f"127.0.0.1:{self.port}"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> WebProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "router", "web"], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"web console exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise LabError(f"web console did not answer:\n{self.log_tail()}")

    def stop(self) -> None:
        processes.stop(self.process)

    def log_tail(self, chars: int = 4000) -> str:
        return processes.log_tail(self.log_path, chars)

"""`hotline-router run` as operators run it, in a child process of the lab."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.lab import processes, sipp
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
                    "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
                    "SPOOL_DIR": str(log_path.parent / f"spool-{app}"), **(extra_env or {})}
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
        self.stop()
        raise LabError(f"router did not become ready:\n{self.log_tail()}")

    def ready(self) -> bool:
        """The router's own /readyz: ARI connected and database reachable."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz",
                                        timeout=1) as response:
                return bool(json.loads(response.read()).get("ready"))
        except (OSError, ValueError):
            return False

    def readyz(self) -> tuple[int, dict[str, bool]]:
        """/readyz's status and checks (503 is an answer too, not an error)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz",
                                        timeout=3) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def metrics(self) -> Metrics:
        """Every sample /metrics serves now."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics",
                                    timeout=3) as response:
            return Metrics.parse(response.read().decode())

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the router; raises LabError if a call of it ever changed state in a
        way its transition table forbids (router/call/states.py): that is a bug."""
        processes.stop(self.process, sig)
        illegal = [line for line in self.log_tail(chars=10**9).splitlines()
                   if "illegal call state transition" in line]
        if illegal:
            raise LabError(f"{len(illegal)} illegal call state transition(s), first: "
                           f"{illegal[0][:500]}")

    def log_tail(self, chars: int = 4000) -> str:
        return processes.log_tail(self.log_path, chars)


@dataclass(frozen=True)
class Metrics:
    """Samples of one /metrics scrape, by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        return cls({(s.name, frozenset(s.labels.items())): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples})

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there yet (a labelled counter never hit)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str) -> bool:
        return any(sample_name == name for sample_name, _ in self.samples)

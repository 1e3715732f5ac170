"""The router as operators deploy it: the image from docker/router.Dockerfile, run by
the container engine on the host network, pointed at the lab's ARI and a test database.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.lab import ports
from tests.lab.asterisk import AsteriskLab
from tests.lab.engine import LABEL, Engine
from tests.lab.errors import LabError
from tests.lab.router import RouterProcess

# The settings the container gets; nothing else of the test's environment leaks in.
PASSED_ENV = ("DATABASE_URL", "ARI_URL", "ARI_USER", "ARI_PASSWORD", "ARI_APP", "LOG_FORMAT",
              "HTTP_LISTEN", "METRICS_REFRESH_S", "DRAIN_TIMEOUT_S")


class ContainerRouter(RouterProcess):
    def __init__(self, lab: AsteriskLab, database_url: str, app: str, image: str,
                 engine: Engine, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(lab, database_url, app, Path("/dev/null"), extra_env)
        self.image = image
        self.engine = engine
        suffix = f"-{ports.OFFSET}" if ports.OFFSET else ""
        self.container = f"hotline-lab-router-{app}{suffix}"

    def start(self, timeout_s: float = 30.0) -> ContainerRouter:
        self.engine.run("rm", "-f", self.container, check=False)
        env = [arg for name in PASSED_ENV if name in self.env
               for arg in ("-e", f"{name}={self.env[name]}")]
        self.engine.run("run", "-d", "--name", self.container, "--network", "host",
                        "--label", LABEL, "--label", f"hotline-router-lab-offset={ports.OFFSET}",
                        *env, self.image)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready():
                return self
            if not self.running():
                raise LabError(f"router container exited at start:\n{self.log_tail()}")
            time.sleep(0.2)
        raise LabError(f"router container did not become ready:\n{self.log_tail()}")

    def running(self) -> bool:
        state = self.engine.run("inspect", "--format", "{{.State.Running}}", self.container,
                                check=False)
        return state.stdout.strip() == "true"

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: int = 20) -> None:
        """``docker stop``: SIGTERM (the image's STOPSIGNAL), then SIGKILL after the timeout."""
        if sig is signal.SIGKILL:
            self.engine.run("kill", self.container, check=False)
        else:
            self.engine.run("stop", "-t", str(timeout_s), self.container, check=False)

    def exit_code(self) -> int:
        state = self.engine.run("inspect", "--format", "{{.State.ExitCode}}", self.container)
        return int(state.stdout.strip())

    def remove(self) -> None:
        self.engine.run("rm", "-f", self.container, check=False)

    def log_tail(self, chars: int = 4000) -> str:
        logs = self.engine.run("logs", self.container, check=False)
        return (logs.stdout + logs.stderr)[-chars:]

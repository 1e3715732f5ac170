"""A private PostgreSQL for one test, made with the installed server binaries.

Tests that stop and restart the database use this one, so the machine's own
server is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.lab import ports
from tests.lab.errors import LabError


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise LabError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def _free_tcp_port() -> int:
    for port in ports.sipp_range():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1000))
            except OSError:
                continue
            return port + 1000
    raise LabError("no free TCP port for a private PostgreSQL")


class PrivatePostgres:
    """initdb, start, stop, start again; trust auth on 127.0.0.1 only; a
    streaming replica of it (:meth:`replica`) that can be promoted."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = _free_tcp_port()
        # The server refuses to run as root: run it as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres")

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off", "start")

    def stop(self) -> None:
        """A fast shutdown: every connection is cut at once, as in a failover."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def replica(self) -> PrivatePostgres:
        """A streaming replica of this running server, made as an operator would
        (``pg_basebackup -R``: the base backup and the standby's connection
        settings); started, and read-only until :meth:`promote`."""
        standby = PrivatePostgres()
        standby._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                     "-D", str(standby.data), "-R", "-X", "stream", "--no-sync")
        standby.start()
        return standby

    def promote(self) -> None:
        """The standby becomes a primary (``pg_ctl promote``, waiting until it takes writes)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def destroy(self) -> None:
        subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bin / program), *args], capture_output=True,
                              text=True, cwd=self.root, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            raise LabError(f"{program} failed: {done.stderr[-1500:]}"
                           f"{log.read_text()[-1500:] if log.exists() else ''}")

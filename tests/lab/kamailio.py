"""The farm's SIP proxy in the lab: Kamailio run from docker/kamailio.cfg as shipped.

The lab starts it as a child process (never the distribution's service), on
loopback at ``ports.sip_proxy()``, with the site settings the shipped file
takes as pre-processor defines: where to listen, the dispatcher list (one
line per lab Asterisk) and kamcmd's socket, all in a folder of its own.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.lab import ports, processes
from tests.lab.engine import REPO
from tests.lab.errors import LabError

CONFIG = REPO / "docker" / "kamailio.cfg"
DISPATCHER_SET = 1
# dispatcher.list flag 8: probe the node from the start (docker/dispatcher.list).
PROBING = 8


class FarmProxy:
    """Kamailio in front of the nodes listening for SIP on loopback at
    ``node_ports`` (lab Asterisks, or sipp standing in for them), in ``workdir``."""

    def __init__(self, node_ports: list[int], workdir: Path) -> None:
        self.node_ports = node_ports
        self.workdir = workdir
        self.port = ports.sip_proxy()
        self.log_path = workdir / "kamailio.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ctl_socket(self) -> Path:
        return self.workdir / "kamailio_ctl"

    def start(self, timeout_s: float = 15.0) -> FarmProxy:
        """Start Kamailio and wait until it listens and has loaded the nodes.

        Raises LabError (with its log) when it exits or is not ready in time.
        """
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self.workdir.mkdir(parents=True, exist_ok=True)
        listing = self.workdir / "dispatcher.list"
        listing.write_text("".join(f"{DISPATCHER_SET} sip:127.0.0.1:{port} {PROBING} 0\n"
                                   for port in self.node_ports))
        command = [
            binary, "-f", str(CONFIG),
            "-DD", "-E",               # stay in the foreground, log to stderr
            "-m", "32", "-M", "4",     # shared and private memory, MB: a lab's worth
            "-Y", str(self.workdir),   # its runtime folder, not /run/kamailio
            "-A", f"FARM_LISTEN=udp:127.0.0.1:{self.port}",
            "-A", f'FARM_DISPATCHER_LIST="{listing}"',
            "-A", f'FARM_CTL="unix:{self.ctl_socket}"',
            "-A", "FARM_CHILDREN=2",
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"kamailio exited at start:\n{self.log_tail()}")
            if _udp_taken(self.port) and self.ctl_socket.exists() \
                    and len(self.node_states()) == len(self.node_ports):
                return self
            time.sleep(0.1)
        self.stop()
        raise LabError(f"kamailio did not become ready on {self.sip_address}:\n{self.log_tail()}")

    def node_states(self) -> dict[int, str]:
        """Each node's dispatcher flags by its SIP port, as kamcmd reports them:
        first letter A (active), I (inactive), T (trying) or D (disabled), then
        P when probed. Empty when the proxy does not answer."""
        try:
            listed = subprocess.run(["kamcmd", "-s", f"unix:{self.ctl_socket}",
                                     "dispatcher.list"], capture_output=True, text=True,
                                    timeout=5, check=False)
        except subprocess.TimeoutExpired:
            return {}
        states = {}
        for uri_port, flags in re.findall(r"URI: sip:127\.0\.0\.1:(\d+)\s+FLAGS: (\w+)",
                                          listed.stdout):
            states[int(uri_port)] = flags
        return states

    def is_active(self, port: int) -> bool:
        """Whether the proxy offers calls to the node at ``port``."""
        return self.node_states().get(port, "").startswith("A")

    def log_lines(self, contains: str) -> list[str]:
        """Lines of Kamailio's log holding ``contains`` (the config's xlog lines)."""
        return [line for line in self.log_tail(chars=10**9).splitlines() if contains in line]

    def stop(self) -> None:
        processes.stop(self.process)

    def log_tail(self, chars: int = 4000) -> str:
        return processes.log_tail(self.log_path, chars)


def _udp_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False

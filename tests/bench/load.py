"""Load from sipp: a pool of answering phones and one caller process per step.

A step is one sipp caller placing ``calls`` calls at ``rate`` per second
(``-r``/``-m``/``-l``); every call carries a unique caller number, which the
phone that receives it logs with its INVITE time, so each call's post-dial
delay is the phone's INVITE time minus the caller's (one host, one clock).
"""

from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench import scenarios as bench_scenarios
from tests.lab import scenarios, sipp
from tests.lab.errors import LabError


@dataclass
class PhonePool:
    """``size`` sipp phones, each on its own port, each taking any number of calls."""

    size: int
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-phones-")))
    ports: list[int] = field(default_factory=list)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def dial_strings(self, user: str = "bench") -> list[str]:
        return [f"PJSIP/phones/sip:{user}@127.0.0.1:{port}" for port in self.ports]

    def start(self) -> PhonePool:
        scenario = self.workdir / "phone.xml"
        scenario.write_text(bench_scenarios.answering_phone())
        for n in range(self.size):
            port, media_port = sipp.free_port_pair()
            log = self.workdir / f"phone-{n}.log"
            process = subprocess.Popen(
                [sipp.sipp_binary(), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
                 "-mp", str(media_port), "-nostdin", "-trace_logs", "-log_file", str(log),
                 "-trace_err", "-error_file", str(self.workdir / f"phone-{n}.err")],
                # stderr to a file: an unread pipe would fill and stall sipp under load
                stdout=subprocess.DEVNULL, stderr=(self.workdir / f"phone-{n}.out").open("wb"),
                cwd=self.workdir)
            self._processes.append(process)
            self.ports.append(port)
            sipp._wait_bound(port, process)
        return self

    def invites(self) -> dict[str, float]:
        """Caller number -> when its first INVITE reached a phone (Unix seconds)."""
        seen: dict[str, float] = {}
        for log in self.workdir.glob("phone-*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if "INVITE from=sip:" not in line:
                    continue
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                caller = fields["from"].removeprefix("sip:")
                at = parse_time(fields["t_invite"])
                seen[caller] = min(at, seen.get(caller, at))
        return seen

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()


def parse_time(value: str) -> float:
    """sipp prints gettimeofday as '<s>.000000.<us>.000000'."""
    parts = value.split(".")
    return int(parts[0]) + int(parts[2]) / 1e6


@dataclass(frozen=True)
class CallerLog:
    """What one caller process saw: per caller number, its INVITE time and result."""

    attempted: int
    invites: dict[str, float]   # caller number -> INVITE sent
    answered: set[str]
    exit_code: int | None
    errors: str


async def place_calls(sip_address: str, dialled: str, prefix: str, rate: float, calls: int,
                      hold_ms: int, answer_timeout_ms: int = 10_000,
                      workdir: Path | None = None) -> CallerLog:
    """One sipp process places ``calls`` calls to ``dialled`` at ``rate`` per second.

    Caller numbers are ``prefix`` followed by sipp's call number, so they are
    unique within a step; pick a distinct prefix per step.
    """
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bench-callers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "caller.xml"
    scenario.write_text(scenarios.caller(f"{prefix}[call_number]", hold_ms,
                                         answer_timeout_ms=answer_timeout_ms))
    log_file, error_file = workdir / "calls.log", workdir / "errors.log"
    port, media_port = sipp.free_port_pair()
    # Room for every call to be set up, held and torn down, plus slack.
    limit = max(10, math.ceil(rate * (hold_ms + answer_timeout_ms) / 1000) + 20)
    budget_s = calls / rate + (hold_ms + answer_timeout_ms) / 1000 + 30
    proc = await asyncio.create_subprocess_exec(
        sipp.sipp_binary(), sip_address, "-sf", str(scenario), "-s", dialled,
        "-i", "127.0.0.1", "-p", str(port), "-mp", str(media_port),
        "-r", f"{rate:g}", "-rp", "1000", "-m", str(calls), "-l", str(limit),
        "-nostdin", "-trace_logs", "-log_file", str(log_file),
        "-trace_err", "-error_file", str(error_file),
        "-timeout", f"{math.ceil(budget_s)}s", "-timeout_error",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=workdir)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), budget_s + 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        stderr = b"killed after its time budget"
    invites: dict[str, float] = {}
    answered: set[str] = set()
    for row in sipp.parse_results(log_file):
        caller = row.get("caller", "")
        if "t_invite" in row:
            invites[caller] = parse_time(row["t_invite"])
        if row.get("result") == "answered":
            answered.add(caller)
    errors = error_file.read_text(errors="replace")[-1500:] if error_file.exists() else ""
    if proc.returncode not in (0, 1):  # sipp exits 1 when some calls failed
        errors += stderr.decode(errors="replace")[-500:]
    return CallerLog(attempted=calls, invites=invites, answered=answered,
                     exit_code=proc.returncode, errors=errors)


def require_sipp() -> None:
    try:
        sipp.sipp_binary()
    except LabError as exc:
        raise SystemExit(str(exc)) from None

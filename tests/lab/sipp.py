"""Real SIP peers for the lab: sipp callers and sipp bound phones."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import ports, processes, scenarios
from tests.lab.errors import LabError

# SIP ports (and the lab's other listeners) come from the first half of the
# lab's range, media ports from the second, four at a time: sipp binds its media
# port for audio and the port two above it for video (-mp), so a media port
# never lands next to another sipp's SIP port.
_RANGE = ports.sipp_range()
_MIDDLE = _RANGE.start + len(_RANGE) // 2
_sip_ports = itertools.cycle(range(_RANGE.start, _MIDDLE))
_media_blocks = itertools.cycle(range(_MIDDLE, _RANGE.stop - 3, 4))
_WORKDIR = Path(tempfile.mkdtemp(prefix="hotline-sipp-"))


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise LabError("sipp is not installed (apt-get install sip-tester)")
    return path


def free_port_pair() -> tuple[int, int]:
    """Two UDP ports on loopback, free now: one for SIP, and a media port whose
    next three ports are free too (sipp's audio and video RTP)."""
    sip = next((port for port in itertools.islice(_sip_ports, _MIDDLE - _RANGE.start)
                if _udp_free(port)), None)
    media = next((block for block in itertools.islice(_media_blocks, len(_RANGE) // 8)
                  if all(_udp_free(block + n) for n in range(4))), None)
    if sip is not None and media is not None:
        return sip, media
    raise LabError("no free UDP ports for sipp")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def parse_results(log_file: Path) -> list[dict[str, str]]:
    """The RESULT lines a scenario logged, as dicts."""
    if not log_file.exists():
        return []
    rows = []
    for line in log_file.read_text(errors="replace").splitlines():
        if "RESULT " not in line:
            continue
        fields = line.split("RESULT ", 1)[1].split()
        rows.append(dict(f.split("=", 1) for f in fields if "=" in f))
    return rows


@dataclass
class CallResult:
    """What one sipp caller saw."""

    caller: str
    result: str  # answered | rejected | cancelled | error
    status: int | None = None
    ended_by: str | None = None
    t_invite: float | None = None
    t_ring: float | None = None  # the first 180 or 183 (None: none came)
    t_answer: float | None = None
    t_end: float | None = None
    errors: str = ""

    @property
    def talk_seconds(self) -> float:
        """Answer to hangup, as the caller's own clock measured it."""
        if self.t_answer is None or self.t_end is None:
            return 0.0
        return self.t_end - self.t_answer


def _result_from_row(caller: str, row: dict[str, str] | None, errors: str) -> CallResult:
    if row is None:
        return CallResult(caller=caller, result="error", errors=errors)

    def t(key: str) -> float | None:
        # sipp prints "<seconds>.000000.<microseconds>.000000"
        if key not in row:
            return None
        parts = row[key].split(".")
        if len(parts) < 3 or not (parts[0].isdigit() and parts[2].isdigit()):
            return None  # a time never taken (no 180/183 came) prints empty
        return int(parts[0]) + int(parts[2]) / 1e6 or None

    status = row.get("status")
    return CallResult(caller=caller, result=row["result"],
                      status=int(status) if status and status.isdigit() else None,
                      ended_by=row.get("ended_by"), t_invite=t("t_invite"),
                      t_ring=t("t_ring"), t_answer=t("t_answer"), t_end=t("t_end"), errors=errors)


async def call(sip_address: str, dialled: str, caller: str = "13800138000", hold_ms: int = 2000,
               cancel_after_ms: int | None = None,
               dtmf_pcaps: tuple[tuple[int, str], ...] = (),
               timeout_s: float = 180.0, scenario_file: Path | None = None,
               from_port: int | None = None, from_host: str = "127.0.0.1") -> CallResult:
    """Place one real SIP call through the lab and wait until it is over.

    ``scenario_file``: a caller scenario as received (e.g. a field case) instead of
    the one made from ``caller``, ``hold_ms`` …; it must log RESULT lines the same way.
    ``from_port``, ``from_host``: the SIP address to call from (a phone's own,
    see :meth:`Phone.dial`); 127.0.0.1 is the carrier trunk's.
    """
    port, media_port = free_port_pair()
    if from_port is not None:
        port = from_port
    workdir = Path(tempfile.mkdtemp(prefix="call-", dir=_WORKDIR))
    scenario = workdir / "caller.xml"
    if scenario_file is not None:
        shutil.copyfile(scenario_file, scenario)
    else:
        scenario.write_text(scenarios.caller(caller, hold_ms, cancel_after_ms, dtmf_pcaps))
    log_file, error_file = workdir / "calls.log", workdir / "errors.log"
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(), sip_address, "-sf", str(scenario), "-s", dialled,
        "-i", from_host, "-p", str(port), "-mp", str(media_port),
        "-m", "1", "-nostdin", "-trace_logs", "-log_file", str(log_file),
        "-trace_err", "-error_file", str(error_file), "-timeout", f"{int(timeout_s)}s",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=workdir)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        stderr = b"killed after timeout"
    rows = parse_results(log_file)
    errors = (error_file.read_text(errors="replace")[-2000:] if error_file.exists() else "")
    errors += stderr.decode(errors="replace")[-1000:]
    return _result_from_row(caller, rows[0] if rows else None, errors)


@dataclass
class Phone:
    """A bound phone: a sipp UAS on its own loopback port.

    Dial it as :attr:`dial_string`; :meth:`results` lists what it saw.
    """

    answer_after_ms: int | None = 200
    reject_code: int | None = None
    hangup_after_ms: int | None = None
    key_pcap: tuple[int, str] | None = None  # (ms after its answer, RFC 2833 recording)
    early_media: bool = False  # 183 with SDP before ringing, as carrier trunks do
    scenario_file: Path | None = None  # a phone scenario as received (a field case)
    # Rows of an injection file (sipp -inf, read in order, one row per INVITE,
    # starting again at the end), its fields are [field0] … in the scenario.
    inject: tuple[str, ...] = ()
    # Keep every SIP message sent and received (:meth:`received`), whatever
    # the scenario's own flow logs.
    trace_messages: bool = False
    # sipp answers INFO, NOTIFY, OPTIONS and UPDATE itself (-aa), outside the
    # scenario's flow (a transfer's NOTIFYs come as the scenario answers BYEs).
    auto_answer: bool = False
    user: str = "phone"
    port: int = 0
    # A desk phone with its own endpoint (dialled PJSIP/<endpoint>, see
    # Phone.register), at its own loopback address.
    endpoint: str | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="phone-",
                                                                         dir=_WORKDIR)))

    @property
    def dial_string(self) -> str:
        if self.endpoint is not None:
            return f"PJSIP/{self.endpoint}"
        return f"PJSIP/phones/sip:{self.user}@{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "calls.log"

    def start(self, attempts: int = 3, port: int | None = None) -> Phone:
        scenario = self.workdir / "phone.xml"
        if self.scenario_file is not None:
            shutil.copyfile(self.scenario_file, scenario)
        else:
            scenario.write_text(scenarios.phone(self.answer_after_ms, self.reject_code,
                                                self.hangup_after_ms, key_pcap=self.key_pcap,
                                                early_media=self.early_media))
        injection: list[str] = []
        if self.inject:
            (self.workdir / "inject.csv").write_text("SEQUENTIAL\n" + "\n".join(self.inject) + "\n")
            injection = ["-inf", str(self.workdir / "inject.csv")]
        if self.trace_messages:
            injection += ["-trace_msg", "-message_file", str(self.workdir / "messages.log")]
        if self.auto_answer:
            injection.append("-aa")
        for attempt in range(1, attempts + 1):
            self.port, media_port = free_port_pair()
            if port is not None:  # its own port again (a phone that dialled out)
                self.port = port
            self.process = subprocess.Popen(
                [sipp_binary(), "-sf", str(scenario), "-i", self.host, "-p", str(self.port),
                 "-mp", str(media_port), "-nostdin", "-trace_logs", "-log_file",
                 str(self.log_file), "-trace_err", "-error_file", str(self.workdir / "errors.log"),
                 *injection],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir)
            try:
                _wait_bound(self.port, self.process, host=self.host)
                return self
            except LabError as exc:
                # A port found free a moment ago can be taken meanwhile (a live
                # call's RTP ports, opened as the call starts): try other ports.
                if "Address already in use" not in str(exc) or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def results(self) -> list[dict[str, str]]:
        return parse_results(self.log_file)

    def received(self) -> list[str]:
        """Every SIP message the phone received, in order (with ``trace_messages``)."""
        path = self.workdir / "messages.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        # Each message: a dashed line with its time, "UDP message received [N]
        # bytes :", a blank line, then the message as it came.
        blocks = re.split(r"^-{10,} .*\n", text, flags=re.MULTILINE)
        return [block.split("\n", 2)[2].replace("\r\n", "\n").strip() for block in blocks
                if block.startswith("UDP message received") and block.count("\n") >= 2]

    async def register(self, sip_address: str, password: str, expires_s: int) -> None:
        """Register the phone's address for its endpoint, for ``expires_s`` seconds
        (0: unregister); its answering side pauses meanwhile, as it shares the port."""
        assert self.endpoint is not None, "only a phone with its own endpoint registers"
        workdir = Path(tempfile.mkdtemp(prefix="register-", dir=_WORKDIR))
        (workdir / "register.xml").write_text(
            scenarios.register(self.endpoint, password, expires_s))
        self.stop()
        try:
            proc = await asyncio.create_subprocess_exec(
                sipp_binary(), sip_address, "-sf", str(workdir / "register.xml"),
                "-i", self.host, "-p", str(self.port), "-m", "1", "-nostdin",
                "-timeout", "10s", "-trace_err", "-error_file", str(workdir / "errors.log"),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=workdir)
            _, stderr = await proc.communicate()
            if proc.returncode != 0:
                errors = (workdir / "errors.log").read_text(errors="replace")[-1000:] \
                    if (workdir / "errors.log").exists() else ""
                raise LabError(f"{self.endpoint} did not register: "
                               f"{errors}{stderr.decode(errors='replace')[-500:]}")
        finally:
            self.start(port=self.port)

    async def dial(self, sip_address: str, number: str, hold_ms: int = 15_000) -> CallResult:
        """The phone places a call from its own address (e.g. a feature code):
        its answering side pauses meanwhile, as a desk phone's line is in use."""
        self.stop()
        try:
            return await call(sip_address, number, caller=self.user, hold_ms=hold_ms,
                              from_port=self.port, from_host=self.host, timeout_s=30)
        finally:
            self.start(port=self.port)

    def stop(self) -> None:
        processes.stop(self.process, wait_s=5)

    def __enter__(self) -> Phone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_bound(port: int, process: subprocess.Popen[bytes], timeout_s: float = 5.0,
                host: str = "127.0.0.1") -> None:
    """Wait until sipp listens on ``port`` (or died trying)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise LabError(f"sipp phone on port {port} exited at start: {err[-1000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return  # taken: sipp is listening
        time.sleep(0.02)
    raise LabError(f"sipp phone did not bind port {port}")

"""One lab Asterisk: a container built from docker/, configured from dialplan/.

Each instance gets its own SIP, HTTP (ARI) and RTP ports so that several can
run side by side on the host network (see tests/lab/ports.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.lab import ports
from tests.lab.engine import LABEL, REPO, STATE_DIR, Engine, detect, ensure_asterisk_image
from tests.lab.errors import LabError

DIALPLAN = REPO / "dialplan"
ARI_USER = "hotline-router"


@dataclass(frozen=True)
class AsteriskLab:
    """Where a running lab Asterisk answers."""

    name: str
    sip_port: int
    http_port: int
    rtp_start: int
    rtp_end: int
    ari_password: str

    @property
    def container(self) -> str:
        suffix = f"-{ports.OFFSET}" if ports.OFFSET else ""
        return f"hotline-lab-asterisk-{self.name}{suffix}"

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ari_user(self) -> str:
        return ARI_USER

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def dir(self) -> Path:
        return STATE_DIR / self.name

    @property
    def log_dir(self) -> Path:
        return self.dir / "log"

    @property
    def recording_dir(self) -> Path:
        """Asterisk's recording storage (/var/spool/asterisk/recording), kept across restarts."""
        return self.dir / "recording"

    def describe(self) -> str:
        return (f"ARI URL       {self.ari_url}\n"
                f"ARI user      {self.ari_user}\n"
                f"ARI password  {self.ari_password}\n"
                f"SIP (callers) {self.sip_address}  (INVITE sip:400XXXXXXX@… or sip:800XXXXXXX@…)\n"
                f"bound phones  PJSIP/phones/sip:USER@127.0.0.1:PORT")


def instance(name: str = "a", index: int = 0) -> AsteriskLab:
    """The ports of lab instance number ``index`` (0, 1, …)."""
    saved = STATE_DIR / name / "lab.json"
    password = None
    if saved.exists():
        password = json.loads(saved.read_text()).get("ari_password")
    rtp_start, rtp_end = ports.rtp(index)
    return AsteriskLab(
        name=name,
        sip_port=ports.sip(index),
        http_port=ports.http(index),
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        ari_password=password or secrets.token_urlsafe(12),
    )


def up(lab: AsteriskLab, log: Callable[[str], None] = print,
       timeout_s: float = 90.0) -> AsteriskLab:
    """Start ``lab`` (or keep it if it already runs with this configuration)."""
    engine = detect()
    image = ensure_asterisk_image(engine, log)
    etc = _render_config(lab)
    options = (
        "--network", "host",
        # Asterisk runs a thread per channel in Stasis: 500 calls need more than
        # podman's default of 2,048 processes per container.
        "--pids-limit", "-1",
        "-v", f"{etc}:/etc/asterisk:ro",
        "-v", f"{lab.log_dir}:/var/log/asterisk",
        # Recordings live outside the container, as they must in production
        # (the image has no recording folder of its own).
        "-v", f"{lab.recording_dir}:/var/spool/asterisk/recording",
    )
    fingerprint = f"{image}|{_config_digest(etc)}|{_digest(' '.join(options))}"
    if _running_fingerprint(engine, lab) == fingerprint and _ari_ready(lab):
        return lab
    engine.run("rm", "-f", lab.container, check=False)
    if lab.log_dir.exists():
        shutil.rmtree(lab.log_dir)  # a fresh start gets a fresh log
    lab.log_dir.mkdir(parents=True)
    (lab.log_dir / "cdr-custom").mkdir(exist_ok=True)
    lab.recording_dir.mkdir(exist_ok=True)
    # The container runs as the unprivileged asterisk user; let it write the logs.
    for path in (lab.log_dir, lab.log_dir / "cdr-custom", lab.recording_dir):
        path.chmod(0o777)
    engine.run(
        "run", "-d", "--name", lab.container,
        "--label", LABEL, "--label", f"hotline-router-lab-offset={ports.OFFSET}",
        "--label", f"hotline-router-lab-fingerprint={fingerprint}",
        *options, image,
    )
    _wait_ready(engine, lab, timeout_s)
    return lab


def cli(lab: AsteriskLab, command: str) -> str:
    """Run an Asterisk CLI command in the lab container (asterisk -rx)."""
    return detect().run("exec", lab.container, "asterisk", "-rx", command).stdout


def set_global(lab: AsteriskLab, name: str, value: str) -> None:
    """Change a dialplan global at run time, e.g. ROUTER_MODE."""
    # An empty value must be quoted: without it the CLI prints its usage and sets nothing.
    argument = value or '""'
    cli(lab, f"dialplan set global {name} {argument}")


def is_running(lab: AsteriskLab) -> bool:
    return _running_fingerprint(detect(), lab) is not None and _ari_ready(lab)


def exit_status(lab: AsteriskLab) -> str:
    """How the lab's container ended, e.g. "exited 139" (a segmentation fault), or
    "gone" when there is no container."""
    found = detect().run("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                         lab.container, check=False)
    return found.stdout.strip() or "gone"


def stop(lab: AsteriskLab) -> None:
    detect().run("rm", "-f", "-t", "2", lab.container, check=False)


def down(engine: Engine | None = None) -> list[str]:
    """Remove every container of this lab (this LAB_PORT_OFFSET); returns their names."""
    engine = engine or detect()
    listed = engine.run("ps", "-a", "--filter", f"label={LABEL}",
                        "--filter", f"label=hotline-router-lab-offset={ports.OFFSET}",
                        "--format", "{{.Names}}")
    names = [n for n in listed.stdout.split() if n]
    for name in names:
        engine.run("rm", "-f", "-t", "2", name, check=False)
    return names


def _render_config(lab: AsteriskLab) -> Path:
    """Copy dialplan/ and write this instance's site files over it."""
    etc = lab.dir / "etc"
    if etc.exists():
        shutil.rmtree(etc)
    shutil.copytree(DIALPLAN, etc)
    (etc / "http.conf").write_text(
        f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {lab.http_port}\n")
    (etc / "ari.conf").write_text(
        "[general]\nenabled = yes\npretty = no\nchannelvars = HOTLINE_PHONE_ID\n\n"
        f"[{lab.ari_user}]\ntype = user\nread_only = no\n"
        f"password = {lab.ari_password}\npassword_format = plain\n")
    (etc / "rtp.conf").write_text(
        f"[general]\nrtpstart = {lab.rtp_start}\nrtpend = {lab.rtp_end}\n")
    # Channel ids unique across the lab's Asterisk servers, which share one
    # database (calls.caller_channel is unique): "<systemname>-<epoch>.<n>".
    with (etc / "asterisk.conf").open("a") as conf:
        conf.write(f"systemname = lab-{lab.name}\n")
    (etc / "pjsip_transport.conf").write_text(
        "[transport-udp]\ntype = transport\nprotocol = udp\n"
        f"bind = 127.0.0.1:{lab.sip_port}\n")
    (etc / "pjsip_agents.conf").write_text(_agents_config())
    (etc / "pjsip_phones.conf").write_text(
        f"[phones-identify]\ntype = identify\nendpoint = phones\nmatch = {PHONES_HOST}\n")
    for path in etc.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    etc.chmod(0o755)
    (lab.dir / "lab.json").write_text(json.dumps(asdict(lab), indent=2))
    return etc


# Registering desk phones of the lab (dialplan/pjsip_agents.conf): sipp phones
# register from AGENT_HOST (not the callers' 127.0.0.1, which identifies as
# the carrier trunk) with a short expiry, so a test can let one lapse.
AGENTS = tuple(f"agent{n}" for n in range(1, 4))
AGENT_PASSWORD = "lab-agent-secret"
AGENT_HOST = "127.0.0.2"
# Bound phones of the lab reached through the generic endpoint that place
# calls (consultation calls) do so from here: identified as "phones"
# (dialplan/pjsip_phones.conf), not as the carrier trunk at 127.0.0.1.
PHONES_HOST = "127.0.0.3"


def _agents_config() -> str:
    # Expired contacts are swept every second, not every 30 (res_pjsip's default).
    parts = ["[global](+)\ncontact_expiration_check_interval = 1\n"]
    for name in AGENTS:
        parts.append(
            f"[{name}](endpoint-defaults)\ncontext = from-phones\nauth = {name}\naors = {name}\n\n"
            f"[{name}]\ntype = auth\nauth_type = userpass\nusername = {name}\n"
            f"password = {AGENT_PASSWORD}\n\n"
            f"[{name}]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\n"
            "minimum_expiration = 1\ndefault_expiration = 3\n")
    return "\n".join(parts)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _config_digest(etc: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(etc.rglob("*.conf")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _running_fingerprint(engine: Engine, lab: AsteriskLab) -> str | None:
    labels = '{{index .Config.Labels "hotline-router-lab-fingerprint"}} {{.State.Running}}'
    proc = engine.run("inspect", "--format", labels, lab.container, check=False)
    if proc.returncode != 0:
        return None
    fingerprint, _, running = proc.stdout.strip().rpartition(" ")
    return fingerprint if running == "true" else None


def ari_get(lab: AsteriskLab, path: str, timeout_s: float = 2.0) -> object:
    token = base64.b64encode(f"{lab.ari_user}:{lab.ari_password}".encode()).decode()
    request = urllib.request.Request(f"{lab.ari_url}/ari{path}",
                                     headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read() or b"null")


def _ari_ready(lab: AsteriskLab) -> bool:
    try:
        endpoints = ari_get(lab, "/endpoints/PJSIP")
    except (urllib.error.URLError, OSError, ValueError):
        return False
    names = {e.get("resource") for e in endpoints} if isinstance(endpoints, list) else set()
    return {"callers", "phones"} <= names


def _wait_ready(engine: Engine, lab: AsteriskLab, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _ari_ready(lab):
            return
        state = engine.run("inspect", "--format", "{{.State.Running}}", lab.container, check=False)
        if state.stdout.strip() != "true":
            break
        time.sleep(0.25)
    logs = engine.run("logs", "--tail", "40", lab.container, check=False)
    messages = lab.log_dir / "messages"
    tail = messages.read_text()[-3000:] if messages.exists() else "(no messages log)"
    raise LabError(f"lab Asterisk {lab.container} did not answer on {lab.ari_url} "
                   f"within {timeout_s:.0f} s\n--- container output ---\n"
                   f"{logs.stdout[-2000:]}{logs.stderr[-2000:]}\n--- messages ---\n{tail}")

"""Container engine for the lab: Docker where an engine answers, else podman.

The Asterisk image is built from ``docker/asterisk.Dockerfile`` exactly as an
operator builds it, and cached under a tag derived from the Dockerfile's
content, so a warm lab skips the build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.lab.errors import LabError

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "asterisk.Dockerfile"
BASE_IMAGE = "debian:sid-slim"
DEBIAN_MIRROR = os.environ.get("LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
STATE_DIR = Path(os.environ.get("LAB_DIR", REPO / ".lab"))
LABEL = "hotline-router-lab=1"


@dataclass(frozen=True)
class Engine:
    """A container engine command line, with the flags this host needs."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, capture: bool = True,
            input_bytes: bytes | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.argv, *args],
            env={**os.environ, **self.env},
            capture_output=capture,
            input=input_bytes.decode() if input_bytes is not None else None,
            text=True,
        )
        if check and proc.returncode != 0:
            raise LabError(f"{self.name} {' '.join(args[:3])} failed "
                           f"(exit {proc.returncode}): {(proc.stderr or '').strip()[-2000:]}")
        return proc

    def image_exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0


def detect() -> Engine:
    """Docker when its daemon answers, otherwise podman with this host's quirks."""
    wanted = os.environ.get("LAB_ENGINE")
    if wanted in (None, "docker") and shutil.which("docker"):
        if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            return Engine("docker", ("docker",), {})
        if wanted == "docker":
            raise LabError("LAB_ENGINE=docker but the Docker daemon does not answer")
    if shutil.which("podman"):
        return _podman()
    raise LabError("no container engine: install podman (apt-get install podman) "
                   "or start a Docker daemon")


def _podman() -> Engine:
    argv = ["podman"]
    # crun fails on hosts with a hybrid cgroup setup; runc works everywhere.
    if shutil.which("runc"):
        argv += ["--runtime", "runc"]
    # Raising rlimits is refused in some sandboxes: ask podman not to set any.
    conf = STATE_DIR / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    return Engine("podman", tuple(argv), {"CONTAINERS_CONF": str(conf)})


def asterisk_image_tag() -> str:
    digest = hashlib.sha256(DOCKERFILE.read_bytes()).hexdigest()[:12]
    return f"localhost/hotline-router-asterisk:{digest}"


def ensure_asterisk_image(engine: Engine, log: Callable[[str], None] = print) -> str:
    """Build the Asterisk image unless this Dockerfile's build is cached."""
    tag = asterisk_image_tag()
    if engine.image_exists(tag):
        return tag
    started = time.monotonic()
    build = ["build", "--network", "host", "-t", tag, "-f", str(DOCKERFILE)]
    if engine.name == "podman":
        _ensure_podman_base_image(engine, log)
        build.insert(1, "--pull=never")
    log(f"lab: building {tag} from {DOCKERFILE.relative_to(REPO)}")
    engine.run(*build, str(DOCKERFILE.parent))
    log(f"lab: image built in {time.monotonic() - started:.0f} s")
    return tag


def _ensure_podman_base_image(engine: Engine, log: Callable[[str], None]) -> None:
    """Without a registry, make ``debian:sid-slim`` locally with debootstrap."""
    if engine.image_exists(BASE_IMAGE):
        return
    if not shutil.which("debootstrap"):
        raise LabError("debootstrap is needed to make the base image (apt-get install debootstrap)")
    log(f"lab: making {BASE_IMAGE} with debootstrap from {DEBIAN_MIRROR}")
    with tempfile.TemporaryDirectory(prefix="hotline-lab-rootfs-") as tmp:
        root = Path(tmp) / "root"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "sid", str(root), DEBIAN_MIRROR],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabError(f"debootstrap failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        # A frozen mirror snapshot carries an expired Release file; accept it
        # here so the production Dockerfile needs no such option.
        (root / "etc/apt/apt.conf.d/99-lab-frozen-mirror").write_text(
            'Acquire::Check-Valid-Until "false";\n')
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([*engine.argv, "import", "-", BASE_IMAGE],
                                  stdin=tar.stdout, env={**os.environ, **engine.env},
                                  capture_output=True, text=True)
        tar.wait()
        if imported.returncode != 0:
            raise LabError(f"podman import failed: {imported.stderr[-1500:]}")

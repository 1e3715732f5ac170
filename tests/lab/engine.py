"""Container engine for the lab: Docker where an engine answers, else podman.

The images are built from ``docker/*.Dockerfile`` exactly as an operator
builds them, and cached under a tag derived from what goes into them (the
Dockerfile, and for the router its source), so a warm lab skips the build.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.lab.errors import LabError

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "asterisk.Dockerfile"
ROUTER_DOCKERFILE = REPO / "docker" / "router.Dockerfile"
# What the router image is built from (the build context is the repository).
ROUTER_SOURCES = ("pyproject.toml", "README.md", "router", "strategies", "migrations",
                  ".dockerignore")
BASE_IMAGE = "debian:sid-slim"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ROUTER_IMAGES_KEPT = 3
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


def _digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for top in paths:
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def asterisk_image_tag() -> str:
    digest = hashlib.sha256(DOCKERFILE.read_bytes()).hexdigest()[:12]
    return f"localhost/hotline-router-asterisk:{digest}"


def router_image_tag() -> str:
    sources = [REPO / name for name in ROUTER_SOURCES]
    return f"localhost/hotline-router:{_digest([ROUTER_DOCKERFILE, *sources])}"


def ensure_asterisk_image(engine: Engine, log: Callable[[str], None] = print) -> str:
    """Build the Asterisk image unless this Dockerfile's build is cached."""
    return ensure_image(engine, asterisk_image_tag(), DOCKERFILE, DOCKERFILE.parent, log)


def ensure_router_image(engine: Engine, log: Callable[[str], None] = print) -> str:
    """Build the router image unless this source's build is cached."""
    options: list[str] = []
    if HOST_CA_BUNDLE.exists():
        # pip in the build trusts what this host trusts (some networks inspect TLS),
        # through the build secret the Dockerfile documents for Docker and podman alike.
        options = ["--secret", f"id=pip_cert,src={HOST_CA_BUNDLE}"]
    tag = ensure_image(engine, router_image_tag(), ROUTER_DOCKERFILE, REPO, log, options)
    _keep_newest(engine, tag.rpartition(":")[0], ROUTER_IMAGES_KEPT)
    return tag


def _keep_newest(engine: Engine, repository: str, keep: int) -> None:
    """Every source change builds a new tag: remove all but the newest few."""
    listed = engine.run("images", "--filter", f"reference={repository}",
                        "--format", "{{.CreatedAt}}\t{{.Repository}}:{{.Tag}}", check=False)
    tags = [line.split("\t")[1] for line in sorted(listed.stdout.splitlines(), reverse=True)
            if "\t" in line]
    for old in tags[keep:]:
        engine.run("rmi", old, check=False)  # refused while a container uses it: fine


def ensure_image(engine: Engine, tag: str, dockerfile: Path, context: Path,
                 log: Callable[[str], None] = print, options: Iterable[str] = ()) -> str:
    """Build ``dockerfile`` as ``tag`` unless an image with that tag exists."""
    if engine.image_exists(tag):
        return tag
    started = time.monotonic()
    build = ["build", "--network", "host", "-t", tag, "-f", str(dockerfile), *options]
    if engine.name == "podman":
        # podman's default OCI format drops HEALTHCHECK; the docker format keeps it.
        build[1:1] = ["--format", "docker"]
        for base in base_images(dockerfile):
            _ensure_podman_base_image(engine, log, base)
        build.insert(1, "--pull=never")
    log(f"lab: building {tag} from {dockerfile.relative_to(REPO)}")
    engine.run(*build, str(context))
    log(f"lab: image built in {time.monotonic() - started:.0f} s")
    return tag


def base_images(dockerfile: Path) -> list[str]:
    """The registry images a Dockerfile starts FROM (not its own build stages)."""
    stages: set[str] = set()
    bases = []
    for match in re.finditer(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile.read_text(),
                             re.MULTILINE | re.IGNORECASE):
        image, stage = match[1], match[2]
        if image not in stages and image not in bases:
            bases.append(image)
        if stage:
            stages.add(stage)
    return bases


def _ensure_podman_base_image(engine: Engine, log: Callable[[str], None],
                              image: str = BASE_IMAGE) -> None:
    """Without a registry, make ``debian:<suite>-slim`` locally with debootstrap."""
    if engine.image_exists(image):
        return
    suite = re.fullmatch(r"debian:([a-z]+)-slim", image)
    if suite is None:
        raise LabError(f"cannot make base image {image} without a registry (only debian:*-slim)")
    if not shutil.which("debootstrap"):
        raise LabError("debootstrap is needed to make the base image (apt-get install debootstrap)")
    log(f"lab: making {image} with debootstrap from {DEBIAN_MIRROR}")
    with tempfile.TemporaryDirectory(prefix="hotline-lab-rootfs-") as tmp:
        root = Path(tmp) / "root"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", suite[1], str(root), DEBIAN_MIRROR],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabError(f"debootstrap failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        # A frozen mirror snapshot carries an expired Release file; accept it
        # here so the production Dockerfile needs no such option.
        (root / "etc/apt/apt.conf.d/99-lab-frozen-mirror").write_text(
            'Acquire::Check-Valid-Until "false";\n')
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([*engine.argv, "import", "-", image],
                                  stdin=tar.stdout, env={**os.environ, **engine.env},
                                  capture_output=True, text=True)
        tar.wait()
        if imported.returncode != 0:
            raise LabError(f"podman import failed: {imported.stderr[-1500:]}")

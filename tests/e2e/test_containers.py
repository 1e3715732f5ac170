"""The production containers: the router image routes a real call; compose.yaml parses."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PhoneFactory, add_hotline, legs_of, wait_for_call
from tests.e2e.test_call_routing import no_claims_left
from tests.lab import asterisk, engine, sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.container_router import ContainerRouter
from tests.lab.errors import LabError

COMPOSE = engine.REPO / "docker" / "compose.yaml"
CONTAINER_APP = "hotline-router-container"


@pytest.fixture(scope="module")
def router_image() -> str:
    """Built from docker/router.Dockerfile (cached by the content of what goes in)."""
    started = time.monotonic()
    tag = engine.ensure_router_image(engine.detect())
    print(f"\nrouter image {tag} ready in {time.monotonic() - started:.0f} s")
    return tag


@pytest.fixture
def container_router(lab: AsteriskLab, database_url: str,
                     router_image: str) -> Iterator[ContainerRouter]:
    """The containerised router, holding the Stasis app plain Stasis() calls go to."""
    container = ContainerRouter(lab, database_url, CONTAINER_APP, router_image,
                                engine.detect()).start()
    asterisk.set_global(lab, "ROUTER_MODE", "stasis")
    asterisk.set_global(lab, "ROUTER_APP", CONTAINER_APP)
    try:
        yield container
    finally:
        asterisk.set_global(lab, "ROUTER_MODE", "broadcast")
        asterisk.set_global(lab, "ROUTER_APP", "hotline-router")
        container.remove()


@pytest.mark.lab
async def test_the_containerised_router_routes_a_real_call(
        db: Any, lab: AsteriskLab, container_router: ContainerRouter, phones: PhoneFactory,
        hotline_number: str, router_image: str) -> None:
    uid = engine.detect().run("run", "--rm", "--entrypoint", "id", router_image, "-u")
    assert uid.stdout.strip() not in ("", "0")  # not root

    phone = phones(answer_after_ms=300)
    ids = await add_hotline(db, hotline_number, [phone])
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13600000001", hold_ms=2000)

    assert seen.result == "answered", f"{seen.errors}\n{container_router.log_tail()}"
    (call,) = await wait_for_call(db, hotline_number)
    assert (call["outcome"], call["router_id"]) == (
        "answered", f"{CONTAINER_APP}@127.0.0.1:{lab.http_port}")
    assert call["answered_dial_string"] == phone.dial_string
    assert abs(call["billable_ms"] / 1000 - seen.talk_seconds) < 0.5
    assert [leg["result"] for leg in await legs_of(db, call["id"])] == ["answered"]
    await no_claims_left(db, ids.values())
    assert container_router.metrics().value("hotline_router_calls_total",
                                            hotline=hotline_number, outcome="answered") == 1

    container_router.stop()  # SIGTERM: drains (nothing live) and exits cleanly
    assert container_router.exit_code() == 0
    assert '"router stopped"' in container_router.log_tail()


def test_the_router_image_keeps_its_healthcheck(router_image: str) -> None:
    """podman builds OCI images by default, which have no HEALTHCHECK: the lab (and the
    docs) build with --format docker, so the check the Dockerfile declares is there."""
    inspected = engine.detect().run("image", "inspect", router_image)
    (image,) = json.loads(inspected.stdout)
    check = (image.get("Healthcheck") or image.get("HealthCheck")  # podman
             or image.get("Config", {}).get("Healthcheck") or {})  # docker
    assert "/healthz" in " ".join(check.get("Test", [])), image.get("Config")
    assert check.get("Interval") in (10_000_000_000, "10s")


def test_the_systemd_units_install_comment_works_on_a_fresh_machine(tmp_path: Path) -> None:
    """The file-making steps of the unit's install comment, run in order against an
    empty root: every folder they write into is made first."""
    unit = (engine.REPO / "docker" / "hotline-router.service").read_text()
    steps = [line.removeprefix("#").strip() for line in unit.splitlines()
             if line.startswith("#   ")]
    runnable = [step for step in steps if step.split()[0] in ("install", "printf", "mkdir")]
    assert runnable, steps
    script = "set -e\n" + "\n".join(runnable).replace(" /etc/", f" {tmp_path}/etc/") \
        .replace("> /etc/", f"> {tmp_path}/etc/").replace("-o root ", "").replace("-g root ", "")
    done = subprocess.run(["bash", "-c", script.replace("\\\n", " ")], capture_output=True,
                          text=True, cwd=engine.REPO, timeout=30)
    assert done.returncode == 0, (script, done.stderr)
    assert (tmp_path / "etc/hotline-router/router.toml").is_file()
    assert (tmp_path / "etc/hotline-router/env").stat().st_mode & 0o777 == 0o600


def compose_config(file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    compose = shutil.which("docker-compose")
    if compose is None:
        raise LabError("docker-compose is not installed (apt-get install docker-compose)")
    return subprocess.run([compose, "-f", str(file), "config", "-q"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env},
                          cwd=file.parent)


def test_compose_file_parses_and_a_broken_one_does_not(tmp_path: Path) -> None:
    secrets = {"POSTGRES_PASSWORD": "pg-secret", "ARI_PASSWORD": "ari-secret"}
    good = compose_config(COMPOSE, **secrets)
    assert good.returncode == 0, good.stderr

    missing = compose_config(COMPOSE)  # no secrets: refused, saying which
    assert missing.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in missing.stderr

    text = COMPOSE.read_text()
    broken = {
        "unknown option": text.replace("stop_grace_period:", "stop_grace_periodd:"),
        "depends on an undefined service": text.replace("condition: service_healthy",
                                                        "condition: service_healthy\n"
                                                        "      nosuchservice:\n"
                                                        "        condition: service_started"),
        "not YAML": text.replace("services:", "services: [", 1),
    }
    for name, content in broken.items():
        copy = tmp_path / f"{name.replace(' ', '-')}.yaml"
        copy.write_text(content)
        (tmp_path / "router.example.toml").touch()
        refused = compose_config(copy, **secrets)
        assert refused.returncode != 0, f"{name}: accepted"
        assert refused.stderr.strip(), name

"""What machine a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from router import db as router_db


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


async def postgres_version(url: str) -> str:
    connection = await router_db.connect(url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def describe() -> str:
    return (f"{os.cpu_count()} cores ({cpu_model()}), {memory_gib():.1f} GiB RAM, "
            f"Linux {platform.release()}, Python {platform.python_version()}")

"""Where the router spends its CPU: py-spy samples, summed per function.

py-spy (from PyPI, `make bench` installs it) samples a running process from
outside, so the router runs exactly as in production. ``--format raw`` gives
collapsed stacks ("frame;frame;frame count"); we sum them into the functions
that use the most CPU themselves (self) and including what they call (total).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: `make bench` installs it (pip install py-spy)")
    return found


def record(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` in the background (collapsed stacks)."""
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass(frozen=True)
class Profile:
    samples: int
    self_top: list[tuple[str, float]]   # function, share of samples in %
    total_top: list[tuple[str, float]]


def _name(frame: str) -> str:
    """'func (path/to/module.py:123)' -> 'func (module.py)'."""
    func, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{func} ({module})" if module else func


def summarize(collapsed: Path, top: int = 15) -> Profile:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / samples) for name, n in counter.most_common(top)] \
            if samples else []
    return Profile(samples=samples, self_top=share(own), total_top=share(inclusive))

"""Where the router spends its CPU: py-spy samples, summed per function.

py-spy (from PyPI, `make bench` installs it) samples a running process from
outside, so the router runs exactly as in production. ``--format raw`` gives
collapsed stacks ("frame;frame;frame count"); we sum them into the functions
that use the most CPU themselves (self) and including what they call (total).
A second sampler of the same process writes py-spy's flame graph (SVG), kept
beside the report with its title and file names cut to what says something
(never a path of the machine that ran it).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: `make bench` installs it (pip install py-spy)")
    return found


def record(pid: int, seconds: float | None, out: Path, rate: int = 250,
           flamegraph: bool = False) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` in the background: collapsed stacks, or with
    ``flamegraph`` py-spy's SVG (one frame per function, no line numbers, so
    the picture stays readable). ``seconds`` None: until the process exits."""
    duration = [] if seconds is None else ["--duration", str(int(seconds))]
    kind = ["--format", "flamegraph", "--nolineno"] if flamegraph else ["--format", "raw"]
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), *duration, "--rate", str(rate), *kind,
         "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# An absolute path's folders (not a URL's: "http://www.w3.org/2000/svg" stays).
_FOLDERS = re.compile(r"(?<![:/\w.-])/(?:[\w.+@~-]+/)+")
_TITLE = re.compile(r'(<text id="title"[^>]*>)[^<]*(</text>)')


def _machine_folders() -> list[str]:
    """Folders of the machine that made a profile, which a published graph must
    not name: the checkout, the virtualenv, the home, the temporary folder."""
    found = {Path.cwd(), Path(sys.prefix), Path.home(), Path(tempfile.gettempdir())}
    return [*sorted(f"{str(folder).rstrip('/')}/" for folder in found), "/home/"]


def tidy_flamegraph(svg: Path, title: str) -> None:
    """Make py-spy's SVG fit to publish: its title (the py-spy command line,
    with the machine's paths) becomes ``title``, and any absolute path left in
    a frame's name keeps only its file name. Raises ValueError if a path of
    the machine still shows."""
    text = _TITLE.sub(lambda m: m.group(1) + html.escape(title) + m.group(2),
                      svg.read_text(errors="replace"), count=1)
    text = _FOLDERS.sub("", text)
    left = [folder for folder in _machine_folders() if folder in text]
    if left:
        raise ValueError(f"{svg.name} still holds a path ({', '.join(left)})")
    svg.write_text(text)


@dataclass(frozen=True)
class Profile:
    samples: int
    self_top: list[tuple[str, float]]      # function, share of samples in %
    total_top: list[tuple[str, float]]     # the same, callees included
    packages: list[tuple[str, float]]      # package (or router module), callees included
    flamegraph: str = ""                   # the SVG, relative to the report; "" when none


# Frames every sample passes through (the event loop, the entry point): they
# say nothing about where the time goes. Matched on the frame's path, so the
# router's own events.py modules (ARI events, a call's inbox) still count.
_PLUMBING = ("asyncio/base_events.py", "asyncio/events.py", "asyncio/runners.py",
             "<frozen runpy>", "__main__.py")


def _plumbing(frame: str) -> bool:
    path = frame.partition(" (")[2].split(":", 1)[0]
    return path.endswith(_PLUMBING)


def _name(frame: str) -> str:
    """'func (path/to/module.py:123)' -> 'func (module.py)'."""
    func, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{func} ({module})" if module else func


def _package(frame: str) -> str:
    """'func (aiohttp/client.py:12)' -> 'aiohttp'; our own code by module: 'router/call.py'."""
    path = frame.partition(" (")[2].split(":", 1)[0]
    parts = path.split("/")
    if parts[0] in ("router", "strategies", "tests") and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0]


def summarize(collapsed: Path, top: int = 15) -> Profile:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    plumbing: set[str] = set()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[_name(frames[-1])] += count
        for name in {_name(f) for f in frames}:
            inclusive[name] += count
        plumbing.update(_name(f) for f in frames if _plumbing(f))
        for package in {_package(f) for f in frames}:
            packages[package] += count

    def share(counter: Counter[str], keep: Callable[[str, int], bool]) -> list[tuple[str, float]]:
        if not samples:
            return []
        ranked = [(name, n) for name, n in counter.most_common() if keep(name, n)]
        return [(name, 100 * n / samples) for name, n in ranked[:top]]

    def informative(name: str, n: int) -> bool:
        return n < 0.7 * samples and name not in plumbing

    return Profile(samples=samples, self_top=share(own, lambda name, n: True),
                   total_top=share(inclusive, informative),
                   packages=share(packages, lambda name, n: n < 0.7 * samples
                                  and name not in ("asyncio", "<frozen runpy>")))

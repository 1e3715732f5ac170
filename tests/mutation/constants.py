"""Hand-made mutants of the pure modules' constants, which mutmut leaves alone.

mutmut mutates inside functions only; a table at module level (the caller-id
separators, the area-code shapes, the carriers, the vanity bands …) is data a
decision rests on all the same. Each entry below changes one such constant in a
copy of the code and runs the fast tests that should notice; every one must make
them fail. Exit 1 names the ones that survive. `make mutation` runs it after mutmut.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("router", "strategies", "tests", "docker", "pyproject.toml")


@dataclass(frozen=True)
class Change:
    path: str
    old: str
    new: str
    tests: str  # the unit test file that should fail
    what: str


CHANGES = (
    Change("router/callers.py", 'r"1[3-9][0-9]{9}"', 'r"1[3-8][0-9]{9}"',
           "tests/unit/test_callers.py", "19x no longer a mobile segment"),
    Change("router/callers.py", "(?:10|2[0-9])", "(?:10|2[0-8])",
           "tests/unit/test_callers.py", "Xi'an's 029 no longer a 2-digit area code"),
    Change("router/callers.py", "[3-9][0-9]{2}[0-9]{7,8}", "[3-9][0-9]{2}[0-9]{8}",
           "tests/unit/test_callers.py", "3-digit area codes no longer with 7 digits"),
    # \s takes in the ideographic space U+3000 too: only ASCII blanks leave it out
    Change("router/callers.py", r"[\s\-().\u3000]", r"[ \t\-().]",
           "tests/unit/test_callers.py", "the ideographic space no longer a separator"),
    Change("router/callers.py", "if len(text) > 64:", "if len(text) > 80:",
           "tests/unit/test_callers.py", "caller ids up to 80 characters read"),
    Change("router/numbers.py", '"4007": "China Mobile"', '"4007": "China Unicom"',
           "tests/unit/test_numbers.py", "4007 given to the wrong carrier"),
    Change("router/numbers.py", r'r"[\s\-.()]"', r'r"[\s\-.]"',
           "tests/unit/test_numbers.py", "brackets no longer separators in hotline numbers"),
    Change("router/numbers.py", 'r"(400|800)[0-9]{7}"', 'r"(400|800|900)[0-9]{7}"',
           "tests/unit/test_numbers.py", "900 numbers taken as hotlines"),
    Change("router/vanity.py", '("AABB", "ABBA", "ABAB", "AAA")', '("AABB", "ABBA", "AAA")',
           "tests/unit/test_vanity.py", "ABAB no longer a pattern"),
    Change("router/vanity.py", '"AAAA", "ABCD"),', '"ABCD"),\n    ("AAAA",),',
           "tests/unit/test_vanity.py", "AAAA a band lower"),
    Change("router/vanity.py", '_ASCENDING = "01234567890"', '_ASCENDING = "0123456789"',
           "tests/unit/test_vanity.py", "7890 no longer a straight"),
    Change("router/schedule.py", '("mon", "tue", "wed", "thu", "fri", "sat", "sun")',
           '("sun", "mon", "tue", "wed", "thu", "fri", "sat")',
           "tests/unit/test_schedule.py", "weekdays counted from Sunday"),
    Change("router/menu.py", "MAX_LEVELS = 5", "MAX_LEVELS = 6",
           "tests/unit/test_menu.py", "menus six levels deep"),
    Change("strategies/ring_progressively.py", "DEFAULT_INTERVAL_S = 5.0",
           "DEFAULT_INTERVAL_S = 6.0", "tests/unit/test_strategies.py",
           "ring progressively's default interval 6 s"),
    Change("router/plan.py", 'DEFAULT_TIME_ZONE = "Asia/Shanghai"', 'DEFAULT_TIME_ZONE = "UTC"',
           "tests/unit/test_plan.py", "plans read in UTC by default"),
    Change("router/billing/terms.py", 'DEFAULT_TIME_ZONE = "Asia/Shanghai"',
           'DEFAULT_TIME_ZONE = "UTC"', "tests/unit/test_terms.py",
           "billing months in UTC by default"),
    Change("router/billing/rating.py", "timedelta(milliseconds=1)",
           "timedelta(milliseconds=10)", "tests/unit/test_rating.py",
           "billable time counted in 10 ms steps"),
    Change("router/region.py", '"地区", "省", "市", "盟")', '"地区", "省", "市")',
           "tests/unit/test_region.py", "盟 no longer an administrative suffix"),
    Change("router/region.py", '_LANGUAGES = {"zh": 0, "en": 1}',
           '_LANGUAGES = {"zh": 1, "en": 0}', "tests/unit/test_region.py",
           "Chinese and English place names swapped"),
)


def survives(copy: Path, change: Change) -> bool:
    """Whether the tests still pass with ``change`` made in ``copy``."""
    target = copy / change.path
    original = target.read_text("utf-8")
    if original.count(change.old) != 1:
        raise SystemExit(f"{change.path}: {change.old!r} is not there exactly once; "
                         "update tests/mutation/constants.py")
    target.write_text(original.replace(change.old, change.new), "utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             change.tests], cwd=copy, capture_output=True, timeout=600, check=False)
    finally:
        target.write_text(original, "utf-8")
    return done.returncode == 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hotline-router-constants-") as folder:
        copy = Path(folder)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, copy / name,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, copy / name)
        survivors = [change for change in CHANGES if survives(copy, change)]
    print(f"constants: {len(CHANGES) - len(survivors)} of {len(CHANGES)} hand-made mutants "
          "killed")
    for change in survivors:
        print(f"mutation: constant survives: {change.path}: {change.what}", file=sys.stderr)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

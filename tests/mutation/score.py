"""The mutation score per module, after `mutmut run`; exits 1 under the kept threshold.

Reads mutmut's results (``mutants/**/*.py.meta``) and ``survivors.toml`` beside this
file, which keeps the threshold (percent of all mutants killed) and every mutant
allowed to survive, each with its kind (``equivalent``: no input tells it from the
original; ``message``: it changes only words people read) and a one-line reason.

Fails (exit 1) when the score of all modules together is under the threshold, when
a mutant survives that the list does not name, or when the list names a mutant
that no longer survives (mutant numbers shift when a function changes: the list
must follow). Run from the repository's root: ``python -m tests.mutation.score``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SURVIVORS = Path(__file__).with_name("survivors.toml")
KINDS = ("equivalent", "message")
# mutmut's exit codes per mutant (mutmut/stats.py): what counts as killed.
KILLED = {1, 3, 24, -24, 36, 152, 255}  # a failing test, pytest's internal error, a timeout
SURVIVED = {0}
NOT_TESTED = {5, 33}  # no test reaches the mutated function


@dataclass(frozen=True)
class Allowed:
    mutant: str
    kind: str
    reason: str


def load_allowed(path: Path = SURVIVORS) -> tuple[float, dict[str, Allowed]]:
    """The threshold (percent) and the allowed survivors by mutant name."""
    data = tomllib.loads(path.read_text("utf-8"))
    allowed: dict[str, Allowed] = {}
    for entry in data.get("survivor", []):
        item = Allowed(entry["mutant"], entry["kind"], entry["reason"].strip())
        if item.kind not in KINDS:
            raise SystemExit(f"{path}: {item.mutant}: kind must be one of {', '.join(KINDS)}")
        if not item.reason or "\n" in item.reason:
            raise SystemExit(f"{path}: {item.mutant}: give a one-line reason")
        if item.mutant in allowed:
            raise SystemExit(f"{path}: {item.mutant} is listed twice")
        allowed[item.mutant] = item
    return float(data["threshold"]), allowed


def load_results(mutants: Path) -> dict[str, dict[str, int | None]]:
    """mutmut's exit code of every mutant, by module path (``router/plan.py``)."""
    results: dict[str, dict[str, int | None]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        if codes:
            results[module] = codes
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"),
                        help="mutmut's working folder (default: mutants)")
    args = parser.parse_args(argv)
    threshold, allowed = load_allowed()
    results = load_results(args.mutants)
    if not results:
        print(f"no mutmut results under {args.mutants}/: run `make mutation`", file=sys.stderr)
        return 1

    problems: list[str] = []
    totals: Counter[str] = Counter()
    header = (f"{'module':<34} {'mutants':>7} {'killed':>7} {'survived':>8} {'listed':>6} "
              f"{'score':>7}")
    print(header)
    print("-" * len(header))
    for module, codes in results.items():
        counts: Counter[str] = Counter()
        for mutant, code in sorted(codes.items()):
            counts["mutants"] += 1
            if code in KILLED:
                counts["killed"] += 1
                if mutant in allowed:
                    problems.append(f"{mutant} is listed in {SURVIVORS.name} but is killed now")
                continue
            counts["survived"] += 1
            if mutant in allowed:
                counts["listed"] += 1
                continue
            why = ("no test reaches it" if code in NOT_TESTED
                   else "survived" if code in SURVIVED else f"mutmut exit code {code}")
            problems.append(f"{mutant}: {why} (mutmut show {mutant})")
        totals.update(counts)
        print(f"{module:<34} {counts['mutants']:>7} {counts['killed']:>7} "
              f"{counts['survived']:>8} {counts['listed']:>6} "
              f"{100 * counts['killed'] / counts['mutants']:>6.1f}%")
    score = 100 * totals["killed"] / totals["mutants"]
    print("-" * len(header))
    print(f"{'all':<34} {totals['mutants']:>7} {totals['killed']:>7} {totals['survived']:>8} "
          f"{totals['listed']:>6} {score:>6.1f}%")
    kinds = Counter(item.kind for name, item in allowed.items())
    print(f"listed survivors: {kinds['equivalent']} equivalent, {kinds['message']} message-only")
    missing = sorted(set(allowed) - {m for codes in results.values() for m in codes})
    problems += [f"{name} is listed in {SURVIVORS.name} but mutmut made no such mutant"
                 for name in missing]
    if score < threshold:
        problems.append(f"score {score:.1f}% is under the threshold {threshold:.1f}% "
                        f"({SURVIVORS.name})")
    for problem in problems:
        print(f"mutation: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

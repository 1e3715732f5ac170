"""`python -m tests.lab up|down|demo` — what `make lab`, `make lab-down` and `make demo` run."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from tests.lab import asterisk
from tests.lab.errors import LabError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab")
    parser.add_argument("command", choices=["up", "down", "demo"])
    args = parser.parse_args()
    try:
        if args.command == "up":
            started = time.monotonic()
            lab = asterisk.up(asterisk.instance())
            print(f"lab Asterisk ready in {time.monotonic() - started:.1f} s "
                  f"(container {lab.container})")
            print(lab.describe())
        elif args.command == "down":
            removed = asterisk.down()
            # sipp phones and callers the lab started, if a run was interrupted
            subprocess.run(["pkill", "-f", "sipp .*hotline-sipp-"], check=False)
            print(f"lab down ({', '.join(removed) or 'nothing was running'})")
        else:
            # imported here: `down` must work before the virtualenv exists
            from tests.lab.demo import main as demo

            return demo()
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

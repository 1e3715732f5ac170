"""`python -m tests.lab up|down|demo` — what `make lab`, `make lab-down` and `make demo` run."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from tests.lab import asterisk, ports
from tests.lab.errors import LabError


def stop_stray_sipps() -> None:
    """End the sipp phones and callers of this lab (this LAB_PORT_OFFSET) that an
    interrupted run left behind: those bound to a port of its sipp range."""
    listed = subprocess.run(["pgrep", "-af", "sipp .*hotline-sipp-"],
                            capture_output=True, text=True, check=False).stdout
    ours = ports.sipp_range()
    for line in listed.splitlines():
        pid, *argv = line.split()
        bound = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-p"]
        if bound and bound[0].isdigit() and int(bound[0]) in ours:
            subprocess.run(["kill", pid], check=False)


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
            stop_stray_sipps()
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

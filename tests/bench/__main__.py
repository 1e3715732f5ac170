"""`python -m tests.bench …`: what `make bench` runs.

    all            every benchmark, then BENCHMARKS.md (the figures to publish)
    calls          calls per second: router vs app_queue vs Dial()
    decisions      the decision core: 100 and 10,000 hotlines, 1 and 2 processes
    concurrency    router RSS and CPU with N simultaneous bridged calls
    profile        py-spy profiles of the router under load and of the decision core
    micro          CPU per log line and per ARI event, in this process (no lab)
    history        record writes and the call log with a long (seeded) call history;
                   not part of `all` (python -m tests.bench history --help)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from router import logs
from tests.lab import asterisk
from tests.lab.asterisk import AsteriskLab


def floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v)


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


@contextmanager
def lab_up(log: Callable[[str], None] = print) -> Iterator[AsteriskLab]:
    """The lab Asterisk for the run; stopped after unless it was already up."""
    lab = asterisk.instance()
    was_running = asterisk.is_running(lab)
    started = time.monotonic()
    asterisk.up(lab)
    log(f"lab Asterisk ready in {time.monotonic() - started:.1f} s ({lab.container})")
    try:
        yield lab
    finally:
        if not was_running:
            asterisk.stop(lab)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["history"]:  # its own options; a database of its own, no lab
        from tests.bench import history

        return history.main(argv[1:])
    if argv[:1] == ["decision-worker"]:
        from tests.bench import decisions

        return decisions.worker_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["all", "calls", "decisions", "concurrency",
                                            "profile", "micro"])
    parser.add_argument("--rates", type=floats, default=(5, 10, 20, 40, 80),
                        help="calls per second, one step each (default 5,10,20,40,80)")
    parser.add_argument("--step-s", type=float, default=15.0,
                        help="seconds of calls per step and path (default 15)")
    parser.add_argument("--hold-ms", type=int, default=1000, help="talk time of each call")
    parser.add_argument("--phones", type=int, default=20, help="answering sipp phones")
    parser.add_argument("--paths", default="router,router-stasis,queue,dial",
                        help="which paths to measure (default all four)")
    parser.add_argument("--decision-s", type=float, default=10.0,
                        help="seconds per decision-core measurement")
    parser.add_argument("--hotlines", type=ints, default=(100, 10_000),
                        help="hotline counts of the decision core (10 phones each)")
    parser.add_argument("--decision-paths", default="one-statement",
                        help="decision core paths, side by side: one-statement (the "
                             "router's), lookup-then-claim (its path before), or both "
                             "comma-separated")
    parser.add_argument("--concurrent-calls", type=int, default=None,
                        help="simultaneous calls (default: 500 at LAB_PORT_OFFSET=0, "
                             "else what the offset's RTP ports hold)")
    parser.add_argument("--out", default=None,
                        help="write the report here (default BENCHMARKS.md for 'all')")
    args = parser.parse_args(argv)
    logs.configure("console", "warning")
    if args.command == "micro":
        from tests.bench import micro

        micro.main()
        return 0
    from tests.bench import runner

    args.argv = argv
    return runner.run(args, lab_up)


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark commands behind `python -m tests.bench`, and the full run."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import calls, concurrency, decisions, machine, profile, report
from tests.bench.stats import ms
from tests.lab import asterisk, database, ports
from tests.lab.engine import REPO

DEFAULT_OUT = REPO / "BENCHMARKS.md"


def calls_config(args: argparse.Namespace) -> calls.CallsConfig:
    return calls.CallsConfig(rates=args.rates, step_s=args.step_s, hold_ms=args.hold_ms,
                             phones=args.phones, paths=tuple(args.paths.split(",")))


def print_step(s: calls.StepResult) -> None:
    print(f"{s.rate:>5g} cps {s.path:<14} {s.answered:>5}/{s.attempted:<5} answered "
          f"({s.success_percent:5.1f} %)  PDD p50 {ms(s.pdd_p50_s):>6} ms  "
          f"p99 {ms(s.pdd_p99_s):>6} ms  Asterisk CPU {s.asterisk_cpu_percent:5.1f} %  "
          f"router CPU {s.router_cpu_percent:5.1f} %  RSS {s.router_peak_rss_mb:4.0f} MB"
          + (f"\n      per answered call: router CPU {s.router_cpu_ms_per_call:.2f} ms, "
             f"ARI events {s.per_answered(s.ari_events):.1f}, "
             f"ARI requests {s.per_answered(s.ari_requests):.1f}, "
             f"log lines {s.per_answered(s.log_lines):.1f}"
             if s.router_cpu_ms_per_call is not None and s.ari_events is not None else ""),
          flush=True)


def print_decision(d: decisions.DecisionResult) -> None:
    print(f"{d.path:>17} {d.hotlines:>6,} hotlines {d.processes} process(es): "
          f"{d.decisions_per_s:8,.0f} decisions/s  p50 {ms(d.p50_s)} ms  p99 {ms(d.p99_s)} ms  "
          f"router CPU {d.worker_cpu_percent:5.1f} %  "
          f"({d.per_worker_core:,.0f} per CPU-second)  machine CPU "
          f"{d.machine_cpu_percent:5.1f} %", flush=True)


def print_concurrency(c: concurrency.ConcurrencyResult) -> None:
    print(f"{c.bridged_peak} of {c.calls} calls bridged at once (ramp {c.ramp_s:.0f} s): "
          f"router RSS idle {c.rss_idle_mb:.0f} MB, held {c.rss_held_mb:.0f} MB, "
          f"peak {c.peak_rss_mb:.0f} MB, after {c.rss_after_mb:.0f} MB; router CPU "
          f"{c.router_cpu_ramp_percent:.1f} % ramping, {c.router_cpu_held_percent:.1f} % "
          f"holding; Asterisk {c.asterisk_cpu_held_percent:.1f} % holding", flush=True)


def print_profile(name: str, p: profile.Profile) -> None:
    print(f"--- {name}: {p.samples} samples ---")
    for (own, own_pct), (total, total_pct) in zip(p.self_top, p.total_top, strict=False):
        print(f"{own_pct:5.1f} %  {own:<55} {total_pct:5.1f} %  {total}")
    print("by package: " + ", ".join(f"{name} {pct:.0f} %" for name, pct in p.packages))


# Flame graphs go into this folder beside the report, linked from it by this
# relative path (for the repository's BENCHMARKS.md: docs/bench/).
FLAME_DIR = "docs/bench"


def flame_path(report_out: Path | None, out_dir: Path, name: str) -> tuple[Path, str]:
    """Where a profile's flame graph is written, and its link from the report
    ('' when there is no report: the SVG stays with the raw samples)."""
    file_name = name.replace(" ", "-") + ".svg"
    if report_out is None:
        return out_dir / file_name, ""
    return report_out.parent / FLAME_DIR / file_name, f"{FLAME_DIR}/{file_name}"


def keep_flamegraph(svg: Path, target: Path, link: str, title: str,
                    summary: profile.Profile) -> profile.Profile:
    """Tidy the sampler's SVG into ``target``; the profile then links to it."""
    if not svg.exists():
        print(f"no flame graph was written for {title}", flush=True)
        return summary
    profile.tidy_flamegraph(svg, title)
    target.parent.mkdir(parents=True, exist_ok=True)
    if svg != target:
        target.write_bytes(svg.read_bytes())
    print(f"flame graph: {target}", flush=True)
    return replace(summary, flamegraph=link)


async def profile_router(lab: asterisk.AsteriskLab, args: argparse.Namespace,
                         out_dir: Path, report_out: Path | None) -> profile.Profile:
    """The router under a steady call rate, sampled for one step (two samplers:
    collapsed stacks for the tables, and the flame graph)."""
    rate = max(args.rates)
    out, svg = out_dir / "router.txt", out_dir / "router.svg"
    spies: list[subprocess.Popen[bytes]] = []

    def spy(path: str, step_rate: float, pid: int) -> None:
        spies.append(profile.record(pid, args.step_s, out))
        spies.append(profile.record(pid, args.step_s, svg, flamegraph=True))

    config = replace(calls_config(args), rates=(rate,), paths=("router",))
    await calls.run(config, on_row=print_step, lab=lab, on_step=spy)
    for process in spies:
        process.wait(60)
    target, link = flame_path(report_out, out_dir, "router-under-load")
    return keep_flamegraph(svg, target, link, f"hotline-router under load: {rate:g} calls/s, "
                           f"{args.step_s:g} s (py-spy)", profile.summarize(out))


def profile_decisions(args: argparse.Namespace, out_dir: Path,
                      report_out: Path | None) -> profile.Profile:
    """One decision worker at the largest size, sampled from just after its
    start (its imports left out) to its end."""
    hotlines = max(args.hotlines)
    url = asyncio.run(decisions.prepare((hotlines,)))[hotlines]
    out, svg = out_dir / "decisions.txt", out_dir / "decisions.svg"
    result = out_dir / "decisions-worker.json"
    worker = subprocess.Popen([sys.executable, "-m", "tests.bench", "decision-worker", url,
                               str(hotlines), str(args.decision_s), "8", "1",
                               decisions.PATHS[0], str(result)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # py-spy finds the interpreter once it has started
        spies = [profile.record(worker.pid, None, out),
                 profile.record(worker.pid, None, svg, flamegraph=True)]
        worker.wait(args.decision_s + 120)
        for process in spies:  # each stops when the worker exits
            process.wait(60)
    finally:
        if worker.poll() is None:
            worker.kill()
    if worker.returncode != 0 or not result.exists():
        raise RuntimeError("the profiled decision worker did not finish")
    target, link = flame_path(report_out, out_dir, "decision-core")
    return keep_flamegraph(svg, target, link,
                           f"hotline-router decision core: one worker, {hotlines:,} hotlines, "
                           f"8 in flight, {args.decision_s:g} s (py-spy)",
                           profile.summarize(out))


def run(args: argparse.Namespace,
        lab_up: Callable[[], AbstractContextManager[asterisk.AsteriskLab]]) -> int:
    started = time.monotonic()
    command, module_command = command_lines(args.argv)
    rep = report.Report(command=command, module_command=module_command,
                        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                        machine=machine.describe(), load_before=machine.load_average())
    out_dir = Path(tempfile.mkdtemp(prefix="bench-profiles-"))
    out = Path(args.out) if args.out else (DEFAULT_OUT if args.command == "all" else None)
    needs_lab = args.command in ("all", "calls", "concurrency", "profile")
    if needs_lab:
        with lab_up() as lab:
            postgres = asyncio.run(machine.postgres_version(f"{database.SERVER_URL}/postgres"))
            rep.software = (f"{asterisk.cli(lab, 'core show version').split(' built')[0]}; "
                            f"PostgreSQL {postgres}")
            if args.command in ("all", "calls"):
                rep.steps = asyncio.run(calls.run(calls_config(args), on_row=print_step, lab=lab))
            if args.command in ("all", "concurrency"):
                rep.concurrency = asyncio.run(
                    concurrency.run(lab, args.concurrent_calls, phones=args.phones))
                print_concurrency(rep.concurrency)
            if args.command in ("all", "profile"):
                rep.profiles["router under load"] = asyncio.run(
                    profile_router(lab, args, out_dir, out))
    if args.command in ("all", "decisions"):
        rep.decisions = decisions.run(tuple(args.hotlines), seconds=args.decision_s,
                                      on_row=print_decision,
                                      paths=tuple(args.decision_paths.split(",")))
    if args.command in ("all", "profile"):
        rep.profiles["decision core"] = profile_decisions(args, out_dir, out)
    for name, p in rep.profiles.items():
        print_profile(name, p)
    rep.load_after = machine.load_average()
    if out is not None:
        report.write(out, rep)
        print(f"wrote {out}")
    for line in report.targets(rep):
        print(line)
    print(f"done in {time.monotonic() - started:.0f} s; load average now "
          f"{' '.join(f'{v:.2f}' for v in rep.load_after)}")
    return 0


def command_lines(argv: list[str]) -> tuple[str, str]:
    """How to run this again: the make command (when make ran it) and the module call."""
    offset = f"LAB_PORT_OFFSET={ports.OFFSET} " if ports.OFFSET else ""
    module = f"{offset}python -m tests.bench {shlex.join(argv)}"
    if os.environ.get("MAKELEVEL") and argv[:1] == ["all"]:
        extra = f" BENCH_ARGS={shlex.quote(shlex.join(argv[1:]))}" if argv[1:] else ""
        return f"{offset}make bench{extra}", module
    return module, module

"""The three ways a benchmark call reaches the same phones on the same Asterisk.

- ``router``: a 400 number, as in production: the dialplan offers the call to
  hotline-router (StasisBroadcast), whose ``round_robin`` rule picks a phone.
- ``queue``:  native app_queue, ``strategy=rrmemory`` with the same phones as
  members (the queue ``bench-rrmemory`` in dialplan/queues.conf).
- ``dial``:   a plain ``Dial()`` to the first phone: Asterisk's floor.
- ``router-stasis``: the router again, with the dialplan's ``ROUTER_MODE=stasis``
  (``Stasis()`` to one app, no broadcast offer and claim first).

The two native paths are dialplan extensions added to the lab at run time
(``dialplan add extension``), so the production dialplan routes nothing new.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from router import admin
from tests.lab import asterisk
from tests.lab.asterisk import AsteriskLab
from tests.lab.engine import detect

ROUTER_NUMBER = "4009990001"
QUEUE_NUMBER = "97001"
DIAL_NUMBER = "97002"
QUEUE = "bench-rrmemory"
STATE = "Custom:bench-phone"
PATHS = {"router": ROUTER_NUMBER, "router-stasis": ROUTER_NUMBER,
         "queue": QUEUE_NUMBER, "dial": DIAL_NUMBER}
RING_TIMEOUT_S = 15


def cli_batch(lab: AsteriskLab, commands: list[str]) -> str:
    """Several Asterisk CLI commands in one container exec (each exec costs a process start)."""
    script = "; ".join(f"asterisk -rx {shlex.quote(command)}" for command in commands)
    return detect().run("exec", lab.container, "sh", "-c", script).stdout


def install_native(lab: AsteriskLab, dial_strings: list[str]) -> None:
    """Point the queue's members and the plain Dial() at ``dial_strings``."""
    shown = asterisk.cli(lab, f"queue show {QUEUE}")
    commands = [f"queue remove member {member} from {QUEUE}"
                for member in re.findall(r"PJSIP/phones/sip:[^ )]+", shown)]
    # A URI has no device state of its own (Invalid, never rung): give members
    # one that is always "not in use", so the queue rings them like the router.
    commands.append(f"devstate change {STATE} NOT_INUSE")
    commands += [f"queue add member {dial_string} to {QUEUE} "
                 f"penalty 0 as phone{n} state_interface {STATE}"
                 for n, dial_string in enumerate(dial_strings, start=1)]
    # 'r': the caller hears ringback, unanswered, like the router's callers.
    extensions = {
        QUEUE_NUMBER: f"Queue({QUEUE},r,,,{RING_TIMEOUT_S * 2})",
        DIAL_NUMBER: f"Dial({dial_strings[0]},{RING_TIMEOUT_S})",
    }
    for number, application in extensions.items():
        commands.append(f"dialplan add extension {number},1,{application} "
                        "into from-callers replace")
        commands.append(f"dialplan add extension {number},2,Hangup() into from-callers replace")
    cli_batch(lab, commands)


def remove_native(lab: AsteriskLab) -> None:
    cli_batch(lab, [f"dialplan remove extension {number}@from-callers"
                    for number in (QUEUE_NUMBER, DIAL_NUMBER)])


async def install_router_hotline(db: Any, dial_strings: list[str]) -> None:
    """The router's hotline: round_robin over the same phones, each taking many calls."""
    await admin.add_hotline(db, ROUTER_NUMBER, "round_robin", name="bench",
                            ring_timeout_s=RING_TIMEOUT_S)
    for dial_string in dial_strings:
        # capacity 100: like the queue's ringinuse=yes, a phone takes every call
        await admin.add_phone(db, ROUTER_NUMBER, dial_string, capacity=100)


DEFAULT_APPS = "^hotline-router(-.*)?$"  # dialplan/extensions.conf


def use_router_mode(lab: AsteriskLab, mode: str, app: str | None) -> None:
    """Offer 400 calls to ``app`` alone, by StasisBroadcast (as in production) or Stasis().

    ``app`` None restores the dialplan's defaults. Only the benchmark's router
    is offered calls, even when another router of the lab is connected.
    """
    values = {"ROUTER_APP": app or "hotline-router",
              "ROUTER_APPS": f"^{app}$" if app else DEFAULT_APPS, "ROUTER_MODE": mode}
    cli_batch(lab, [f"dialplan set global {name} {value}" for name, value in values.items()])

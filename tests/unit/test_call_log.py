"""What a call writes at the info level: its one "call ended" line, which says
how it went (the steps on the way are debug lines)."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.unit.call_harness import CallLab, hotline
from tests.unit.scripted_ari import Phone

pytestmark = pytest.mark.looptime


def info_lines(logs: Sequence[MutableMapping[str, Any]],
               call_id: str) -> list[MutableMapping[str, Any]]:
    """The call's lines above the debug level."""
    return [line for line in logs
            if line.get("call_id") == call_id and line["log_level"] != "debug"]


async def test_an_answered_call_is_one_info_line_with_its_outcome_and_times(
        tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=2.0)})
    with structlog.testing.capture_logs() as logs:
        call = lab.place_call()
        lab.ari.later(32.0, lambda: lab.ari.hang_up(call.caller.id))
        await lab.all_ended()

    (line,) = info_lines(logs, str(call.id))
    assert line["event"] == "call ended"
    assert (line["outcome"], line["answered_by"], line["phone_id"], line["rung"],
            line["ended_by"]) == ("answered", "PJSIP/a", 1, 1, "caller")
    assert (line["answered_ms"], line["duration_ms"]) == (2_000, 32_000)
    assert (line["dialled"], line["plan"], line["reason"], line["caller_region"]) == (
        "4001234567", "default", "no plan rules", "北京市 010")
    steps = [entry["event"] for entry in logs
             if entry.get("call_id") == str(call.id) and entry["log_level"] == "debug"]
    assert {"call started", "leg dialled", "phone answered", "call bridged", "caller hung up",
            "leg ended", "call state"} <= set(steps)


async def test_a_call_the_router_ends_says_so(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(busy=True),
                                          "PJSIP/b": Phone(busy=True)})
    with structlog.testing.capture_logs() as logs:
        call = lab.place_call()
        await lab.all_ended()

    (line,) = info_lines(logs, str(call.id))
    assert (line["event"], line["outcome"], line["answered_by"], line["rung"],
            line["ended_by"], line["answered_ms"]) == ("call ended", "busy", None, 2, "router",
                                                       None)


async def test_the_phone_hanging_up_first_is_told(tmp_path: Path) -> None:
    lab = CallLab(tmp_path, [hotline()], {"PJSIP/a": Phone(answer_after_s=1.0, talk_s=10.0)})
    with structlog.testing.capture_logs() as logs:
        call = lab.place_call()
        await lab.all_ended()

    (line,) = info_lines(logs, str(call.id))
    assert (line["ended_by"], line["duration_ms"]) == ("phone", 11_000)

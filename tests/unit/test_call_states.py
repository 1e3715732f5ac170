"""The call's transition table, and what an illegal change does."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from router import metrics
from router.call.states import TRANSITIONS, CallState, IllegalTransition, State


def reachable(start: State) -> set[State]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_has_a_row_and_every_call_can_end() -> None:
    assert set(TRANSITIONS) == set(State)
    for state in State:
        if state is not State.ENDED:
            assert State.ENDED in TRANSITIONS[state], state
    assert TRANSITIONS[State.ENDED] == frozenset()


def test_a_new_call_can_reach_every_state_but_adoption() -> None:
    assert reachable(State.ROUTING) == set(State) - {State.ADOPTING}
    assert not any(State.ADOPTING in targets for targets in TRANSITIONS.values())
    assert reachable(State.ADOPTING) == set(State)


@pytest.mark.parametrize(("old", "new"), [
    (State.ROUTING, State.BRIDGED),     # a bridge needs a phone that answered
    (State.BRIDGED, State.RINGING),     # a bridged call does not hunt again
    (State.ANNOUNCING, State.RINGING),  # nor does one told why it ends
    (State.ENDED, State.ROUTING),       # an ended call stays ended
    (State.QUEUED, State.BRIDGED),      # a queued call rings before it talks
])
def test_changes_the_table_forbids(old: State, new: State) -> None:
    assert new not in TRANSITIONS[old]


def test_an_illegal_change_raises_in_strict_mode() -> None:
    state = CallState(structlog.get_logger("test"), State.BRIDGED)
    with pytest.raises(IllegalTransition, match="bridged -> ringing"):
        state.to(State.RINGING)


def test_outside_strict_mode_an_illegal_change_is_logged_counted_and_made(
        monkeypatch: Any) -> None:
    monkeypatch.setattr(CallState, "strict", False)
    counter = metrics.ILLEGAL_TRANSITIONS.labels(from_state="ended", to_state="routing")
    before = counter._value.get()
    with structlog.testing.capture_logs() as logs:
        state = CallState(structlog.get_logger("test"), State.ENDED)
        state.to(State.ROUTING)
    assert state.current is State.ROUTING  # the call goes on
    assert counter._value.get() == before + 1
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("illegal call state transition", "error"), ("call state", "debug")]


def test_staying_in_a_state_is_no_change() -> None:
    with structlog.testing.capture_logs() as logs:
        state = CallState(structlog.get_logger("test"), State.RINGING)
        state.to(State.RINGING)
    assert logs == []

"""Unit tests run without the lab; the call core's refuse illegal state changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from router.call.states import CallState


@pytest.fixture(autouse=True)
def strict_call_states() -> Iterator[None]:
    """A state change the transition table forbids fails the test that makes it."""
    CallState.strict = True
    yield
    CallState.strict = False

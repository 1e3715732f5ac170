"""Empty call bridges left in Asterisk (a failed delete) are swept; nothing else is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from router import reconcile
from router.ari import AriClient
from tests.lab.asterisk import AsteriskLab

pytestmark = pytest.mark.lab


@pytest.fixture
async def ari(lab: AsteriskLab) -> AsyncIterator[AriClient]:
    client = AriClient(lab.ari_url, lab.ari_user, lab.ari_password)
    yield client
    await client.close()


async def test_only_old_empty_bridges_of_no_live_call_are_destroyed(
        ari: AriClient, monkeypatch: pytest.MonkeyPatch) -> None:
    debris, live, foreign = str(uuid.uuid4()), uuid.uuid4(), "operator-conference"
    for bridge_id in (debris, str(live), foreign):
        await ari.create_bridge(bridge_id)
    monkeypatch.setattr(reconcile, "EMPTY_BRIDGE_GRACE_S", 0.0)
    try:
        swept = await reconcile.sweep_bridges(ari, {str(live)})
        left = {b["id"] for b in await ari.list_bridges()}
        assert debris not in left
        assert {str(live), foreign} <= left  # a live call's bridge; not one of ours
        assert swept >= 1
    finally:
        for bridge_id in (debris, str(live), foreign):
            await ari.destroy_bridge(bridge_id)


async def test_a_fresh_empty_bridge_is_left_alone(ari: AriClient) -> None:
    being_filled = str(uuid.uuid4())
    await ari.create_bridge(being_filled)
    try:
        await reconcile.sweep_bridges(ari, set())
        assert being_filled in {b["id"] for b in await ari.list_bridges()}
    finally:
        await ari.destroy_bridge(being_filled)

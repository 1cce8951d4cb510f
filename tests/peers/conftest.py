"""Fixtures for the peer fidelity tests: an emulator, hygiene checks, and one peer bot.

Every test runs the emulator and the peer in the same event loop. Waits are on the peer's
own signals (recorded by its handlers) or on the emulator's log, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tether.emulator import Emulator, EmulatorConfig

from .harness import PEERS, Hygiene, PeerBot

#: Heartbeat interval (ms): short enough that heartbeats flow during a test, long enough
#: that neither peer's timers are strained when the loop is busy.
HEARTBEAT_MS = 1000


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A running emulator: 3 guilds, a short heartbeat, otherwise Discord's defaults."""
    config = EmulatorConfig(heartbeat_interval_ms=HEARTBEAT_MS, server_close_timeout_s=1.0)
    async with Emulator(guilds=3, seed=0, config=config) as emulator:
        yield emulator


@pytest.fixture
async def hygiene() -> AsyncIterator[Hygiene]:
    """Loop-error and peer-warning recorder (checked by ``PeerBot.stop_cleanly``)."""
    watcher = Hygiene()
    watcher.install(asyncio.get_running_loop())
    yield watcher
    watcher.uninstall()


@pytest.fixture(params=PEERS, ids=lambda cls: cls.name)
async def peer(
    request: pytest.FixtureRequest, emu: Emulator, hygiene: Hygiene
) -> AsyncIterator[PeerBot]:
    """One peer bot wired to ``emu`` (not started); closed at teardown if a test failed."""
    bot: PeerBot = request.param(emu, hygiene)
    yield bot
    await bot.close()

"""Fixtures for end-to-end tests: the real client against the real emulator on loopback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import tether
from tether.emulator import Emulator, EmulatorConfig

#: Heartbeat interval used by the end-to-end tests (ms): short, so zombies show quickly.
HEARTBEAT_MS = 400
#: Identify concurrency window (Discord: 5 s), scaled down on both sides for fast tests.
IDENTIFY_WINDOW = 0.5


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A running emulator with 3 guilds and a short heartbeat interval."""
    config = EmulatorConfig(
        heartbeat_interval_ms=HEARTBEAT_MS,
        reconnect_close_delay_s=0.5,
        identify_window_s=IDENTIFY_WINDOW,
    )
    async with Emulator(guilds=3, seed=7, config=config) as emulator:
        yield emulator


class Recorder:
    """Records every event a client hands to handlers, and message ids in arrival order."""

    def __init__(self, client: tether.Client) -> None:
        self.events: list[tether.Event] = []
        self.message_ids: list[int] = []
        self.changed = asyncio.Event()
        client.on(tether.Event)(self._any)
        client.on("MESSAGE_CREATE")(self._message)

    def _any(self, event: tether.Event) -> None:
        if not isinstance(event, tether.Dispatch):
            self.events.append(event)
            self.changed.set()

    def _message(self, event: tether.Dispatch) -> None:
        self.message_ids.append(int(event.data["id"]))
        self.changed.set()

    def of(self, kind: type[Any]) -> list[Any]:
        """Recorded lifecycle events of one class."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checking after each recorded event."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def make_client(
    emu: Emulator,
) -> AsyncIterator[Callable[..., tuple[tether.Client, Recorder]]]:
    """Build clients wired to ``emu`` (stopped automatically at the end of the test)."""
    clients: list[tether.Client] = []

    def build(**kwargs: Any) -> tuple[tether.Client, Recorder]:
        options: dict[str, Any] = dict(
            api_url=emu.api_url,
            guild_ready_timeout=2.0,
            hello_timeout=3.0,
            rng=random.Random(1),
            reconnect_base=0.2,
            stable_after=0.0,
            identify_window=IDENTIFY_WINDOW,
        )
        options.update(kwargs)
        token = options.pop("token", emu.token)
        client = tether.Client(token, **options)
        clients.append(client)
        return client, Recorder(client)

    yield build
    for client in clients:
        await client.stop(timeout=5)


async def send_messages(emu: Emulator, count: int, *, start: int = 0) -> list[int]:
    """Create ``count`` messages through the emulator; return their ids in order."""
    channel = emu.world.text_channel_ids()[0]
    ids = []
    for n in range(start, start + count):
        message = await emu.send_message(channel, f"m{n}")
        ids.append(int(message["id"]))
    return ids

"""Fixtures for the emulator's tests: a running emulator and raw WebSocket test clients.

No sleeps: every wait is a receive with a timeout or an ``emu.wait_for`` on the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tether.emulator import Emulator, EmulatorConfig

from .rawclient import Connect, RawGateway


@pytest.fixture
def config() -> EmulatorConfig:
    """Fast timings for tests; individual tests adjust fields."""
    return EmulatorConfig(
        heartbeat_interval_ms=1000,
        session_expiry_s=30,
        identify_window_s=0,
        reconnect_close_delay_s=0.2,
        server_close_timeout_s=1.0,
    )


@pytest.fixture
async def emu(config: EmulatorConfig) -> AsyncIterator[Emulator]:
    """A running emulator with 3 guilds."""
    async with Emulator(guilds=3, seed=1, config=config) as emulator:
        yield emulator
    errors = emulator.log.find("internal_error")
    assert not errors, errors[0].get("traceback")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def connect(emu: Emulator, http: aiohttp.ClientSession) -> AsyncIterator[Connect]:
    """Factory: open a raw gateway connection (closed at teardown)."""
    opened: list[RawGateway] = []

    async def _connect(
        url: str | None = None,
        *,
        compress: str | None = None,
        query: dict[str, str] | None = None,
    ) -> RawGateway:
        params = {"v": "10", "encoding": "json"}
        if compress is not None:
            params["compress"] = compress
        params.update(query or {})
        ws = await http.ws_connect(url or emu.gateway_url, params=params, max_msg_size=0)
        client = RawGateway(ws, compress)
        opened.append(client)
        return client

    yield _connect
    for client in opened:
        if not client.ws.closed:
            await client.ws.close()

"""Fixtures for the REST tests: an emulator with small, real buckets and REST clients for it.

Every test here runs with DEBUG logging captured and ends by checking that no log record
holds the bot token or an interaction token (the Authorization header is never logged).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tether.emulator import DEFAULT_TOKEN, BucketSpec, Emulator, EmulatorConfig, RestLimits
from tether.emulator.ratelimit import DEFAULT_ROUTE_BUCKETS
from tether.rest import LimiterConfig, RestClient

MSG = "POST /channels/{channel_id}/messages"
#: What an interaction token made by the emulator looks like.
INTERACTION_TOKEN = re.compile(r"emu\.[A-Za-z0-9_-]{40,}")
#: Small windows so that tests run fast, and a global limit scaled down with them.
GLOBAL_LIMIT, GLOBAL_PERIOD = 200, 0.5


@pytest.fixture(autouse=True)
def _no_secret_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        assert DEFAULT_TOKEN not in text, record.name
        assert not INTERACTION_TOKEN.search(text), record.name


@pytest.fixture
def limits() -> RestLimits:
    """The emulator's REST limits; tests change them before the first request."""
    fast = {
        route: BucketSpec(spec.name, spec.limit, min(spec.window_s, 0.25))
        for route, spec in DEFAULT_ROUTE_BUCKETS.items()
    }
    return RestLimits(
        routes=fast,
        global_limit=GLOBAL_LIMIT,
        global_window_s=GLOBAL_PERIOD,
        default_limit=50,
        default_window_s=0.5,
        ban_threshold=10_000,
    )


@pytest.fixture
async def emu(limits: RestLimits) -> AsyncIterator[Emulator]:
    """A running emulator: 3 guilds, small REST buckets."""
    config = EmulatorConfig(heartbeat_interval_ms=1000, identify_window_s=0)
    async with Emulator(guilds=3, seed=3, config=config, rest_limits=limits) as emulator:
        yield emulator


@pytest.fixture
async def make_rest(emu: Emulator) -> AsyncIterator[Callable[..., RestClient]]:
    """Build REST clients for ``emu`` (closed at teardown); keyword arguments go to
    :class:`LimiterConfig` (``token=`` replaces the token)."""
    made: list[RestClient] = []

    def build(token: str | None = None, **config: Any) -> RestClient:
        settings: dict[str, Any] = {
            "global_limit": GLOBAL_LIMIT, "global_period": GLOBAL_PERIOD, "retry_base": 0.02,
        }  # fmt: skip
        settings.update(config)
        client = RestClient(
            token or emu.token, api_url=emu.api_url, limits=LimiterConfig(**settings)
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.close()


@pytest.fixture
def rest(make_rest: Callable[..., RestClient]) -> RestClient:
    """One REST client with the default test settings."""
    return make_rest()


class LogSignal(logging.Handler):
    """Records ``tether.rest`` log records and wakes waiters (the client logs each 429 as it
    handles it, so a test can wait for the client, not only for the emulator)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.changed.set()

    async def wait(self, text: str, timeout: float = 5.0) -> logging.LogRecord:
        """The first record whose message contains ``text`` (waiting for it if needed)."""
        async with asyncio.timeout(timeout):
            while True:
                for record in self.records:
                    if text in record.getMessage():
                        return record
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def rest_log() -> Iterator[LogSignal]:
    """The ``tether.rest`` logger's records, awaitable."""
    signal = LogSignal()
    logger = logging.getLogger("tether.rest")
    logger.addHandler(signal)
    yield signal
    logger.removeHandler(signal)

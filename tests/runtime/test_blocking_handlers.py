"""A handler that blocks the event loop must not cost the connection, and must be named.

The emulator runs in a thread of its own here, so that it keeps serving (and judging
heartbeats) while a handler blocks the test's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import tether
from tether.emulator import Emulator, EmulatorConfig

T = TypeVar("T")
HEARTBEAT_MS = 500


class ThreadedEmulator:
    """An Emulator running on its own loop in its own thread."""

    def __init__(self, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test emulator")
        self.emu = Emulator(guilds=2, seed=3, config=EmulatorConfig(**config))

    def start(self) -> None:
        self.thread.start()
        self.run(self.emu.start())

    def stop(self) -> None:
        self.run(self.emu.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the emulator's loop and wait for it (blocking the caller)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the emulator's loop without waiting."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def stream(self, count: int, seconds: float) -> list[int]:
        """(On the emulator's loop) send ``count`` messages spread over ``seconds``."""
        channel = self.emu.world.text_channel_ids()[0]
        ids = []
        for n in range(count):
            ids.append(int((await self.emu.send_message(channel, f"m{n}"))["id"]))
            await asyncio.sleep(seconds / count)
        return ids


class Seen(list[int]):
    """Message ids in arrival order, with a wait for a target count (no polling)."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.done = asyncio.Event()

    def append(self, item: int) -> None:
        super().append(item)
        if len(self) >= self.target:
            self.done.set()

    async def wait(self, timeout: float) -> None:
        await asyncio.wait_for(self.done.wait(), timeout)


@pytest.fixture
def threaded_emu() -> Iterator[ThreadedEmulator]:
    emu = ThreadedEmulator(heartbeat_interval_ms=HEARTBEAT_MS, identify_window_s=0.5)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
async def client(threaded_emu: ThreadedEmulator) -> AsyncIterator[tether.Client]:
    bot = tether.Client(
        threaded_emu.emu.token,
        api_url=threaded_emu.emu.api_url,
        intents=tether.Intents.default() | tether.Intents.MESSAGE_CONTENT,
        rng=random.Random(5),
        blocked_threshold=0.5,
        identify_window=0.5,
        guild_ready_timeout=2.0,
    )
    yield bot
    await bot.stop(timeout=10)


def blocking(kind: str, seconds: float) -> Callable[[], None]:
    def sleep() -> None:
        time.sleep(seconds)

    def spin() -> None:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:  # pure-Python CPU work, holds the GIL in bursts
            n = (n * 31 + 7) % 1_000_003

    return {"sleep": sleep, "cpu": spin}[kind]


@pytest.mark.parametrize("kind", ["sleep", "cpu"])
async def test_a_blocked_loop_costs_no_heartbeat_no_event_and_is_named_while_blocked(
    threaded_emu: ThreadedEmulator,
    client: tether.Client,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="tether.handlers")
    seen = Seen(40)
    reports: list[tether.HandlerBlocked] = []
    block_for = 3 * HEARTBEAT_MS / 1000
    work = blocking(kind, block_for)
    span: dict[str, float] = {}

    async def stubborn_handler(event: tether.Dispatch) -> None:
        seen.append(int(event.data["id"]))
        if event.data["content"] == "m0":
            span["start"] = time.time()
            work()
            span["end"] = time.time()

    client.on("MESSAGE_CREATE")(stubborn_handler)
    client.on(tether.HandlerBlocked)(reports.append)
    await client.start()
    await client.wait_until_ready(timeout=10)
    identifies = threaded_emu.emu.identify_count
    streaming = threaded_emu.spawn(threaded_emu.stream(40, 2 * block_for))
    ids = await asyncio.wrap_future(streaming)
    await seen.wait(10)
    assert seen == ids  # every event once, in order
    emu = threaded_emu.emu
    assert emu.identify_count == identifies and emu.resume_count == 0
    assert emu.log.count("close_sent") == 0 and emu.log.count("disconnect") == 0
    beats = [b for b in emu.log.find("heartbeat") if b.get("d") is not None]
    seqs = [b.get("d") for b in beats]
    assert seqs == sorted(seqs)  # heartbeats kept flowing with the received seq
    assert all(b.get("d") <= b.get("expected") for b in beats)  # (dispatches may be in flight)
    # during the block, beats carried seqs of events the blocked loop had not handled yet
    assert any(b.get("d") > seqs[0] for b in beats)
    # The warning named the handler and was logged while the loop was still blocked.
    warnings = [r for r in caplog.records if "blocked" in r.getMessage()]
    assert warnings, "no blocked-loop warning"
    first = warnings[0]
    assert "stubborn_handler" in first.getMessage() and "MESSAGE_CREATE" in first.getMessage()
    assert span["start"] < first.created < span["end"]
    assert reports and reports[0].handler is not None
    assert reports[0].handler.endswith("stubborn_handler") and reports[0].event == "MESSAGE_CREATE"
    assert (
        "work()" in reports[0].stack
        or "time.sleep" in reports[0].stack
        or "spin" in reports[0].stack
    )
    # Repeated reports back off: 0.5 s, 1 s (and 2 s only past 2 s of blockage).
    assert len(reports) <= 3


async def test_a_raising_handler_is_logged_and_nothing_else_notices(
    threaded_emu: ThreadedEmulator, client: tether.Client, caplog: pytest.LogCaptureFixture
) -> None:
    good = Seen(5)

    async def broken(event: tether.Dispatch) -> None:
        raise RuntimeError("boom")

    client.on("MESSAGE_CREATE")(broken)
    client.on("MESSAGE_CREATE")(lambda e: good.append(int(e.data["id"])))
    await client.start()
    await client.wait_until_ready(timeout=10)
    ids = await asyncio.wrap_future(threaded_emu.spawn(threaded_emu.stream(5, 0.05)))
    await good.wait(10)
    assert good == ids
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "boom" in str(r.exc_info)]
    assert len(errors) == 5
    assert "broken" in errors[0].getMessage() and "MESSAGE_CREATE" in errors[0].getMessage()
    assert client.stats.handlers["MESSAGE_CREATE"].errors == 5
    assert threaded_emu.emu.log.count("disconnect") == 0
    assert client.state is tether.ShardState.READY


async def test_a_flood_into_a_slow_handler_stays_bounded_and_loses_nothing(
    threaded_emu: ThreadedEmulator,
) -> None:
    bound = 100
    bot = tether.Client(
        threaded_emu.emu.token,
        api_url=threaded_emu.emu.api_url,
        rng=random.Random(5),
        max_queued_events=bound,
        max_running_handlers=5,
        identify_window=0.5,
    )
    count = 2000
    seen = Seen(count)

    async def slow(event: tether.Dispatch) -> None:
        seen.append(int(event.data["id"]))
        await asyncio.sleep(0.002)

    bot.on("MESSAGE_CREATE")(slow)
    try:
        await bot.start()
        await bot.wait_until_ready(timeout=10)
        flood = threaded_emu.spawn(threaded_emu.stream(count, 0.0))  # as fast as it can
        ids = await asyncio.wrap_future(flood)
        await seen.wait(60)
        assert sorted(seen) == sorted(ids) and len(seen) == count  # nothing lost or doubled
        stats = bot.stats
        assert stats.paused_reads > 0  # the socket reader really waited
        assert stats.max_queue_depth <= bound + 5  # queue bounded (a message may add a few)
        assert stats.running <= 5
        assert threaded_emu.emu.identify_count == 1
    finally:
        await bot.stop(timeout=10)

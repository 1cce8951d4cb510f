"""Sharding, identify concurrency, the session-start budget, restart-safe sessions (issue 6).

Spec sections 6.2 (identify concurrency), 6.3 (session starts), 9 (sharding). The identify
window (5 s on Discord) is scaled down on both sides so that 16 shards start in seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import tether
from tether.emulator import Emulator, EmulatorConfig
from tether.sharding import MemoryStore, shard_for

WINDOW = 0.3  # scaled identify window (Discord: 5 s)


class Counted(list[Any]):
    """A list that sets ``done`` once it holds ``target`` items (wait on it, never poll)."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.done = asyncio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        if len(self) >= self.target:
            self.done.set()

    async def wait(self, timeout: float) -> None:
        await asyncio.wait_for(self.done.wait(), timeout)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(heartbeat_interval_ms=1000, identify_window_s=WINDOW)
    async with Emulator(guilds=24, seed=11, config=config) as emulator:
        yield emulator


def client_for(emu: Emulator, **kwargs: Any) -> tether.Client:
    options: dict[str, Any] = dict(
        api_url=emu.api_url,
        identify_window=WINDOW,
        guild_ready_timeout=2.0,
        rng=random.Random(2),
        reconnect_base=0.2,
        stable_after=0.0,
    )
    options.update(kwargs)
    return tether.Client(emu.token, **options)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_sixteen_shards_identify_one_per_bucket_per_window(
    emu: Emulator, concurrency: int
) -> None:
    emu.config.max_concurrency = concurrency
    client = client_for(emu, shards=16)
    try:
        await client.start()
        await client.wait_until_ready(timeout=60)
        identifies = emu.log.find("identify")
        assert sorted(r.get("shard")[0] for r in identifies) == list(range(16))
        assert emu.log.count("identify_rejected") == 0  # none refused by the emulator
        by_bucket: dict[int, list[float]] = {}
        for record in identifies:
            by_bucket.setdefault(record.get("shard")[0] % concurrency, []).append(record.time)
        for times in by_bucket.values():
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(gap >= WINDOW * 0.95 for gap in gaps), gaps
        # Every guild is on the shard the formula names, and each shard's Ready counted them.
        assert all(s.state is tether.ShardState.READY for s in client.shards.values())
        for gid in emu.world.guild_ids():
            assert client.shard_for(gid) == shard_for(gid, 16)
        # Resumes are not held back by identify pacing: all 16 resume at once.
        mark = emu.log.mark()
        emu.faults.close(4000)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await emu.log.wait_for(
            lambda r: r.kind == "resume" and emu.log.count("resume", since=mark) >= 16,
            since=mark,
            timeout=10,
        )
        await client.wait_until_ready(timeout=10)
        resumes = emu.log.find("resume", since=mark)
        assert len(resumes) == 16
        if concurrency == 1:
            # Paced like IDENTIFYs, 16 resumes would span at least 15 windows (4.5 s here).
            assert max(r.time for r in resumes) - started < 15 * WINDOW * 2 / 3
        assert emu.log.count("identify", since=mark) == 0
    finally:
        await client.stop()


async def test_shards_auto_and_shard_ids_split_across_clients(emu: Emulator) -> None:
    emu.config.shards = 4
    emu.config.max_concurrency = 4
    auto = client_for(emu, shards="auto")
    try:
        await auto.start()
        await auto.wait_until_ready(timeout=20)
        assert sorted(auto.shards) == [0, 1, 2, 3]
    finally:
        await auto.stop()
    halves = [client_for(emu, shards=4, shard_ids=ids) for ids in ([0, 1], [2, 3])]
    seen = Counted(len(emu.world.guild_ids()))
    for client in halves:
        client.on("MESSAGE_CREATE")(lambda e: seen.append((e.shard_id, int(e.data["guild_id"]))))
    try:
        for client in halves:
            await client.start()
        for client in halves:
            await client.wait_until_ready(timeout=20)
        guilds = emu.world.guild_ids()
        for gid in guilds:
            await emu.send_message(emu.world.text_channel_ids(gid)[0], "hi")
        await seen.wait(10)
        assert sorted(g for _s, g in seen) == sorted(guilds)  # each exactly once, across both
        assert all(sid == shard_for(gid, 4) for sid, gid in seen)
    finally:
        for client in halves:
            await client.stop()


async def test_direct_messages_arrive_on_shard_zero(emu: Emulator) -> None:
    client = client_for(emu, shards=3, intents=tether.Intents.default())
    try:
        await client.start()
        await client.wait_until_ready(timeout=20)
        user = next(iter(emu.world.guild(emu.world.guild_ids()[0]).members.values())).user
        channel = emu.world.dm_channel(user.id)
        waiter = asyncio.ensure_future(client.wait_for("MESSAGE_CREATE", timeout=5))
        await asyncio.sleep(0)
        await emu.send_message(channel.id, "psst", author=user.id)
        event = await waiter
        assert event.shard_id == 0 and "guild_id" not in event.data
    finally:
        await client.stop()


async def test_budget_of_three_refuses_the_fourth_identify(emu: Emulator) -> None:
    emu.config.session_start_remaining = 3
    client = client_for(emu, invalid_session_wait=(0.0, 0.05))
    lost: list[tether.SessionLost] = []
    client.on(tether.SessionLost)(lost.append)
    await client.start()
    try:
        await client.wait_until_ready(timeout=10)
        for _ in (1, 2):
            emu.faults.invalid_session(False)
            await emu.log.wait_for("identify", since=emu.log.mark(), timeout=10)
            await client.wait_until_ready(timeout=10)
        assert emu.identify_count == 3 and emu.config.session_start_remaining == 0
        emu.faults.invalid_session(False)
        with pytest.raises(tether.SessionBudgetExhausted) as info:
            await client.wait_stopped()
        assert info.value.remaining == 0
        assert "session-start budget" in str(info.value)
        assert emu.identify_count == 3  # the 4th was never sent
        assert emu.config.session_start_remaining == 0  # and the budget was not touched
        assert client.state is tether.ShardState.FATALLY_CLOSED
    finally:
        await client.stop()


async def test_start_is_refused_when_fewer_starts_remain_than_shards(emu: Emulator) -> None:
    emu.config.session_start_remaining = 2
    client = client_for(emu, shards=4)
    await client.start()
    try:
        with pytest.raises(tether.SessionBudgetExhausted) as info:
            await client.wait_until_ready(timeout=10)
        assert info.value.needed == 4
        assert emu.identify_count == 0
    finally:
        await client.stop()


async def test_sharding_required_stops_cleanly_and_a_restart_with_more_shards_works(
    emu: Emulator,
) -> None:
    emu.config.max_guilds_per_shard = 15  # 24 guilds: one session is too many
    emu.config.shards = 1
    single = client_for(emu, shards="auto")
    await single.start()
    try:
        with pytest.raises(tether.ShardingRequired):
            await single.wait_stopped()
        # re-planned from /gateway/bot a bounded number of times, never a crash loop
        assert emu.log.count("connect") <= 4
    finally:
        await single.stop()
    emu.config.shards = 2
    double = client_for(emu, shards="auto")
    try:
        await double.start()
        await double.wait_until_ready(timeout=20)
        assert sorted(double.shards) == [0, 1]
    finally:
        await double.stop()


async def test_stop_resumable_with_a_store_then_a_new_client_resumes(emu: Emulator) -> None:
    store = MemoryStore()
    first = client_for(emu, session_store=store)
    handled = Counted(5)
    first.on("MESSAGE_CREATE")(lambda e: handled.append(e.seq))
    await first.start()
    await first.wait_until_ready(timeout=10)
    channel = emu.world.text_channel_ids()[0]
    for n in range(5):
        await emu.send_message(channel, f"a{n}")
    await handled.wait(5)
    await first.stop(resumable=True)
    [record] = store.state.sessions.values()
    assert record.seq == handled[-1]  # the stored seq is what handlers saw, never ahead
    assert emu.token not in repr(store.state.to_dict())
    second = client_for(emu, session_store=store)
    resumed: list[tether.Resumed] = []
    second.on(tether.Resumed)(resumed.append)
    try:
        await second.start()
        await second.wait_until_ready(timeout=10)
        assert emu.identify_count == 1 and resumed
    finally:
        await second.stop()
    assert store.state.sessions == {}  # a final (non-resumable) stop forgets the session


async def test_sigkill_mid_stream_then_restart_resumes_with_the_file_store(
    emu: Emulator, tmp_path: Path
) -> None:
    store, out = tmp_path / "sessions.json", tmp_path / "handled.txt"
    script = Path(__file__).with_name("bot_process.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    async def launch() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            emu.api_url,
            emu.token,
            str(store),
            str(out),
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )

    async def connected(proc: asyncio.subprocess.Process) -> str:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        return line.decode().strip()

    def lines() -> list[tuple[int, int]]:
        if not out.exists():
            return []
        return [tuple(map(int, ln.split())) for ln in out.read_text().splitlines() if ln]  # type: ignore[misc]

    channel = emu.world.text_channel_ids()[0]
    first = await launch()
    assert await connected(first) == "connected resumed=False"
    sent = [int((await emu.send_message(channel, f"m{n}"))["id"]) for n in range(30)]
    await until(lambda: len(lines()) >= 30, 10)
    # The store is written at most store_interval (50 ms here) after a change: wait for a
    # write that holds the session, then kill the process mid-stream.
    await until(lambda: store.exists() and '"session_id"' in store.read_text(), 10)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    killed_at = len(lines())
    sent += [int((await emu.send_message(channel, f"m{n}"))["id"]) for n in range(30, 60)]
    second = await launch()
    try:
        how = await connected(second)
        assert how == "connected resumed=True", (
            store.read_text(),
            [r.as_dict() for r in emu.log.find(lambda r: r.kind.startswith("resume"))],
        )
        await until(lambda: {i for _s, i in lines()} == set(sent), 15)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    assert emu.identify_count == 1  # the second process never identified
    before, after = lines()[:killed_at], lines()[killed_at:]
    assert len({i for _s, i in before}) == len(before) and len({i for _s, i in after}) == len(after)
    stored_seq = min(s for s, _i in after) - 1
    assert all(s > stored_seq for s, _i in after)
    twice = {i for _s, i in before} & {i for _s, i in after}
    # Only events after the stored seq may be handled again (replayed), never one before it.
    assert all(s > stored_seq for s, i in before if i in twice)


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Wait for another *process* to write a file: there is no event to wait on, so poll."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the writer is a separate process
            await asyncio.sleep(0.02)

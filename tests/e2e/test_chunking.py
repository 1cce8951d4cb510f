"""client.request_members against the emulator (spec 2.10, 2.16, 4.4, 10.7, 14 F36-F39):
chunks gathered by nonce, user_ids and not_found, RATE_LIMITED, silence, a stream cut
half-way or paused, large guilds trimmed in GUILD_CREATE, and chunking before Ready."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import tether
from tether.emulator import Emulator

from .conftest import Recorder

Build = Callable[..., tuple[tether.Client, Recorder]]


@pytest.fixture
def big(emu: Emulator) -> int:
    """A large guild of 6000 members, made on demand (trimmed in GUILD_CREATE: spec 4.4)."""
    emu.config.member_chunk_size = 1000
    return emu.world.add_guild(members=6000).id


async def started(make_client: Build, **options: object) -> tether.Client:
    options.setdefault("intents", tether.Intents.all())
    client, _ = make_client(**options)
    await client.start()
    await client.wait_until_ready(timeout=10)
    return client


class TestRequests:
    """Spec 2.10, 10.7: the answer is every chunk of the request's nonce."""

    async def test_full_list_in_chunks(self, emu: Emulator, make_client: Build, big: int) -> None:
        client = await started(make_client)
        guild = client.cache.guild(big)
        assert guild is not None and guild.large and guild.member_count == 6001
        assert len(guild.members) < 6001  # spec 4.4: a large guild's list is trimmed
        result = await client.request_members(big, timeout=10)
        assert result.chunk_count == 7 and len(result.members) == 6001
        assert {m.user.id for m in result.members} == set(emu.world.guild(big).members)
        assert len(guild.members) == 6001  # kept in the cache too
        # equal, not identical: the cache materializes members from its table on each read
        assert result.members[-1] == guild.members[result.members[-1].user.id]

    async def test_user_ids_and_not_found(self, emu: Emulator, make_client: Build) -> None:
        client = await started(make_client)
        gid = emu.world.guild_ids()[0]
        present = list(emu.world.guild(gid).members)[:2]
        result = await client.request_members(gid, user_ids=[*present, 123], presences=True)
        assert {m.user.id for m in result.members} == set(present)
        assert result.not_found == (123,)  # spec 2.10: a short id comes back as an integer

    async def test_query_prefix_and_limit(
        self, emu: Emulator, make_client: Build, big: int
    ) -> None:
        client = await started(make_client)
        prefix = "m"  # generated members are called m<guild>x<index>
        result = await client.request_members(big, query=prefix, limit=7)
        assert len(result.members) == 7
        assert all(m.user.username.startswith(prefix) for m in result.members)

    async def test_rate_limited(self, emu: Emulator, make_client: Build) -> None:
        emu.config.member_request_window_s = 30.0
        client = await started(make_client)
        gid = emu.world.guild_ids()[0]
        await client.request_members(gid)
        with pytest.raises(tether.MemberRequestRateLimited) as caught:
            await client.request_members(gid)
        assert 0 < caught.value.retry_after <= 30

    async def test_never_answered_times_out_with_a_clear_error(
        self, emu: Emulator, make_client: Build
    ) -> None:
        client = await started(make_client, intents=tether.Intents.default())  # no GUILD_MEMBERS
        gid = emu.world.guild_ids()[0]
        with pytest.raises(tether.MemberRequestTimeout) as caught:
            await client.request_members(gid, timeout=0.5)
        error = caught.value
        assert error.chunk_count is None and error.guild_id == gid
        assert "no chunk at all" in str(error) and "GUILD_MEMBERS" in str(error)
        assert len(client.cache.member_requests) == 0  # nothing left open

    async def test_cut_half_way(self, emu: Emulator, make_client: Build, big: int) -> None:
        client = await started(make_client)
        emu.faults.member_chunks(after=2, cut=True)
        with pytest.raises(tether.MemberRequestTimeout) as caught:
            await client.request_members(big, timeout=1.0)
        error = caught.value
        assert (error.chunks_received, error.chunk_count, error.members_received) == (2, 7, 2000)
        assert "2 of 7 chunks" in str(error)
        again = await client.request_members(big, timeout=10)  # the next one is whole
        assert len(again.members) == 6001

    async def test_paused_stream_completes(
        self, emu: Emulator, make_client: Build, big: int
    ) -> None:
        client = await started(make_client)
        emu.faults.member_chunks(after=1, pause_s=0.4)
        loop = asyncio.get_running_loop()
        began = loop.time()
        result = await client.request_members(big, timeout=10)
        assert len(result.members) == 6001 and loop.time() - began >= 0.4

    async def test_concurrent_requests_do_not_mix(
        self, emu: Emulator, make_client: Build, big: int
    ) -> None:
        client = await started(make_client)
        small = emu.world.guild_ids()[0]
        both = await asyncio.gather(
            client.request_members(big, timeout=10), client.request_members(small, timeout=10)
        )
        assert [len(r.members) for r in both] == [6001, emu.world.guild(small).member_count]

    async def test_arguments_are_checked(self, emu: Emulator, make_client: Build) -> None:
        client = await started(make_client)
        with pytest.raises(tether.ConfigError):
            await client.request_members(1, user_ids=range(101))
        with pytest.raises(tether.ConfigError):
            await client.request_members(1, query="a", user_ids=[1])


class TestLargeGuilds:
    """Spec 4.4 and 14 F39: 100k members, trimmed lists, chunking at startup."""

    async def test_hundred_thousand_members(self, emu: Emulator, make_client: Build) -> None:
        # Building and sending 100 chunks of 1000 members takes the emulator, which shares
        # this event loop, well over the suite's 0.4 s heartbeat on a loaded 2-core machine;
        # the test is about the volume, so it uses a heartbeat interval a real gateway might.
        emu.config.heartbeat_interval_ms = 10_000
        gid = emu.world.add_guild(members=100_000).id
        client = await started(make_client)
        guild = client.cache.guild(gid)
        assert guild is not None and guild.large and guild.member_count == 100_001
        assert set(guild.members) == {emu.world.bot.id}  # over 75k: only the bot is listed
        result = await client.request_members(gid, timeout=30)
        assert result.chunk_count == 101 and len(guild.members) == 100_001

    async def test_ready_waits_for_startup_chunking(
        self, emu: Emulator, make_client: Build, big: int
    ) -> None:
        members_at_ready: list[int] = []
        client, recorder = make_client(intents=tether.Intents.all(), chunk_guilds_at_startup=True)
        client.on(tether.Ready)(
            lambda _e: members_at_ready.append(len(client.cache.guild(big).members))
        )
        await client.start()
        await client.wait_until_ready(timeout=10)
        await recorder.wait(lambda: bool(members_at_ready))
        assert members_at_ready == [6001]

    async def test_startup_chunking_is_bounded(
        self, emu: Emulator, make_client: Build, big: int
    ) -> None:
        emu.faults.member_chunks(after=1, cut=True)
        client, recorder = make_client(
            intents=tether.Intents.all(), chunk_guilds_at_startup=True, chunk_timeout=0.5
        )
        await client.start()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await client.wait_until_ready(timeout=10)
        await recorder.wait(lambda: bool(recorder.of(tether.Ready)))
        assert 0.4 <= loop.time() - began < 5
        guild = client.cache.guild(big)
        assert guild is not None and 1000 <= len(guild.members) < 6001

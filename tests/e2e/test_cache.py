"""client.cache against the real emulator (spec 4.3-4.5, 10): after Ready it equals the
emulator's world, every change the world makes reaches it, and a re-identify in the middle
of the guild stream leaves nothing stale and nothing missing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import tether
from tether.emulator import Emulator, EmulatorConfig
from tether.emulator.world import CHANNEL_TEXT, CHANNEL_VOICE

from .cacheview import cache_view, cached_message_view, message_view, sync, world_view
from .conftest import HEARTBEAT_MS, IDENTIFY_WINDOW, Recorder

Build = Callable[..., tuple[tether.Client, Recorder]]


async def ready_client(make_client: Build, **options: Any) -> tuple[tether.Client, Recorder]:
    client, recorder = make_client(intents=tether.Intents.all(), **options)
    await client.start()
    await client.wait_until_ready(timeout=10)
    return client, recorder


class TestAfterReady:
    """Spec 4.3, 10.3: the guild stream fills the cache with the world."""

    async def test_cache_equals_the_world(self, emu: Emulator, make_client: Build) -> None:
        client, recorder = await ready_client(make_client)
        assert cache_view(client.cache) == world_view(emu.world)
        [ready] = recorder.of(tether.Ready)
        assert (ready.guilds_expected, ready.guilds_received, ready.guilds_missing) == (3, 3, 0)
        me = client.cache.me
        assert me is not None and me.id == emu.world.bot.id

    async def test_ready_comes_with_the_last_guild_not_after_a_silence(
        self, emu: Emulator, make_client: Build
    ) -> None:
        client, _ = make_client(intents=tether.Intents.all(), guild_ready_timeout=30.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.start()
        await client.wait_until_ready(timeout=10)
        assert loop.time() - started < 5.0  # far below the 30 s silence timeout

    async def test_progress_is_observable_while_the_stream_runs(
        self, emu: Emulator, make_client: Build
    ) -> None:
        for _ in range(5):
            emu.world.add_guild()
        emu.config.guild_create_delay_s = 0.05
        client, recorder = make_client(intents=tether.Intents.all())
        await client.start()
        seen: set[tuple[int, int]] = set()
        async with asyncio.timeout(10):
            while not recorder.of(tether.Ready):
                progress = client.guild_progress().get(0)
                if progress is not None and progress.expected:
                    seen.add((progress.received, progress.expected))
                await asyncio.sleep(0.01)
        assert any(0 < received < 8 for received, _ in seen), seen
        assert client.guild_progress()[0].complete
        [ready] = recorder.of(tether.Ready)
        assert ready.guilds_received == 8 and client.cache.counts()["guilds"] == 8

    async def test_intents_not_asked_for_leave_parts_empty_and_say_so(
        self, emu: Emulator, make_client: Build
    ) -> None:
        client, _ = make_client(intents=tether.Intents.GUILDS)
        await client.start()
        await client.wait_until_ready(timeout=10)
        cache = client.cache
        assert len(cache.guilds) == 3 and all(g.channels for g in cache.guilds.values())
        assert all(not g.members and not g.presences for g in cache.guilds.values())
        assert set(cache.explain()) >= {tether.CacheFlags.MEMBERS, tether.CacheFlags.PRESENCES}

    async def test_flags_keep_structure_without_members(
        self, emu: Emulator, make_client: Build
    ) -> None:
        client, _ = await ready_client(make_client, cache_flags=tether.CacheFlags.STRUCTURE)
        view = world_view(emu.world)
        got = cache_view(client.cache)
        for gid, guild in view["guilds"].items():
            assert got["guilds"][gid]["channels"] == guild["channels"]
            assert got["guilds"][gid]["roles"] == guild["roles"]
            assert got["guilds"][gid]["members"] == {}
        assert client.cache.users == {}


class TestWorldChanges:
    """Spec 10.3-10.12: every change the world makes, dispatched, ends up in the cache."""

    async def test_every_kind_of_change(self, emu: Emulator, make_client: Build) -> None:
        client, _ = await ready_client(make_client)
        changes, world = emu.changes, emu.world
        gid = world.guild_ids()[0]
        guild = world.guild(gid)
        humans = [uid for uid, m in guild.members.items() if not m.user.bot]
        text = next(c for c in guild.channels if c.type == CHANNEL_TEXT)
        voice = next(c for c in guild.channels if c.type == CHANNEL_VOICE)

        changes.update_guild(gid, name="Renamed Guild")
        role = changes.create_role(gid, "Fresh", color=5)
        changes.update_role(gid, role.id, name="Fresher")
        changes.update_member(gid, humans[0], nick="nicky", roles=[role.id])
        changes.delete_role(gid, guild.roles[1].id)
        new_channel = changes.create_channel(gid, "brand-new")
        changes.update_channel(new_channel.id, topic="now with a topic")
        thread = changes.create_thread(text.id, "a thread")
        changes.update_channel(thread.id, name="renamed thread")
        changes.delete_channel(guild.threads[0].id)
        joined = changes.add_member(gid)
        changes.set_status(gid, joined.user.id, "dnd")
        changes.remove_member(gid, humans[1])
        changes.rename_user(humans[2], username="renamed-user")
        changes.set_status(gid, humans[2], "offline")
        changes.set_voice(gid, humans[0], voice.id)
        changes.set_voice(gid, humans[2], voice.id)
        changes.set_voice(gid, humans[2], None)
        changes.send_message(text.id, "hello")
        changes.delete_channel(new_channel.id)
        await sync(emu, client)
        assert cache_view(client.cache) == world_view(world)

    async def test_messages_partial_edit_delete_and_bulk(
        self, emu: Emulator, make_client: Build
    ) -> None:
        client, _ = await ready_client(make_client, message_cache_size=3)
        changes = emu.changes
        channel = emu.world.text_channel_ids()[0]
        sent = [changes.send_message(channel, f"m{i}") for i in range(5)]
        changes.edit_message(sent[3]["id"], "edited")  # a partial MESSAGE_UPDATE
        changes.delete_messages([sent[4]["id"]])
        changes.delete_messages([sent[0]["id"], sent[1]["id"]])  # bulk
        await sync(emu, client)
        assert cached_message_view(client.cache) == message_view(changes.messages, 2)
        cached = client.cache.message(int(sent[3]["id"]))
        assert cached is not None and cached.timestamp is not None  # kept from the create
        assert cache_view(client.cache) == world_view(emu.world)  # last_message_id too

    async def test_outage_recovery_and_leaving(self, emu: Emulator, make_client: Build) -> None:
        client, recorder = await ready_client(make_client)
        first, second = emu.world.guild_ids()[:2]
        emu.faults.guild_outage(first, now=True)
        await recorder.wait(lambda: bool(recorder.of(tether.GuildUnavailable)))
        await sync(emu, client)
        kept = client.cache.guild(first)
        assert kept is not None and kept.unavailable and kept.members  # data kept
        assert first in client.cache.unavailable_guilds
        emu.faults.guild_recover(first)
        await recorder.wait(lambda: bool(recorder.of(tether.GuildAvailable)))
        back = client.cache.guild(first)
        assert back is not None and not back.unavailable
        await emu.leave_guild(second)
        await sync(emu, client)
        assert client.cache.guild(second) is None
        assert cache_view(client.cache) == world_view(emu.world)

    async def test_a_guild_after_ready_fires_guild_available(
        self, emu: Emulator, make_client: Build
    ) -> None:
        late = emu.world.guild_ids()[2]
        emu.faults.never_stream(late)
        client, recorder = await ready_client(make_client, guild_ready_timeout=0.5)
        [ready] = recorder.of(tether.Ready)
        assert (ready.guilds_missing, ready.timed_out) == (1, True)
        assert client.cache.guild(late) is None and late in client.cache.unavailable_guilds
        emu.faults.guild_recover(late)
        await recorder.wait(lambda: bool(recorder.of(tether.GuildAvailable)))
        assert [e.guild_id for e in recorder.of(tether.GuildAvailable)] == [late]
        assert cache_view(client.cache) == world_view(emu.world)


class TestReidentify:
    """Spec 4.3: a new session mid-stream replaces each guild as its GUILD_CREATE arrives;
    nothing stale stays, nothing is missing, and the cache never holds both copies."""

    async def test_reidentify_in_the_middle_of_the_stream(self) -> None:
        config = EmulatorConfig(
            heartbeat_interval_ms=HEARTBEAT_MS,
            identify_window_s=IDENTIFY_WINDOW,
            guild_create_delay_s=0.03,
        )
        async with Emulator(guilds=24, seed=3, config=config) as emu:
            client = tether.Client(
                emu.token,
                api_url=emu.api_url,
                intents=tether.Intents.all(),
                guild_ready_timeout=2.0,
                identify_window=IDENTIFY_WINDOW,
                invalid_session_wait=(0.0, 0.05),
            )
            peaks = {"guilds": 0, "users": 0}
            halfway, ready = asyncio.Event(), asyncio.Event()
            readies: list[tether.Ready] = []

            def sample(_event: tether.Dispatch) -> None:
                peaks["guilds"] = max(peaks["guilds"], len(client.cache.guilds))
                peaks["users"] = max(peaks["users"], len(client.cache.users))
                if client.guild_progress()[0].received >= 8:
                    halfway.set()

            def on_ready(event: tether.Ready) -> None:
                readies.append(event)
                ready.set()

            client.on("GUILD_CREATE")(sample)
            client.on(tether.Ready)(on_ready)
            await client.start()
            try:
                await asyncio.wait_for(halfway.wait(), 10)
                assert not client.guild_progress()[0].complete  # mid-stream
                emu.faults.invalid_session(resumable=False)
                # While no session is live: the bot is removed from one guild, another is
                # renamed, a member leaves; none of this is dispatched to anyone.
                ids = emu.world.guild_ids()
                emu.world.remove_guild(ids[0])
                emu.world.guild(ids[1]).name = "Renamed while away"
                third = emu.world.guild(ids[2])
                del third.members[next(u for u, m in third.members.items() if not m.user.bot)]
                await asyncio.wait_for(ready.wait(), 15)
                assert len(readies) == 1 and readies[0].guilds_expected == 23
                assert cache_view(client.cache) == world_view(emu.world)
                assert client.cache.unavailable_guilds == set()
                assert peaks["guilds"] <= 24
                assert peaks["users"] <= len(emu.world.users) + 1
            finally:
                await client.stop(timeout=5)


async def test_shared_users_are_one_record(make_client: Build, emu: Emulator) -> None:
    """Users who are members of several guilds are one kept user: every member's ``user``
    is the same live record while it is referenced (and equal records after that)."""
    client, _ = await ready_client(make_client)
    cache = client.cache
    shared = [
        uid for uid in cache.users if sum(uid in g.members for g in cache.guilds.values()) > 1
    ]
    assert shared, "the seeded world shares users across guilds"
    for uid in shared:
        records = [g.members[uid].user for g in cache.guilds.values() if uid in g.members]
        assert all(record is cache.users[uid] for record in records)

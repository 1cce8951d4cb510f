"""Property (hypothesis): any sequence of world changes, applied in the emulator and streamed
to a real client, leaves ``client.cache`` equal to the emulator's world (spec 10), across
lost connections (resume and replay) and new sessions (a new READY and guild stream).

Each example runs a fresh emulator and client on loopback; an operation is a name and two
numbers that pick its targets among whatever exists when it runs (so every drawn sequence
is valid). After the sequence, a marker dispatch proves the client applied everything.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tether
from tether.emulator import Emulator, EmulatorConfig
from tether.emulator.world import CHANNEL_PUBLIC_THREAD, CHANNEL_TEXT, CHANNEL_VOICE, Guild

from .cacheview import cache_view, cached_message_view, sync, world_view

MESSAGE_CACHE = 4
STATUSES = ("online", "idle", "dnd", "offline")

OPS = (
    "add_member", "remove_member", "nick", "roles", "rename_user", "status", "voice",
    "create_role", "update_role", "delete_role", "create_channel", "update_channel",
    "delete_channel", "create_thread", "delete_thread", "update_guild", "send_message",
    "edit_message", "delete_message", "bulk_delete", "join_guild", "leave_guild",
    "drop", "reidentify",
)  # fmt: skip

operations = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 10_000), st.integers(0, 10_000)),
    min_size=1,
    max_size=30,
)


def _pick(items: list[Any], n: int) -> Any:
    return items[n % len(items)] if items else None


class Scenario:
    """Runs drawn operations against one emulator, remembering every message sent."""

    def __init__(self, emu: Emulator, client: tether.Client) -> None:
        self.emu = emu
        self.client = client
        self.sent: list[int] = []

    def guild(self, n: int) -> Guild | None:
        world = self.emu.world
        return world.guild(_pick(world.guild_ids(), n)) if world.guilds else None

    async def run(self, name: str, a: int, b: int) -> None:
        emu, changes = self.emu, self.emu.changes
        guild = self.guild(a)
        if guild is None:
            return
        gid = guild.id
        humans = [u for u, m in guild.members.items() if not m.user.bot]
        everyone = list(guild.members)
        roles = [r.id for r in guild.roles if r.id != gid]
        texts = [c.id for c in guild.channels if c.type == CHANNEL_TEXT]
        voices = [c.id for c in guild.channels if c.type == CHANNEL_VOICE]
        threads = [t.id for t in guild.threads if t.type == CHANNEL_PUBLIC_THREAD]
        if name == "add_member":
            changes.add_member(gid)
        elif name == "remove_member" and humans:
            changes.remove_member(gid, _pick(humans, b))
        elif name == "nick":
            changes.update_member(gid, _pick(everyone, b), nick=None if b % 3 == 0 else f"n{b}")
        elif name == "roles":
            chosen = [r for i, r in enumerate(roles) if b >> i & 1]
            changes.update_member(gid, _pick(everyone, a + b), roles=chosen)
        elif name == "rename_user":
            changes.rename_user(_pick(everyone, b), username=f"renamed{b}")
        elif name == "status":
            changes.set_status(gid, _pick(everyone, b), STATUSES[a % len(STATUSES)])
        elif name == "voice":
            target = None if b % 3 == 0 or not voices else _pick(voices, a)
            changes.set_voice(gid, _pick(everyone, b), target)
        elif name == "create_role":
            changes.create_role(gid, f"role{b}", color=b)
        elif name == "update_role" and roles:
            changes.update_role(gid, _pick(roles, b), name=f"upd{b}", color=a)
        elif name == "delete_role" and roles:
            changes.delete_role(gid, _pick(roles, b))
        elif name == "create_channel":
            kind = CHANNEL_VOICE if b % 4 == 0 else CHANNEL_TEXT
            changes.create_channel(gid, f"ch{b}", type=kind)
        elif name == "update_channel" and texts:
            changes.update_channel(_pick(texts, b), name=f"renamed{b}", topic=f"t{a}")
        elif name == "delete_channel" and len(texts) > 1:
            changes.delete_channel(_pick(texts, b))
        elif name == "create_thread" and texts:
            changes.create_thread(_pick(texts, b), f"thread{b}")
        elif name == "delete_thread" and threads:
            changes.delete_channel(_pick(threads, b))
        elif name == "update_guild":
            changes.update_guild(gid, name=f"guild{b}")
        elif name == "send_message" and texts:
            message = changes.send_message(_pick(texts, b), f"message {b}")
            self.sent.append(int(message["id"]))
        elif name == "edit_message" and changes.messages:
            changes.edit_message(_pick(sorted(changes.messages), b), f"edited {b}")
        elif name == "delete_message" and changes.messages:
            changes.delete_messages([_pick(sorted(changes.messages), b)])
        elif name == "bulk_delete" and changes.messages:
            by_channel: dict[str, list[int]] = {}
            for mid, message in sorted(changes.messages.items()):
                by_channel.setdefault(message["channel_id"], []).append(mid)
            changes.delete_messages(_pick(list(by_channel.values()), b)[:2])
        elif name == "join_guild":
            await emu.join_guild()
        elif name == "leave_guild" and len(emu.world.guilds) > 1:
            await emu.leave_guild(gid)
        elif name == "drop":  # TCP lost: changes made meanwhile are replayed on RESUME
            resumed = asyncio.ensure_future(self.client.wait_for(tether.Resumed, timeout=10))
            await asyncio.sleep(0)
            emu.faults.drop()
            changes.update_guild(gid, name=f"while away {b}")
            await resumed
        elif name == "reidentify":  # the session is gone: a new READY and guild stream
            ready = asyncio.ensure_future(self.client.wait_for(tether.Ready, timeout=10))
            await asyncio.sleep(0)
            emu.faults.invalid_session(resumable=False)
            await ready

    def expected_messages(self) -> dict[int, Any]:
        """The newest messages the cache can hold, minus deleted ones and left guilds."""
        world = self.emu.world
        kept = {}
        for mid in self.sent[-MESSAGE_CACHE:]:
            message = self.emu.changes.messages.get(mid)
            if message is None or int(message["guild_id"]) not in world.guilds:
                continue
            kept[mid] = (
                int(message["channel_id"]),
                int(message["author"]["id"]),
                message["content"],
                message["edited_timestamp"] is not None,
            )
        return kept


async def scenario(ops: list[tuple[str, int, int]]) -> None:
    config = EmulatorConfig(heartbeat_interval_ms=5000, identify_window_s=0.0)
    async with Emulator(guilds=2, seed=5, config=config) as emu:
        client = tether.Client(
            emu.token,
            api_url=emu.api_url,
            intents=tether.Intents.all(),
            message_cache_size=MESSAGE_CACHE,
            identify_window=0.0,
            handler_grace=0.1,
            invalid_session_wait=(0.0, 0.01),
            reconnect_base=0.01,
            stable_after=0.0,
        )
        await client.start()
        try:
            await client.wait_until_ready(timeout=10)
            runner = Scenario(emu, client)
            for op in ops:
                await runner.run(*op)
            await sync(emu, client)
            assert cache_view(client.cache) == world_view(emu.world)
            assert cached_message_view(client.cache) == runner.expected_messages()
            assert client.cache.ignored == 0
        finally:
            await client.stop(timeout=5)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_any_sequence_of_world_changes_keeps_the_cache_equal_to_the_world(
    ops: list[tuple[str, int, int]],
) -> None:
    asyncio.run(scenario(ops))


def test_a_long_fixed_sequence_covers_every_operation() -> None:
    """Every operation at least once, twice over, in one run (no luck involved)."""
    ops = [(name, i * 7 + 1, i * 13 + 2) for i, name in enumerate(OPS * 2)]
    asyncio.run(scenario(ops))

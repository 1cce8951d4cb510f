"""The emulator's world and a client's cache, both as plain comparable data.

``world_view`` says what a cache that keeps everything must hold, given what the gateway
sends (spec 4.4: every member of a guild that is not large, with GUILD_PRESENCES).
``cache_view`` reads the same shape from :class:`tether.cache.Cache`. Tests compare them
with ``==`` and get a readable diff.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tether
from tether.emulator import Emulator
from tether.emulator.world import World

SYNC_EVENT = "TETHER_TEST_SYNC"


def world_view(world: World) -> dict[str, Any]:
    guilds: dict[int, Any] = {}
    for guild in world.guilds.values():
        members = dict(guild.members.items())
        guilds[guild.id] = {
            "name": guild.name,
            "owner_id": guild.owner_id,
            "member_count": guild.member_count,
            "roles": {
                r.id: (r.name, r.color, r.position, int(r.permissions), r.hoist, r.mentionable)
                for r in guild.roles
            },
            "channels": {
                c.id: (c.type, c.name, c.position, c.parent_id, c.topic, c.last_message_id)
                for c in (*guild.channels, *guild.threads)
            },
            "members": {
                uid: (
                    m.user.username,
                    m.user.global_name,
                    m.nick,
                    tuple(sorted(m.roles)),
                    m.joined_ms,
                )
                for uid, m in members.items()
            },
            "presences": {uid: m.status for uid, m in members.items() if m.status != "offline"},
            "voice": {
                uid: m.voice_channel_id
                for uid, m in members.items()
                if m.voice_channel_id is not None
            },
        }
    users = {uid for g in guilds.values() for uid in g["members"]}
    return {"guilds": guilds, "users": users}


def cache_view(cache: tether.Cache) -> dict[str, Any]:
    guilds: dict[int, Any] = {}
    for guild in cache.guilds.values():
        guilds[guild.id] = {
            "name": guild.name,
            "owner_id": guild.owner_id,
            "member_count": guild.member_count,
            "roles": {
                r.id: (r.name, r.color, r.position, r.permissions, r.hoist, r.mentionable)
                for r in guild.roles.values()
            },
            "channels": {
                c.id: (c.type, c.name, c.position, c.parent_id, c.topic, c.last_message_id)
                for c in guild.channels.values()
            },
            "members": {
                uid: (
                    m.user.username,
                    m.user.global_name,
                    m.nick,
                    tuple(sorted(m.roles)),
                    None if m.joined_at is None else round(m.joined_at.timestamp() * 1000),
                )
                for uid, m in guild.members.items()
            },
            "presences": {uid: p.status for uid, p in guild.presences.items()},
            "voice": {uid: v.channel_id for uid, v in guild.voice_states.items()},
        }
    users = {uid for uid in cache.users if any(uid in g.members for g in cache.guilds.values())}
    return {"guilds": guilds, "users": users}


def message_view(messages: dict[int, dict[str, Any]], last: int) -> dict[int, Any]:
    """The newest ``last`` messages the emulator sent: id -> (channel, author, content, edited)."""
    kept = sorted(messages)[-last:] if last else []
    return {
        mid: (
            int(messages[mid]["channel_id"]),
            int(messages[mid]["author"]["id"]),
            messages[mid]["content"],
            messages[mid]["edited_timestamp"] is not None,
        )
        for mid in kept
    }


def cached_message_view(cache: tether.Cache) -> dict[int, Any]:
    return {
        m.id: (m.channel_id, m.author.id, m.content, m.edited_timestamp is not None)
        for m in cache.messages.values()
    }


async def sync(emu: Emulator, client: tether.Client, timeout: float = 5.0) -> None:
    """Wait until the client has applied every dispatch the emulator sent so far.

    A marker dispatch goes out after them; the cache consumer runs before waiters, so when
    the waiter sees the marker, every earlier event is in the cache.
    """
    waiter = asyncio.ensure_future(client.wait_for(SYNC_EVENT, timeout=timeout))
    await asyncio.sleep(0)
    await emu.dispatch(SYNC_EVENT, {"marker": True})
    await waiter

"""Cache updates for the session, guilds, roles, channels and threads (spec 4.3, 10.3-10.5).

One small function per dispatch name, each ``(cache, raw d, shard id) -> None``.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

from tether.cache.flags import CacheFlags
from tether.cache.payloads import PresencePayload, StreamMember, member_extra
from tether.cache.store import copy_user
from tether.models import (
    GUILD_FIELDS,
    MEMBER_EXTRA_FIELDS,
    Guild,
    MemberExtra,
    MemberTable,
    Presence,
    Role,
    ThreadMember,
)

if TYPE_CHECKING:
    from tether.cache.store import Cache

_THREADS = int(CacheFlags.THREADS)
_CHANNELS = int(CacheFlags.CHANNELS)

__all__ = [
    "channel_create",
    "channel_delete",
    "channel_pins_update",
    "guild_create",
    "guild_delete",
    "guild_role_create",
    "guild_role_delete",
    "guild_update",
    "ready",
    "thread_delete",
    "thread_list_sync",
    "thread_member_update",
    "thread_members_update",
]


def ready(cache: Cache, raw: bytes, shard_id: int) -> None:
    """READY: a new session. Guilds it lists are unavailable until their GUILD_CREATE
    replaces them (data kept meanwhile, no wipe); guilds of this shard it does not list
    were left while the client was away, and are dropped."""
    payload = cache.decoders.ready.decode(raw)
    me = payload.user
    if cache.me is None or cache.me.id != me.id:
        cache.me = me
    else:
        copy_user(cache.me, me)
    cache.users.update(me)
    listed = {g.id for g in payload.guilds}
    for guild_id, guild in list(cache.guilds.items()):
        if guild_id in listed:
            guild.unavailable = True
        elif guild.shard_id == shard_id:
            cache.remove_guild(guild_id)
    cache.unavailable_guilds |= listed


_ROLES, _MEMBERS = int(CacheFlags.ROLES), int(CacheFlags.MEMBERS)
_VOICE, _PRESENCES = int(CacheFlags.VOICE_STATES), int(CacheFlags.PRESENCES)
_CHANNEL_PARTS = ((int(CacheFlags.CHANNELS), "channels"), (int(CacheFlags.THREADS), "threads"))


def guild_create(cache: Cache, raw: bytes, shard_id: int) -> None:
    """GUILD_CREATE: insert or replace the guild with everything kept (spec 10.3)."""
    payload = cache.decoders.guild_create.decode(raw)
    guild_id = payload.id
    if payload.unavailable:
        _mark_unavailable(cache, guild_id)
        return
    fields = {name: getattr(payload, name) for name in GUILD_FIELDS}
    guild = Guild(
        **fields,
        joined_at=payload.joined_at,
        large=payload.large,
        member_count=payload.member_count,
        shard_id=shard_id,
        members=MemberTable(cache.users),
    )
    kept = cache.kept_bits
    if kept & _ROLES:
        guild.roles = {role.id: role for role in payload.roles}
    old = cache.guilds.get(guild_id)
    if kept & _MEMBERS:
        _fill_members(cache, guild, payload.members)
    if kept & _VOICE:
        states = guild.voice_states
        for state in payload.voice_states:
            if state.channel_id is not None:
                states[state.user_id] = state
    if kept & _PRESENCES:
        _fill_presences(cache, guild, payload.presences)
    for part, name in _CHANNEL_PARTS:
        if kept & part:
            for channel in getattr(payload, name):
                cache.index_channel(guild, channel)
    channels = guild.channels
    for channel in channels.values():  # a parent's id: the one int object kept
        parent = channels.get(channel.parent_id) if channel.parent_id is not None else None
        if parent is not None:
            channel.parent_id = parent.id
    cache.guilds[guild_id] = guild
    cache.unavailable_guilds.discard(guild_id)
    if old is not None:
        cache.release_guild(old, guild)


def _fill_presences(cache: Cache, guild: Guild, entries: list[PresencePayload]) -> None:
    """Presences of the guild stream; the common ones (no activity) are shared records."""
    ids: list[int] = []
    kept: list[Presence] = []
    shared = cache.shared_presences
    make = cache.make_presence
    for entry in entries:
        uid = entry.user.id
        if not uid or entry.status == "offline":
            continue
        if entry.activities:
            presence = make(entry)
        else:
            client = entry.client_status
            key = (
                (entry.status,)
                if client is None
                else (entry.status, client.desktop, client.mobile, client.web)
            )
            presence = shared.get(key) or make(entry)
        if presence is not None:
            ids.append(uid)
            kept.append(presence)
    guild.presences.build(ids, kept)


_USER, _ID = attrgetter("user"), attrgetter("id")
_JOINED, _ROLES_OF, _NICK = attrgetter("joined_at"), attrgetter("roles"), attrgetter("nick")
_RARE = attrgetter(*MEMBER_EXTRA_FIELDS)
_RARE_DEFAULTS = _RARE(MemberExtra())


def _fill_members(cache: Cache, guild: Guild, members_in: list[StreamMember]) -> None:
    """The hot path of the guild stream: keep the users, then build the guild's member
    table from columns taken off the payloads (no member object is made)."""
    users = list(map(_USER, members_in))
    ids = list(map(_ID, users))
    if 0 in ids:  # a member without a user id is skipped
        members_in = [p for p, uid in zip(members_in, ids, strict=True) if uid]
        users = list(map(_USER, members_in))
        ids = list(map(_ID, users))
    if len(set(ids)) != len(ids):  # listed twice: the last entry counts
        keep = sorted({uid: i for i, uid in enumerate(ids)}.values())
        members_in = [members_in[i] for i in keep]
        users = [users[i] for i in keep]
        ids = [ids[i] for i in keep]
    extra_refs = cache._extra_refs
    for uid in cache.users.fill_many(users):
        extra_refs[uid] = extra_refs.get(uid, 0) + 1
    count = len(ids)
    nicks = list(map(_NICK, members_in))
    rare = list(map(_RARE, members_in))
    guild.members.build(
        ids,
        joined=list(map(_JOINED, members_in)),
        roles=list(map(_ROLES_OF, members_in)),
        nicks=None if nicks.count(None) == count else nicks,
        extras=None
        if rare.count(_RARE_DEFAULTS) == count
        else {
            uid: member_extra(p)  # type: ignore[misc]
            for uid, p, fields in zip(ids, members_in, rare, strict=True)
            if fields != _RARE_DEFAULTS
        },
    )


def _mark_unavailable(cache: Cache, guild_id: int) -> None:
    guild = cache.guilds.get(guild_id)
    if guild is not None:
        guild.unavailable = True
    cache.unavailable_guilds.add(guild_id)


def guild_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_UPDATE: merge the top-level fields; keep channels and members."""
    payload = cache.decoders.guild_update.decode(raw)
    guild = cache.guilds.get(payload.id)
    if guild is None:
        return
    for name in GUILD_FIELDS:
        setattr(guild, name, getattr(payload, name))
    if cache.kept_bits & _ROLES and isinstance(payload.roles, list):
        guild.roles = {role.id: role for role in payload.roles}


def guild_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_DELETE: ``unavailable`` marks an outage (data kept); otherwise the bot left."""
    payload = cache.decoders.guild_delete.decode(raw)
    if payload.unavailable:
        _mark_unavailable(cache, payload.id)
    else:
        cache.remove_guild(payload.id)


def guild_role_create(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_ROLE_CREATE and GUILD_ROLE_UPDATE: insert or replace the role."""
    payload = cache.decoders.role_event.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    role: Role = payload.role
    if guild is not None and role.id:
        guild.roles[role.id] = role


def guild_role_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_ROLE_DELETE: drop the role, and take it off every member that had it."""
    payload = cache.decoders.role_delete.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    if guild is None:
        return
    role_id = payload.role_id
    guild.roles.pop(role_id, None)
    guild.members.drop_role(role_id)


def channel_create(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """CHANNEL_CREATE / CHANNEL_UPDATE / THREAD_CREATE / THREAD_UPDATE: insert or replace."""
    channel = cache.decoders.channel.decode(raw)
    if not channel.id:
        return
    kept = cache.kept_bits
    if not kept & (_THREADS if channel.is_thread else _CHANNELS):
        return
    if channel.guild_id is None:
        cache.index_channel(None, channel)
        return
    guild = cache.guilds.get(channel.guild_id)
    if guild is not None:
        cache.index_channel(guild, channel)


def channel_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """CHANNEL_DELETE: drop the channel and its threads."""
    channel = cache.decoders.channel.decode(raw)
    guild = cache.guilds.get(channel.guild_id) if channel.guild_id is not None else None
    cache.unindex_channel(guild, channel.id)


def channel_pins_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """CHANNEL_PINS_UPDATE: the channel's ``last_pin_timestamp``."""
    payload = cache.decoders.channel_pins.decode(raw)
    channel = cache.channels.get(payload.channel_id)
    if channel is not None:
        channel.last_pin_timestamp = payload.last_pin_timestamp


def thread_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """THREAD_DELETE: drop the thread."""
    payload = cache.decoders.thread_delete.decode(raw)
    guild = cache.guilds.get(payload.guild_id) if payload.guild_id is not None else None
    cache.unindex_channel(guild, payload.id)


def thread_list_sync(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """THREAD_LIST_SYNC: the active threads of some channels (all when ``channel_ids`` is
    absent); threads of those channels that are not listed are dropped."""
    payload = cache.decoders.thread_list_sync.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    if guild is None:
        return
    scope = None if payload.channel_ids is None else set(payload.channel_ids)
    listed = {t.id for t in payload.threads}
    for thread in list(guild.channels.values()):
        in_scope = scope is None or thread.parent_id in scope
        if thread.is_thread and in_scope and thread.id not in listed:
            cache.unindex_channel(guild, thread.id)
    for thread in payload.threads:
        cache.index_channel(guild, thread)
    for entry in payload.members:
        joined = guild.channels.get(entry.id or 0)
        if joined is not None:
            joined.member = _thread_member(entry)


def thread_member_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """THREAD_MEMBER_UPDATE: the bot's own membership of a thread."""
    payload = cache.decoders.thread_member_update.decode(raw)
    thread = cache.channels.get(payload.id or 0)
    if thread is not None:
        thread.member = _thread_member(payload)


def thread_members_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """THREAD_MEMBERS_UPDATE: the member count, and the bot joining or leaving."""
    payload = cache.decoders.thread_members_update.decode(raw)
    thread = cache.channels.get(payload.id)
    if thread is None:
        return
    thread.member_count = payload.member_count
    me = cache.me.id if cache.me is not None else None
    for entry in payload.added_members:
        if me is not None and entry.user_id == me:
            thread.member = _thread_member(entry)
    if me is not None and me in payload.removed_member_ids:
        thread.member = None


def _thread_member(entry: Any) -> ThreadMember:
    return ThreadMember(join_timestamp=entry.join_timestamp, flags=entry.flags)

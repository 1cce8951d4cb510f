"""Cache updates for members, users, presences and voice (spec 10.6, 10.7, 10.9, 10.10, 10.12).

One small function per dispatch name, each ``(cache, raw d, shard id) -> None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tether.cache.flags import CacheFlags
from tether.cache.payloads import to_member
from tether.cache.store import copy_user
from tether.models import Member, Presence, Snowflake, VoiceState

if TYPE_CHECKING:
    from tether.cache.store import Cache

_MEMBERS = int(CacheFlags.MEMBERS)
_PRESENCES = int(CacheFlags.PRESENCES)
_VOICE_STATES = int(CacheFlags.VOICE_STATES)

__all__ = [
    "guild_member_add",
    "guild_member_remove",
    "guild_member_update",
    "guild_members_chunk",
    "presence_update",
    "rate_limited",
    "user_update",
    "voice_state_update",
]

_MEMBER_UPDATE_FIELDS = (
    "roles",
    "joined_at",
    "nick",
    "avatar",
    "premium_since",
    "communication_disabled_until",
    "flags",
    "pending",
    "deaf",
    "mute",
)
_VOICE_FIELDS = VoiceState.__struct_fields__


def guild_member_add(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_MEMBER_ADD: keep the member; ``member_count`` +1 when it is new."""
    payload = cache.decoders.member_add.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    if guild is None or not payload.user.id:
        return
    is_new = payload.user.id not in guild.members
    cache.put_member(guild, to_member(payload))
    if is_new:
        guild.member_count += 1


def guild_member_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_MEMBER_UPDATE: change the fields present; a member not yet kept is added."""
    payload = cache.decoders.member_update.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    uid = payload.user.id
    if guild is None or not uid:
        return
    member = guild.members.get(uid)
    if member is None:
        member = Member(user=payload.user)
        _merge_member(cache, guild.id, member, payload)
        cache.put_member(guild, member)
        return
    if member.user != payload.user:
        cache.update_user(payload.user)
    _merge_member(cache, guild.id, member, payload)


def _merge_member(cache: Cache, guild_id: Snowflake, member: Member, payload: object) -> None:
    changes: dict[str, object] = {}
    for name in _MEMBER_UPDATE_FIELDS:
        value = getattr(payload, name)
        if value is msgspec.UNSET:
            continue
        if name == "roles":
            value = cache.role_set(guild_id, value) if value else ()
        changes[name] = value
    member.set(**changes)


def guild_member_remove(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_MEMBER_REMOVE: forget the member, its presence and voice state; count -1."""
    payload = cache.decoders.member_remove.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    if guild is None:
        return
    uid = payload.user.id
    cache.remove_member(guild, uid)
    guild.presences.pop(uid, None)
    guild.voice_states.pop(uid, None)
    guild.member_count = max(0, guild.member_count - 1)


def guild_members_chunk(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """GUILD_MEMBERS_CHUNK: keep the members (and presences); feed the open request."""
    payload = cache.decoders.members_chunk.decode(raw)
    guild = cache.guilds.get(payload.guild_id)
    kept = cache.kept_bits
    members = [to_member(p) for p in payload.members if p.user.id]
    if guild is not None and kept & _MEMBERS:
        members = cache.put_members(guild, members)
    presences: dict[Snowflake, Presence] = {}
    for entry in payload.presences:
        presence = cache.make_presence(entry)
        if presence is not None and entry.user.id:
            presences[entry.user.id] = presence
    if guild is not None and kept & _PRESENCES:
        guild.presences.update(presences)
    cache.member_requests.chunk(
        guild_id=payload.guild_id,
        nonce=payload.nonce,
        index=payload.chunk_index,
        count=payload.chunk_count,
        members=members,
        not_found=payload.not_found,
        presences=presences,
    )


def rate_limited(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """RATE_LIMITED for op 8: ends the matching member request."""
    payload = cache.decoders.rate_limited.decode(raw)
    if payload.opcode == 8:
        meta = payload.meta
        cache.member_requests.rate_limited(
            guild_id=meta.guild_id, nonce=meta.nonce, retry_after=payload.retry_after
        )


def presence_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """PRESENCE_UPDATE: the user's fields that are present (the user may be only an id),
    and the member's presence in that guild."""
    payload = cache.decoders.presence.decode(raw)
    uid = payload.user.id
    if not uid:
        return
    cache.update_partial_user(payload.user)
    if not cache.kept_bits & _PRESENCES or payload.guild_id is None:
        return
    guild = cache.guilds.get(payload.guild_id)
    if guild is None:
        return
    presence = cache.make_presence(payload)
    if presence is None:
        guild.presences.pop(uid, None)
    else:
        guild.presences[uid] = presence


def voice_state_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """VOICE_STATE_UPDATE: where the user is in voice (none: left), and its member."""
    payload = cache.decoders.voice_state.decode(raw)
    guild = cache.guilds.get(payload.guild_id) if payload.guild_id is not None else None
    if guild is None or not payload.user_id:
        return
    kept = cache.kept_bits
    member = payload.member
    if member is not None and kept & _MEMBERS and member.user.id:
        cache.put_member(guild, to_member(member))
    if not kept & _VOICE_STATES:
        return
    if payload.channel_id is None:
        guild.voice_states.pop(payload.user_id, None)
    else:
        state = VoiceState(**{name: getattr(payload, name) for name in _VOICE_FIELDS})
        guild.voice_states[payload.user_id] = state


def user_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """USER_UPDATE: the bot's own user."""
    user = cache.decoders.user.decode(raw)
    if cache.me is None:
        cache.me = user
    elif cache.me.id == user.id:
        copy_user(cache.me, user)
    cache.users.update(user)

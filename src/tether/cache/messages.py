"""Cache updates for messages (spec 10.8): a bounded cache, oldest dropped first.

One small function per dispatch name, each ``(cache, raw d, shard id) -> None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tether.cache.flags import CacheFlags
from tether.cache.payloads import MemberPayload, MessageCreate, member_extra, to_member
from tether.models import Message

if TYPE_CHECKING:
    from tether.cache.store import Cache

_MEMBERS = int(CacheFlags.MEMBERS)
_MESSAGES = int(CacheFlags.MESSAGES)

__all__ = ["message_create", "message_delete", "message_delete_bulk", "message_update"]

_UPDATE_FIELDS = (
    "content",
    "edited_timestamp",
    "tts",
    "mention_everyone",
    "mention_roles",
    "attachments",
    "embeds",
    "pinned",
    "flags",
)


def message_create(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_CREATE: the channel's ``last_message_id``, the author's member record, and
    (when messages are kept) the message itself. The hottest path of the cache."""
    p = cache.decoders.message_create.decode(raw)
    channel = cache.channels.get(p.channel_id)
    if channel is not None:
        channel.last_message_id = p.id
    kept = cache.kept_bits
    partial = p.member
    if partial is not None and p.guild_id is not None and kept & _MEMBERS:
        _note_author_member(cache, p, partial)
    if not kept & _MESSAGES or not p.id:
        return
    mentions = p.mentions
    cache.remember_message(
        Message(
            id=p.id,
            channel_id=p.channel_id,
            guild_id=p.guild_id,
            author=cache.intern_user(p.author),
            content=p.content,
            timestamp=p.timestamp,
            edited_timestamp=p.edited_timestamp,
            tts=p.tts,
            mention_everyone=p.mention_everyone,
            mentions=tuple([user.id for user in mentions]) if mentions else (),
            mention_roles=p.mention_roles,
            attachments=p.attachments,
            embeds=p.embeds,
            pinned=p.pinned,
            type=p.type,
            flags=p.flags,
            webhook_id=p.webhook_id,
            application_id=p.application_id,
            message_reference=p.message_reference,
        )
    )


def _note_author_member(cache: Cache, p: MessageCreate, partial: MemberPayload) -> None:
    """Keep the author's member record current (only when it changed: the common case is
    a known member whose roles and nickname are the same)."""
    guild = cache.guilds.get(p.guild_id or 0)
    author = p.author
    if guild is None or not author.id or p.webhook_id is not None:
        return
    if guild.members.unchanged(
        author.id,
        roles=partial.roles,
        joined_at=partial.joined_at,
        nick=partial.nick,
        extra=member_extra(partial),
    ) and cache.users.same(author):
        return
    cache.put_member(guild, to_member(partial, author))


def message_update(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_UPDATE: change only the fields present (updates may be partial)."""
    payload = cache.decoders.message_update.decode(raw)
    message = cache.messages.get(payload.id)
    if message is None:
        return
    for name in _UPDATE_FIELDS:
        value = getattr(payload, name)
        if value is not msgspec.UNSET:
            setattr(message, name, value)
    if payload.mentions is not msgspec.UNSET:
        message.mentions = tuple([user.id for user in payload.mentions])


def message_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_DELETE."""
    payload = cache.decoders.message_delete.decode(raw)
    cache.forget_message(payload.id)


def message_delete_bulk(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_DELETE_BULK."""
    payload = cache.decoders.message_delete_bulk.decode(raw)
    for message_id in payload.ids:
        cache.forget_message(message_id)

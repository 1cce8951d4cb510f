"""Cache updates for messages (spec 10.8): a bounded cache, oldest dropped first.

One small function per dispatch name, each ``(cache, raw d, shard id) -> None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tether.cache.flags import CacheFlags
from tether.cache.payloads import to_member
from tether.models import Message

if TYPE_CHECKING:
    from tether.cache.store import Cache

_MEMBERS = int(CacheFlags.MEMBERS)
_MESSAGES = int(CacheFlags.MESSAGES)

__all__ = ["message_create", "message_delete", "message_delete_bulk", "message_update"]

_MESSAGE_FIELDS = tuple(f for f in Message.__struct_fields__ if f not in ("author", "mentions"))
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
    (when messages are kept) the message itself."""
    payload = cache.decoders.message_create.decode(raw)
    channel = cache.channels.get(payload.channel_id)
    if channel is not None:
        channel.last_message_id = payload.id
    kept = cache.kept_bits
    partial = payload.member
    if partial is not None and payload.guild_id is not None and kept & _MEMBERS:
        guild = cache.guilds.get(payload.guild_id)
        if guild is not None and payload.author.id and payload.webhook_id is None:
            cache.put_member(guild, to_member(partial, payload.author))
    if not kept & _MESSAGES or not payload.id:
        return
    message = Message(
        **{name: getattr(payload, name) for name in _MESSAGE_FIELDS},
        author=cache.intern_user(payload.author),
        mentions=tuple(user.id for user in payload.mentions),
    )
    cache.remember_message(message)


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
        message.mentions = tuple(user.id for user in payload.mentions)


def message_delete(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_DELETE."""
    payload = cache.decoders.message_delete.decode(raw)
    cache.forget_message(payload.id)


def message_delete_bulk(cache: Cache, raw: bytes, _shard_id: int) -> None:
    """MESSAGE_DELETE_BULK."""
    payload = cache.decoders.message_delete_bulk.decode(raw)
    for message_id in payload.ids:
        cache.forget_message(message_id)

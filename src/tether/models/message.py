"""Messages (spec 10.8), as the bounded message cache keeps them.

Kept: ids, author (the shared :class:`User`), content, timestamps, mentions (as ids),
attachments, embeds and the reference. Not kept: components, reactions, stickers, polls
and interaction metadata (read them from the dispatch itself).
"""

from __future__ import annotations

import datetime

import msgspec

from tether.models.base import Record, Snowflake
from tether.models.user import User

__all__ = [
    "Attachment",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "Message",
    "MessageReference",
]


class Attachment(Record, kw_only=True):
    """A file attached to a message."""

    id: Snowflake = 0
    filename: str = ""
    size: int = 0
    url: str = ""
    proxy_url: str | None = None
    content_type: str | None = None
    description: str | None = None
    height: int | None = None
    width: int | None = None
    flags: int = 0


class EmbedFooter(Record, kw_only=True):
    """An embed's footer."""

    text: str = ""
    icon_url: str | None = None


class EmbedMedia(Record, kw_only=True):
    """An embed image, thumbnail or video."""

    url: str | None = None
    height: int | None = None
    width: int | None = None


class EmbedAuthor(Record, kw_only=True):
    """An embed's author line."""

    name: str = ""
    url: str | None = None
    icon_url: str | None = None


class EmbedField(Record, kw_only=True):
    """One name/value field of an embed."""

    name: str = ""
    value: str = ""
    inline: bool = False


class Embed(Record, kw_only=True):
    """A rich embed."""

    title: str | None = None
    type: str | None = None
    description: str | None = None
    url: str | None = None
    timestamp: datetime.datetime | None = None
    color: int | None = None
    footer: EmbedFooter | None = None
    image: EmbedMedia | None = None
    thumbnail: EmbedMedia | None = None
    video: EmbedMedia | None = None
    author: EmbedAuthor | None = None
    fields: tuple[EmbedField, ...] = ()


class MessageReference(Record, kw_only=True):
    """What a reply, crosspost or forward points at."""

    type: int = 0
    message_id: Snowflake | None = None
    channel_id: Snowflake | None = None
    guild_id: Snowflake | None = None


class Message(Record, kw_only=True):
    """A message in the bounded message cache."""

    id: Snowflake = 0
    channel_id: Snowflake = 0
    guild_id: Snowflake | None = None
    author: User = msgspec.field(default_factory=User)
    content: str = ""
    timestamp: datetime.datetime | None = None
    edited_timestamp: datetime.datetime | None = None
    tts: bool = False
    mention_everyone: bool = False
    mentions: tuple[Snowflake, ...] = ()
    mention_roles: tuple[Snowflake, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    embeds: tuple[Embed, ...] = ()
    pinned: bool = False
    type: int = 0
    flags: int = 0
    webhook_id: Snowflake | None = None
    application_id: Snowflake | None = None
    message_reference: MessageReference | None = None

"""Channels and threads (spec 10.2, 10.5).

One record type covers every channel type; fields that a type does not use keep their
defaults. Threads are channels of type 10, 11 or 12 with ``thread_metadata``.
"""

from __future__ import annotations

import datetime

from tether.models.base import Record, Snowflake
from tether.models.user import User

__all__ = [
    "THREAD_TYPES",
    "Channel",
    "ForumTag",
    "PermissionOverwrite",
    "ThreadMember",
    "ThreadMetadata",
]

#: ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD.
THREAD_TYPES = frozenset({10, 11, 12})


class PermissionOverwrite(Record, kw_only=True):
    """An overwrite for a role (``type`` 0) or a member (1); ``allow``/``deny`` are ints."""

    id: Snowflake = 0
    type: int = 0
    allow: int = 0
    deny: int = 0


class ThreadMetadata(Record, kw_only=True):
    """The thread-only fields of a channel."""

    archived: bool = False
    auto_archive_duration: int = 0
    archive_timestamp: datetime.datetime | None = None
    locked: bool = False
    invitable: bool | None = None
    create_timestamp: datetime.datetime | None = None


class ThreadMember(Record, kw_only=True):
    """The bot's own membership of a thread (THREAD_CREATE ``member``, THREAD_MEMBER_UPDATE)."""

    join_timestamp: datetime.datetime | None = None
    flags: int = 0


class ForumTag(Record, kw_only=True):
    """A tag that threads of a forum or media channel can carry."""

    id: Snowflake = 0
    name: str = ""
    moderated: bool = False
    emoji_id: Snowflake | None = None
    emoji_name: str | None = None


class Channel(Record, kw_only=True):
    """A guild channel, a thread, or a DM."""

    id: Snowflake = 0
    type: int = 0
    guild_id: Snowflake | None = None
    name: str | None = None
    position: int = 0
    parent_id: Snowflake | None = None
    topic: str | None = None
    nsfw: bool = False
    flags: int = 0
    last_message_id: Snowflake | None = None
    last_pin_timestamp: datetime.datetime | None = None
    rate_limit_per_user: int = 0
    bitrate: int | None = None
    user_limit: int | None = None
    rtc_region: str | None = None
    video_quality_mode: int | None = None
    default_auto_archive_duration: int | None = None
    permission_overwrites: tuple[PermissionOverwrite, ...] = ()
    available_tags: tuple[ForumTag, ...] = ()
    applied_tags: tuple[Snowflake, ...] = ()
    recipients: tuple[User, ...] = ()
    owner_id: Snowflake | None = None
    thread_metadata: ThreadMetadata | None = None
    member: ThreadMember | None = None
    message_count: int | None = None
    member_count: int | None = None

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread."""
        return self.type in THREAD_TYPES

"""Guilds, roles, members and voice states (spec 10.2, 10.3, 10.4, 10.6, 10.10).

A :class:`Guild` owns its parts keyed by id: ``channels`` (threads included), ``roles`` and
``voice_states`` (by user id) in dicts, ``members`` (by user id) in a read-only
:class:`~tether.models.MemberTable` mapping that keeps them in columns (see
:mod:`tether.models.member`), and ``presences`` (by user id, online members only) in a
:class:`~tether.models.PresenceTable` (a mutable mapping, also in columns). Which of them are
filled depends on the cache's flags and the bot's intents (see
:class:`tether.cache.CacheFlags`).
"""

from __future__ import annotations

import datetime

import msgspec

from tether.models.base import Record, Snowflake
from tether.models.channel import Channel
from tether.models.member import MEMBER_EXTRA_FIELDS, Member, MemberExtra, MemberTable
from tether.models.presence import PresenceTable

__all__ = [
    "GUILD_FIELDS",
    "MEMBER_EXTRA_FIELDS",
    "Guild",
    "GuildFields",
    "Member",
    "MemberExtra",
    "MemberTable",
    "Role",
    "VoiceState",
]


class Role(Record, kw_only=True):
    """A guild role; the @everyone role has the guild's id. ``permissions`` is an int."""

    id: Snowflake = 0
    name: str = ""
    color: int = 0
    hoist: bool = False
    icon: str | None = None
    unicode_emoji: str | None = None
    position: int = 0
    permissions: int = 0
    managed: bool = False
    mentionable: bool = False
    flags: int = 0


class VoiceState(Record, kw_only=True):
    """Where a member is in voice (only members in a channel are kept)."""

    user_id: Snowflake = 0
    channel_id: Snowflake | None = None
    session_id: str = ""
    deaf: bool = False
    mute: bool = False
    self_deaf: bool = False
    self_mute: bool = False
    self_stream: bool = False
    self_video: bool = False
    suppress: bool = False
    request_to_speak_timestamp: datetime.datetime | None = None


class GuildFields(Record, kw_only=True):
    """The top-level fields of a guild object (what GUILD_UPDATE carries)."""

    id: Snowflake = 0
    name: str = ""
    icon: str | None = None
    splash: str | None = None
    banner: str | None = None
    description: str | None = None
    owner_id: Snowflake = 0
    afk_channel_id: Snowflake | None = None
    afk_timeout: int = 0
    verification_level: int = 0
    default_message_notifications: int = 0
    explicit_content_filter: int = 0
    features: tuple[str, ...] = ()
    mfa_level: int = 0
    application_id: Snowflake | None = None
    system_channel_id: Snowflake | None = None
    system_channel_flags: int = 0
    rules_channel_id: Snowflake | None = None
    public_updates_channel_id: Snowflake | None = None
    safety_alerts_channel_id: Snowflake | None = None
    max_members: int | None = None
    vanity_url_code: str | None = None
    premium_tier: int = 0
    premium_subscription_count: int = 0
    preferred_locale: str = "en-US"
    nsfw_level: int = 0
    premium_progress_bar_enabled: bool = False


#: The names of :class:`GuildFields`, in order (copied by GUILD_UPDATE).
GUILD_FIELDS: tuple[str, ...] = GuildFields.__struct_fields__


class Guild(GuildFields, kw_only=True):
    """A guild as the cache keeps it.

    Attributes:
        joined_at, large, member_count: GUILD_CREATE extras (``member_count`` follows
            GUILD_MEMBER_ADD/REMOVE).
        unavailable: an outage hides the guild; its last known data is kept meanwhile.
        shard_id: the shard whose session delivered it.
        channels, roles, members, voice_states, presences: the kept parts, by id.
    """

    joined_at: datetime.datetime | None = None
    large: bool = False
    member_count: int = 0
    unavailable: bool = False
    shard_id: int = 0
    channels: dict[Snowflake, Channel] = msgspec.field(default_factory=dict)
    roles: dict[Snowflake, Role] = msgspec.field(default_factory=dict)
    members: MemberTable = msgspec.field(default_factory=MemberTable)
    voice_states: dict[Snowflake, VoiceState] = msgspec.field(default_factory=dict)
    presences: PresenceTable = msgspec.field(default_factory=PresenceTable)

    @property
    def threads(self) -> list[Channel]:
        """The guild's threads (channels of type 10, 11 or 12)."""
        return [c for c in self.channels.values() if c.is_thread]

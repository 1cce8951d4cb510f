"""Guilds, roles, members and voice states (spec 10.2, 10.3, 10.4, 10.6, 10.10).

A :class:`Guild` owns its parts in dicts keyed by id: ``channels`` (threads included),
``roles``, ``members`` (by user id), ``voice_states`` (by user id) and ``presences`` (by
user id, online members only). Which of them are filled depends on the cache's flags and the
bot's intents (see :class:`tether.cache.CacheFlags`).
"""

from __future__ import annotations

import datetime

import msgspec

from tether.models.base import Record, Snowflake
from tether.models.channel import Channel
from tether.models.presence import Presence
from tether.models.user import User

__all__ = [
    "GUILD_FIELDS",
    "MEMBER_EXTRA_FIELDS",
    "Guild",
    "GuildFields",
    "Member",
    "MemberExtra",
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


class MemberExtra(Record, kw_only=True):
    """The member fields that are usually at their defaults (kept apart to save memory)."""

    avatar: str | None = None
    premium_since: datetime.datetime | None = None
    communication_disabled_until: datetime.datetime | None = None
    flags: int = 0
    pending: bool = False
    deaf: bool = False
    mute: bool = False


#: The fields of :class:`MemberExtra` (readable on :class:`Member` too).
MEMBER_EXTRA_FIELDS: tuple[str, ...] = MemberExtra.__struct_fields__
_NO_EXTRA = MemberExtra()


class Member(Record, kw_only=True):
    """A user's membership of one guild; ``user`` is the shared :class:`User` record.

    ``roles`` holds role ids (the @everyone role is implied, as on Discord); members with
    the same roles share one tuple. The rarely set fields (``avatar``, ``premium_since``,
    ``communication_disabled_until``, ``flags``, ``pending``, ``deaf``, ``mute``) live in
    ``extra``, which is None while they all have their defaults; read them as attributes
    of the member, and change them with :meth:`set`.
    """

    user: User = msgspec.field(default_factory=User)
    roles: tuple[Snowflake, ...] = ()
    joined_at: datetime.datetime | None = None
    nick: str | None = None
    extra: MemberExtra | None = None

    @property
    def id(self) -> Snowflake:
        """The user id."""
        return self.user.id

    @property
    def display_name(self) -> str:
        """The nickname, else the user's display name."""
        return self.nick or self.user.display_name

    @property
    def avatar(self) -> str | None:
        """The guild avatar hash."""
        return (self.extra or _NO_EXTRA).avatar

    @property
    def premium_since(self) -> datetime.datetime | None:
        """When the member started boosting."""
        return (self.extra or _NO_EXTRA).premium_since

    @property
    def communication_disabled_until(self) -> datetime.datetime | None:
        """The end of a timeout."""
        return (self.extra or _NO_EXTRA).communication_disabled_until

    @property
    def flags(self) -> int:
        """Guild member flags."""
        return (self.extra or _NO_EXTRA).flags

    @property
    def pending(self) -> bool:
        """Has not yet passed membership screening."""
        return (self.extra or _NO_EXTRA).pending

    @property
    def deaf(self) -> bool:
        """Server-deafened."""
        return (self.extra or _NO_EXTRA).deaf

    @property
    def mute(self) -> bool:
        """Server-muted."""
        return (self.extra or _NO_EXTRA).mute

    def set(self, **fields: object) -> None:
        """Change fields, ``extra`` ones included (``member.set(nick="x", deaf=True)``)."""
        extra = self.extra
        for name, value in fields.items():
            if name in MEMBER_EXTRA_FIELDS:
                if extra is None:
                    if getattr(_NO_EXTRA, name) == value:
                        continue
                    extra = MemberExtra()
                setattr(extra, name, value)
            else:
                setattr(self, name, value)
        self.extra = None if extra is None or extra == _NO_EXTRA else extra


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
    members: dict[Snowflake, Member] = msgspec.field(default_factory=dict)
    voice_states: dict[Snowflake, VoiceState] = msgspec.field(default_factory=dict)
    presences: dict[Snowflake, Presence] = msgspec.field(default_factory=dict)

    @property
    def threads(self) -> list[Channel]:
        """The guild's threads (channels of type 10, 11 or 12)."""
        return [c for c in self.channels.values() if c.is_thread]

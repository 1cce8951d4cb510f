"""Decode types of the dispatches the cache reads (spec 10), and their decoders.

Each dispatch body decodes straight into these structs, skipping every field the cache
does not keep. Partial updates use ``UNSET`` defaults, so a handler can tell "absent"
from "null" and change only the fields that arrived (MESSAGE_UPDATE, PRESENCE_UPDATE's
user, GUILD_MEMBER_UPDATE's optional fields).

:class:`Decoders` builds the GUILD_CREATE and GUILD_MEMBERS_CHUNK types for a set of kept
parts: a part that is not kept is not even declared, so its JSON is skipped, not decoded.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from tether.cache.flags import CacheFlags
from tether.models import (
    Activity,
    Attachment,
    Channel,
    ClientStatus,
    Embed,
    GuildFields,
    Member,
    MemberExtra,
    MessageReference,
    Role,
    Snowflake,
    ThreadMember,
    User,
    VoiceState,
    decoder,
)

__all__ = [
    "ChannelPins",
    "Decoders",
    "GuildDelete",
    "GuildUpdate",
    "IdOnly",
    "MemberEvent",
    "MemberPayload",
    "MemberRemove",
    "MemberUpdate",
    "MessageCreate",
    "MessageDelete",
    "MessageDeleteBulk",
    "MessageUpdate",
    "PartialUser",
    "PresencePayload",
    "RateLimited",
    "ReadyPayload",
    "RoleDelete",
    "RoleEvent",
    "StreamMember",
    "StreamUser",
    "ThreadDelete",
    "ThreadListSync",
    "ThreadMemberUpdate",
    "ThreadMembersUpdate",
    "VoiceStateUpdate",
    "to_member",
]


class _Payload(msgspec.Struct, kw_only=True, gc=False):
    """Base of the decode types (transient: never kept by the cache)."""


class IdOnly(_Payload):
    """Anything with an ``id``."""

    id: Snowflake = 0


class _MemberFields(_Payload):
    """A member object's fields but its ``user`` (whose decode type differs by source)."""

    roles: tuple[Snowflake, ...] = ()
    joined_at: datetime.datetime | None = None
    nick: str | None = None
    avatar: str | None = None
    premium_since: datetime.datetime | None = None
    communication_disabled_until: datetime.datetime | None = None
    flags: int = 0
    pending: bool = False
    deaf: bool = False
    mute: bool = False


class MemberPayload(_MemberFields):
    """A member object as the gateway sends it (converted to :class:`Member` to be kept)."""

    user: User = msgspec.field(default_factory=User)


class StreamUser(_Payload):
    """A member's user in the guild stream: :class:`User`'s fields in a lean decode type
    (no GC tracking, no weak references: it is packed into the user table, then dropped)."""

    id: Snowflake = 0
    username: str = ""
    discriminator: str = "0"
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False


class StreamMember(_MemberFields):
    """A member of GUILD_CREATE's list (what :class:`MemberPayload` holds, with a
    :class:`StreamUser`): its fields go straight into the guild's member table."""

    user: StreamUser = msgspec.field(default_factory=StreamUser)


def member_extra(p: MemberPayload | StreamMember) -> MemberExtra | None:
    """The :class:`MemberExtra` of a member payload (None: every field at its default)."""
    if (
        p.avatar is None
        and p.premium_since is None
        and p.communication_disabled_until is None
        and not p.flags
        and not p.pending
        and not p.deaf
        and not p.mute
    ):
        return None
    return MemberExtra(
        avatar=p.avatar,
        premium_since=p.premium_since,
        communication_disabled_until=p.communication_disabled_until,
        flags=p.flags,
        pending=p.pending,
        deaf=p.deaf,
        mute=p.mute,
    )


def to_member(p: MemberPayload, user: User | None = None) -> Member:
    """The :class:`Member` record of a payload (``user`` replaces the payload's user)."""
    return Member(
        user=p.user if user is None else user,
        roles=p.roles,
        joined_at=p.joined_at,
        nick=p.nick,
        extra=member_extra(p),
    )


class PartialUser(_Payload):
    """A user that may carry only ``id`` (PRESENCE_UPDATE): absent fields are UNSET."""

    id: Snowflake = 0
    username: str | UnsetType = UNSET
    discriminator: str | UnsetType = UNSET
    global_name: str | UnsetType | None = UNSET
    avatar: str | UnsetType | None = UNSET
    bot: bool | UnsetType = UNSET


class _UnavailableGuild(_Payload):
    id: Snowflake = 0
    unavailable: bool = False


class ReadyPayload(_Payload):
    """READY (spec 4.2): the bot, and the guilds of this shard (all unavailable)."""

    user: User = msgspec.field(default_factory=User)
    guilds: list[_UnavailableGuild] = msgspec.field(default_factory=list)
    shard: tuple[int, int] | None = None


class GuildDelete(_Payload):
    """GUILD_DELETE, or a GUILD_CREATE for an unavailable guild."""

    id: Snowflake = 0
    unavailable: bool = False


class GuildUpdate(GuildFields, kw_only=True):
    """GUILD_UPDATE: the guild object; ``roles`` replaces the role list when present."""

    roles: list[Role] | UnsetType = UNSET


class RoleEvent(_Payload):
    """GUILD_ROLE_CREATE / GUILD_ROLE_UPDATE."""

    guild_id: Snowflake = 0
    role: Role = msgspec.field(default_factory=Role)


class RoleDelete(_Payload):
    """GUILD_ROLE_DELETE."""

    guild_id: Snowflake = 0
    role_id: Snowflake = 0


class ChannelPins(_Payload):
    """CHANNEL_PINS_UPDATE."""

    guild_id: Snowflake | None = None
    channel_id: Snowflake = 0
    last_pin_timestamp: datetime.datetime | None = None


class ThreadDelete(_Payload):
    """THREAD_DELETE: only ids and type."""

    id: Snowflake = 0
    guild_id: Snowflake | None = None
    parent_id: Snowflake | None = None


class _ThreadMemberEntry(ThreadMember, kw_only=True):
    id: Snowflake | None = None
    user_id: Snowflake | None = None


class ThreadListSync(_Payload):
    """THREAD_LIST_SYNC: ``channel_ids`` absent means every channel of the guild."""

    guild_id: Snowflake = 0
    channel_ids: list[Snowflake] | None = None
    threads: list[Channel] = msgspec.field(default_factory=list)
    members: list[_ThreadMemberEntry] = msgspec.field(default_factory=list)


class ThreadMemberUpdate(_ThreadMemberEntry, kw_only=True):
    """THREAD_MEMBER_UPDATE: the bot's own thread membership (``id`` is the thread)."""

    guild_id: Snowflake | None = None


class _AddedThreadMember(_ThreadMemberEntry, kw_only=True):
    member: MemberPayload | None = None


class ThreadMembersUpdate(_Payload):
    """THREAD_MEMBERS_UPDATE."""

    id: Snowflake = 0
    guild_id: Snowflake = 0
    member_count: int = 0
    added_members: list[_AddedThreadMember] = msgspec.field(default_factory=list)
    removed_member_ids: list[Snowflake] = msgspec.field(default_factory=list)


class MemberEvent(MemberPayload, kw_only=True):
    """GUILD_MEMBER_ADD: a member plus ``guild_id``."""

    guild_id: Snowflake = 0


class MemberUpdate(_Payload):
    """GUILD_MEMBER_UPDATE: optional fields stay UNSET when absent (spec 10.6)."""

    guild_id: Snowflake = 0
    user: User = msgspec.field(default_factory=User)
    roles: tuple[Snowflake, ...] | UnsetType = UNSET
    joined_at: datetime.datetime | UnsetType | None = UNSET
    nick: str | UnsetType | None = UNSET
    avatar: str | UnsetType | None = UNSET
    premium_since: datetime.datetime | UnsetType | None = UNSET
    communication_disabled_until: datetime.datetime | UnsetType | None = UNSET
    flags: int | UnsetType = UNSET
    pending: bool | UnsetType = UNSET
    deaf: bool | UnsetType = UNSET
    mute: bool | UnsetType = UNSET


class MemberRemove(_Payload):
    """GUILD_MEMBER_REMOVE."""

    guild_id: Snowflake = 0
    user: PartialUser = msgspec.field(default_factory=PartialUser)


class PresencePayload(_Payload):
    """PRESENCE_UPDATE, or one entry of GUILD_CREATE / GUILD_MEMBERS_CHUNK ``presences``."""

    user: PartialUser = msgspec.field(default_factory=PartialUser)
    guild_id: Snowflake | None = None
    status: str = "offline"
    activities: tuple[Activity, ...] = ()
    client_status: ClientStatus | None = None


class VoiceStateUpdate(VoiceState, kw_only=True):
    """VOICE_STATE_UPDATE: a voice state plus ``guild_id`` and the member."""

    guild_id: Snowflake | None = None
    member: MemberPayload | None = None


class MessageCreate(_Payload):
    """MESSAGE_CREATE: the message plus ``guild_id`` and a partial ``member``."""

    id: Snowflake = 0
    channel_id: Snowflake = 0
    guild_id: Snowflake | None = None
    author: User = msgspec.field(default_factory=User)
    member: MemberPayload | None = None  # partial: no ``user`` key (the author is the user)
    content: str = ""
    timestamp: datetime.datetime | None = None
    edited_timestamp: datetime.datetime | None = None
    tts: bool = False
    mention_everyone: bool = False
    mentions: list[IdOnly] = msgspec.field(default_factory=list)
    mention_roles: tuple[Snowflake, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    embeds: tuple[Embed, ...] = ()
    pinned: bool = False
    type: int = 0
    flags: int = 0
    webhook_id: Snowflake | None = None
    application_id: Snowflake | None = None
    message_reference: MessageReference | None = None


class MessageUpdate(_Payload):
    """MESSAGE_UPDATE: any field may be absent (spec 10.8); absent ones are UNSET."""

    id: Snowflake = 0
    channel_id: Snowflake = 0
    content: str | UnsetType = UNSET
    edited_timestamp: datetime.datetime | UnsetType | None = UNSET
    tts: bool | UnsetType = UNSET
    mention_everyone: bool | UnsetType = UNSET
    mentions: list[IdOnly] | UnsetType = UNSET
    mention_roles: tuple[Snowflake, ...] | UnsetType = UNSET
    attachments: tuple[Attachment, ...] | UnsetType = UNSET
    embeds: tuple[Embed, ...] | UnsetType = UNSET
    pinned: bool | UnsetType = UNSET
    flags: int | UnsetType = UNSET


class MessageDelete(_Payload):
    """MESSAGE_DELETE."""

    id: Snowflake = 0
    channel_id: Snowflake = 0


class MessageDeleteBulk(_Payload):
    """MESSAGE_DELETE_BULK."""

    ids: list[Snowflake] = msgspec.field(default_factory=list)
    channel_id: Snowflake = 0


class _RateLimitMeta(_Payload):
    guild_id: Snowflake | None = None
    nonce: str | None = None


class RateLimited(_Payload):
    """RATE_LIMITED (spec 2.16)."""

    opcode: int = 0
    retry_after: float = 0.0
    meta: _RateLimitMeta = msgspec.field(default_factory=_RateLimitMeta)


def _guild_create_type(kept: CacheFlags) -> type[Any]:
    """GUILD_CREATE's decode type: the guild fields, the extras, and the kept parts only."""
    fields: list[tuple[str, Any, Any]] = [
        ("unavailable", bool, False),
        ("joined_at", datetime.datetime | None, None),
        ("large", bool, False),
        ("member_count", int, 0),
    ]
    parts: list[tuple[CacheFlags, str, Any]] = [
        (CacheFlags.CHANNELS, "channels", Channel),
        (CacheFlags.THREADS, "threads", Channel),
        (CacheFlags.ROLES, "roles", Role),
        (CacheFlags.MEMBERS, "members", StreamMember),
        (CacheFlags.VOICE_STATES, "voice_states", VoiceState),
        (CacheFlags.PRESENCES, "presences", PresencePayload),
    ]
    for flag, name, item in parts:
        if kept & flag:
            fields.append((name, list[item], msgspec.field(default_factory=list)))  # type: ignore[valid-type]
    return msgspec.defstruct("GuildCreate", fields, bases=(GuildFields,), kw_only=True, gc=False)


def _chunk_type(kept: CacheFlags) -> type[Any]:
    """GUILD_MEMBERS_CHUNK's decode type (members are always decoded: a request wants them)."""
    fields: list[tuple[str, Any, Any]] = [
        ("guild_id", Snowflake, 0),
        ("members", list[MemberPayload], msgspec.field(default_factory=list)),
        ("chunk_index", int, 0),
        ("chunk_count", int, 1),
        ("not_found", list[Snowflake], msgspec.field(default_factory=list)),
        ("presences", list[PresencePayload], msgspec.field(default_factory=list)),
        ("nonce", str | None, None),
    ]
    del kept  # one shape for every flag set; kept for symmetry with _guild_create_type
    return msgspec.defstruct("MembersChunk", fields, kw_only=True, gc=False)


class Decoders:
    """Every decoder the cache uses, built once per set of kept parts."""

    def __init__(self, kept: CacheFlags) -> None:
        self.guild_create: msgspec.json.Decoder[Any] = decoder(_guild_create_type(kept))
        self.members_chunk: msgspec.json.Decoder[Any] = decoder(_chunk_type(kept))
        self.ready = decoder(ReadyPayload)
        self.guild_delete = decoder(GuildDelete)
        self.guild_update = decoder(GuildUpdate)
        self.role_event = decoder(RoleEvent)
        self.role_delete = decoder(RoleDelete)
        self.channel = decoder(Channel)
        self.channel_pins = decoder(ChannelPins)
        self.thread_delete = decoder(ThreadDelete)
        self.thread_list_sync = decoder(ThreadListSync)
        self.thread_member_update = decoder(ThreadMemberUpdate)
        self.thread_members_update = decoder(ThreadMembersUpdate)
        self.member_add = decoder(MemberEvent)
        self.member_update = decoder(MemberUpdate)
        self.member_remove = decoder(MemberRemove)
        self.presence = decoder(PresencePayload)
        self.voice_state = decoder(VoiceStateUpdate)
        self.user = decoder(User)
        self.message_create = decoder(MessageCreate)
        self.message_update = decoder(MessageUpdate)
        self.message_delete = decoder(MessageDelete)
        self.message_delete_bulk = decoder(MessageDeleteBulk)
        self.rate_limited = decoder(RateLimited)

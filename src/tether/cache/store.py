"""The :class:`Cache`: a passive consumer of gateway dispatches (STYLE habit 8).

``cache.update(event)`` is synchronous and is given every event in order (the client does
it before handlers see the event); it looks up one small function per dispatch name
(``tether.cache.guilds``, ``.members``, ``.messages``) and ignores everything else. Nothing
in the gateway or runtime layers knows the cache exists.

Memory is the design constraint: records are ``gc=False`` structs decoded straight from
the dispatch bytes, parts that are not kept are never decoded, and the bulky parts are
kept in columns rather than one object each: users in a :class:`~tether.models.UserTable`
(one packed entry per user, shared by every guild; reads hand out the live
:class:`~tether.models.User` record, the same object while anyone holds it), each guild's
members in a :class:`~tether.models.MemberTable` (read as materialized
:class:`~tether.models.Member` records: equal, not identical, from one read to the next)
and its presences in a :class:`~tether.models.PresenceTable`. Members with the same roles
share one tuple, and identical presences are one shared record.

Shared records (users, presences, client statuses, role tuples) must be treated as
read-only by callers; the cache replaces or updates them itself.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from tether.cache.chunks import MemberRequests
from tether.cache.flags import CacheFlags, effective_flags, explain
from tether.cache.payloads import Decoders, PartialUser, PresencePayload
from tether.models import (
    Channel,
    ClientStatus,
    Guild,
    Member,
    Message,
    Presence,
    Role,
    Snowflake,
    User,
    UserTable,
    VoiceState,
)

__all__ = ["Cache", "CacheEvent", "Handler"]

log = logging.getLogger("tether.cache")

_USER_FIELDS = User.__struct_fields__


class _RawFrame(Protocol):
    @property
    def raw(self) -> bytes: ...


class CacheEvent(Protocol):
    """What :meth:`Cache.update` reads from an event (a ``tether.Dispatch`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def shard_id(self) -> int: ...

    @property
    def frame(self) -> _RawFrame: ...


#: One update function per dispatch name: ``(cache, d as JSON bytes, shard id)``.
Handler = Callable[["Cache", bytes, int], None]


class Cache:
    """Guilds, channels (threads included), roles, members, users, voice states, presences,
    the bot's own user and a bounded message cache, kept up to date from dispatches.

    Args:
        flags: the parts to keep (see :class:`CacheFlags`).
        intents: the bot's intents; parts whose intent is missing stay empty (None: assume
            every intent).
        message_cache_size: how many messages to keep (oldest dropped first; 0 keeps none).

    Attributes:
        kept: the parts actually kept (``flags`` minus parts the intents do not allow).
        guilds: guild id -> :class:`Guild` (available ones, and unavailable ones whose data
            is kept from before an outage).
        channels: channel id -> :class:`Channel` for every kept channel, thread and DM.
        users: user id -> the live shared :class:`User` record (a packed
            :class:`~tether.models.UserTable`, read-only for callers).
        messages: message id -> :class:`Message`, oldest first.
        me: the bot's own user (from READY, kept current by USER_UPDATE).
        unavailable_guilds: ids of guilds that are unavailable right now (not yet streamed
            after READY, or in an outage).
        member_requests: the open op 8 requests (fed by GUILD_MEMBERS_CHUNK, RATE_LIMITED).
        ignored: dispatches that could not be decoded (logged, then skipped).
    """

    def __init__(
        self,
        flags: CacheFlags = CacheFlags.ALL,
        *,
        intents: int | None = None,
        message_cache_size: int = 1000,
    ) -> None:
        self.flags = CacheFlags(flags)
        self.intents = intents
        kept = effective_flags(self.flags, intents)
        self.message_cache_size = max(0, int(message_cache_size))
        if self.message_cache_size == 0:
            kept &= ~CacheFlags.MESSAGES
        self.kept = kept
        self.kept_bits = int(kept)
        self.guilds: dict[Snowflake, Guild] = {}
        self.channels: dict[Snowflake, Channel] = {}
        self.users = UserTable()
        self.messages: OrderedDict[Snowflake, Message] = OrderedDict()
        self.me: User | None = None
        self.unavailable_guilds: set[Snowflake] = set()
        self.member_requests = MemberRequests()
        self.ignored = 0
        self.decoders = Decoders(kept)
        self._extra_refs: dict[Snowflake, int] = {}
        self.shared_presences: dict[tuple[Any, ...], Presence] = {}
        self._statuses: dict[tuple[Any, ...], ClientStatus] = {}
        self._strings: dict[str, str] = {}
        from tether.cache.handlers import handlers_for  # the handlers import this module

        self._handlers: dict[str, Handler] = handlers_for(kept)

    def __repr__(self) -> str:
        return (
            f"<Cache guilds={len(self.guilds)} channels={len(self.channels)} "
            f"users={len(self.users)} messages={len(self.messages)}>"
        )

    # ------------------------------------------------------------------ feeding
    def update(self, event: CacheEvent | object) -> None:
        """Apply one event; call it for every event, in order. Never raises.

        Dispatches the cache does not use, and lifecycle events, are ignored at the cost
        of one dict lookup. A body that does not decode is counted in ``ignored`` and logged.
        """
        name = getattr(event, "name", None)
        if name is None:
            return
        handler = self._handlers.get(name)
        if handler is None:
            return
        frame = getattr(event, "frame", None)
        raw = getattr(frame, "raw", None)
        if not isinstance(raw, bytes):
            return
        self._run(handler, name, raw, int(getattr(event, "shard_id", 0)))

    def apply(self, name: str, data: Any, *, shard_id: int = 0) -> None:
        """Apply a dispatch given by name and body (a dict, or its JSON bytes)."""
        handler = self._handlers.get(name)
        if handler is not None:
            raw = data if isinstance(data, bytes) else msgspec.json.encode(data)
            self._run(handler, name, raw, shard_id)

    def handles(self, name: str) -> bool:
        """Whether dispatches called ``name`` change this cache (given what it keeps)."""
        return name in self._handlers

    def _run(self, handler: Handler, name: str, raw: bytes, shard_id: int) -> None:
        try:
            handler(self, raw, shard_id)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.ignored += 1
            log.warning("cache: %s skipped, its body does not decode: %s", name, exc)

    # ------------------------------------------------------------------ reading
    def explain(self) -> dict[CacheFlags, str]:
        """For each part that stays empty, why (flag not set, or intent not asked for)."""
        reasons = explain(self.flags, self.intents)
        if self.message_cache_size == 0 and CacheFlags.MESSAGES not in reasons:
            reasons[CacheFlags.MESSAGES] = "not kept: message_cache_size is 0"
        return reasons

    def guild(self, guild_id: Snowflake) -> Guild | None:
        """A guild, or None."""
        return self.guilds.get(guild_id)

    def channel(self, channel_id: Snowflake) -> Channel | None:
        """A channel, thread or DM, or None."""
        return self.channels.get(channel_id)

    def user(self, user_id: Snowflake) -> User | None:
        """A user (the bot's own user included), or None."""
        user = self.users.find(user_id)
        if user is None and self.me is not None and self.me.id == user_id:
            return self.me
        return user

    def member(self, guild_id: Snowflake, user_id: Snowflake) -> Member | None:
        """A member of a guild, or None."""
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.members.get(user_id)

    def role(self, guild_id: Snowflake, role_id: Snowflake) -> Role | None:
        """A role of a guild, or None."""
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.roles.get(role_id)

    def voice_state(self, guild_id: Snowflake, user_id: Snowflake) -> VoiceState | None:
        """Where a member is in voice, or None."""
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.voice_states.get(user_id)

    def presence(self, guild_id: Snowflake, user_id: Snowflake) -> Presence | None:
        """A member's presence in a guild (None: offline or unknown)."""
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.presences.get(user_id)

    def message(self, message_id: Snowflake) -> Message | None:
        """A cached message, or None."""
        return self.messages.get(message_id)

    def counts(self) -> dict[str, int]:
        """How many records of each kind are kept (for dashboards and tests)."""
        guilds = self.guilds.values()
        return {
            "guilds": len(self.guilds),
            "unavailable_guilds": len(self.unavailable_guilds),
            "channels": len(self.channels),
            "roles": sum(len(g.roles) for g in guilds),
            "members": sum(len(g.members) for g in guilds),
            "users": len(self.users),
            "voice_states": sum(len(g.voice_states) for g in guilds),
            "presences": sum(len(g.presences) for g in guilds),
            "messages": len(self.messages),
        }

    # ------------------------------------------------------------------ users
    def intern_user(self, user: User) -> User:
        """The live shared record for ``user``'s id (kept, or updated, from ``user``),
        taking one reference.

        Every reference taken must be given back with :meth:`release_user`.
        """
        live, kept = self.users.take(user)
        if kept:
            uid = user.id
            self._extra_refs[uid] = self._extra_refs.get(uid, 0) + 1
        return live

    def release_user(self, user_id: Snowflake) -> None:
        """Give back one reference to a user; the last one drops the user."""
        extra = self._extra_refs.get(user_id)
        if extra is None:
            self.users.remove(user_id)
        elif extra > 1:
            self._extra_refs[user_id] = extra - 1
        else:
            del self._extra_refs[user_id]

    def user_refs(self, user_id: Snowflake) -> int:
        """How many kept records point at a user (0: not kept)."""
        return 0 if user_id not in self.users else 1 + self._extra_refs.get(user_id, 0)

    def update_user(self, user: User) -> None:
        """Copy every field of ``user`` onto the kept user of its id and onto ``me`` (when
        ``user`` is the bot), in place; nothing is added."""
        self.users.update(user)
        if self.me is not None and self.me.id == user.id and self.me is not user:
            copy_user(self.me, user)

    def update_partial_user(self, partial: PartialUser) -> None:
        """Apply the fields a partial user carries to the kept user (and to ``me``)."""
        fields = {
            name: value
            for name in _USER_FIELDS
            if name != "id"
            and (value := getattr(partial, name, msgspec.UNSET)) is not msgspec.UNSET
        }
        if not fields:
            return
        self.users.set_fields(partial.id, fields)
        if self.me is not None and self.me.id == partial.id:
            for name, value in fields.items():
                setattr(self.me, name, value)

    # ------------------------------------------------------------------ members
    def put_member(self, guild: Guild, member: Member) -> Member | None:
        """Keep ``member`` in ``guild`` (replacing any previous record); returns the kept one
        (``member`` itself, attached to the guild's table, its user the shared record)."""
        uid = member.user.id
        if not uid:
            return None
        member.user = self.intern_user(member.user)
        had = uid in guild.members
        guild.members.put(member)
        if had:
            self.release_user(uid)
        return member

    def put_members(self, guild: Guild, members: list[Member]) -> list[Member]:
        """:meth:`put_member` for a batch (a member chunk); returns the kept ones."""
        kept: list[Member] = []
        seen: set[Snowflake] = set()
        table = guild.members
        for member in members:
            uid = member.user.id
            if not uid:
                continue
            member.user = self.intern_user(member.user)
            if uid in seen or uid in table:
                self.release_user(uid)  # replacing a kept member: one reference stays
            seen.add(uid)
            kept.append(member)
        table.put_many(kept)
        return kept

    def remove_member(self, guild: Guild, user_id: Snowflake) -> Member | None:
        """Forget a member (and the user, unless something else refers to it)."""
        old = guild.members.remove(user_id)
        if old is not None:
            self.release_user(user_id)
        return old

    def role_set(self, guild_id: Snowflake, roles: tuple[Snowflake, ...]) -> tuple[Snowflake, ...]:
        """The shared tuple equal to ``roles`` for this guild (``roles`` itself when the
        guild is not kept)."""
        guild = self.guilds.get(guild_id)
        return roles if guild is None else guild.members.role_set(roles)

    # ------------------------------------------------------------------ presences
    def make_presence(self, payload: PresencePayload) -> Presence | None:
        """The presence record for a payload (None when offline).

        Presences without an activity are shared: one record per (status, client status),
        kept in :attr:`shared_presences`.
        """
        if payload.status == "offline":
            return None
        status = self.intern_str(payload.status)
        client = payload.client_status
        client_key = None if client is None else (client.desktop, client.mobile, client.web)
        shared_status = None
        if client_key is not None:
            shared_status = self._statuses.get(client_key)
            if shared_status is None:
                assert client is not None
                shared_status = self._statuses[client_key] = ClientStatus(
                    desktop=self.intern_opt(client.desktop),
                    mobile=self.intern_opt(client.mobile),
                    web=self.intern_opt(client.web),
                )
        if payload.activities:
            return Presence(
                status=status, client_status=shared_status, activities=payload.activities
            )
        key = (status,) if client_key is None else (status, *client_key)
        presence = self.shared_presences.get(key)
        if presence is None:
            presence = Presence(status=status, client_status=shared_status)
            self.shared_presences[key] = presence
        return presence

    def intern_str(self, value: str) -> str:
        """One shared str per distinct short value (statuses and the like)."""
        return self._strings.setdefault(value, value)

    def intern_opt(self, value: str | None) -> str | None:
        """:meth:`intern_str` for an optional value."""
        return None if value is None else self._strings.setdefault(value, value)

    # ------------------------------------------------------------------ guild parts
    def index_channel(self, guild: Guild | None, channel: Channel) -> None:
        """Keep a channel (in its guild when it has one, and in the id index)."""
        old = self.channels.get(channel.id)
        if old is not None and channel.member is None and old.member is not None:
            channel.member = old.member  # updates do not repeat the bot's thread membership
        if guild is not None:
            channel.guild_id = guild.id
            guild.channels[channel.id] = channel
        self.channels[channel.id] = channel

    def unindex_channel(self, guild: Guild | None, channel_id: Snowflake) -> Channel | None:
        """Forget a channel (and, for a parent channel, its threads)."""
        channel = self.channels.pop(channel_id, None)
        if guild is not None:
            channel = guild.channels.pop(channel_id, None) or channel
            for thread in [t for t in guild.channels.values() if t.parent_id == channel_id]:
                if thread.is_thread:
                    guild.channels.pop(thread.id, None)
                    self.channels.pop(thread.id, None)
        return channel

    def release_guild(self, old: Guild, new: Guild | None) -> None:
        """Let go of what ``old`` held that ``new`` (its replacement, if any) does not."""
        release = self.release_user
        for uid in old.members:
            release(uid)
        keep = new.channels if new is not None else {}
        for cid in old.channels:
            if cid not in keep:
                self.channels.pop(cid, None)
        if new is None:
            self.forget_messages(lambda m: m.guild_id == old.id)

    def remove_guild(self, guild_id: Snowflake) -> Guild | None:
        """Forget a guild and everything in it."""
        guild = self.guilds.pop(guild_id, None)
        self.unavailable_guilds.discard(guild_id)
        if guild is not None:
            self.release_guild(guild, None)
        return guild

    # ------------------------------------------------------------------ messages
    def remember_message(self, message: Message) -> None:
        """Keep a message, dropping the oldest beyond ``message_cache_size``."""
        messages = self.messages
        old = messages.pop(message.id, None)
        if old is not None:
            self.release_user(old.author.id)
        messages[message.id] = message
        while len(messages) > self.message_cache_size:
            _mid, dropped = messages.popitem(last=False)
            self.release_user(dropped.author.id)

    def forget_message(self, message_id: Snowflake) -> Message | None:
        """Drop one message."""
        message = self.messages.pop(message_id, None)
        if message is not None:
            self.release_user(message.author.id)
        return message

    def forget_messages(self, which: Callable[[Message], bool]) -> None:
        """Drop every cached message for which ``which`` holds."""
        for mid in [mid for mid, m in self.messages.items() if which(m)]:
            self.forget_message(mid)


def copy_user(target: User, source: User) -> None:
    """Copy every field of ``source`` onto ``target`` (same id), in place."""
    for name in _USER_FIELDS:
        value = getattr(source, name)
        if getattr(target, name) != value:
            setattr(target, name, value)

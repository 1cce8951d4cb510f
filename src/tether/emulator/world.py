"""The emulator's seeded world: the bot, its application, guilds, channels, roles, members.

The world is plain mutable data. It is built once from a seed (the same seed gives the same
ids, names and memberships), then changed by traffic (messages, joins, leaves). Turning it
into gateway JSON is the job of :mod:`tether.emulator.payloads`.

Guild ids are spaced one millisecond apart in their timestamp bits, so that guild ``i`` is
routed to shard ``(base + i) % num_shards`` (spec section 9): a few guilds cover every shard.

Worlds scale: ``channels_per_guild`` / ``roles_per_guild`` add plain text channels and roles
to the default layout, ``shared_users=False`` gives every guild users of its own (instead
of drawing them from one shared pool), and a guild of more than :data:`LAZY_MEMBERS`
members (e.g. 100k, spec 14 F39) keeps them in :class:`LazyMembers`, which makes a member
only when it is looked at, so such a guild costs almost nothing until it is chunked.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import time
from collections.abc import Iterator, MutableMapping

from tether.wire.snowflake import snowflake_from_ms

__all__ = [
    "CHANNEL_CATEGORY",
    "CHANNEL_DM",
    "CHANNEL_PUBLIC_THREAD",
    "CHANNEL_TEXT",
    "CHANNEL_VOICE",
    "LAZY_MEMBERS",
    "Channel",
    "Guild",
    "LazyMembers",
    "Member",
    "Role",
    "User",
    "World",
    "iso_timestamp",
    "shard_of",
]

CHANNEL_TEXT = 0
CHANNEL_DM = 1
CHANNEL_VOICE = 2
CHANNEL_CATEGORY = 4
CHANNEL_PUBLIC_THREAD = 11

#: 2022-01-01T00:00:00Z: the timestamp of seeded objects.
_SEED_BASE_MS = 1_640_995_200_000
#: Guild ids come from their own range, one ms apart, so shards get guilds round-robin.
_GUILD_BASE_MS = _SEED_BASE_MS - 10_000_000
_EVERYONE_PERMISSIONS = "1071698660929"
_ADJECTIVES = ("Quiet", "Brave", "Amber", "Lucky", "Misty", "Rapid", "Cosmic", "Velvet", "Solar")
_NOUNS = ("Harbor", "Forge", "Garden", "Lounge", "Summit", "Atelier", "Outpost", "Library", "Den")
_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe",
)  # fmt: skip
_STATUSES = ("online", "online", "idle", "dnd", "offline", "offline")
#: Guilds with more members than this keep them in :class:`LazyMembers`.
LAZY_MEMBERS = 5000
#: Generated members of a lazy guild joined one second apart, before this time.
_LAZY_JOINED_MS = _SEED_BASE_MS - 1_000_000


def iso_timestamp(ms: int) -> str:
    """Discord's ISO8601 form of a Unix time in ms (``2022-01-01T00:00:00.000000+00:00``)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="microseconds")


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard a guild is routed to: ``(guild_id >> 22) % num_shards`` (spec section 9)."""
    return (guild_id >> 22) % num_shards


@dataclasses.dataclass
class User:
    """A Discord user."""

    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False


@dataclasses.dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    position: int
    permissions: str = "0"
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False


@dataclasses.dataclass
class Channel:
    """A channel: guild text/voice/category, public thread, or DM (``guild_id`` None)."""

    id: int
    type: int
    name: str | None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None
    recipient_id: int | None = None
    last_message_id: int | None = None


@dataclasses.dataclass
class Member:
    """A user's membership in a guild, with the presence and voice state the world keeps."""

    user: User
    joined_ms: int
    roles: list[int] = dataclasses.field(default_factory=list)
    nick: str | None = None
    status: str = "offline"
    voice_channel_id: int | None = None


@dataclasses.dataclass
class Guild:
    """A guild and everything in it."""

    id: int
    name: str
    owner_id: int
    roles: list[Role]
    channels: list[Channel]
    members: MutableMapping[int, Member]
    threads: list[Channel]
    joined_ms: int

    @property
    def member_count(self) -> int:
        """How many members the guild has."""
        return len(self.members)


class LazyMembers(MutableMapping[int, Member]):
    """The members of a very large guild, made on demand (spec 14 F39).

    Member ``i`` of ``count`` generated ones has user id ``base_id + i``, username
    ``member{i}``, no roles, no nickname and status offline, so GUILD_CREATE never lists
    it (spec 4.4) until something changes it. Looking a member up (``members[id]``,
    ``get``) stores it, so changes made to it stick; iterating ``values()``/``items()``
    makes members without storing them (read them, change them through ``members[id]``).
    Adding and removing work like a dict.
    """

    def __init__(self, *, base_id: int, count: int, prefix: str = "member") -> None:
        self.base_id = base_id
        self.count = count
        self.prefix = prefix
        self._kept: dict[int, Member] = {}
        self._removed: set[int] = set()

    def _generated(self, user_id: int) -> bool:
        return 0 <= user_id - self.base_id < self.count and user_id not in self._removed

    def _make(self, user_id: int) -> Member:
        index = user_id - self.base_id
        user = User(id=user_id, username=f"{self.prefix}{index}")
        return Member(user=user, joined_ms=_LAZY_JOINED_MS - 1000 * index)

    def __getitem__(self, user_id: int) -> Member:
        member = self._kept.get(user_id)
        if member is None:
            if not self._generated(user_id):
                raise KeyError(user_id)
            member = self._kept[user_id] = self._make(user_id)
        return member

    def __setitem__(self, user_id: int, member: Member) -> None:
        self._kept[user_id] = member
        self._removed.discard(user_id)

    def __delitem__(self, user_id: int) -> None:
        present = user_id in self
        self._kept.pop(user_id, None)
        if 0 <= user_id - self.base_id < self.count:
            self._removed.add(user_id)
        if not present:
            raise KeyError(user_id)

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, int) and (user_id in self._kept or self._generated(user_id))

    def __iter__(self) -> Iterator[int]:
        yield from list(self._kept)
        for user_id in range(self.base_id, self.base_id + self.count):
            if user_id not in self._kept and user_id not in self._removed:
                yield user_id

    def __len__(self) -> int:
        generated_kept = sum(1 for u in self._kept if 0 <= u - self.base_id < self.count)
        return self.count - len(self._removed) + len(self._kept) - generated_kept

    def values(self) -> Iterator[Member]:  # type: ignore[override]
        """Every member; generated ones that were never looked up are made, not stored."""
        for user_id in self:
            member = self._kept.get(user_id)
            yield member if member is not None else self._make(user_id)

    def items(self) -> Iterator[tuple[int, Member]]:  # type: ignore[override]
        """``(user id, member)`` pairs, like :meth:`values`."""
        for member in self.values():
            yield member.user.id, member

    def kept(self) -> list[Member]:
        """The members that exist as objects (looked up, changed or added): the only ones
        that can differ from a generated member."""
        return list(self._kept.values())


class World:
    """The bot, its application and its guilds, built deterministically from ``seed``.

    Args:
        bot_id: the bot user id (and application id).
        guilds: how many guilds to create.
        seed: seeds every random choice of the world.
        members_per_guild: how many users (besides the bot) each guild gets.
        bot_name: the bot's username.
        channels_per_guild: channels per guild (the default layout has 5: two categories,
            two text channels, a voice channel); more are plain text channels.
        roles_per_guild: roles per guild, @everyone included (default layout: 3).
        shared_users: draw every guild's users from one pool of ``2 * members_per_guild``
            users (the default), or give each guild users of its own.
    """

    def __init__(
        self,
        *,
        bot_id: int,
        guilds: int = 3,
        seed: int = 0,
        members_per_guild: int = 8,
        bot_name: str = "tether-emu",
        channels_per_guild: int = 5,
        roles_per_guild: int = 3,
        shared_users: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        self.bot = User(id=bot_id, username=bot_name, bot=True)
        self.application_id = bot_id
        self.members_per_guild = members_per_guild
        self.channels_per_guild = channels_per_guild
        self.roles_per_guild = roles_per_guild
        self.shared_users = shared_users
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, Channel] = {}
        self._seed_ms = _SEED_BASE_MS
        self._last_id = 0
        self._guild_index = 0
        pool_size = max(2 * members_per_guild, 10) if shared_users else 0
        self.users: dict[int, User] = {}
        for i in range(pool_size):
            name = f"{_NAMES[i % len(_NAMES)]}{i // len(_NAMES) or ''}"
            user = User(id=self._seed_id(), username=name, global_name=name.capitalize())
            self.users[user.id] = user
        for _ in range(guilds):
            self.add_guild()

    # ids ---------------------------------------------------------------------------------

    def _seed_id(self) -> int:
        self._seed_ms += 1
        return self._fresh(snowflake_from_ms(self._seed_ms))

    def _fresh(self, candidate: int) -> int:
        snowflake = max(candidate, self._last_id + 1)
        self._last_id = snowflake
        return snowflake

    def new_id(self) -> int:
        """A new snowflake for a runtime object: unique, increasing, near the current time."""
        now_ms = int(time.time() * 1000)
        return self._fresh(snowflake_from_ms(now_ms, increment=(self._last_id + 1) & 0xFFF))

    # queries -----------------------------------------------------------------------------

    def guild_ids(self) -> list[int]:
        """Every guild id, in creation order."""
        return list(self.guilds)

    def guild(self, guild_id: int | str) -> Guild:
        """The guild with this id.

        Raises:
            KeyError: no such guild.
        """
        return self.guilds[int(guild_id)]

    def text_channel_ids(self, guild_id: int | str | None = None) -> list[int]:
        """Ids of the text channels of one guild, or of every guild (creation order)."""
        guilds = [self.guild(guild_id)] if guild_id is not None else list(self.guilds.values())
        return [c.id for g in guilds for c in g.channels if c.type == CHANNEL_TEXT]

    def channel(self, channel_id: int | str) -> Channel | None:
        """The channel (guild channel, thread or DM) with this id, or None."""
        cid = int(channel_id)
        if cid in self.dm_channels:
            return self.dm_channels[cid]
        for guild in self.guilds.values():
            for channel in (*guild.channels, *guild.threads):
                if channel.id == cid:
                    return channel
        return None

    def member(self, guild_id: int | str, user_id: int | str) -> Member | None:
        """A guild member, or None."""
        guild = self.guilds.get(int(guild_id))
        return None if guild is None else guild.members.get(int(user_id))

    def user(self, user_id: int | str) -> User | None:
        """A user (the bot included), or None."""
        uid = int(user_id)
        if uid == self.bot.id:
            return self.bot
        user = self.users.get(uid)
        if user is None:
            for guild in self.guilds.values():
                if isinstance(guild.members, LazyMembers) and uid in guild.members:
                    return guild.members[uid].user
        return user

    def guilds_on_shard(self, shard: tuple[int, int] | None) -> list[int]:
        """The ids of the guilds routed to ``shard`` (every guild when None)."""
        if shard is None:
            return self.guild_ids()
        shard_id, count = shard
        return [g for g in self.guilds if shard_of(g, count) == shard_id]

    def dm_channel(self, user_id: int | str) -> Channel:
        """The DM channel between the bot and a user (created on first use)."""
        uid = int(user_id)
        for channel in self.dm_channels.values():
            if channel.recipient_id == uid:
                return channel
        channel = Channel(id=self.new_id(), type=CHANNEL_DM, name=None, recipient_id=uid)
        self.dm_channels[channel.id] = channel
        return channel

    # changes -----------------------------------------------------------------------------

    def add_guild(self, name: str | None = None, *, members: int | None = None) -> Guild:
        """Create a guild the bot is in (seeded choices), and return it.

        Args:
            name: the guild name (default: a seeded, unique one).
            members: users besides the bot (default ``members_per_guild``); above
                :data:`LAZY_MEMBERS` they are generated on demand (:class:`LazyMembers`).
        """
        rng = self.rng
        index = self._guild_index
        self._guild_index += 1
        guild_id = snowflake_from_ms(_GUILD_BASE_MS + index)
        if name is None:
            taken = {g.name for g in self.guilds.values()}
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            while name in taken:
                name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {index}"
        roles = [
            Role(id=guild_id, name="@everyone", position=0, permissions=_EVERYONE_PERMISSIONS),
            Role(id=self._seed_id(), name="Member", position=1, permissions="0", color=0x3498DB),
            Role(
                id=self._seed_id(), name="Moderator", position=2, permissions="1099511627775",
                color=0xE67E22, hoist=True, mentionable=True,
            ),
        ]  # fmt: skip
        for extra in range(len(roles), self.roles_per_guild):
            roles.append(Role(id=self._seed_id(), name=f"Role {extra}", position=extra))
        text_cat = Channel(id=self._seed_id(), type=CHANNEL_CATEGORY, name="Text Channels")
        voice_cat = Channel(
            id=self._seed_id(), type=CHANNEL_CATEGORY, name="Voice Channels", position=1
        )
        general = Channel(
            id=self._seed_id(), type=CHANNEL_TEXT, name="general", parent_id=text_cat.id,
            topic="Say hello",
        )  # fmt: skip
        random_ch = Channel(
            id=self._seed_id(), type=CHANNEL_TEXT, name="random", position=1,
            parent_id=text_cat.id,
        )  # fmt: skip
        lounge = Channel(
            id=self._seed_id(), type=CHANNEL_VOICE, name="Lounge", parent_id=voice_cat.id
        )
        channels = [text_cat, general, random_ch, voice_cat, lounge]
        for extra in range(len(channels), self.channels_per_guild):
            channels.append(Channel(
                id=self._seed_id(), type=CHANNEL_TEXT, name=f"text-{extra}", position=extra,
                parent_id=text_cat.id, topic=f"Channel {extra}",
            ))  # fmt: skip
        for channel in channels:
            channel.guild_id = guild_id
        joined = self._seed_ms
        count = self.members_per_guild if members is None else members
        if count > LAZY_MEMBERS:
            return self._add_lazy_guild(
                guild_id, name=name, roles=roles, channels=channels, joined=joined, count=count
            )
        members_of: dict[int, Member] = {self.bot.id: Member(user=self.bot, joined_ms=joined)}
        members_of[self.bot.id].status = "online"
        for position, user in enumerate(self._choose_users(count, index)):
            member = Member(user=user, joined_ms=joined - 86_400_000 * (position + 1))
            member.status = rng.choice(_STATUSES)
            if rng.random() < 0.5:
                member.roles.append(roles[1].id)
            if position == 0:
                member.roles.append(roles[2].id)
            if rng.random() < 0.25:
                member.nick = f"{user.username}-nick"
            members_of[user.id] = member
        humans = [m for m in members_of.values() if not m.user.bot]
        owner = humans[0].user.id if humans else self.bot.id
        if len(humans) > 1:
            humans[1].voice_channel_id = lounge.id
        threads: list[Channel] = []
        if humans:
            threads.append(Channel(
                id=self._seed_id(), type=CHANNEL_PUBLIC_THREAD, name="welcome-thread",
                guild_id=guild_id, parent_id=general.id, owner_id=owner,
            ))  # fmt: skip
        guild = Guild(
            id=guild_id, name=name, owner_id=owner, roles=roles, channels=channels,
            members=members_of, threads=threads, joined_ms=joined,
        )  # fmt: skip
        self.guilds[guild_id] = guild
        return guild

    def _choose_users(self, count: int, guild_index: int) -> list[User]:
        """The users of a new guild: drawn from the shared pool, or made for it."""
        chosen: list[User] = []
        if self.shared_users:
            chosen = self.rng.sample(list(self.users.values()), min(count, len(self.users)))
        made = chosen  # beyond the shared pool (or without one), users of the guild's own
        for i in range(len(chosen), count):
            name = f"{_NAMES[i % len(_NAMES)]}{guild_index}x{i}"
            user = User(id=self._seed_id(), username=name, global_name=name.capitalize())
            self.users[user.id] = user
            made.append(user)
        return made

    def _add_lazy_guild(
        self,
        guild_id: int,
        *,
        name: str,
        roles: list[Role],
        channels: list[Channel],
        joined: int,
        count: int,
    ) -> Guild:
        """A very large guild: the bot plus ``count`` generated members (spec 14 F39)."""
        self._seed_ms += 1
        base_id = self._fresh(snowflake_from_ms(self._seed_ms))
        self._last_id = base_id + count  # ids base_id .. base_id + count - 1 are taken
        members = LazyMembers(base_id=base_id, count=count, prefix=f"m{len(self.guilds)}x")
        members[self.bot.id] = Member(user=self.bot, joined_ms=joined, status="online")
        guild = Guild(
            id=guild_id, name=name, owner_id=self.bot.id, roles=roles, channels=channels,
            members=members, threads=[], joined_ms=joined,
        )  # fmt: skip
        self.guilds[guild_id] = guild
        return guild

    def remove_guild(self, guild_id: int | str) -> Guild:
        """Forget a guild (the bot left or was removed).

        Raises:
            KeyError: no such guild.
        """
        return self.guilds.pop(int(guild_id))

    def summary(self) -> dict[str, object]:
        """A JSON-ready overview (ids as strings) for the control API."""
        return {
            "bot": {"id": str(self.bot.id), "username": self.bot.username},
            "application_id": str(self.application_id),
            "guilds": [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "member_count": g.member_count,
                    "text_channel_ids": [str(c) for c in self.text_channel_ids(g.id)],
                    "channels": [
                        {"id": str(c.id), "type": c.type, "name": c.name} for c in g.channels
                    ],
                    "member_ids": [str(m) for m in g.members],
                }
                for g in self.guilds.values()
            ],
        }

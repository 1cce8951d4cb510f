"""The emulator's seeded world: the bot, its application, guilds, channels, roles, members.

The world is plain mutable data. It is built once from a seed (the same seed gives the same
ids, names and memberships), then changed by traffic (messages, joins, leaves). Turning it
into gateway JSON is the job of :mod:`tether.emulator.payloads`.

Guild ids are spaced one millisecond apart in their timestamp bits, so that guild ``i`` is
routed to shard ``(base + i) % num_shards`` (spec section 9): a few guilds cover every shard.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import time

from tether.wire.snowflake import snowflake_from_ms

__all__ = [
    "CHANNEL_CATEGORY",
    "CHANNEL_DM",
    "CHANNEL_PUBLIC_THREAD",
    "CHANNEL_TEXT",
    "CHANNEL_VOICE",
    "Channel",
    "Guild",
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
    members: dict[int, Member]
    threads: list[Channel]
    joined_ms: int

    @property
    def member_count(self) -> int:
        """How many members the guild has."""
        return len(self.members)


class World:
    """The bot, its application and its guilds, built deterministically from ``seed``.

    Args:
        bot_id: the bot user id (and application id).
        guilds: how many guilds to create.
        seed: seeds every random choice of the world.
        members_per_guild: how many users (besides the bot) each guild gets.
        bot_name: the bot's username.
    """

    def __init__(
        self,
        *,
        bot_id: int,
        guilds: int = 3,
        seed: int = 0,
        members_per_guild: int = 8,
        bot_name: str = "tether-emu",
    ) -> None:
        self.rng = random.Random(seed)
        self.bot = User(id=bot_id, username=bot_name, bot=True)
        self.application_id = bot_id
        self.members_per_guild = members_per_guild
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, Channel] = {}
        self._seed_ms = _SEED_BASE_MS
        self._last_id = 0
        self._guild_index = 0
        pool_size = max(2 * members_per_guild, 10)
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
        return self.bot if uid == self.bot.id else self.users.get(uid)

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

    def add_guild(self, name: str | None = None) -> Guild:
        """Create a guild the bot is in (seeded choices), and return it."""
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
        for channel in channels:
            channel.guild_id = guild_id
        joined = self._seed_ms
        members: dict[int, Member] = {self.bot.id: Member(user=self.bot, joined_ms=joined)}
        members[self.bot.id].status = "online"
        chosen = rng.sample(list(self.users.values()), min(self.members_per_guild, len(self.users)))
        for position, user in enumerate(chosen):
            member = Member(user=user, joined_ms=joined - 86_400_000 * (position + 1))
            member.status = rng.choice(_STATUSES)
            if rng.random() < 0.5:
                member.roles.append(roles[1].id)
            if position == 0:
                member.roles.append(roles[2].id)
            if rng.random() < 0.25:
                member.nick = f"{user.username}-nick"
            members[user.id] = member
        humans = [m for m in members.values() if not m.user.bot]
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
            members=members, threads=threads, joined_ms=joined,
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

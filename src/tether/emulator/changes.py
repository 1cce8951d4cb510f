"""World changes that tell the gateway: change the world, then dispatch what Discord would.

``emu.changes`` is a :class:`WorldChanges`. Each method changes the emulator's world (so
that a later GUILD_CREATE, a chunk request or a test's comparison sees the new state) and
dispatches the matching event (spec 10.3-10.10) to every session that should see it, with
the usual intent filter and shard routing. A client's cache fed by these events must end
up equal to the world (for the parts it keeps); the property tests check exactly that.

Messages are remembered in :attr:`WorldChanges.messages` (the world itself keeps only each
channel's ``last_message_id``).
"""

from __future__ import annotations

import time
from typing import Any

from tether.emulator.hub import Hub
from tether.emulator.payloads import (
    channel_payload,
    guild_payload,
    member_payload,
    notable_members,
    role_payload,
    user_payload,
    voice_state_payload,
)
from tether.emulator.world import (
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    Channel,
    Guild,
    Member,
    Role,
    User,
    iso_timestamp,
)

__all__ = ["WorldChanges"]

_UNSET: Any = object()


class WorldChanges:
    """Change the world and dispatch the events that say so.

    Args:
        hub: the emulator's shared state.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.messages: dict[int, dict[str, Any]] = {}

    @property
    def _world(self) -> Any:
        return self._hub.world

    def _guild(self, guild_id: int | str) -> Guild:
        guild: Guild = self._world.guild(guild_id)
        return guild

    def _dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> int:
        return self._hub.dispatch(event, data, guild_id)

    # guilds -------------------------------------------------------------------------------

    def update_guild(self, guild_id: int | str, *, name: str) -> Guild:
        """Rename a guild: GUILD_UPDATE."""
        guild = self._guild(guild_id)
        guild.name = name
        self._dispatch("GUILD_UPDATE", guild_payload(guild), guild.id)
        return guild

    # roles --------------------------------------------------------------------------------

    def create_role(self, guild_id: int | str, name: str, *, color: int = 0) -> Role:
        """A new role: GUILD_ROLE_CREATE."""
        guild = self._guild(guild_id)
        role = Role(id=self._world.new_id(), name=name, position=len(guild.roles), color=color)
        guild.roles.append(role)
        self._dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role_payload(role)}, guild.id
        )
        return role

    def update_role(
        self, guild_id: int | str, role_id: int | str, *, name: Any = _UNSET, color: Any = _UNSET
    ) -> Role:
        """Change a role: GUILD_ROLE_UPDATE."""
        guild = self._guild(guild_id)
        role = next(r for r in guild.roles if r.id == int(role_id))
        if name is not _UNSET:
            role.name = name
        if color is not _UNSET:
            role.color = color
        self._dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role_payload(role)}, guild.id
        )
        return role

    def delete_role(self, guild_id: int | str, role_id: int | str) -> None:
        """Delete a role (members lose it): GUILD_ROLE_DELETE."""
        guild = self._guild(guild_id)
        rid = int(role_id)
        guild.roles = [r for r in guild.roles if r.id != rid]
        for member in notable_members(guild):
            if rid in member.roles:
                member.roles.remove(rid)
        self._dispatch(
            "GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(rid)}, guild.id
        )

    # channels and threads -----------------------------------------------------------------

    def create_channel(
        self, guild_id: int | str, name: str, *, type: int = CHANNEL_TEXT
    ) -> Channel:
        """A new guild channel: CHANNEL_CREATE."""
        guild = self._guild(guild_id)
        channel = Channel(
            id=self._world.new_id(), type=type, name=name, guild_id=guild.id,
            position=len(guild.channels),
        )  # fmt: skip
        guild.channels.append(channel)
        self._dispatch("CHANNEL_CREATE", channel_payload(channel), guild.id)
        return channel

    def update_channel(
        self, channel_id: int | str, *, name: Any = _UNSET, topic: Any = _UNSET
    ) -> Channel:
        """Change a channel or thread: CHANNEL_UPDATE (THREAD_UPDATE for a thread)."""
        channel = self._channel(channel_id)
        if name is not _UNSET:
            channel.name = name
        if topic is not _UNSET:
            channel.topic = topic
        event = "THREAD_UPDATE" if channel.type == CHANNEL_PUBLIC_THREAD else "CHANNEL_UPDATE"
        self._dispatch(event, channel_payload(channel), channel.guild_id)
        return channel

    def delete_channel(self, channel_id: int | str) -> None:
        """Delete a channel (its threads go too): CHANNEL_DELETE, or THREAD_DELETE."""
        channel = self._channel(channel_id)
        assert channel.guild_id is not None
        guild = self._guild(channel.guild_id)
        if channel.type == CHANNEL_PUBLIC_THREAD:
            guild.threads = [t for t in guild.threads if t.id != channel.id]
            data = {
                "id": str(channel.id),
                "guild_id": str(guild.id),
                "parent_id": str(channel.parent_id),
                "type": channel.type,
            }
            self._dispatch("THREAD_DELETE", data, guild.id)
            return
        guild.channels = [c for c in guild.channels if c.id != channel.id]
        guild.threads = [t for t in guild.threads if t.parent_id != channel.id]
        self._dispatch("CHANNEL_DELETE", channel_payload(channel), guild.id)

    def create_thread(self, channel_id: int | str, name: str) -> Channel:
        """A new public thread in a text channel: THREAD_CREATE."""
        parent = self._channel(channel_id)
        assert parent.guild_id is not None
        guild = self._guild(parent.guild_id)
        thread = Channel(
            id=self._world.new_id(), type=CHANNEL_PUBLIC_THREAD, name=name, guild_id=guild.id,
            parent_id=parent.id, owner_id=self._world.bot.id,
        )  # fmt: skip
        guild.threads.append(thread)
        data = channel_payload(thread)
        data["newly_created"] = True
        self._dispatch("THREAD_CREATE", data, guild.id)
        return thread

    def _channel(self, channel_id: int | str) -> Channel:
        channel: Channel | None = self._world.channel(channel_id)
        if channel is None:
            raise KeyError(f"unknown channel {channel_id}")
        return channel

    # members and users --------------------------------------------------------------------

    def add_member(self, guild_id: int | str, user: User | None = None) -> Member:
        """A user joins a guild (a new user unless given): GUILD_MEMBER_ADD."""
        guild = self._guild(guild_id)
        world = self._world
        if user is None:
            uid = world.new_id()
            user = User(id=uid, username=f"joiner{uid % 100000}", global_name=None)
            world.users[user.id] = user
        member = Member(user=user, joined_ms=_now_ms())
        guild.members[user.id] = member
        data = member_payload(member)
        data["guild_id"] = str(guild.id)
        self._dispatch("GUILD_MEMBER_ADD", data, guild.id)
        return member

    def update_member(
        self,
        guild_id: int | str,
        user_id: int | str,
        *,
        nick: Any = _UNSET,
        roles: Any = _UNSET,
    ) -> Member:
        """Change a member's nickname or roles: GUILD_MEMBER_UPDATE."""
        guild = self._guild(guild_id)
        member = guild.members[int(user_id)]
        if nick is not _UNSET:
            member.nick = nick
        if roles is not _UNSET:
            member.roles = [int(r) for r in roles]
        self._member_update(guild, member)
        return member

    def _member_update(self, guild: Guild, member: Member) -> None:
        data = member_payload(member)
        data["guild_id"] = str(guild.id)
        self._dispatch("GUILD_MEMBER_UPDATE", data, guild.id)

    def remove_member(self, guild_id: int | str, user_id: int | str) -> None:
        """A member leaves (or is kicked): GUILD_MEMBER_REMOVE."""
        guild = self._guild(guild_id)
        member = guild.members.pop(int(user_id))
        data = {"guild_id": str(guild.id), "user": user_payload(member.user)}
        self._dispatch("GUILD_MEMBER_REMOVE", data, guild.id)

    def rename_user(self, user_id: int | str, *, username: str) -> User:
        """A user renames: GUILD_MEMBER_UPDATE in every guild the user is in (USER_UPDATE
        when it is the bot)."""
        world = self._world
        user: User | None = world.user(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}")
        user.username = username
        if user.id == world.bot.id:
            me = user_payload(user)
            me.update(verified=True, mfa_enabled=False, email=None)
            self._dispatch("USER_UPDATE", me, None)
        for guild in world.guilds.values():
            member = guild.members.get(user.id)
            if member is not None:
                self._member_update(guild, member)
        return user

    def set_status(self, guild_id: int | str, user_id: int | str, status: str) -> None:
        """A member's status changes: PRESENCE_UPDATE whose user carries only ``id``."""
        guild = self._guild(guild_id)
        member = guild.members[int(user_id)]
        member.status = status
        data = {
            "user": {"id": str(member.user.id)},
            "guild_id": str(guild.id),
            "status": status,
            "activities": [],
            "client_status": {} if status == "offline" else {"desktop": status},
        }
        self._dispatch("PRESENCE_UPDATE", data, guild.id)

    def set_voice(
        self, guild_id: int | str, user_id: int | str, channel_id: int | str | None
    ) -> None:
        """A member joins, moves between or leaves voice channels: VOICE_STATE_UPDATE."""
        guild = self._guild(guild_id)
        member = guild.members[int(user_id)]
        member.voice_channel_id = None if channel_id is None else int(channel_id)
        self._dispatch("VOICE_STATE_UPDATE", voice_state_payload(member, guild.id), guild.id)

    # messages -----------------------------------------------------------------------------

    def send_message(self, channel_id: int | str, content: str, **extra: Any) -> dict[str, Any]:
        """A new message: MESSAGE_CREATE (remembered in :attr:`messages`)."""
        message = self._hub.create_message(channel_id, content, **extra)
        self.messages[int(message["id"])] = message
        return message

    def edit_message(self, message_id: int | str, content: str) -> dict[str, Any]:
        """Edit a message: a partial MESSAGE_UPDATE (id, channel, content, edit time)."""
        message = self.messages[int(message_id)]
        edited = iso_timestamp(_now_ms())
        message.update(content=content, edited_timestamp=edited)
        data = {
            "id": message["id"],
            "channel_id": message["channel_id"],
            "content": content,
            "edited_timestamp": edited,
        }
        guild_id = message.get("guild_id")
        if guild_id is not None:
            data["guild_id"] = guild_id
        self._dispatch("MESSAGE_UPDATE", data, None if guild_id is None else int(guild_id))
        return message

    def delete_messages(self, message_ids: list[int | str]) -> None:
        """Delete messages of one channel: MESSAGE_DELETE for one, MESSAGE_DELETE_BULK for more."""
        found = [self.messages.pop(int(m)) for m in message_ids]
        if not found:
            return
        channel_id, guild_id = found[0]["channel_id"], found[0].get("guild_id")
        gid = None if guild_id is None else int(guild_id)
        data: dict[str, Any] = {"channel_id": channel_id}
        if guild_id is not None:
            data["guild_id"] = guild_id
        if len(found) == 1:
            self._dispatch("MESSAGE_DELETE", {"id": found[0]["id"], **data}, gid)
        else:
            self._dispatch("MESSAGE_DELETE_BULK", {"ids": [m["id"] for m in found], **data}, gid)


def _now_ms() -> int:
    return int(time.time() * 1000)

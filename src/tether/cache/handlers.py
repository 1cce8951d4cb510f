"""The table of cache update functions: dispatch name -> function, per kept parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.cache import guilds, members, messages
from tether.cache.flags import CacheFlags

if TYPE_CHECKING:
    from tether.cache.store import Handler

__all__ = ["ALL_HANDLERS", "handlers_for"]

G, C, T, R = CacheFlags.GUILDS, CacheFlags.CHANNELS, CacheFlags.THREADS, CacheFlags.ROLES
M, V, P = CacheFlags.MEMBERS, CacheFlags.VOICE_STATES, CacheFlags.PRESENCES
#: Always applied, whatever is kept (the session, the bot's user, member requests).
_ALWAYS = CacheFlags.NONE

#: Dispatch name -> (update function, the parts any of which make it worth applying).
ALL_HANDLERS: dict[str, tuple[Handler, CacheFlags]] = {
    "READY": (guilds.ready, _ALWAYS),
    "GUILD_CREATE": (guilds.guild_create, G),
    "GUILD_UPDATE": (guilds.guild_update, G),
    "GUILD_DELETE": (guilds.guild_delete, G),
    "GUILD_ROLE_CREATE": (guilds.guild_role_create, R),
    "GUILD_ROLE_UPDATE": (guilds.guild_role_create, R),
    "GUILD_ROLE_DELETE": (guilds.guild_role_delete, R | M),
    "CHANNEL_CREATE": (guilds.channel_create, C | T),
    "CHANNEL_UPDATE": (guilds.channel_create, C | T),
    "CHANNEL_DELETE": (guilds.channel_delete, C | T),
    "CHANNEL_PINS_UPDATE": (guilds.channel_pins_update, C | T),
    "THREAD_CREATE": (guilds.channel_create, T),
    "THREAD_UPDATE": (guilds.channel_create, T),
    "THREAD_DELETE": (guilds.thread_delete, T),
    "THREAD_LIST_SYNC": (guilds.thread_list_sync, T),
    "THREAD_MEMBER_UPDATE": (guilds.thread_member_update, T),
    "THREAD_MEMBERS_UPDATE": (guilds.thread_members_update, T),
    "GUILD_MEMBER_ADD": (members.guild_member_add, M),
    "GUILD_MEMBER_UPDATE": (members.guild_member_update, M),
    "GUILD_MEMBER_REMOVE": (members.guild_member_remove, G),
    "GUILD_MEMBERS_CHUNK": (members.guild_members_chunk, _ALWAYS),
    "RATE_LIMITED": (members.rate_limited, _ALWAYS),
    "PRESENCE_UPDATE": (members.presence_update, _ALWAYS),
    "VOICE_STATE_UPDATE": (members.voice_state_update, M | V),
    "USER_UPDATE": (members.user_update, _ALWAYS),
    "MESSAGE_CREATE": (messages.message_create, C | T | M | CacheFlags.MESSAGES),
    "MESSAGE_UPDATE": (messages.message_update, CacheFlags.MESSAGES),
    "MESSAGE_DELETE": (messages.message_delete, CacheFlags.MESSAGES),
    "MESSAGE_DELETE_BULK": (messages.message_delete_bulk, CacheFlags.MESSAGES),
}


def handlers_for(kept: CacheFlags) -> dict[str, Handler]:
    """The update functions worth calling when ``kept`` parts are kept."""
    return {
        name: handler
        for name, (handler, parts) in ALL_HANDLERS.items()
        if parts == _ALWAYS or kept & parts
    }

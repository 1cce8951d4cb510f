"""Gateway intents (spec section 8)."""

from __future__ import annotations

import enum

__all__ = ["ALL_DEFINED", "PRIVILEGED", "Intents"]


class Intents(enum.IntFlag):
    """The intent bitfield sent in IDENTIFY."""

    NONE = 0
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25

    @classmethod
    def default(cls) -> Intents:
        """Every unprivileged intent (what most bots want)."""
        return cls(ALL_DEFINED & ~PRIVILEGED)

    @classmethod
    def all(cls) -> Intents:
        """Every defined intent, privileged ones included."""
        return cls(ALL_DEFINED)


#: Every defined bit: 53608447 (0x331FFFF).
ALL_DEFINED = 0x331FFFF
#: GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT = 33026.
PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)

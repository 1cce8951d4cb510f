"""What the cache keeps: :class:`CacheFlags`, and which intent each part needs (spec 8).

A part is kept only when its flag is set **and** the bot asked for the intent that carries
its events; otherwise it stays empty and :meth:`CacheFlags.explain` says why. Users are not
a part of their own: a user is kept while a kept member, message or the bot refers to it.
"""

from __future__ import annotations

import enum

from tether.wire.intents import Intents

__all__ = ["REQUIRED_INTENTS", "CacheFlags", "effective_flags", "explain"]


class CacheFlags(enum.IntFlag):
    """The parts of the cache; combine with ``|``.

    Every part but MESSAGES lives inside a guild, so it needs GUILDS too.
    """

    NONE = 0
    GUILDS = 1 << 0
    CHANNELS = 1 << 1
    THREADS = 1 << 2
    ROLES = 1 << 3
    MEMBERS = 1 << 4
    VOICE_STATES = 1 << 5
    PRESENCES = 1 << 6
    MESSAGES = 1 << 7

    ALL = (1 << 8) - 1
    #: Guilds, channels, threads and roles: the structure, without any member.
    STRUCTURE = GUILDS | CHANNELS | THREADS | ROLES

    @classmethod
    def default(cls) -> CacheFlags:
        """Everything (what the bot's intents allow)."""
        return cls.ALL


#: The intents (any one of them) a part needs.
REQUIRED_INTENTS: dict[CacheFlags, Intents] = {
    CacheFlags.GUILDS: Intents.GUILDS,
    CacheFlags.CHANNELS: Intents.GUILDS,
    CacheFlags.THREADS: Intents.GUILDS,
    CacheFlags.ROLES: Intents.GUILDS,
    CacheFlags.MEMBERS: Intents.GUILD_MEMBERS,
    CacheFlags.VOICE_STATES: Intents.GUILD_VOICE_STATES,
    CacheFlags.PRESENCES: Intents.GUILD_PRESENCES,
    CacheFlags.MESSAGES: Intents.GUILD_MESSAGES | Intents.DIRECT_MESSAGES,
}

_IN_GUILD = CacheFlags.ALL & ~(CacheFlags.GUILDS | CacheFlags.MESSAGES)


def effective_flags(flags: CacheFlags, intents: int | None) -> CacheFlags:
    """The parts actually kept: ``flags`` minus parts whose intent is missing.

    Args:
        flags: what the user asked to keep.
        intents: the bot's intents (None: assume every intent).
    """
    kept = CacheFlags(flags)
    for part, needed in REQUIRED_INTENTS.items():
        if intents is not None and not intents & needed:
            kept &= ~part
    if not kept & CacheFlags.GUILDS:
        kept &= ~_IN_GUILD
    return kept


def explain(flags: CacheFlags, intents: int | None) -> dict[CacheFlags, str]:
    """For every part that stays empty, why (one sentence each)."""
    reasons: dict[CacheFlags, str] = {}
    kept = effective_flags(flags, intents)
    for part, required in REQUIRED_INTENTS.items():
        if kept & part:
            continue
        if not flags & part:
            reasons[part] = f"not kept: CacheFlags.{part.name} is not set"
        elif intents is not None and not intents & required:
            needed = " or ".join(str(i.name) for i in Intents if i & required)
            reasons[part] = f"empty: the bot did not ask for the {needed} intent"
        else:
            reasons[part] = "empty: guild parts need CacheFlags.GUILDS and the GUILDS intent"
    return reasons

"""Sharding support: identify queues and session stores (local implementations).

The seams (``IdentifyQueue``, ``SessionStore``) are defined by the runtime; distributed
implementations (Redis) plug into the same methods.
"""

from __future__ import annotations

from tether.runtime.identify import IdentifyQueue, LocalIdentifyQueue, SessionBudget
from tether.runtime.store import SessionRecord, SessionStore, StoreState
from tether.sharding.store import FileStore, MemoryStore

__all__ = [
    "FileStore",
    "IdentifyQueue",
    "LocalIdentifyQueue",
    "MemoryStore",
    "SessionBudget",
    "SessionRecord",
    "SessionStore",
    "StoreState",
    "shard_for",
]


def shard_for(guild_id: int | str, shard_count: int) -> int:
    """The shard that receives ``guild_id``'s events: ``(guild_id >> 22) % shard_count``."""
    return (int(guild_id) >> 22) % shard_count

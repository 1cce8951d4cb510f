"""tether.cache: a lean guild cache, fed by ``cache.update(event)`` (a passive consumer).

Pure: no asyncio, clock, socket or randomness; the gateway and runtime never import it.
``tether.Client`` wires one in (``client.cache``) and calls ``update`` for every event
before handlers see it.
"""

from __future__ import annotations

from tether.cache.chunks import MemberRequests, MembersProgress, MembersRateLimited, MembersResult
from tether.cache.flags import REQUIRED_INTENTS, CacheFlags, effective_flags
from tether.cache.handlers import ALL_HANDLERS
from tether.cache.store import Cache, CacheEvent

__all__ = [
    "ALL_HANDLERS",
    "REQUIRED_INTENTS",
    "Cache",
    "CacheEvent",
    "CacheFlags",
    "MemberRequests",
    "MembersProgress",
    "MembersRateLimited",
    "MembersResult",
    "effective_flags",
]

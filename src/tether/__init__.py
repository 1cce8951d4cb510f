"""tether: an asyncio Discord gateway client whose connection manager never lets go.

The public face; it only re-exports. See README.md for a bot in 20 lines.
"""

from __future__ import annotations

import logging

from tether.bot import Client, GuildStreamProgress
from tether.cache import Cache, CacheFlags, MembersResult
from tether.errors import (
    AuthenticationFailed,
    ConfigError,
    DisallowedIntents,
    FatalCloseError,
    GatewayError,
    InvalidApiVersion,
    InvalidIntents,
    InvalidShard,
    InvalidState,
    MemberRequestError,
    MemberRequestRateLimited,
    MemberRequestTimeout,
    SessionBudgetExhausted,
    ShardingRequired,
    TetherError,
)
from tether.gateway.events import (
    Connected,
    Disconnected,
    Dispatch,
    Event,
    GuildAvailable,
    GuildUnavailable,
    HandlerBlocked,
    LatencyUpdated,
    Ready,
    Resumed,
    SessionLost,
)
from tether.gateway.state import ShardState
from tether.runtime.shard import ShardStatus
from tether.wire.intents import Intents

__all__ = [
    "AuthenticationFailed",
    "Cache",
    "CacheFlags",
    "Client",
    "ConfigError",
    "Connected",
    "DisallowedIntents",
    "Disconnected",
    "Dispatch",
    "Event",
    "FatalCloseError",
    "GatewayError",
    "GuildAvailable",
    "GuildStreamProgress",
    "GuildUnavailable",
    "HandlerBlocked",
    "Intents",
    "InvalidApiVersion",
    "InvalidIntents",
    "InvalidShard",
    "InvalidState",
    "LatencyUpdated",
    "MemberRequestError",
    "MemberRequestRateLimited",
    "MemberRequestTimeout",
    "MembersResult",
    "Ready",
    "Resumed",
    "SessionBudgetExhausted",
    "SessionLost",
    "ShardState",
    "ShardStatus",
    "ShardingRequired",
    "TetherError",
]

__version__ = "0.1.0"

logging.getLogger("tether").addHandler(logging.NullHandler())

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
    Forbidden,
    GatewayError,
    HTTPError,
    InteractionAlreadyResponded,
    InteractionTimedOut,
    InvalidApiVersion,
    InvalidIntents,
    InvalidRequestLimit,
    InvalidShard,
    InvalidState,
    MemberRequestError,
    MemberRequestRateLimited,
    MemberRequestTimeout,
    NotFound,
    RateLimited,
    ServerError,
    SessionBudgetExhausted,
    ShardingRequired,
    TetherError,
    Unauthorized,
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
from tether.rest import RestClient
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
    "Forbidden",
    "GatewayError",
    "GuildAvailable",
    "GuildStreamProgress",
    "GuildUnavailable",
    "HTTPError",
    "HandlerBlocked",
    "Intents",
    "InteractionAlreadyResponded",
    "InteractionTimedOut",
    "InvalidApiVersion",
    "InvalidIntents",
    "InvalidRequestLimit",
    "InvalidShard",
    "InvalidState",
    "LatencyUpdated",
    "MemberRequestError",
    "MemberRequestRateLimited",
    "MemberRequestTimeout",
    "MembersResult",
    "NotFound",
    "RateLimited",
    "Ready",
    "RestClient",
    "Resumed",
    "ServerError",
    "SessionBudgetExhausted",
    "SessionLost",
    "ShardState",
    "ShardStatus",
    "ShardingRequired",
    "TetherError",
    "Unauthorized",
]

__version__ = "0.1.0"

logging.getLogger("tether").addHandler(logging.NullHandler())

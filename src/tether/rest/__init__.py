"""tether.rest: Discord's REST API with every rate limit kept (spec section 11).

- :mod:`~tether.rest.ratelimit`: the pure bucket bookkeeping (takes ``now``).
- :mod:`~tether.rest.http`: the thin aiohttp driver of that bookkeeping.
- :mod:`~tether.rest.client`: :class:`RestClient`, the endpoints with typed results.
- :mod:`~tether.rest.interactions`: answering INTERACTION_CREATE within 3 s.
- :mod:`~tether.rest.routes`, :mod:`~tether.rest.builders`, :mod:`~tether.rest.types`.

Imports from tether: only ``errors``, ``token``, ``urls`` and ``wire`` (never ``runtime``
or ``cache``), so the REST client works without a gateway connection.
"""

from __future__ import annotations

from tether.rest.builders import MISSING, AllowedMentions
from tether.rest.client import DISCORD_API_URL, RestClient
from tether.rest.http import RestStats
from tether.rest.interactions import CallbackType, Interaction, InteractionBook
from tether.rest.ratelimit import LimiterConfig, RateLimiter, ResponseInfo
from tether.rest.routes import CompiledRoute, Route
from tether.rest.types import (
    Channel,
    GatewayBot,
    Guild,
    InteractionCallback,
    Member,
    Message,
    SessionStartLimit,
    User,
)

__all__ = [
    "DISCORD_API_URL",
    "MISSING",
    "AllowedMentions",
    "CallbackType",
    "Channel",
    "CompiledRoute",
    "GatewayBot",
    "Guild",
    "Interaction",
    "InteractionBook",
    "InteractionCallback",
    "LimiterConfig",
    "Member",
    "Message",
    "RateLimiter",
    "ResponseInfo",
    "RestClient",
    "RestStats",
    "Route",
    "SessionStartLimit",
    "User",
]

"""The sans-I/O gateway core: per-socket protocol, session, state table, policies.

Pure code: no asyncio, no sockets, no clock. Time (``now``) and randomness (``rng``) are
parameters, so every behaviour is testable on a fake clock with seeded randomness.
"""

from __future__ import annotations

from tether.gateway.backoff import Backoff
from tether.gateway.events import (
    Connected,
    Disconnected,
    Dispatch,
    Event,
    GuildAvailable,
    GuildUnavailable,
    LatencyUpdated,
    Ready,
    Resumed,
    SessionLost,
)
from tether.gateway.limiter import SendLimiter
from tether.gateway.policy import CLOSE_POLICY, Action, Initiator, Verdict, decide
from tether.gateway.protocol import (
    CloseFrame,
    ConnectionEnded,
    HelloReceived,
    Phase,
    ProtocolConfig,
    ShardProtocol,
)
from tether.gateway.session import Session, SessionSnapshot
from tether.gateway.state import ShardState, ShardStateMachine, Trigger

__all__ = [
    "CLOSE_POLICY",
    "Action",
    "Backoff",
    "CloseFrame",
    "Connected",
    "ConnectionEnded",
    "Disconnected",
    "Dispatch",
    "Event",
    "GuildAvailable",
    "GuildUnavailable",
    "HelloReceived",
    "Initiator",
    "LatencyUpdated",
    "Phase",
    "ProtocolConfig",
    "Ready",
    "Resumed",
    "SendLimiter",
    "Session",
    "SessionLost",
    "SessionSnapshot",
    "ShardProtocol",
    "ShardState",
    "ShardStateMachine",
    "Trigger",
    "Verdict",
    "decide",
]

"""Events that the gateway core produces and the client hands to user handlers.

Every event is a frozen, slotted, keyword-only value object: tests compare them with ``==``.
Lifecycle events are classes (``@client.on(Ready)``); dispatches reach handlers by their
gateway name (``@client.on("MESSAGE_CREATE")``) as :class:`Dispatch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.wire.codec import Frame

__all__ = [
    "Connected",
    "Disconnected",
    "Dispatch",
    "Event",
    "GuildAvailable",
    "GuildUnavailable",
    "HandlerBlocked",
    "LatencyUpdated",
    "Ready",
    "Resumed",
    "SessionLost",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; ``shard_id`` says which shard produced it."""

    shard_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected(Event):
    """A socket reached READY or RESUMED: the shard can send and receive.

    ``resumed`` is True when the session continued (no new guild stream follows).
    """

    session_id: str
    resumed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(Event):
    """A socket that was open has ended.

    Attributes:
        code: the close code (None for a drop without a close frame).
        initiator: ``"server"``, ``"client"`` or ``"transport"``.
        reason: a human-readable cause (never contains the token).
        will_reconnect: whether the manager will connect again.
        resumable: whether the next connection will try RESUME (session kept).
    """

    code: int | None
    initiator: str
    reason: str
    will_reconnect: bool
    resumable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready(Event):
    """A new session's guild stream is complete (once per session, never on a resume).

    ``guilds_received`` guilds arrived (available or reported unavailable);
    ``guilds_missing`` never arrived before ``guild_ready_timeout`` and are treated as
    unavailable. ``guilds_unavailable`` is every guild known unavailable at this moment.
    """

    session_id: str
    user: dict[str, Any] = field(default_factory=dict, compare=False)
    guilds_expected: int
    guilds_received: int
    guilds_missing: int
    guilds_unavailable: int
    timed_out: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(Event):
    """A RESUME succeeded; ``replayed`` dispatches were re-sent by the gateway before RESUMED."""

    session_id: str
    replayed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLost(Event):
    """A session was lost and a new one was identified: events may have been missed.

    Attributes:
        old_session_id: the session that ended.
        last_seq: the last sequence number handled in it.
        since: the loop time at which the client received the old session's last event
            (the server may have ended the session slightly earlier; every event after
            ``last_seq`` counts as possibly missed, whenever it was sent).
        until: the loop time the new session's READY arrived.
        reason: why the old session ended.
    """

    old_session_id: str
    last_seq: int
    since: float
    until: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildAvailable(Event):
    """A guild that was unavailable (outage, or late after Ready) is available."""

    guild_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildUnavailable(Event):
    """A guild became unavailable (GUILD_DELETE with ``unavailable: true``)."""

    guild_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyUpdated(Event):
    """A heartbeat was acknowledged; ``latency`` in seconds (previous value or None)."""

    latency: float
    previous: float | None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Dispatch(Event):
    """A gateway dispatch (op 0), delivered to handlers registered for ``name``.

    ``data`` decodes the body on first access, so handlers that do not read it cost no decode.
    """

    name: str
    seq: int | None
    frame: Frame = field(repr=False)

    @property
    def data(self) -> Any:
        """The decoded ``d`` of the dispatch."""
        return self.frame.data()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dispatch):
            return NotImplemented
        return (self.name, self.seq, self.shard_id, self.frame.raw) == (
            other.name,
            other.seq,
            other.shard_id,
            other.frame.raw,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.seq, self.shard_id))


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerBlocked(Event):
    """The user's event loop was blocked for ``seconds`` (reported while it was blocked).

    Attributes:
        handler: qualified name of the handler that was running, if one was found.
        event: the name of the event it was handling (``"MESSAGE_CREATE"``, ``"Ready"``).
        seconds: how long the loop had been blocked when this report was made.
        stack: the stack of the loop's thread at that moment, innermost frame last.
    """

    handler: str | None
    event: str | None
    seconds: float
    stack: str = field(repr=False)

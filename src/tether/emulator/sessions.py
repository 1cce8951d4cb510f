"""Server-side gateway sessions: sequence numbers and the replay buffer (spec 5, 14 E30, G).

A :class:`Session` outlives its sockets. It owns the sequence counter and a bounded
buffer of the dispatches it was given, so a RESUME can replay everything after the
client's last seq. Sessions are plain state; the time (``now``) is always a parameter.

READY and RESUMED take a sequence number but are not buffered: a replay never repeats them.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
from typing import Any

__all__ = ["BufferedDispatch", "ResumeCheck", "Session", "SessionState"]


@dataclasses.dataclass(frozen=True, slots=True)
class BufferedDispatch:
    """One dispatch as a session got it: its seq, name and (session-specific) data."""

    s: int
    t: str
    d: Any


class SessionState(enum.Enum):
    """Where a session stands."""

    #: A socket is attached and receives live dispatches.
    ACTIVE = "active"
    #: No socket; dispatches are buffered; resumable until ``expires_at``.
    DETACHED = "detached"
    #: Gone: a RESUME gets op 9 ``d: false``.
    INVALID = "invalid"


class ResumeCheck(enum.Enum):
    """What a RESUME's seq means for a session."""

    OK = "ok"
    #: Older than the oldest buffered dispatch: the gap cannot be filled (op 9 false).
    TOO_OLD = "too_old"
    #: Greater than the last seq sent: close 4007.
    AHEAD = "ahead"


class Session:
    """One gateway session (created by a successful IDENTIFY).

    Attributes:
        id: the ``session_id`` given in READY.
        intents: the IDENTIFY intents.
        shard: the IDENTIFY shard, or None.
        large_threshold: the (clamped) IDENTIFY large_threshold.
        compress: IDENTIFY ``compress`` (payload compression was asked for).
        properties: the IDENTIFY connection properties.
        seq: the last sequence number given out (0 before READY).
        last_sent_seq: the last seq actually written to a socket (None before any).
        buffer: the replay buffer, oldest first.
        evicted_upto: the highest seq pushed out of the buffer (0: nothing lost).
        state: see :class:`SessionState`.
        connection: the attached connection (an ``emulator.connection.Connection``).
        created_at, detached_at, expires_at: loop-clock times.
        invalid_reason: why it became invalid.
        resume_count: successful resumes so far.
        guild_ids: the guilds listed in its READY.
        tasks: background tasks (guild stream) owned by the session.
    """

    def __init__(
        self,
        session_id: str,
        *,
        intents: int,
        shard: tuple[int, int] | None,
        large_threshold: int,
        compress: bool,
        properties: dict[str, Any],
        now: float,
    ) -> None:
        self.id = session_id
        self.intents = intents
        self.shard = shard
        self.large_threshold = large_threshold
        self.compress = compress
        self.properties = properties
        self.seq = 0
        self.last_sent_seq: int | None = None
        self.buffer: collections.deque[BufferedDispatch] = collections.deque()
        self.evicted_upto = 0
        self.state = SessionState.ACTIVE
        self.connection: Any = None
        self.created_at = now
        self.detached_at: float | None = None
        self.expires_at: float | None = None
        self.invalid_reason: str | None = None
        self.resume_count = 0
        self.guild_ids: list[int] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"Session({self.id!r}, seq={self.seq}, {self.state.value}, shard={self.shard})"

    @property
    def resumable(self) -> bool:
        """Not invalidated (expiry is checked by :meth:`expire_if_due`, with the time)."""
        return self.state is not SessionState.INVALID

    def next_dispatch(
        self, t: str, d: Any, *, max_buffer: int, buffered: bool = True
    ) -> BufferedDispatch:
        """Give a dispatch the next seq and (unless ``buffered`` is False) buffer it.

        Args:
            t: the dispatch name.
            d: its data, as this session should see it.
            max_buffer: the replay buffer size; the oldest entries are evicted beyond it.
            buffered: False for READY and RESUMED.
        """
        self.seq += 1
        item = BufferedDispatch(self.seq, t, d)
        if buffered:
            self.buffer.append(item)
            while len(self.buffer) > max(0, max_buffer):
                self.evicted_upto = self.buffer.popleft().s
        return item

    def check_resume(self, seq: int) -> ResumeCheck:
        """Whether a RESUME from ``seq`` can be served (spec 14 G41, G42)."""
        if seq > self.seq:
            return ResumeCheck.AHEAD
        if seq < self.evicted_upto:
            return ResumeCheck.TOO_OLD
        return ResumeCheck.OK

    def replay_after(self, seq: int) -> list[BufferedDispatch]:
        """Every buffered dispatch with ``s > seq``, in order."""
        return [item for item in self.buffer if item.s > seq]

    def attach(self, connection: Any) -> None:
        """Make ``connection`` the session's live socket."""
        self.connection = connection
        self.state = SessionState.ACTIVE
        self.detached_at = self.expires_at = None

    def detach(self, now: float, expiry_s: float) -> None:
        """The socket is gone but the session may be resumed until ``now + expiry_s``."""
        self.connection = None
        if self.state is SessionState.ACTIVE:
            self.state = SessionState.DETACHED
            self.detached_at = now
            self.expires_at = now + expiry_s

    def invalidate(self, reason: str) -> bool:
        """Make the session unresumable; returns False if it already was."""
        self.connection = None
        if self.state is SessionState.INVALID:
            return False
        self.state = SessionState.INVALID
        self.invalid_reason = reason
        for task in self.tasks:
            task.cancel()
        return True

    def expire_if_due(self, now: float) -> bool:
        """Invalidate a detached session whose time is up; returns True if it did."""
        if (
            self.state is SessionState.DETACHED
            and self.expires_at is not None
            and now >= self.expires_at
        ):
            return self.invalidate("expired")
        return False

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view for the control API."""
        return {
            "session_id": self.id,
            "state": self.state.value,
            "seq": self.seq,
            "last_sent_seq": self.last_sent_seq,
            "buffered": len(self.buffer),
            "evicted_upto": self.evicted_upto,
            "intents": self.intents,
            "shard": list(self.shard) if self.shard else None,
            "resume_count": self.resume_count,
            "invalid_reason": self.invalid_reason,
            "expires_at": self.expires_at,
            "conn_id": None if self.connection is None else self.connection.id,
        }

"""The gateway send limit: 120 payloads per 60 s per connection (spec 6.1).

Heartbeats are never held back; ordinary commands may use ``limit - reserved`` of the window,
so heartbeats always have room. Pure: every method takes ``now``.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SendLimiter"]


class SendLimiter:
    """A sliding-window counter of sends on one connection."""

    __slots__ = ("_sent", "limit", "reserved", "window")

    def __init__(self, *, limit: int = 120, window: float = 60.0, reserved: int = 5) -> None:
        self.limit = limit
        self.window = window
        self.reserved = reserved
        self._sent: deque[float] = deque()

    def _expire(self, now: float) -> None:
        sent = self._sent
        while sent and sent[0] <= now - self.window:
            sent.popleft()

    def can_send(self, now: float, *, heartbeat: bool = False) -> bool:
        """Whether a payload may go out now (heartbeats use the reserved room too)."""
        self._expire(now)
        room = self.limit if heartbeat else self.limit - self.reserved
        return len(self._sent) < room

    def record(self, now: float) -> None:
        """Count one payload sent at ``now``."""
        self._sent.append(now)

    def earliest_free(self) -> float:
        """The earliest time an ordinary command may be sent (a past time means "now")."""
        over = len(self._sent) - (self.limit - self.reserved)
        if over < 0:
            return 0.0
        return self._sent[over] + self.window

    def next_free(self, now: float) -> float:
        """The earliest time an ordinary command may be sent."""
        self._expire(now)
        over = len(self._sent) - (self.limit - self.reserved)
        if over < 0:
            return now
        return self._sent[over] + self.window

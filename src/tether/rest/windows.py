"""The two sliding windows of the REST limiter, pure (every method takes ``now``).

- :class:`GlobalWindow`: the global limit. A request's slot is counted from its *answer*
  (Discord counted it at some moment before the answer arrived), so a slot expiring
  ``period`` after the answer never overlaps Discord's window, whatever the jitter.
- :class:`InvalidRequestGuard`: 401/403/429 answers in a sliding window (spec 11.4).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tether.errors import InvalidRequestLimit

__all__ = ["GlobalWindow", "InvalidRequestGuard", "Slot"]


@dataclass(eq=False, slots=True)
class Slot:
    """One request's place in the global window; ``answered_at`` is None while in flight."""

    answered_at: float | None = None


class GlobalWindow:
    """Slots of the last ``limit`` requests; a slot expires ``period`` after its answer."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.slots: list[Slot] = []
        self.blocked_until = 0.0

    def _prune(self, now: float) -> None:
        # Same arithmetic as room_at(), so a deadline it gives is always a moment of room.
        period = self.period
        self.slots = [
            s for s in self.slots if s.answered_at is None or s.answered_at + period > now
        ]

    def has_room(self, now: float) -> bool:
        """Whether one more request may go now."""
        self._prune(now)
        return now >= self.blocked_until and len(self.slots) < self.limit

    def take(self) -> Slot:
        """Count a request that is being sent; set its ``answered_at`` when answered."""
        slot = Slot()
        self.slots.append(slot)
        return slot

    def room_at(self, now: float) -> float | None:
        """When a slot frees (None: only when an in-flight request is answered)."""
        self._prune(now)
        at = max(now, self.blocked_until)
        if len(self.slots) < self.limit:
            return at
        answered = [s.answered_at for s in self.slots if s.answered_at is not None]
        return max(at, min(answered) + self.period) if answered else None


class InvalidRequestGuard:
    """Invalid answers in a sliding window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def record(self, now: float) -> None:
        """Count an invalid answer received at ``now``."""
        self.times.append(now)

    def count(self, now: float) -> int:
        """Invalid answers in the window ending at ``now``."""
        while self.times and self.times[0] + self.window <= now:
            self.times.popleft()
        return len(self.times)

    def error(self, now: float) -> InvalidRequestLimit | None:
        """The error to refuse requests with while the limit is reached (None: send)."""
        count = self.count(now)
        if count < self.limit:
            return None
        reopens = self.times[count - self.limit] + self.window
        return InvalidRequestLimit(count, self.limit, self.window, max(0.0, reopens - now))

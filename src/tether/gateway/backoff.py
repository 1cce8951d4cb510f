"""Reconnect backoff: full jitter with a cap, reset after a stable connection (spec 5.7).

Pure: takes ``now`` and an ``rng`` (anything with ``random() -> float``).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Backoff", "Rng"]


class Rng(Protocol):
    """The randomness the pure core needs (``random.Random`` satisfies it)."""

    def random(self) -> float:
        """A float uniformly in [0, 1)."""
        ...

    def uniform(self, a: float, b: float) -> float:
        """A float uniformly in [a, b]."""
        ...


class Backoff:
    """Delays between connection attempts.

    The first attempt after a stable connection is immediate; each further consecutive
    failure waits ``uniform(0, min(cap, base * 2**(n-1)))`` (full jitter). A connection
    counts as stable once it stayed connected for ``stable_after`` seconds.
    """

    __slots__ = ("_connected_at", "base", "cap", "failures", "stable_after")

    def __init__(self, *, base: float = 1.0, cap: float = 60.0, stable_after: float = 1.0) -> None:
        self.base = base
        self.cap = cap
        self.stable_after = stable_after
        self.failures = 0
        self._connected_at: float | None = None

    def connected(self, now: float) -> None:
        """Call when a connection reached READY or RESUMED."""
        self._connected_at = now

    def next_delay(self, now: float, rng: Rng) -> float:
        """Call when a connection ended; returns how long to wait before the next attempt."""
        if self._connected_at is not None and now - self._connected_at >= self.stable_after:
            self.failures = 0
        self._connected_at = None
        n = self.failures
        self.failures += 1
        if n == 0:
            return 0.0
        return rng.uniform(0.0, min(self.cap, self.base * 2.0 ** min(n - 1, 64)))

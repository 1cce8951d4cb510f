"""Identify pacing (spec 6.2) and the daily session-start budget (spec 6.3).

:class:`IdentifyQueue` is the seam: anything with ``async acquire(shard_id)`` that returns
when that shard may IDENTIFY. :class:`LocalIdentifyQueue` paces one process: shards are
grouped by ``shard_id % max_concurrency`` and each bucket starts one session per ``window``
seconds (5 on Discord). RESUME never goes through the queue. A distributed queue (several
processes or machines sharing one bot) implements the same method.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from tether.errors import SessionBudgetExhausted
from tether.runtime.clock import loop_time

__all__ = ["IdentifyQueue", "LocalIdentifyQueue", "SessionBudget"]

log = logging.getLogger("tether.runtime")


class IdentifyQueue(Protocol):
    """Decides when a shard may send IDENTIFY.

    A shard calls :meth:`acquire`, opens its socket, and then exactly one of
    :meth:`identified` (the IDENTIFY went out) or :meth:`release` (it did not).
    """

    async def acquire(self, shard_id: int) -> None:
        """Return when ``shard_id`` may IDENTIFY; its bucket is held until released."""
        ...

    def identified(self, shard_id: int, now: float) -> None:
        """The IDENTIFY was sent at ``now``: the bucket's next slot is ``window`` later."""
        ...

    def release(self, shard_id: int) -> None:
        """No IDENTIFY was sent after all: free the bucket without using its slot."""
        ...


class LocalIdentifyQueue:
    """Per-process identify pacing: one IDENTIFY per bucket per ``window`` seconds."""

    def __init__(self, *, max_concurrency: int = 1, window: float = 5.0) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.window = window
        self._next: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: dict[int, int] = {}

    async def acquire(self, shard_id: int) -> None:
        """See :meth:`IdentifyQueue.acquire`."""
        bucket = shard_id % self.max_concurrency
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a restarted client runs on a new I/O loop
            self._locks, self._loop = {}, loop
        lock = self._locks.setdefault(bucket, asyncio.Lock())
        await lock.acquire()
        try:
            delay = self._next.get(bucket, 0.0) - loop_time()
            if delay > 0:
                await asyncio.sleep(delay)
        except BaseException:
            lock.release()
            raise
        self._held[shard_id] = bucket

    def identified(self, shard_id: int, now: float) -> None:
        """See :meth:`IdentifyQueue.identified`."""
        bucket = self._held.pop(shard_id, None)
        if bucket is not None:
            # A tenth of a window of slack: the gateway measures arrival, not our send time.
            self._next[bucket] = now + self.window * 1.1
            self._locks[bucket].release()

    def release(self, shard_id: int) -> None:
        """See :meth:`IdentifyQueue.release`."""
        bucket = self._held.pop(shard_id, None)
        if bucket is not None:
            self._locks[bucket].release()


#: Warn when the remaining session starts fall to these fractions of the total.
_WARN_FRACTIONS = (0.5, 0.25, 0.1, 0.05, 0.01)


class SessionBudget:
    """The daily session-start budget, counted locally between ``/gateway/bot`` readings.

    Every IDENTIFY calls :meth:`take` first. Below ``floor`` remaining starts the budget
    refuses (``SessionBudgetExhausted``) instead of letting the bot burn its last starts and
    have its token reset. Warnings are logged as the budget crosses 50, 25, 10, 5 and 1 %.

    Args:
        floor: IDENTIFY is refused once ``remaining <= floor``.
    """

    def __init__(self, *, floor: int = 0) -> None:
        self.floor = floor
        self.total: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.used = 0
        self._warned: set[float] = set()

    def update(self, limits: dict[str, object], now: float) -> None:
        """Adopt the ``session_start_limit`` object of ``/gateway/bot``."""
        total, remaining = limits.get("total"), limits.get("remaining")
        reset_after = limits.get("reset_after")
        if isinstance(total, int) and isinstance(remaining, int):
            self.total, self.remaining = total, remaining
        if isinstance(reset_after, (int, float)):
            self.reset_at = now + reset_after / 1000.0

    def take(self, shard_id: int, now: float) -> None:
        """Count one IDENTIFY, or refuse it.

        Raises:
            SessionBudgetExhausted: the remaining starts are at or below the floor.
        """
        if self.remaining is None:
            return
        if self.reset_at is not None and now >= self.reset_at and self.total is not None:
            self.remaining, self.reset_at = self.total, None  # a new window began
        if self.remaining <= self.floor:
            raise SessionBudgetExhausted(
                remaining=self.remaining,
                floor=self.floor,
                shard_id=shard_id,
                reset_in=None if self.reset_at is None else max(0.0, self.reset_at - now),
            )
        self.remaining -= 1
        self.used += 1
        self._warn()

    def check_start(self, identifies: int, *, override: bool) -> None:
        """Refuse to start ``identifies`` sessions when fewer starts remain (unless overridden).

        Raises:
            SessionBudgetExhausted: ``remaining - floor`` is smaller than ``identifies``.
        """
        if self.remaining is None or override:
            return
        if self.remaining - self.floor < identifies:
            raise SessionBudgetExhausted(
                remaining=self.remaining,
                floor=self.floor,
                shard_id=None,
                needed=identifies,
                reset_in=None,
            )

    def _warn(self) -> None:
        if not self.total or self.remaining is None:
            return
        crossed = [f for f in _WARN_FRACTIONS if self.remaining <= self.total * f]
        fresh = [f for f in crossed if f not in self._warned]
        if not fresh:
            return
        self._warned.update(crossed)
        log.warning(
            "session-start budget low: %d of %d left (under %.0f%%); at %d tether stops "
            "identifying",
            self.remaining,
            self.total,
            min(fresh) * 100,
            self.floor,
        )

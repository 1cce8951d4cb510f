"""Identify pacing: at most one IDENTIFY per bucket per window (spec 6.2).

Shards are grouped by ``shard_id % max_concurrency``; each bucket may start one session per
``window`` seconds (5 s on Discord). RESUME never waits here. This is the local, in-process
gate; a distributed queue (issue: sharding) will implement the same ``acquire``.
"""

from __future__ import annotations

import asyncio

from tether.runtime.clock import loop_time

__all__ = ["IdentifyGate"]


class IdentifyGate:
    """Waits so that IDENTIFYs of one bucket are at least ``window`` seconds apart."""

    def __init__(self, *, max_concurrency: int = 1, window: float = 5.0) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.window = window
        self._next: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self, shard_id: int) -> None:
        """Return when ``shard_id`` may IDENTIFY now; reserves the bucket's slot."""
        bucket = shard_id % self.max_concurrency
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a restarted client runs on a new I/O loop
            self._locks, self._loop = {}, loop
        lock = self._locks.setdefault(bucket, asyncio.Lock())
        async with lock:
            delay = self._next.get(bucket, 0.0) - loop_time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[bucket] = loop_time() + self.window

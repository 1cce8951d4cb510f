"""The runtime's source of time: the running event loop's monotonic clock."""

from __future__ import annotations

import asyncio

__all__ = ["loop_time"]


def loop_time() -> float:
    """Seconds on the running loop's monotonic clock (the ``now`` the pure core receives)."""
    return asyncio.get_running_loop().time()

"""The asyncio runtime: socket driver per shard, the Client, and the handler dispatcher."""

from __future__ import annotations

from tether.runtime.client import DEFAULT_API_URL, Client
from tether.runtime.shard import Shard, ShardStatus

__all__ = ["DEFAULT_API_URL", "Client", "Shard", "ShardStatus"]

"""Session stores: in memory (tests, one process) and a file written atomically."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path

from tether.runtime.store import StoreState

__all__ = ["FileStore", "MemoryStore"]

log = logging.getLogger("tether.sharding")


class MemoryStore:
    """Keeps the state in memory; share one instance between clients of one process."""

    def __init__(self) -> None:
        self.state = StoreState()
        self.saves = 0

    async def load(self) -> StoreState:
        """See :class:`tether.runtime.store.SessionStore`."""
        return StoreState.from_dict(self.state.to_dict())

    async def save(self, state: StoreState) -> None:
        """See :class:`tether.runtime.store.SessionStore`."""
        self.state = StoreState.from_dict(state.to_dict())
        self.saves += 1


class FileStore:
    """A JSON file, replaced atomically (write a temporary file, fsync, rename).

    Args:
        path: the file; its directory must exist. It never contains the token.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.saves = 0

    async def load(self) -> StoreState:
        """See :class:`tether.runtime.store.SessionStore`; a missing or corrupt file is empty."""
        return await asyncio.to_thread(self._read)

    async def save(self, state: StoreState) -> None:
        """See :class:`tether.runtime.store.SessionStore`."""
        data = json.dumps(state.to_dict(), separators=(",", ":")).encode()
        await asyncio.to_thread(self._write, data)
        self.saves += 1

    def _read(self) -> StoreState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return StoreState()
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("session store %s is not valid JSON; starting without it", self.path)
            return StoreState()
        return StoreState.from_dict(data) if isinstance(data, dict) else StoreState()

    def _write(self, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

"""Restart-safe sessions: what is persisted, and the seam a store implements.

A :class:`SessionStore` keeps, per shard, the session id, the last sequence number whose
event was handed to handlers, the resume URL and the shard count, plus the session-start
budget. A restarted process given the same store RESUMEs instead of IDENTIFYing, and the
gateway replays what happened in between. Implementations: ``tether.sharding.MemoryStore``
and ``tether.sharding.FileStore`` (atomic writes); a Redis one can implement the same two
methods.

Why the stored seq is safe: it is never ahead of what handlers have seen, so a crash can
only cause events after it to be *replayed* (delivered again), never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["SessionRecord", "SessionStore", "StoreState"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """One shard's resumable session (no token: the token is never stored)."""

    shard_id: int
    shard_count: int
    session_id: str
    seq: int
    resume_url: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "shard_id": self.shard_id,
            "shard_count": self.shard_count,
            "session_id": self.session_id,
            "seq": self.seq,
            "resume_url": self.resume_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        """Inverse of :meth:`to_dict` (raises KeyError/ValueError/TypeError on bad data)."""
        return cls(
            shard_id=int(data["shard_id"]),
            shard_count=int(data["shard_count"]),
            session_id=str(data["session_id"]),
            seq=int(data["seq"]),
            resume_url=str(data["resume_url"]),
        )


@dataclass(slots=True)
class StoreState:
    """Everything a store holds: sessions by shard id and the session-start budget.

    ``budget`` holds ``total``, ``remaining`` and ``reset_at`` (Unix seconds) when known.
    """

    sessions: dict[int, SessionRecord] = field(default_factory=dict)
    budget: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "version": 1,
            "sessions": [record.to_dict() for record in self.sessions.values()],
            "budget": dict(self.budget),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreState:
        """Inverse of :meth:`to_dict`; unreadable entries are skipped, never fatal."""
        state = cls()
        for item in data.get("sessions") or []:
            try:
                record = SessionRecord.from_dict(item)
            except (KeyError, ValueError, TypeError):
                continue
            state.sessions[record.shard_id] = record
        budget = data.get("budget")
        if isinstance(budget, dict):
            state.budget = {
                k: float(v)
                for k, v in budget.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
        return state


class SessionStore(Protocol):
    """Where sessions survive a restart."""

    async def load(self) -> StoreState:
        """The stored state (empty when nothing was stored)."""
        ...

    async def save(self, state: StoreState) -> None:
        """Replace the stored state (atomically: a crash leaves the old or the new one)."""
        ...

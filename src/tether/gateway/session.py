"""The gateway session: what survives from one socket to the next (spec 5.1, 4.5).

A :class:`Session` holds the session id, the last sequence number, the resume URL and the
guild-stream bookkeeping that decides when ``Ready`` fires. It is plain data plus small pure
methods; :meth:`Session.snapshot` / :meth:`Session.restore` make it serializable so that a
restarted process can resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GuildStream", "LostSession", "Session", "SessionSnapshot"]


@dataclass(frozen=True, slots=True)
class LostSession:
    """A session that was given up, remembered until the next READY reports the gap."""

    session_id: str
    last_seq: int
    since: float
    reason: str


@dataclass(slots=True)
class GuildStream:
    """Tracks the guilds READY promised until every one arrived (the ready rule, spec 4.5)."""

    expected: int = 0
    pending: set[int] = field(default_factory=set)
    unavailable: set[int] = field(default_factory=set)
    known: set[int] = field(default_factory=set)
    received: int = 0
    last_activity: float = 0.0
    complete: bool = False

    def start(self, guild_ids: list[int], now: float) -> None:
        """Begin a new stream for the guild ids listed in READY."""
        self.expected = len(guild_ids)
        self.pending = set(guild_ids)
        self.unavailable = set(guild_ids)
        self.known = set(guild_ids)
        self.received = 0
        self.last_activity = now
        self.complete = False

    def guild_created(self, guild_id: int, *, available: bool, now: float) -> bool:
        """Record a GUILD_CREATE; return True when a known-unavailable guild became available
        *after* the stream completed (a ``GuildAvailable`` to report)."""
        was_pending = guild_id in self.pending
        if was_pending:
            self.pending.discard(guild_id)
            self.received += 1
            self.last_activity = now
        was_unavailable = guild_id in self.unavailable
        self.known.add(guild_id)
        if available:
            self.unavailable.discard(guild_id)
        else:
            self.unavailable.add(guild_id)
        return available and was_unavailable and self.complete and not was_pending

    def guild_deleted(self, guild_id: int, *, unavailable: bool, now: float) -> bool:
        """Record a GUILD_DELETE; return True when it made a guild unavailable."""
        if guild_id in self.pending:
            self.pending.discard(guild_id)
            self.received += 1
            self.last_activity = now
        if unavailable:
            newly = guild_id not in self.unavailable
            self.unavailable.add(guild_id)
            return newly
        self.unavailable.discard(guild_id)
        self.known.discard(guild_id)
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSnapshot:
    """The serializable part of a session: enough to RESUME from another process."""

    session_id: str
    seq: int
    resume_url: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the token is never part of it)."""
        return {"session_id": self.session_id, "seq": self.seq, "resume_url": self.resume_url}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSnapshot:
        """Inverse of :meth:`to_dict`."""
        return cls(
            session_id=str(data["session_id"]),
            seq=int(data["seq"]),
            resume_url=str(data["resume_url"]),
        )


@dataclass(slots=True)
class Session:
    """One gateway session across sockets.

    ``seq`` is the last sequence number *received and accepted* (None before any dispatch).
    ``session_id`` is None when no session is held (the next socket must IDENTIFY).
    """

    session_id: str | None = None
    seq: int | None = None
    resume_url: str | None = None
    user: dict[str, Any] = field(default_factory=dict)
    last_event_at: float = 0.0
    stream: GuildStream = field(default_factory=GuildStream)
    ready_fired: bool = False
    lost: LostSession | None = None
    #: Unreadable payloads in a row at the same ``(session_id, seq)``: a payload the client
    #: cannot read comes back on every RESUME, so the count tells a poisoned replay from a
    #: one-off fault.
    unreadable: tuple[str | None, int | None, int] = (None, None, 0)

    def note_unreadable(self) -> int:
        """Count an unreadable payload at the current position; returns how many in a row
        arrived there (1 when the session moved on since the last one)."""
        session_id, seq, count = self.unreadable
        if (session_id, seq) != (self.session_id, self.seq):
            count = 0
        self.unreadable = (self.session_id, self.seq, count + 1)
        return count + 1

    @property
    def resumable(self) -> bool:
        """Whether the next connection can RESUME."""
        return self.session_id is not None and self.seq is not None

    def begin(self, *, session_id: str, resume_url: str, user: dict[str, Any], now: float) -> None:
        """Adopt a new session from READY."""
        self.session_id = session_id
        self.resume_url = resume_url
        self.user = user
        self.ready_fired = False
        self.last_event_at = now

    def clear(self, reason: str = "") -> None:
        """Forget the session (after op 9 false or a re-identify close code).

        The forgotten session is kept in :attr:`lost` so that the next READY can report
        the gap as a ``SessionLost`` event.
        """
        if self.session_id is not None and self.lost is None:
            self.lost = LostSession(self.session_id, self.seq or 0, self.last_event_at, reason)
        self.session_id = None
        self.seq = None
        self.resume_url = None
        self.ready_fired = False

    def snapshot(self) -> SessionSnapshot | None:
        """The resumable state, or None when there is nothing to resume."""
        if self.session_id is None or self.seq is None or self.resume_url is None:
            return None
        return SessionSnapshot(session_id=self.session_id, seq=self.seq, resume_url=self.resume_url)

    @classmethod
    def restore(cls, snap: SessionSnapshot) -> Session:
        """A session that will RESUME ``snap`` on its next connection.

        The guild stream is considered complete (the previous process saw Ready).
        """
        session = cls(session_id=snap.session_id, seq=snap.seq, resume_url=snap.resume_url)
        session.ready_fired = True
        session.stream.complete = True
        return session

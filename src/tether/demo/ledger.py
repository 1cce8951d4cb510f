"""The demo's accounting: was every message the emulator created delivered, lost, or a gap?

Pure code over plain records. The runner fills a :class:`Ledger` while the demo runs and
collects :class:`ServerFacts` from the emulator's sessions and log before the client stops.

For every message the emulator created the ledger knows which sessions it was queued into
and at which seq. A message the bot's handler never saw is

- **lost** when the protocol promised it: one of its sessions was later resumed, is the
  session the client still holds, or the client itself acknowledged a seq at or past it
  (heartbeat ``d``, or ``SessionLost.last_seq``);
- a **gap event** otherwise: it was dispatched while no resumable session existed, or into
  a session that was invalidated before the client got it. Real Discord would not replay
  it either. Every gap event's dispatch time must fall inside the window of some
  ``SessionLost`` the client reported; one that does not is an **unreported gap**.

Emulator and client run on one event loop, so the times compare directly. The window is
``[since, until]``, except that it starts earlier when the event ``last_seq`` itself was
dispatched before ``since``: ``since`` is when the client *received* its last event, and an
event dispatched while that one was still in flight (after the session died on the server)
is part of the gap the report announces ("events after seq ``last_seq``"). Such gap events
are counted in ``gaps_before_since``; a strict ``[since, until]`` check would flag them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Accounting", "Ledger", "LossWindow", "SentMessage", "ServerFacts", "account"]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the emulator created: when, and the ``(session_id, seq)`` it was queued at."""

    message_id: int
    serial: int
    time: float
    deliveries: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class LossWindow:
    """What one ``SessionLost`` event reported."""

    old_session_id: str
    last_seq: int
    since: float
    until: float

    def start(self, anchor: float | None) -> float:
        """The window's start: ``since``, or ``anchor`` (when ``last_seq`` was sent) if earlier."""
        return self.since if anchor is None else min(self.since, anchor)


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What the emulator knows about sessions, collected before the client stops.

    Attributes:
        resumed_at: per session id, the loop times of its successful RESUMEs.
        invalidated_at: per session id, when it became unresumable (absent: still resumable).
        acked_seq: per session id, the highest seq the client sent in a heartbeat.
        held_session: the session id the client holds at the end (None if none).
        held_sessions: every session id the client holds at the end (one per shard; a
            sharded client holds several). ``held_session`` counts as held too.
        sent_at: per ``(session id, seq)``, when the emulator wrote that dispatch (the
            windows' anchors; messages use their own dispatch time instead).
    """

    resumed_at: dict[str, list[float]]
    invalidated_at: dict[str, float]
    acked_seq: dict[str, int]
    held_session: str | None
    sent_at: dict[tuple[str, int], float] = field(default_factory=dict)
    held_sessions: frozenset[str] = frozenset()

    def holds(self, session_id: str) -> bool:
        """Whether the client holds ``session_id`` at the end."""
        return session_id == self.held_session or session_id in self.held_sessions


@dataclass(slots=True)
class Ledger:
    """What was sent and what the bot's handler received (message ids, with counts)."""

    sent: list[SentMessage] = field(default_factory=list)
    received: Counter[int] = field(default_factory=Counter)
    windows: list[LossWindow] = field(default_factory=list)

    def record_sent(self, message: SentMessage) -> None:
        """The emulator created ``message``."""
        self.sent.append(message)

    def record_received(self, message_id: int) -> None:
        """The MESSAGE_CREATE handler saw ``message_id``."""
        self.received[message_id] += 1

    def record_window(self, window: LossWindow) -> None:
        """The client reported a ``SessionLost``."""
        self.windows.append(window)

    @property
    def delivered(self) -> int:
        """Distinct messages the handler saw (duplicates count once)."""
        return len(self.received)

    def missing_in(self, session_id: str) -> list[SentMessage]:
        """Messages queued into ``session_id`` that the handler has not seen yet."""
        return [
            m
            for m in self.sent
            if m.message_id not in self.received and any(s == session_id for s, _ in m.deliveries)
        ]


@dataclass(frozen=True, slots=True)
class Accounting:
    """The verdict over every message.

    ``lost_ids``, ``unreported_ids`` and ``duplicated_ids`` list up to 20 examples each.
    """

    sent: int
    delivered: int
    lost: int
    duplicated: int
    gap_events: int
    unreported_gaps: int
    gaps_before_since: int
    unexpected: int
    lost_ids: list[int]
    unreported_ids: list[int]
    duplicated_ids: list[int]
    gap_times: tuple[float, ...] = ()

    def gaps_within(self, start: float, end: float) -> int:
        """Gap events dispatched within ``[start, end]``."""
        return sum(1 for t in self.gap_times if start <= t <= end)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts (without the example id lists)."""
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "gap_events": self.gap_events,
            "unreported_gaps": self.unreported_gaps,
            "gaps_before_since": self.gaps_before_since,
            "unexpected_messages": self.unexpected,
        }


_EXAMPLES = 20


def _owed(message: SentMessage, facts: ServerFacts, windows: list[LossWindow]) -> bool:
    """Whether the protocol promised ``message`` to the client (see the module docstring)."""
    for session_id, seq in message.deliveries:
        if facts.holds(session_id):
            return True
        if session_id not in facts.invalidated_at:
            return True  # still resumable: nothing excuses it yet
        if any(t > message.time for t in facts.resumed_at.get(session_id, ())):
            return True
        if facts.acked_seq.get(session_id, 0) >= seq:
            return True
        if any(w.old_session_id == session_id and w.last_seq >= seq for w in windows):
            return True
    return False


def _windows(ledger: Ledger, facts: ServerFacts) -> list[tuple[float, float, float]]:
    """``(start, since, until)`` of every reported window, anchored (see the module docstring)."""
    dispatched = {d: m.time for m in ledger.sent for d in m.deliveries}
    found = []
    for w in ledger.windows:
        key = (w.old_session_id, w.last_seq)
        anchor = dispatched.get(key, facts.sent_at.get(key))
        found.append((w.start(anchor), w.since, w.until))
    return found


def account(ledger: Ledger, facts: ServerFacts) -> Accounting:
    """Classify every sent message as delivered, lost or a (reported or unreported) gap."""
    windows = _windows(ledger, facts)
    lost: list[int] = []
    gap_times: list[float] = []
    before_since = 0
    unreported: list[int] = []
    sent_ids = set()
    for message in ledger.sent:
        sent_ids.add(message.message_id)
        if message.message_id in ledger.received:
            continue
        if _owed(message, facts, ledger.windows):
            lost.append(message.message_id)
            continue
        t = message.time
        gap_times.append(t)
        if any(since <= t <= until for _start, since, until in windows):
            continue
        if any(start <= t <= until for start, _since, until in windows):
            before_since += 1
        else:
            unreported.append(message.message_id)
    duplicated = sorted(i for i, n in ledger.received.items() if n > 1)
    unexpected = sum(1 for i in ledger.received if i not in sent_ids)
    return Accounting(
        sent=len(ledger.sent),
        delivered=sum(1 for m in ledger.sent if m.message_id in ledger.received),
        lost=len(lost),
        duplicated=len(duplicated),
        gap_events=len(gap_times),
        unreported_gaps=len(unreported),
        gaps_before_since=before_since,
        unexpected=unexpected,
        lost_ids=lost[:_EXAMPLES],
        unreported_ids=unreported[:_EXAMPLES],
        duplicated_ids=duplicated[:_EXAMPLES],
        gap_times=tuple(gap_times),
    )

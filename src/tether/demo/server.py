"""What the emulator knows, read for the accounting (shared by `tether demo` and `chaos`).

Both runners create messages with ``emu.send_message`` and need, for each one, the
``(session id, seq)`` it was queued at; at the end they need the emulator's view of every
session (:class:`~tether.demo.ledger.ServerFacts`). Both are read from the emulator's log
and sessions here, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from tether.demo.ledger import Ledger, ServerFacts
from tether.emulator import Emulator, SessionState

__all__ = ["queued_into", "server_facts"]


def queued_into(emu: Emulator, since: int, message_id: str) -> tuple[tuple[str, int], ...]:
    """The ``(session id, seq)`` pairs a MESSAGE_CREATE was queued at.

    Call it right after ``emu.send_message`` (which dispatches without yielding), with
    ``since`` the log mark taken just before: the dispatch record lists every delivery.
    """
    log = emu.log
    for index in range(len(log) - 1, since - 1, -1):
        record = log[index]
        if record.kind != "dispatch" or record.get("t") != "MESSAGE_CREATE":
            continue
        deliveries = record.get("deliveries") or []
        return tuple((str(sid), int(seq)) for sid, seq in deliveries)
    raise LookupError(f"no MESSAGE_CREATE dispatch logged for message {message_id}")


def server_facts(
    emu: Emulator,
    ledger: Ledger,
    held: Iterable[str | None],
    resumed: dict[str, list[float]] | None = None,
) -> ServerFacts:
    """The emulator's view of every session; take it before the client stops.

    Args:
        emu: the emulator.
        ledger: the run's ledger (its reported windows pick the anchors to look up).
        held: the session ids the client holds now (one per shard; None for none).
        resumed: per session id, when the *client* reported ``Resumed``. Default: when the
            emulator accepted a RESUME, which is the same thing unless a fault lands on the
            socket between the RESUME and the client reading RESUMED (an op 9 sent before
            the RESUME arrived, say): the client then never takes the replay, and the
            session's later events are not owed through that resume.
    """
    log = emu.log
    now = emu.hub.now()
    if resumed is None:
        resumed = {}
        for record in log.find("resume"):
            if record.session_id is not None:
                resumed.setdefault(record.session_id, []).append(record.time)
    invalidated: dict[str, float] = {}
    for record in log.find("session_invalidated"):
        if record.session_id is not None:
            invalidated.setdefault(record.session_id, record.time)
    for sid, session in emu.sessions.items():
        if session.state is SessionState.INVALID:
            invalidated.setdefault(sid, now)
    acked: dict[str, int] = {}
    for record in log.find("heartbeat"):
        d = record.get("d")
        if record.session_id is not None and isinstance(d, int):
            acked[record.session_id] = max(d, acked.get(record.session_id, 0))
    anchors = {(w.old_session_id, w.last_seq) for w in ledger.windows}
    sent_at: dict[tuple[str, int], float] = {}
    for record in log.find("frame_out"):
        key = (record.session_id or "", record.get("s"))
        if key in anchors:
            sent_at.setdefault(key, record.time)
    holding = frozenset(sid for sid in held if sid is not None)
    first = next(iter(sorted(holding)), None)
    return ServerFacts(resumed, invalidated, acked, first, sent_at, held_sessions=holding)

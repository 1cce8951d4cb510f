"""What the emulator knows, read for the accounting (shared by `tether demo` and `chaos`).

Both runners create messages with ``emu.send_message`` and need, for each one, the
``(session id, seq)`` it was queued at; at the end they need the emulator's view of every
session (:class:`~tether.demo.ledger.ServerFacts`). Both are read from the emulator's log
and sessions here, in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from tether.demo.ledger import Ledger, SentMessage, ServerFacts
from tether.emulator import Emulator, SessionState

__all__ = ["paced", "queued_into", "send_recorded", "server_facts"]

#: How far behind schedule a paced loop may fall before it stops trying to catch up.
_CATCH_UP_S = 1.0


async def paced(
    loop: asyncio.AbstractEventLoop, rate: float, stop: asyncio.Event
) -> AsyncIterator[int]:
    """Yield 1, 2, 3, ... at ``rate`` per second until ``stop`` is set (nothing if
    ``rate <= 0``). A loop that stalled for over a second resumes at the rate instead of
    bursting to catch up."""
    if rate <= 0:
        return
    interval = 1.0 / rate
    next_at = loop.time()
    serial = 0
    while not stop.is_set():
        serial += 1
        yield serial
        next_at += interval
        now = loop.time()
        if next_at < now - _CATCH_UP_S:
            next_at = now
        await asyncio.sleep(max(0.0, next_at - now))


async def send_recorded(
    emu: Emulator,
    ledger: Ledger,
    channel: int,
    content: str,
    *,
    serial: int,
    clock: Callable[[], float],
) -> int:
    """Create a message through the emulator, record it in ``ledger`` with the sessions and
    seqs it was queued at, and return its id."""
    mark = emu.log.mark()
    message = await emu.send_message(channel, content)
    # send_message never yields before dispatching: no other task ran since the mark.
    message_id = int(message["id"])
    ledger.record_sent(
        SentMessage(message_id, serial, clock(), queued_into(emu, mark, str(message_id)))
    )
    return message_id


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
    client_resumes: dict[str, list[float]] | None = None,
) -> ServerFacts:
    """The emulator's view of every session; take it before the client stops.

    Args:
        emu: the emulator.
        ledger: the run's ledger (its reported windows pick the anchors to look up).
        held: the session ids the client holds now (one per shard; None for none).
        client_resumes: per session id, when the client reported ``Resumed``. Given, only
            the RESUMEs the client took count (each at the emulator's time, the latest
            accepted RESUME of that session before the client's report). A fault landing
            between the RESUME and the client reading RESUMED (an op 9 sent before the
            RESUME arrived, say) makes the client drop the replay: the session's later
            events are not owed through that resume. Default: every accepted RESUME.
    """
    log = emu.log
    now = emu.hub.now()
    resumed: dict[str, list[float]] = {}
    for record in log.find("resume"):
        if record.session_id is not None:
            resumed.setdefault(record.session_id, []).append(record.time)
    if client_resumes is not None:
        resumed = _confirmed(resumed, client_resumes)
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
    sent_at = _queued_at(emu, anchors)
    holding = frozenset(sid for sid in held if sid is not None)
    first = next(iter(sorted(holding)), None)
    return ServerFacts(resumed, invalidated, acked, first, sent_at, held_sessions=holding)


def _confirmed(
    server: dict[str, list[float]], client: dict[str, list[float]]
) -> dict[str, list[float]]:
    """The server's RESUME times that a client ``Resumed`` report confirms."""
    found: dict[str, list[float]] = {}
    for sid, reports in client.items():
        times = sorted(server.get(sid, []))
        for reported in reports:
            before = [t for t in times if t <= reported]
            if before:
                found.setdefault(sid, []).append(before[-1])
    return found


def _queued_at(emu: Emulator, keys: set[tuple[str, int]]) -> dict[tuple[str, int], float]:
    """When each ``(session id, seq)`` of ``keys`` was queued (given its seq) by the emulator.

    Dispatch records list their deliveries; RESUMED and READY take a seq when the resume or
    the identify is accepted. Written frames (``frame_out``, a little later: the writer
    runs after the dispatch) are the fallback.
    """
    found: dict[tuple[str, int], float] = {}
    if not keys:
        return found
    for record in emu.log:
        if record.kind == "dispatch":
            for sid, seq in record.get("deliveries") or []:
                key = (str(sid), int(seq))
                if key in keys:
                    found.setdefault(key, record.time)
        elif record.kind == "resume" and record.session_id is not None:
            key = (record.session_id, record.get("resumed_seq"))
            if key in keys:
                found.setdefault(key, record.time)
        elif record.kind == "ready" and record.session_id is not None:
            found.setdefault((record.session_id, 1), record.time)
    for record in emu.log.find("frame_out"):
        key = (record.session_id or "", record.get("s"))
        if key in keys:
            found.setdefault(key, record.time)
    return {k: v for k, v in found.items() if k in keys}

"""The emulator's inspectable event log (spec section 14, item K64).

Every frame in and out, every close (who sent it, which code), every IDENTIFY, RESUME,
heartbeat and injected fault becomes one :class:`LogRecord` with a loop-clock timestamp.
Tests wait on records with :meth:`EventLog.wait_for`, which is woken by each append
(no polling, no sleeps).

Record kinds (``record.kind``) and their ``data`` keys:

- ``started`` (port) / ``stopped``; ``config`` (changes made over HTTP).
- ``connect``: path, query, compress, remote. ``disconnect``: by ("client", "server",
  "server_abort", "drop"), code.
- ``frame_in``: op (None if undecodable), size, binary. ``frame_out``: op, t, s, size,
  binary, parts. ``frame_dropped`` (black hole): op, t, s. ``write_failed``: error.
- ``hello``: heartbeat_interval. ``close_sent``: code, reason, session_effect ("kept",
  "invalidated", "none"). ``close_received``: code. ``drop``: initiator ("client" = TCP lost,
  "server" = the drop fault).
- ``identify``: path, shard, intents, compress, large_threshold, properties.
  ``identify_rejected``: code (None for op 9), reason. ``session_created``; ``ready``:
  guilds. ``guild_stream_done``.
- ``resume``: seq, path, replayed, resumed_seq. ``resume_rejected``: seq, path, reason,
  code (None for op 9), known.
- ``heartbeat``: d, expected (the last seq written to the session's socket), matches
  (None while no session is attached to the socket, e.g. before RESUME), since_hello,
  since_last, first, requested_latency (after a server op 1). ``heartbeat_ack``: dropped,
  delay. ``heartbeat_timeout``: limit.
- ``session_detached`` (seq), ``session_invalidated`` (reason).
- ``fault``: name plus its arguments (one record per targeted connection).
- ``dispatch``: t, sessions, guild_id. ``rest``: method, path, status.
- ``presence_update`` (limited), ``members_chunked``, ``members_ignored``,
  ``request_ignored``, ``voice_state_ignored``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["EventLog", "LogRecord", "RecordMatch"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogRecord:
    """One logged happening.

    Attributes:
        index: position in the log (0-based, increasing).
        time: ``loop.time()`` when it was logged.
        kind: what happened (see the module docstring).
        conn_id: the connection it concerns, if any.
        session_id: the session it concerns, if any.
        data: kind-specific details (JSON-ready values).
    """

    index: int
    time: float
    kind: str
    conn_id: int | None = None
    session_id: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """``data[key]``, or ``default``."""
        return self.data.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return {
            "index": self.index,
            "time": self.time,
            "kind": self.kind,
            "conn_id": self.conn_id,
            "session_id": self.session_id,
            "data": self.data,
        }


#: What wait_for accepts: a kind name or a predicate over records.
RecordMatch = str | Callable[[LogRecord], bool]


class EventLog:
    """An append-only, optionally bounded list of :class:`LogRecord` that can be awaited.

    Indices are absolute: a record keeps its index for good, and ``len(log)`` is the index
    the next record will get (every record ever logged). With a limit, the oldest records
    are dropped once more than ``limit`` (plus a tenth, so that trimming is amortised) are
    kept; reading a dropped index raises :class:`IndexError`, and ``since`` arguments
    older than the first kept record start at it.

    Args:
        clock: returns the current time (the loop clock); injected so tests and pure
            code can supply their own.
        limit: returns the most records to keep (None: keep everything); read at each
            append, so a changed config applies at once.
    """

    __slots__ = ("_clock", "_first", "_limit", "_records", "_waiters")

    def __init__(
        self, clock: Callable[[], float], limit: Callable[[], int | None] = lambda: None
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._first = 0
        self._records: list[LogRecord] = []
        self._waiters: list[tuple[Callable[[LogRecord], bool], asyncio.Future[LogRecord]]] = []

    def add(
        self,
        kind: str,
        *,
        conn_id: int | None = None,
        session_id: str | None = None,
        **data: Any,
    ) -> LogRecord:
        """Append a record and wake the waiters it satisfies.

        Returns:
            The new record.
        """
        record = LogRecord(
            index=self._first + len(self._records),
            time=self._clock(),
            kind=kind,
            conn_id=conn_id,
            session_id=session_id,
            data=data,
        )
        self._records.append(record)
        limit = self._limit()
        if limit is not None and len(self._records) > limit + limit // 10:
            excess = len(self._records) - max(0, limit)
            del self._records[:excess]
            self._first += excess
        if self._waiters:
            still: list[tuple[Callable[[LogRecord], bool], asyncio.Future[LogRecord]]] = []
            for predicate, future in self._waiters:
                if future.done():
                    continue
                if predicate(record):
                    future.set_result(record)
                else:
                    still.append((predicate, future))
            self._waiters = still
        return record

    def __len__(self) -> int:
        return self._first + len(self._records)

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(list(self._records))

    def __getitem__(self, index: int) -> LogRecord:
        """The record with this absolute index (negative: counted from the newest).

        Raises:
            IndexError: no such record, or it was dropped by the limit.
        """
        if index < 0:
            return self._records[index]
        if index < self._first:
            raise IndexError(f"log record {index} was dropped (only the newest are kept)")
        return self._records[index - self._first]

    @property
    def first_index(self) -> int:
        """The index of the oldest record kept (0 until the limit drops any)."""
        return self._first

    @property
    def records(self) -> list[LogRecord]:
        """A snapshot copy of every record kept."""
        return list(self._records)

    def mark(self) -> int:
        """The index the next record will get; pass it as ``since`` to wait for newer ones."""
        return self._first + len(self._records)

    def _since(self, since: int) -> list[LogRecord]:
        return self._records[max(0, since - self._first) :]

    def find(self, match: RecordMatch, *, since: int = 0, **fields: Any) -> list[LogRecord]:
        """Every record from index ``since`` on that matches.

        Args:
            match: a kind name, or a predicate over records.
            since: the first index to consider.
            **fields: extra equality filters on ``data`` keys (or ``conn_id``/``session_id``).
        """
        predicate = _predicate(match, fields)
        return [r for r in self._since(since) if predicate(r)]

    def for_connection(self, conn_id: int) -> list[LogRecord]:
        """Every record about one connection (its per-connection log)."""
        return [r for r in self._records if r.conn_id == conn_id]

    def for_session(self, session_id: str) -> list[LogRecord]:
        """Every record about one session (its per-session log)."""
        return [r for r in self._records if r.session_id == session_id]

    def count(self, match: RecordMatch, *, since: int = 0, **fields: Any) -> int:
        """How many records from ``since`` on match (see :meth:`find`)."""
        return len(self.find(match, since=since, **fields))

    async def wait_for(
        self,
        match: RecordMatch,
        *,
        timeout: float | None = 5.0,
        since: int = 0,
        **fields: Any,
    ) -> LogRecord:
        """Wait until a matching record exists at index ``since`` or later.

        A record that was already logged satisfies the wait at once. Use :meth:`mark`
        before triggering something to wait only for what follows it.

        Args:
            match: a kind name, or a predicate over records.
            timeout: seconds to wait (None: forever).
            since: the first index to consider.
            **fields: extra equality filters (see :meth:`find`).

        Returns:
            The first matching record.

        Raises:
            TimeoutError: nothing matched in time.
        """
        predicate = _predicate(match, fields)
        for record in self._since(since):
            if predicate(record):
                return record
        future: asyncio.Future[LogRecord] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"no log record matching {match!r} {fields or ''}") from None
        finally:
            if not future.done():
                future.cancel()


def _predicate(match: RecordMatch, fields: dict[str, Any]) -> Callable[[LogRecord], bool]:
    def check(record: LogRecord) -> bool:
        if isinstance(match, str):
            if record.kind != match:
                return False
        elif not match(record):
            return False
        for key, want in fields.items():
            if key in ("conn_id", "session_id"):
                have = getattr(record, key)
            elif key not in record.data:
                return False
            else:
                have = record.data[key]
            if have != want:
                return False
        return True

    return check

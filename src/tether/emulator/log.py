"""The emulator's inspectable event log (spec section 14, item K64).

Every frame in and out, every close (who sent it, which code), every IDENTIFY, RESUME,
heartbeat and injected fault becomes one :class:`LogRecord` with a loop-clock timestamp.
Tests wait on records with :meth:`EventLog.wait_for`, which is woken by each append
(no polling, no sleeps).

Record kinds (``record.kind``) and their ``data`` keys:

- ``connect``: path, query, compress, remote. ``disconnect``: by ("client", "server",
  "drop"), code.
- ``frame_in``: op, size, binary. ``frame_out``: op, t, s, size, binary, parts.
- ``hello``: heartbeat_interval. ``close_sent``: code, reason, session_effect.
  ``close_received``: code. ``drop``: initiator ("client" TCP loss, "server" abort).
- ``identify``: shard, intents, compress, accepted. ``identify_rejected``: code or op9.
- ``ready``: session_id, guilds. ``resume``: session_id, seq, path, replayed.
  ``resume_rejected``: session_id, seq, reason, code.
- ``heartbeat``: d, expected, matches, since_hello, first, requested_latency.
  ``heartbeat_ack``: dropped, delay.
- ``session_created`` / ``session_invalidated`` (reason) / ``session_detached``.
- ``fault``: name plus its arguments. ``rest``: method, path, status.
- ``dispatch``: t, sessions (count), guild_id.
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
    """An append-only list of :class:`LogRecord` that can be awaited.

    Args:
        clock: returns the current time (the loop clock); injected so tests and pure
            code can supply their own.
    """

    __slots__ = ("_clock", "_records", "_waiters")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
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
            index=len(self._records),
            time=self._clock(),
            kind=kind,
            conn_id=conn_id,
            session_id=session_id,
            data=data,
        )
        self._records.append(record)
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
        return len(self._records)

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(list(self._records))

    def __getitem__(self, index: int) -> LogRecord:
        return self._records[index]

    @property
    def records(self) -> list[LogRecord]:
        """A snapshot copy of every record."""
        return list(self._records)

    def mark(self) -> int:
        """The index the next record will get; pass it as ``since`` to wait for newer ones."""
        return len(self._records)

    def find(self, match: RecordMatch, *, since: int = 0, **fields: Any) -> list[LogRecord]:
        """Every record from index ``since`` on that matches.

        Args:
            match: a kind name, or a predicate over records.
            since: the first index to consider.
            **fields: extra equality filters on ``data`` keys (or ``conn_id``/``session_id``).
        """
        predicate = _predicate(match, fields)
        return [r for r in self._records[since:] if predicate(r)]

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
        for record in self._records[since:]:
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

"""The demo's sample bot: a tether.Client plus handlers that record what reached them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tether.demo.faults import MARK_EVENT, UNKNOWN_EVENT
from tether.demo.ledger import Ledger, LossWindow
from tether.gateway.events import Connected, Dispatch, Event, SessionLost
from tether.runtime.client import Client

__all__ = ["Bot"]


class Bot:
    """Registers the demo's handlers on ``client`` and keeps what they saw.

    Every handler is a plain function (no await), so it runs as soon as the client's
    dispatcher starts it, in the order the events arrived.

    Attributes:
        events: ``(loop time, event)`` for every lifecycle event (dispatches excluded).
        marks: serial numbers of the marker dispatches seen.
        unknown_seen: how many dispatches of the unknown-event fault arrived.
    """

    def __init__(self, client: Client, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.events: list[tuple[float, Event]] = []
        self.marks: set[int] = set()
        self.unknown_seen = 0
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        client.on("MESSAGE_CREATE")(self._on_message)
        client.on(Event)(self._on_event)
        client.on(MARK_EVENT)(self._on_mark)
        client.on(UNKNOWN_EVENT)(self._on_unknown)

    # handlers ----------------------------------------------------------------------------

    def _on_message(self, event: Dispatch) -> None:
        data = event.data
        if isinstance(data, dict) and "id" in data:
            self.ledger.record_received(int(data["id"]))
        self._changed.set()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Dispatch):
            return
        self.events.append((self._loop.time(), event))
        if isinstance(event, SessionLost):
            self.ledger.record_window(
                LossWindow(event.old_session_id, event.last_seq, event.since, event.until)
            )
        self._changed.set()

    def _on_mark(self, event: Dispatch) -> None:
        data = event.data
        if isinstance(data, dict) and isinstance(data.get("mark"), int):
            self.marks.add(data["mark"])
        self._changed.set()

    def _on_unknown(self, _event: Dispatch) -> None:
        self.unknown_seen += 1
        self._changed.set()

    # queries -----------------------------------------------------------------------------

    def mark(self) -> int:
        """The index of the next lifecycle event (pass it to :meth:`since`)."""
        return len(self.events)

    def since(
        self, index: int, kind: type[Any] | tuple[type[Any], ...] = Event
    ) -> list[tuple[float, Any]]:
        """Lifecycle events of class(es) ``kind`` recorded at ``index`` or later."""
        return [(t, e) for t, e in self.events[index:] if isinstance(e, kind)]

    def count(self, kind: type[Any], check: Callable[[Any], bool] | None = None) -> int:
        """How many lifecycle events of ``kind`` (matching ``check``) were recorded."""
        return sum(1 for _t, e in self.events if isinstance(e, kind) and (not check or check(e)))

    @property
    def new_sessions(self) -> int:
        """Sessions identified (``Connected`` without ``resumed``)."""
        return self.count(Connected, lambda e: not e.resumed)

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checked after every handled event.

        Returns:
            Whether it held before ``timeout`` seconds passed.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return predicate()
        return True

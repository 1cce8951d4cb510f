"""The demo's sample bot: a tether.Client plus handlers that record what reached them.

It answers every ``!ping`` with a ``pong`` reply through ``client.rest`` (rate limited by
the REST client, not by the demo), once per ping even if the ping arrives twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from tether.demo.faults import MARK_EVENT, UNKNOWN_EVENT
from tether.demo.ledger import Ledger, LossWindow
from tether.gateway.events import Connected, Dispatch, Event, SessionLost
from tether.runtime.client import Client

__all__ = ["PING", "PONG", "Bot"]

#: What the traffic sends now and then, and what the bot answers over REST.
PING, PONG = "!ping", "pong"


class Bot:
    """Registers the demo's handlers on ``client`` and keeps what they saw.

    Every handler is a plain function (no await), so it runs as soon as the client's
    dispatcher starts it, in the order the events arrived.

    Attributes:
        events: ``(loop time, event)`` for every lifecycle event (dispatches excluded).
        marks: serial numbers of the marker dispatches seen.
        unknown_seen: how many dispatches of the unknown-event fault arrived.
        pings: ids of the ``!ping`` messages the handler saw.
        pongs: ping id -> id of the ``pong`` reply the REST client created.
        pong_errors: failed replies, per error class name.
        own_seen: the bot's own messages (its pongs) that came back over the gateway.
    """

    def __init__(self, client: Client, ledger: Ledger, bot_user_id: int | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.bot_user_id = bot_user_id
        self.events: list[tuple[float, Event]] = []
        self.marks: set[int] = set()
        self.unknown_seen = 0
        self.pings: set[int] = set()
        self.pongs: dict[int, int] = {}
        self.pong_errors: Counter[str] = Counter()
        self.own_seen = 0
        self._replying: set[asyncio.Task[None]] = set()
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
            author = data.get("author") or {}
            if self.bot_user_id is not None and author.get("id") == str(self.bot_user_id):
                self.own_seen += 1
            else:
                self.ledger.record_received(int(data["id"]))
                if data.get("content") == PING and int(data["id"]) not in self.pings:
                    self._reply_later(data)
        self._changed.set()

    def _reply_later(self, ping: dict[str, Any]) -> None:
        self.pings.add(int(ping["id"]))
        task = asyncio.create_task(self._reply(ping), name=f"demo pong {ping['id']}")
        self._replying.add(task)
        task.add_done_callback(self._replying.discard)

    async def _reply(self, ping: dict[str, Any]) -> None:
        try:
            pong = await self.client.rest.create_message(
                int(ping["channel_id"]), PONG, message_reference=int(ping["id"])
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is counted and reported, none is fatal
            self.pong_errors[type(exc).__name__] += 1
        else:
            self.pongs[int(ping["id"])] = pong.id
        self._changed.set()

    @property
    def replies_pending(self) -> int:
        """Replies still on their way (queued in the REST client or in flight)."""
        return len(self._replying)

    async def finish_replies(self, timeout: float) -> None:
        """Wait (bounded) for the replies on their way; cancel what is left after that."""
        tasks = set(self._replying)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

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

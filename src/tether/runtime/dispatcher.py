"""Delivers events to user handlers, each in its own task, so no handler blocks another.

Ordering guarantee: handlers are *started* in the order events arrived (per client), and
each handler of one event starts before any handler of the next. Handlers then run
concurrently; an exception in one is logged with the handler's name and the event's name
and reaches nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from tether.gateway.events import Dispatch, Event

__all__ = ["Dispatcher", "EventKey", "Handler"]

log = logging.getLogger("tether.handlers")

Handler = Callable[[Any], Any]
EventKey = type[Event] | str


def event_name(event: Event) -> str:
    """``"MESSAGE_CREATE"`` for dispatches, the class name for lifecycle events."""
    return event.name if isinstance(event, Dispatch) else type(event).__name__


class Dispatcher:
    """A queue of events and the task that hands them to handlers."""

    def __init__(self) -> None:
        self._handlers: dict[EventKey, list[Handler]] = {}
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[EventKey, Callable[[Any], bool] | None, asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the delivery task (needs a running loop)."""
        self._runner = asyncio.create_task(self.run(), name="tether dispatcher")

    def add(self, key: EventKey, handler: Handler) -> None:
        """Register ``handler`` for an event class or a dispatch name."""
        self._handlers.setdefault(key, []).append(handler)

    def remove(self, key: EventKey, handler: Handler) -> None:
        """Unregister a handler (no error if it was not registered)."""
        with contextlib.suppress(KeyError, ValueError):
            self._handlers[key].remove(handler)

    def put(self, event: Event) -> None:
        """Queue an event (called synchronously by shards, in order)."""
        self._queue.put_nowait(event)

    @property
    def depth(self) -> int:
        """Events queued and not yet handed to handlers."""
        return self._queue.qsize()

    def wait_for(self, key: EventKey, check: Callable[[Any], bool] | None) -> asyncio.Future[Any]:
        """A future resolved with the next event matching ``key`` (and ``check``)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((key, check, fut))
        return fut

    async def run(self) -> None:
        """Hand out events until :meth:`close` queues the end marker."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        keys: list[EventKey] = [event.name] if isinstance(event, Dispatch) else []
        keys.extend(cls for cls in type(event).__mro__ if cls is not object)
        if self._waiters:
            self._resolve_waiters(event, keys)
        for key in keys:
            for handler in self._handlers.get(key, ()):
                self._start(handler, event)

    def _resolve_waiters(self, event: Event, keys: list[EventKey]) -> None:
        keep = []
        for key, check, fut in self._waiters:
            if fut.done():
                continue
            if key in keys:
                try:
                    matched = check is None or check(event)
                except Exception as exc:  # a broken check fails its own waiter only
                    fut.set_exception(exc)
                    continue
                if matched:
                    fut.set_result(event)
                    continue
            keep.append((key, check, fut))
        self._waiters = keep

    def _start(self, handler: Handler, event: Event) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        task = asyncio.create_task(
            self._invoke(handler, event, name), name=f"tether handler {name} ({event_name(event)})"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _invoke(handler: Handler, event: Event, name: str) -> None:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler %s raised while handling %s", name, event_name(event))

    async def close(self, *, grace: float) -> None:
        """Deliver what is queued, wait up to ``grace`` s for running handlers, cancel the rest."""
        self._queue.put_nowait(None)
        if self._runner is not None:
            await self._runner
            self._runner = None
        tasks = set(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                log.warning("cancelling handler task %s still running at stop()", task.get_name())
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for _key, _check, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

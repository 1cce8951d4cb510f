"""Hands events from the gateway's I/O side to user handlers, bounded and isolated.

Events are put from any thread (the I/O thread, or the same loop) and delivered on the
user's event loop in batches. Each handler call runs in its own task, so no handler blocks
another or the connection, and an exception in one is logged with the handler's name and
the event's name and reaches nothing else.

Ordering guarantee: handlers are *started* in the order events were received (per client),
and every handler of one event starts before any handler of the next; they then run
concurrently, so no completion order is promised. Consumers (such as the cache) run
synchronously, in order, before the handlers of each event.

Backpressure: at most ``max_queued`` events wait for delivery and at most ``max_running``
handler calls run at once. When the queue is full, :meth:`wait_writable` makes the socket
reader wait, so TCP pushes back on the gateway; nothing is dropped, and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.gateway.events import Connected, Dispatch, Event

__all__ = ["Dispatcher", "DispatcherStats", "EventKey", "Handler", "HandlerStats", "event_name"]

log = logging.getLogger("tether.handlers")

Handler = Callable[[Any], Any]
EventKey = type[Event] | str
Consumer = Callable[[Event], None]


def event_name(event: Event) -> str:
    """``"MESSAGE_CREATE"`` for dispatches, the class name for lifecycle events."""
    return event.name if isinstance(event, Dispatch) else type(event).__name__


@dataclass(slots=True)
class HandlerStats:
    """Latency of the handlers of one event name (seconds, wall time per call)."""

    calls: int = 0
    errors: int = 0
    total: float = 0.0
    max: float = 0.0

    @property
    def mean(self) -> float:
        """Mean seconds per call."""
        return self.total / self.calls if self.calls else 0.0


@dataclass(slots=True)
class DispatcherStats:
    """Counters of the event pipeline (read them through ``client.stats``).

    Attributes:
        delivered: events handed to consumers and handlers.
        queue_depth: events received and not yet delivered.
        max_queue_depth: the largest depth seen.
        running: handler calls in progress.
        last_lag: seconds from receipt (I/O side) to delivery, for the last event.
        max_lag: the largest such lag seen.
        paused_reads: how many times the socket reader waited for room.
        handlers: per event name, handler latency.
    """

    delivered: int = 0
    queue_depth: int = 0
    max_queue_depth: int = 0
    running: int = 0
    last_lag: float = 0.0
    max_lag: float = 0.0
    paused_reads: int = 0
    handlers: dict[str, HandlerStats] = field(default_factory=dict)


class Dispatcher:
    """The bounded, thread-safe queue of events and their delivery on the user's loop.

    Args:
        max_queued: events that may wait for delivery before readers are paused.
        max_running: handler calls that may run at once before delivery waits.
    """

    def __init__(self, *, max_queued: int = 10_000, max_running: int = 1_000) -> None:
        self._handlers: dict[EventKey, list[Handler]] = {}
        self._routes: dict[tuple[type[Event], str | None], list[Handler]] = {}
        self.consumers: list[Consumer] = []
        #: Called with each event just before its delivery (user's loop, event order); a
        #: true result holds the event back, and the gate's owner hands it over later with
        #: :meth:`release` (the client holds ``Ready`` while it chunks at startup).
        self.gate: Callable[[Event], bool] | None = None
        self.max_queued = max(1, max_queued)
        self.max_running = max(1, max_running)
        self._low_water = max(1, self.max_queued // 2)
        self._queue: deque[tuple[Event, float]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[EventKey, Callable[[Any], bool] | None, asyncio.Future[Any]]] = []
        self._idle: asyncio.Event | None = None
        self.stats = DispatcherStats()
        #: Per shard: the session and the last seq whose event was handed to handlers.
        self.delivered_session: dict[int, str] = {}
        self.delivered_seq: dict[int, int] = {}

    # ------------------------------------------------------------------ registration
    def add(self, key: EventKey, handler: Handler) -> None:
        """Register ``handler`` for an event class or a dispatch name."""
        self._handlers.setdefault(key, []).append(handler)
        self._routes.clear()

    def remove(self, key: EventKey, handler: Handler) -> None:
        """Unregister a handler (no error if it was not registered)."""
        with contextlib.suppress(KeyError, ValueError):
            self._handlers[key].remove(handler)
        self._routes.clear()

    def handler_names(self) -> dict[Any, str]:
        """Code object of every registered handler -> its qualified name (for the watchdog)."""
        names: dict[Any, str] = {}
        for handlers in self._handlers.values():
            for handler in handlers:
                code = getattr(handler, "__code__", None)
                if code is not None:
                    names[code] = getattr(handler, "__qualname__", repr(handler))
        return names

    # ------------------------------------------------------------------ producer side
    def start(self) -> None:
        """Bind to the running (user's) loop; events put before this are kept."""
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        self._schedule()

    def put(self, event: Event) -> None:
        """Queue an event for delivery; callable from any thread, never blocks."""
        self.put_many((event,))

    def put_many(self, events: Sequence[Event]) -> None:
        """Queue several events in order, with one lock and at most one wake-up."""
        received = time.monotonic()
        with self._lock:
            self._queue.extend([(event, received) for event in events])
            depth = len(self._queue)
            schedule = not self._scheduled and self._loop is not None
            if schedule:
                self._scheduled = True
        stats = self.stats
        stats.queue_depth = depth
        stats.max_queue_depth = max(stats.max_queue_depth, depth)
        if schedule:
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the user's loop is closed: nothing to do
                self._loop.call_soon_threadsafe(self._drain)

    @property
    def full(self) -> bool:
        """Whether producers should wait before reading more from their socket."""
        return len(self._queue) >= self.max_queued

    @property
    def room(self) -> int:
        """How many more events fit before producers are asked to wait."""
        return self.max_queued - len(self._queue)

    @property
    def depth(self) -> int:
        """Events received and not yet handed to handlers."""
        return len(self._queue)

    async def wait_writable(self) -> None:
        """Wait (on the caller's loop) until the queue has room again."""
        while self.full:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._writers.append((loop, fut))
            self.stats.paused_reads += 1
            await fut

    # ------------------------------------------------------------------ consumer side
    def _schedule(self) -> None:
        with self._lock:
            if self._scheduled or not self._queue or self._loop is None:
                return
            self._scheduled = True
        self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Deliver queued events while handler capacity lasts (runs on the user's loop)."""
        with self._lock:
            self._scheduled = False
        now = time.monotonic()
        stats = self.stats
        queue = self._queue
        while len(self._tasks) < self.max_running:
            with self._lock:
                take = min(len(queue), self.max_running - len(self._tasks))
                batch = [queue.popleft() for _ in range(take)]
            if not batch:
                break
            for index, (event, received) in enumerate(batch):
                if len(self._tasks) >= self.max_running:
                    # The handlers of earlier events filled the room: put the rest back.
                    with self._lock:
                        queue.extendleft(reversed(batch[index:]))
                    break
                lag = now - received
                stats.last_lag = lag
                stats.max_lag = max(stats.max_lag, lag)
                self._deliver(event)
        self.stats.queue_depth = len(self._queue)
        self._wake_writers()
        if self._idle is not None:
            if self._queue or self._tasks:
                self._idle.clear()
            else:
                self._idle.set()

    def _wake_writers(self) -> None:
        with self._lock:
            if not self._writers or len(self._queue) > self._low_water:
                return
            writers, self._writers = self._writers, []
        for loop, fut in writers:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, fut)

    def release(self, event: Event) -> None:
        """Deliver an event that :attr:`gate` held (on the user's loop): consumers first,
        then waiters and handlers, as for any other event."""
        self._hand_over(event)

    def _deliver(self, event: Event) -> None:
        gate = self.gate
        if gate is not None and gate(event):
            return
        self._hand_over(event)

    def _hand_over(self, event: Event) -> None:
        self.stats.delivered += 1
        if isinstance(event, Dispatch):
            if event.seq is not None:
                self.delivered_seq[event.shard_id] = event.seq
        elif isinstance(event, Connected) and (
            not event.resumed or self.delivered_session.get(event.shard_id) != event.session_id
        ):
            self.delivered_session[event.shard_id] = event.session_id
            self.delivered_seq.pop(event.shard_id, None)
        for consumer in self.consumers:
            try:
                consumer(event)
            except Exception:
                log.exception("consumer %r failed on %s", consumer, event_name(event))
        if self._waiters:
            self._resolve_waiters(event, self._keys(event))
        route = (type(event), event.name if isinstance(event, Dispatch) else None)
        handlers = self._routes.get(route)
        if handlers is None:
            handlers = self._routes[route] = [
                h for key in self._keys(event) for h in self._handlers.get(key, ())
            ]
        for handler in handlers:
            self._start(handler, event)

    @staticmethod
    def _keys(event: Event) -> list[EventKey]:
        keys: list[EventKey] = [event.name] if isinstance(event, Dispatch) else []
        keys.extend(cls for cls in type(event).__mro__ if cls is not object)
        return keys

    def wait_for(self, key: EventKey, check: Callable[[Any], bool] | None) -> asyncio.Future[Any]:
        """A future resolved with the next event matching ``key`` (and ``check``)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((key, check, fut))
        return fut

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
        self.stats.running = len(self._tasks)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.stats.running = len(self._tasks)
        if self._queue:
            self._schedule()
        elif not self._tasks and self._idle is not None:
            self._idle.set()

    async def _invoke(self, handler: Handler, event: Event, name: str) -> None:
        started = time.monotonic()
        key = event_name(event)
        stats = self.stats.handlers.get(key)
        if stats is None:
            stats = self.stats.handlers[key] = HandlerStats()
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            stats.errors += 1
            log.exception("handler %s raised while handling %s", name, key)
        finally:
            spent = time.monotonic() - started
            stats.calls += 1
            stats.total += spent
            stats.max = max(stats.max, spent)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every queued event was delivered and every handler finished."""
        if self._idle is None:
            return
        async with asyncio.timeout(timeout):
            while self._queue or self._tasks:
                self._idle.clear()
                self._schedule()
                await self._idle.wait()

    async def close(self, *, grace: float) -> None:
        """Deliver what is queued, wait up to ``grace`` s for handlers, cancel the rest."""
        with contextlib.suppress(TimeoutError):
            await self.wait_idle(grace)
        pending = set(self._tasks)
        for task in pending:
            log.warning("cancelling handler task %s still running at stop()", task.get_name())
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        with self._lock:
            self._queue.clear()
            writers, self._writers = self._writers, []
        for loop, fut in writers:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, fut)
        for _key, _check, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()
        self._loop = None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)

"""tether.Client: the public face of the connection manager.

``start()`` only signals: it creates the manager's tasks and returns before any socket is
opened. ``stop()`` closes every socket gracefully and returns once they are closed and no
task of tether is left. Lifecycle events are classes, dispatches are names::

    client = Client(token, intents=Intents.default())

    @client.on(Ready)
    async def ready(event): ...

    @client.on("MESSAGE_CREATE")
    async def message(event): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tether.errors import ConfigError, InvalidState
from tether.gateway.events import Dispatch, Event
from tether.gateway.session import Session, SessionSnapshot
from tether.gateway.state import ShardState
from tether.rest.client import RestClient
from tether.runtime.dispatcher import Dispatcher, DispatcherStats, EventKey, Handler
from tether.runtime.identify import IdentifyQueue, SessionBudget
from tether.runtime.iothread import IOThread
from tether.runtime.manager import Manager
from tether.runtime.shard import Shard, ShardStatus
from tether.runtime.store import SessionStore
from tether.runtime.transport import check_url
from tether.runtime.watchdog import Watchdog
from tether.token import Token
from tether.wire.compression import COMPRESSIONS, DEFAULT_MAX_PAYLOAD, zstd_available
from tether.wire.intents import ALL_DEFINED, Intents

__all__ = ["DEFAULT_API_URL", "Client"]

log = logging.getLogger("tether.client")

DEFAULT_API_URL = "https://discord.com/api/v10"

H = TypeVar("H", bound=Handler)

#: Overall state of several shards: the least advanced one wins.
_ORDER = [
    ShardState.FATALLY_CLOSED,
    ShardState.STOPPED,
    ShardState.CLOSING,
    ShardState.BACKOFF,
    ShardState.CONNECTING,
    ShardState.IDENTIFYING,
    ShardState.RESUMING,
    ShardState.CONNECTED,
    ShardState.READY,
]


class Client:
    """A Discord gateway client that keeps every shard connected.

    Args:
        token: the bot token (with or without the ``Bot `` prefix). Never logged or shown.
        intents: the gateway intents (default: every unprivileged intent).
        api_url: REST base, e.g. the emulator's ``http://127.0.0.1:PORT/api/v10``.
        gateway_url: skip ``GET /gateway/bot`` and connect here (tests, proxies).
        shards: number of shards to run in this process (None: one unsharded session).
        compress: ``"zlib-stream"`` (default), ``"zstd-stream"`` (needs the ``zstandard``
            package: ``pip install 'tether[zstd]'``) or None.
        guild_ready_timeout: idle gap in the guild stream after which Ready fires anyway.
        hello_timeout: seconds to wait for HELLO before trying another socket.
        ack_timeout: heartbeat ACK deadline (None: min(heartbeat interval, 5 s)).
        connect_timeout: seconds to open a socket.
        close_timeout: seconds to wait for the server's answer to a close frame.
        reconnect_base, reconnect_cap, stable_after: the reconnect backoff (full jitter).
        handler_grace: seconds stop() lets running handlers finish before cancelling them.
        invalid_session_wait: (low, high) seconds, the random wait before IDENTIFY after an
            op 9 ``d: false`` (1-5 s, as Discord advised).
        identify_window: seconds between IDENTIFYs of one concurrency bucket (5 on Discord;
            tests may scale it down together with the emulator's).
        rng: randomness (tests pass a seeded ``random.Random``).
        resume: per shard id, a session saved by :meth:`session_snapshots` (for example by
            a previous process that stopped with ``stop(resumable=True)``); those shards
            RESUME instead of IDENTIFY. An expired session falls back to IDENTIFY and
            ``SessionLost``.

        io_thread: run the gateway I/O (reads, inflate, heartbeats) in a thread of its own,
            so a handler that blocks the loop cannot cost the connection (default True).
        blocked_threshold: seconds the loop may be blocked before the watchdog reports the
            handler (``HandlerBlocked`` and a warning); 0 disables the watchdog.
        max_queued_events: events received and not yet handed to handlers before socket
            reads pause (backpressure; nothing is dropped).
        max_running_handlers: handler calls that may run at once.

    Raises:
        ConfigError: invalid arguments (checked here, before any I/O).
    """

    def __init__(
        self,
        token: str,
        *,
        intents: int = Intents.default(),
        api_url: str | None = None,
        gateway_url: str | None = None,
        shards: int | str | None = None,
        shard_ids: Sequence[int] | None = None,
        compress: str | None = "zlib-stream",
        large_threshold: int = 250,
        presence: dict[str, Any] | None = None,
        guild_ready_timeout: float = 10.0,
        hello_timeout: float = 20.0,
        ack_timeout: float | None = None,
        connect_timeout: float = 30.0,
        close_timeout: float = 1.0,
        reconnect_base: float = 1.0,
        reconnect_cap: float = 60.0,
        stable_after: float = 1.0,
        handler_grace: float = 5.0,
        identify_window: float = 5.0,
        invalid_session_wait: tuple[float, float] = (1.0, 5.0),
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        rng: random.Random | None = None,
        resume: dict[int, SessionSnapshot] | None = None,
        io_thread: bool = True,
        blocked_threshold: float = 2.0,
        max_queued_events: int = 10_000,
        max_running_handlers: int = 1_000,
        identify_queue: IdentifyQueue | None = None,
        session_store: SessionStore | None = None,
        store_interval: float = 1.0,
        budget_floor: int = 0,
        allow_low_budget: bool = False,
    ) -> None:
        shard_ids = _validate(
            token=token,
            intents=intents,
            shards=shards,
            shard_ids=shard_ids,
            invalid_session_wait=invalid_session_wait,
            compress=compress,
            large_threshold=large_threshold,
            timeouts={
                "guild_ready_timeout": guild_ready_timeout,
                "hello_timeout": hello_timeout,
                "connect_timeout": connect_timeout,
                "close_timeout": close_timeout,
            },
            budget_floor=budget_floor,
            store_interval=store_interval,
        )
        self._token = Token(token)
        self.api_url = check_url(api_url or DEFAULT_API_URL, kind="http").rstrip("/")
        self.gateway_url = check_url(gateway_url, kind="ws") if gateway_url else None
        self.intents = Intents(int(intents))
        self._plan: int | str | None = shards
        self._shard_ids = shard_ids
        self._base = dict(
            compress=compress,
            large_threshold=large_threshold,
            presence=presence,
            guild_ready_timeout=guild_ready_timeout,
            hello_timeout=hello_timeout,
            ack_timeout=ack_timeout,
            max_payload=max_payload,
            invalid_session_wait=invalid_session_wait,
        )
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._backoff_args = dict(base=reconnect_base, cap=reconnect_cap, stable_after=stable_after)
        self._handler_grace = handler_grace
        self._identify_window = identify_window
        self._identify_queue = identify_queue
        self._store = session_store
        self._store_interval = store_interval
        self._budget = SessionBudget(floor=budget_floor)
        self._allow_low_budget = allow_low_budget
        self._manager: Manager | None = None
        self._manager_task: asyncio.Task[None] | None = None
        self._rng = rng or random.Random()
        self._dispatcher = Dispatcher(
            max_queued=max_queued_events, max_running=max_running_handlers
        )
        self._io_thread_enabled = io_thread
        self._io: IOThread | None = None
        self._user_loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: Watchdog | None = None
        self._blocked_threshold = blocked_threshold
        self._connected = asyncio.Event()
        self._ready = asyncio.Event()
        self._finished = asyncio.Event()
        self._finished.set()
        self.error: BaseException | None = None
        self.sessions: dict[int, Session] = {
            sid: Session.restore(snap) for sid, snap in (resume or {}).items()
        }
        self._rest: RestClient | None = None
        self._dispatcher.consumers.append(self._note_interaction)

    def __repr__(self) -> str:
        return f"<tether.Client state={self.state.value} shards={len(self._shards) or 1}>"

    @property
    def _shards(self) -> dict[int, Shard]:
        return self._manager.shards if self._manager is not None else {}

    # ------------------------------------------------------------------ handlers
    def on(self, key: EventKey) -> Callable[[H], H]:
        """Decorator: call the function for an event class or a dispatch name."""

        def register(handler: H) -> H:
            self.add_handler(key, handler)
            return handler

        return register

    def add_handler(self, key: EventKey, handler: Handler) -> None:
        """Register ``handler`` (async or plain function taking the event)."""
        if not (isinstance(key, str) or (isinstance(key, type) and issubclass(key, Event))):
            raise ConfigError(f"cannot listen to {key!r}: use an event class or a dispatch name")
        self._dispatcher.add(key, handler)

    def remove_handler(self, key: EventKey, handler: Handler) -> None:
        """Unregister a handler."""
        self._dispatcher.remove(key, handler)

    async def wait_for(
        self,
        key: EventKey,
        *,
        check: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Wait for the next event matching ``key`` and ``check``.

        Raises:
            TimeoutError: nothing matched within ``timeout`` seconds.
        """
        fut = self._dispatcher.wait_for(key, check)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            fut.cancel()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> ShardState:
        """The overall state: the least advanced shard's (``stopped`` before start)."""
        if not self._shards:
            if self.error is not None:
                return ShardState.FATALLY_CLOSED
            return ShardState.CONNECTING if self._manager is not None else ShardState.STOPPED
        return min((s.state for s in self._shards.values()), key=_ORDER.index)

    def shard_for(self, guild_id: int | str) -> int:
        """The shard id that receives ``guild_id``'s events (``(id >> 22) % shard_count``).

        Raises:
            InvalidState: the shard count is not known yet (``shards="auto"`` before start).
        """
        count = self._manager.shard_count if self._manager is not None else None
        if count is None:
            count = self._plan if isinstance(self._plan, int) else None
        if count is None:
            if self._plan is None:
                return 0
            raise InvalidState("the shard count is not known yet")
        return (int(guild_id) >> 22) % count

    @property
    def shards(self) -> dict[int, ShardStatus]:
        """A status snapshot per shard id."""
        return {sid: shard.status() for sid, shard in self._shards.items()}

    @property
    def latency(self) -> float | None:
        """The mean heartbeat latency over shards that measured one, in seconds."""
        values = [s.latency for s in self._shards.values() if s.latency is not None]
        return sum(values) / len(values) if values else None

    @property
    def queue_depth(self) -> int:
        """Events received and not yet handed to handlers."""
        return self._dispatcher.depth

    @property
    def stats(self) -> DispatcherStats:
        """Live counters: queue depth, event lag, handler latency per event name."""
        return self._dispatcher.stats

    @property
    def rest(self) -> RestClient:
        """The REST client (same token and API URL), made on first use, closed by stop().

        Handlers answer interactions through it: ``await client.rest.respond(event, "hi")``
        or ``client.rest.interaction(event)``. Assign another :class:`RestClient` to change
        its rate-limit settings.
        """
        if self._rest is None:
            self._rest = RestClient(self._token, api_url=self.api_url)
        return self._rest

    @rest.setter
    def rest(self, value: RestClient) -> None:
        self._rest = value

    def _note_interaction(self, event: Event) -> None:
        """Consumer: note when each INTERACTION_CREATE reached the user's loop (3 s window)."""
        if isinstance(event, Dispatch) and event.name == "INTERACTION_CREATE":
            self.rest.note_interaction(event.data)

    async def wait_until_connected(self, timeout: float | None = None) -> None:
        """Wait until every shard has a live session (READY or RESUMED received).

        Raises:
            TimeoutError: not connected within ``timeout``.
            GatewayError: the client stopped with a fatal error.
        """
        await self._wait_milestone(self._connected, timeout)

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        """Wait until every shard is ready (guild stream complete) and connected.

        Raises:
            TimeoutError: not ready within ``timeout``.
            GatewayError: the client stopped with a fatal error.
        """
        await self._wait_milestone(self._ready, timeout)

    async def wait_stopped(self) -> None:
        """Wait until the manager ended (stop() or a fatal error); re-raise a fatal error."""
        await self._finished.wait()
        if self.error is not None:
            raise self.error

    async def _wait_milestone(self, milestone: asyncio.Event, timeout: float | None) -> None:
        async with asyncio.timeout(timeout):
            while not milestone.is_set():
                if self.error is not None:
                    raise self.error
                if self._finished.is_set():
                    raise InvalidState("the client is not running")
                waits = [
                    asyncio.ensure_future(milestone.wait()),
                    asyncio.ensure_future(self._finished.wait()),
                ]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Signal the connection manager to start, and return at once (no socket is opened yet).

        With ``io_thread=True`` (the default) the gateway I/O runs in its own thread and
        event loop; handlers always run on the loop that called ``start()``.

        Raises:
            InvalidState: the client is already running.
        """
        if not self._finished.is_set() or self._manager is not None:
            raise InvalidState("the client is already running (or needs stop() after an error)")
        self.error = None
        self._finished.clear()
        self._user_loop = asyncio.get_running_loop()
        self._dispatcher.start()
        self._manager = Manager(
            token=self._token,
            intents=int(self.intents),
            api_url=self.api_url,
            gateway_url=self.gateway_url,
            plan=self._plan,
            shard_ids=self._shard_ids,
            protocol=self._base,
            dispatcher=self._dispatcher,
            sessions=self.sessions,
            on_state=lambda: self._to_user(self._update_milestones),
            rng=self._rng,
            backoff=self._backoff_args,
            connect_timeout=self._connect_timeout,
            close_timeout=self._close_timeout,
            identify_queue=self._identify_queue,
            identify_window=self._identify_window,
            budget=self._budget,
            allow_low_budget=self._allow_low_budget,
            store=self._store,
            store_interval=self._store_interval,
        )
        self._watchdog = Watchdog(
            self._user_loop,
            threshold=self._blocked_threshold,
            report=self._dispatcher.put,
            invoke_code=Dispatcher._invoke.__code__,
        )
        if self._blocked_threshold > 0:
            self._watchdog.start()
        if self._io_thread_enabled:
            self._io = IOThread()
            self._io.start()
            self._io.submit(self._spawn(self._manager))
        else:
            await self._spawn(self._manager)

    async def _spawn(self, manager: Manager) -> None:
        """Create the manager's task on the current (I/O) loop, without waiting for it."""
        self._manager_task = asyncio.create_task(self._run_manager(manager), name="tether manager")

    async def _run_manager(self, manager: Manager) -> None:
        """Runs on the I/O loop until every shard ended; reports a fatal error to the user."""
        await manager.run()
        if manager.error is not None:
            self.error = manager.error
        self._to_user(self._finished.set)

    async def stop(self, *, resumable: bool = False, timeout: float = 10.0) -> None:
        """Close every socket gracefully and return once they are closed.

        Args:
            resumable: close with 4000 so that the sessions stay resumable (see
                ``session_snapshots()`` and ``session_store``); otherwise with 1000, which
                ends them on Discord's side.
            timeout: seconds to wait for the shards before cancelling them.
        """
        manager = self._manager
        if manager is None:
            return
        stopping = self._stop_manager(manager, resumable=resumable, timeout=timeout)
        if self._io is not None:
            await asyncio.wrap_future(self._io.submit(stopping))
            await self._io.stop()
            self._io = None
        else:
            await stopping
        await self._shutdown()

    async def _stop_manager(self, manager: Manager, *, resumable: bool, timeout: float) -> None:
        """Runs on the I/O loop (the manager's task was created there before this runs)."""
        runner = self._manager_task
        assert runner is not None, "the manager task is created before any stop() runs"
        await manager.stop(resumable=resumable, timeout=timeout, runner=runner)

    async def _shutdown(self) -> None:
        if self._watchdog is not None:
            await asyncio.to_thread(self._watchdog.stop)
            self._watchdog = None
        await self._dispatcher.close(grace=self._handler_grace)
        if self._rest is not None:
            await self._rest.close()
        self._manager = None
        self._manager_task = None
        self._connected.clear()
        self._ready.clear()
        self._finished.set()

    def run(self) -> None:
        """Blocking convenience: start, run until Ctrl-C (or a fatal error), then stop."""

        async def main() -> None:
            await self.start()
            try:
                await self.wait_stopped()
            finally:
                await self.stop()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    async def send(self, op: int, d: Any, *, shard_id: int = 0) -> None:
        """Send a gateway command on a shard (waits for room in the send limit)."""
        shard = self._shards.get(shard_id)
        if shard is None:
            raise InvalidState(f"no shard {shard_id} is running")
        if self._io is not None:
            await asyncio.wrap_future(self._io.submit(shard.send(op, d)))
        else:
            await shard.send(op, d)

    def session_snapshots(self) -> dict[int, SessionSnapshot]:
        """The resumable sessions per shard id (JSON-ready via ``to_dict()``; no token)."""
        snaps = {sid: session.snapshot() for sid, session in self.sessions.items()}
        return {sid: snap for sid, snap in snaps.items() if snap is not None}

    # ------------------------------------------------------------------ internals
    def _to_user(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the user's loop (from the I/O thread or the same loop)."""
        loop = self._user_loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the user's loop is already closed
                loop.call_soon_threadsafe(callback)

    def _update_milestones(self) -> None:
        states = [s.state for s in self._shards.values()]
        live = (ShardState.CONNECTED, ShardState.READY)
        if states and all(s in live for s in states):
            self._connected.set()
        else:
            self._connected.clear()
        if states and all(s is ShardState.READY for s in states):
            self._ready.set()
        else:
            self._ready.clear()


def _validate(
    *,
    token: str,
    intents: int,
    shards: int | str | None,
    shard_ids: Sequence[int] | None,
    invalid_session_wait: tuple[float, float],
    compress: str | None,
    large_threshold: int,
    timeouts: dict[str, float],
    budget_floor: int,
    store_interval: float,
) -> list[int] | None:
    """Check the Client's arguments before any I/O; returns ``shard_ids`` as a list.

    Raises:
        ConfigError: the first invalid argument found.
    """
    if not isinstance(token, str) or not token.strip():
        raise ConfigError("token must be a non-empty string")
    if int(intents) & ~ALL_DEFINED or int(intents) < 0:
        raise ConfigError(f"intents {int(intents)} has undefined bits")
    if shards is not None and shards != "auto" and (not isinstance(shards, int) or shards < 1):
        raise ConfigError('shards must be a positive integer, "auto" or None')
    if shard_ids is not None:
        shard_ids = list(shard_ids)
        if shards is None or not shard_ids or len(set(shard_ids)) != len(shard_ids):
            raise ConfigError("shard_ids needs shards (a count or 'auto') and distinct ids")
        if isinstance(shards, int) and any(not 0 <= i < shards for i in shard_ids):
            raise ConfigError(f"shard_ids must be within 0..{shards - 1}")
    if budget_floor < 0 or store_interval <= 0:
        raise ConfigError("budget_floor must be >= 0 and store_interval > 0")
    low, high = invalid_session_wait
    if not 0 <= low <= high:
        raise ConfigError("invalid_session_wait must be (low, high) with 0 <= low <= high")
    if compress not in (None, *COMPRESSIONS):
        raise ConfigError(f"unsupported compression {compress!r}")
    if compress == "zstd-stream" and not zstd_available():
        raise ConfigError("compress='zstd-stream' needs zstandard: pip install 'tether[zstd]'")
    if not 50 <= large_threshold <= 250:
        raise ConfigError("large_threshold must be within 50..250")
    for name, value in timeouts.items():
        if value < 0:
            raise ConfigError(f"{name} must not be negative")
    return shard_ids

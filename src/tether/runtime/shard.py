"""The asyncio driver of one shard: the reconnect loop around one ShardProtocol per socket.

The driver is thin (STYLE habit 5): it opens sockets, feeds the pure core, carries out what
the core decides, and sleeps the backoff. Per socket, one TaskGroup owns a reader task and a
timer task; when the socket ends, both end. Every task is named after its shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sized
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from tether.errors import (
    FatalCloseError,
    InvalidState,
    SessionBudgetExhausted,
    TetherError,
    fatal_error_for,
)
from tether.gateway.backoff import Backoff, Rng
from tether.gateway.events import (
    Connected,
    Disconnected,
    Dispatch,
    Event,
    GuildAvailable,
    GuildUnavailable,
    Ready,
    Resumed,
    SessionLost,
)
from tether.gateway.policy import Action, Initiator, Verdict
from tether.gateway.protocol import (
    CloseFrame,
    ConnectionEnded,
    HelloReceived,
    Phase,
    ProtocolConfig,
    ShardProtocol,
)
from tether.gateway.session import Session
from tether.gateway.state import ShardState, ShardStateMachine, Trigger
from tether.runtime.clock import loop_time
from tether.runtime.identify import IdentifyQueue, LocalIdentifyQueue
from tether.runtime.transport import USER_AGENT, gateway_connect_url

__all__ = ["FlowControl", "Shard", "ShardStatus"]

log = logging.getLogger("tether.runtime")

#: How long a close to a peer believed dead may take (the frame is written at once).
_DEAD_PEER_CLOSE_WAIT = 0.05

#: Events of the core that stay inside the driver.
_INTERNAL = (HelloReceived, ConnectionEnded)

#: Messages whose events are handed out together when more are already parsed.
_MAX_BATCH = 64

_SETTLED = (ShardState.CONNECTED, ShardState.READY, ShardState.STOPPED)


class FlowControl(Protocol):
    """Backpressure from the event consumers (the dispatcher implements it)."""

    @property
    def full(self) -> bool:
        """Whether the reader should wait before taking more messages."""
        ...

    @property
    def room(self) -> int:
        """How many more events fit before it is full."""
        ...

    async def wait_writable(self) -> None:
        """Return once there is room again."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardStatus:
    """A snapshot of one shard, for humans and dashboards.

    ``attempt`` counts consecutive failed connection attempts; ``retry_in`` is the delay of
    the current backoff wait (only in ``waiting_to_reconnect``).
    """

    shard_id: int
    state: ShardState
    attempt: int
    retry_in: float | None
    latency: float | None
    session_id: str | None
    seq: int | None
    error: BaseException | None


class Shard:
    """Keeps one shard connected until :meth:`request_stop` or a fatal close.

    Args:
        config: the pure core's settings for this shard.
        base_url: coroutine returning the gateway base URL (may fetch ``/gateway/bot``).
        http: the aiohttp session used for sockets (may be set after construction, before run).
        emit: called synchronously with every user-facing event, in order.
        rng: randomness for jitter and waits.
        backoff: the reconnect backoff policy.
        session: a session to resume (restart-safe sessions), or None to identify.
        connect_timeout: seconds allowed for opening the socket (TCP + WebSocket handshake).
        close_timeout: seconds to wait for the server's answer to our close frame.
        identify_gate: paces IDENTIFYs per concurrency bucket.
        flow: the consumers' backpressure; the reader waits while it is full.
        emit_many: like ``emit`` for several events at once (one hand-off instead of many).
    """

    def __init__(
        self,
        config: ProtocolConfig,
        *,
        base_url: Callable[[], Awaitable[str]],
        http: aiohttp.ClientSession | None,
        emit: Callable[[Event], None],
        rng: Rng,
        backoff: Backoff,
        session: Session | None = None,
        connect_timeout: float = 30.0,
        close_timeout: float = 1.0,
        identify_gate: IdentifyQueue | None = None,
        flow: FlowControl | None = None,
        emit_many: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self.config = config
        self.shard_id = config.shard_id
        self.session = session or Session()
        self.machine = ShardStateMachine()
        self.error: BaseException | None = None
        self._base_url = base_url
        self.http = http
        self._emit = emit
        self._emit_many = emit_many or self._emit_each
        self._rng = rng
        self._backoff = backoff
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._identify_gate: IdentifyQueue = identify_gate or LocalIdentifyQueue()
        self._flow = flow
        self._proto: ShardProtocol | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._stop_resumable = False
        self._write_lock = asyncio.Lock()
        self._retry_in: float | None = None
        self._resume_url_failures = 0
        self.on_state: Callable[[Shard], None] | None = None

    def _emit_each(self, events: list[Event]) -> None:
        for event in events:
            self._emit(event)

    # ------------------------------------------------------------------ public
    @property
    def state(self) -> ShardState:
        """The shard's current state."""
        return self.machine.state

    @property
    def latency(self) -> float | None:
        """The last heartbeat round trip in seconds, if any."""
        return self._proto.latency if self._proto is not None else None

    def status(self) -> ShardStatus:
        """A snapshot of the shard's state."""
        return ShardStatus(
            shard_id=self.shard_id,
            state=self.state,
            attempt=0 if self.state in _SETTLED else self._backoff.failures,
            retry_in=self._retry_in if self.state is ShardState.BACKOFF else None,
            latency=self.latency,
            session_id=self.session.session_id,
            seq=self.session.seq,
            error=self.error,
        )

    def begin(self) -> None:
        """Mark the shard as starting (``connecting``); :meth:`run` calls it too."""
        if self.machine.allows(Trigger.START):
            self._transition(Trigger.START)

    def request_stop(self, *, resumable: bool) -> None:
        """Ask the shard to close its socket and end :meth:`run` (returns at once)."""
        self._stop_resumable = resumable
        self._stop.set()
        proto = self._proto
        if proto is not None and proto.phase not in (Phase.CLOSING, Phase.CLOSED):
            proto.close(resumable=resumable, now=loop_time())
            self._wake.set()

    async def send(self, op: int, d: Any) -> None:
        """Send a command on the current socket (queued until connected and allowed).

        Raises:
            InvalidState: no socket is open right now.
            PayloadTooLarge: the payload is over 4096 bytes.
        """
        proto, ws = self._proto, self._ws
        if proto is None or ws is None or proto.phase in (Phase.CLOSING, Phase.CLOSED):
            raise InvalidState(f"shard {self.shard_id} has no open connection")
        proto.send_command(op, d, now=loop_time())
        await self._drain(ws, proto)
        self._wake.set()

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        """Connect, stay connected, reconnect; return on stop, raise on a fatal close."""
        self.begin()
        try:
            while not self._stop.is_set():
                verdict = await self._attempt()
                if verdict.action is Action.STOP or self._stop.is_set():
                    break
                if verdict.action is Action.FATAL:
                    code = verdict.code or 0
                    self.error = verdict.error or fatal_error_for(
                        code, shard_id=self.shard_id, reason=verdict.reason
                    )
                    self._transition(Trigger.FATAL)
                    log.error("shard %d: %s", self.shard_id, self.error)
                    raise self.error
                await self._wait_before_retry(verdict)
        finally:
            if self.machine.allows(Trigger.STOP) and self.state is not ShardState.FATALLY_CLOSED:
                self._transition(Trigger.STOP)
            if self.state is ShardState.CLOSING:
                self._transition(Trigger.CLOSED)

    async def _wait_before_retry(self, verdict: Verdict) -> None:
        delay = self._backoff.next_delay(loop_time(), self._rng) + verdict.wait
        self._retry_in = delay
        self._transition(Trigger.LOST)
        if delay > 0:
            log.info(
                "shard %d: reconnecting in %.2f s (attempt %d)",
                self.shard_id,
                delay,
                self._backoff.failures,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
        self._retry_in = None
        if not self._stop.is_set():
            self._transition(Trigger.RETRY)

    async def _attempt(self) -> Verdict:
        """One connection attempt; returns how it ended."""
        session = self.session
        use_resume_url = session.resumable and self._resume_url_failures < 2
        try:
            url = (
                session.resume_url
                if use_resume_url and session.resume_url
                else await self._base_url()
            )
        except FatalCloseError as exc:
            return Verdict(
                action=Action.FATAL, code=exc.code, initiator=Initiator.SERVER, reason=str(exc)
            )
        except (TetherError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._failed(f"could not get the gateway URL: {exc!r}")
        if not session.resumable:
            try:
                await self._unless_stopped(self._identify_gate.acquire(self.shard_id))
            except SessionBudgetExhausted as exc:
                return Verdict(
                    action=Action.FATAL,
                    code=None,
                    initiator=Initiator.CLIENT,
                    reason=str(exc),
                    error=exc,
                )
            if self._stop.is_set():
                return Verdict(
                    action=Action.STOP, code=None, initiator=Initiator.CLIENT, reason="stop()"
                )
        try:
            return await self._connect(url, use_resume_url=use_resume_url)
        finally:
            # No IDENTIFY went out (a failed connect, a RESUME, a stop): free the slot.
            self._identify_gate.release(self.shard_id)

    async def _connect(self, url: str, *, use_resume_url: bool) -> Verdict:
        connect_url = gateway_connect_url(url, compress=self.config.compress)
        try:
            async with asyncio.timeout(self._connect_timeout):
                assert self.http is not None, "the shard's HTTP session is set before run()"
                ws = await self.http.ws_connect(
                    connect_url,
                    max_msg_size=self.config.max_payload,
                    autoping=True,
                    headers={"User-Agent": USER_AGENT},
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._close_timeout),
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if use_resume_url:
                self._resume_url_failures += 1
            return self._failed(f"could not open the gateway socket: {exc!r}")
        if self._stop.is_set():
            await ws.close(code=4000 if self._stop_resumable else 1000)
            return Verdict(
                action=Action.STOP, code=None, initiator=Initiator.CLIENT, reason="stop()"
            )
        return await self._run_socket(ws)

    async def _unless_stopped(self, waiting: Coroutine[Any, Any, None]) -> None:
        """Await ``waiting`` unless stop() is requested first (then it is cancelled)."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stop):
                pending.cancel()
            await asyncio.gather(task, stop, return_exceptions=True)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error

    def _failed(self, reason: str) -> Verdict:
        log.warning("shard %d: %s", self.shard_id, reason)
        return Verdict(
            action=Action.RESUME, code=None, initiator=Initiator.TRANSPORT, reason=reason
        )

    async def _run_socket(self, ws: aiohttp.ClientWebSocketResponse) -> Verdict:
        proto = ShardProtocol(self.config, self.session, now=loop_time(), rng=self._rng)
        self._proto, self._ws = proto, ws
        _watch_progress(ws, proto)
        if self._stop.is_set():
            proto.close(resumable=self._stop_resumable, now=loop_time())
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(
                    self._reader(ws, proto), name=f"tether reader (shard {self.shard_id})"
                )
                tg.create_task(
                    self._timer(ws, proto), name=f"tether heartbeat (shard {self.shard_id})"
                )
        except* Exception as group:  # a bug of ours must not end the manager: reconnect
            log.error(
                "shard %d: internal error on the socket, reconnecting",
                self.shard_id,
                exc_info=group.exceptions[0],
            )
        finally:
            if not ws.closed:
                await ws.close(code=4000)
            if proto.phase is not Phase.CLOSED:
                proto.receive_closed(ws.close_code, now=loop_time())
                self._handle_events(proto)
        verdict = proto.ended
        assert verdict is not None
        self._resume_url_failures = 0
        will_reconnect = (
            verdict.action in (Action.RESUME, Action.REIDENTIFY) and not self._stop.is_set()
        )
        log.info(
            "shard %d: disconnected (%s, code %s): %s; %s",
            self.shard_id,
            verdict.initiator.value,
            verdict.code,
            verdict.reason,
            ("resuming" if self.session.resumable else "identifying anew")
            if will_reconnect
            else "not reconnecting",
        )
        self._emit(
            Disconnected(
                shard_id=self.shard_id,
                code=verdict.code,
                initiator=verdict.initiator.value,
                reason=verdict.reason,
                will_reconnect=will_reconnect,
                resumable=self.session.resumable,
            )
        )
        return verdict

    async def _reader(self, ws: aiohttp.ClientWebSocketResponse, proto: ShardProtocol) -> None:
        flow = self._flow
        pending = _parsed_messages(ws)
        data_kinds = (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
        batched = 0
        while proto.phase is not Phase.CLOSED:
            if flow is not None and flow.full:
                self._handle_events(proto)
                await self._wait_for_room(flow, proto)
            msg = await ws.receive()
            now = loop_time()
            kind = msg.type
            if kind in data_kinds:
                proto.receive_message(msg.data, now=now)
                if proto.take_deadline_moved():
                    self._wake.set()
                if proto.has_output:
                    await self._drain(ws, proto)
                elif pending and batched < _MAX_BATCH and (flow is None or batched < flow.room):
                    # More messages are already parsed: hand their events out together.
                    batched += 1
                else:
                    batched = 0
                    self._handle_events(proto)
                continue
            if kind is aiohttp.WSMsgType.CLOSE:
                proto.receive_closed(msg.data, str(msg.extra or ""), now=now)
            elif kind in (
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                if kind is aiohttp.WSMsgType.ERROR:
                    error = msg.data
                    if (
                        isinstance(error, aiohttp.WebSocketError)
                        and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
                    ):
                        proto.payload_too_large()
                    else:
                        log.warning("shard %d: socket error: %r", self.shard_id, error)
                if kind is aiohttp.WSMsgType.CLOSING and proto.phase is Phase.CLOSING:
                    # Our own close is in progress in another task; receiving again would
                    # make aiohttp close with its default code 1000 and end the session.
                    return
                proto.receive_closed(ws.close_code, now=now)
            await self._drain(ws, proto)
        self._wake.set()

    async def _wait_for_room(self, flow: FlowControl, proto: ShardProtocol) -> None:
        """Stop reading until the consumers have room (TCP then pushes back on the server)."""
        log.debug("shard %d: handlers are behind; pausing reads", self.shard_id)
        proto.pause_reading(loop_time())
        try:
            await flow.wait_writable()
        finally:
            proto.resume_reading(loop_time())
            self._wake.set()
        log.debug("shard %d: reading again", self.shard_id)

    async def _timer(self, ws: aiohttp.ClientWebSocketResponse, proto: ShardProtocol) -> None:
        wake = self._wake
        while proto.phase is not Phase.CLOSED:
            wake.clear()
            # Carry out whatever other tasks queued in the core (stop(), commands).
            await self._drain(ws, proto)
            deadline = proto.next_deadline()
            if proto.ended is not None:  # closed during the drain
                return
            if deadline is None:
                await wake.wait()
                continue
            delay = deadline - loop_time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=delay)
                continue
            # Let the reader take whatever already arrived before judging a deadline.
            await asyncio.sleep(0)
            proto.timer(loop_time())
            await self._drain(ws, proto)

    async def _drain(self, ws: aiohttp.ClientWebSocketResponse, proto: ShardProtocol) -> None:
        """Carry out the core's decisions: send, close, then hand out events."""
        async with self._write_lock:
            for item in proto.data_to_send():
                if isinstance(item, CloseFrame):
                    await self._close(ws, proto, item)
                elif not ws.closed:
                    try:
                        await ws.send_str(item.decode())
                    except (ConnectionError, aiohttp.ClientError) as exc:
                        log.warning("shard %d: send failed: %r", self.shard_id, exc)
        self._handle_events(proto)

    async def _close(
        self, ws: aiohttp.ClientWebSocketResponse, proto: ShardProtocol, frame: CloseFrame
    ) -> None:
        if not ws.closed:
            # A dead peer will not answer: send the frame, then drop the socket at once.
            wait = None if frame.await_reply else _DEAD_PEER_CLOSE_WAIT
            with contextlib.suppress(ConnectionError, aiohttp.ClientError, TimeoutError):
                await asyncio.wait_for(
                    ws.close(code=frame.code, message=frame.reason.encode()), timeout=wait
                )
        proto.receive_closed(ws.close_code, now=loop_time())

    def _handle_events(self, proto: ShardProtocol) -> None:
        events = proto.events_received()
        if not events:
            return
        # Every event is queued before any state moves, so that whoever awaits a milestone
        # (wait_until_ready) finds the events that led to it already handed out.
        public = [e for e in events if type(e) is Dispatch or not isinstance(e, _INTERNAL)]
        if public:
            self._emit_many(public)
        for event in events:
            if type(event) is Dispatch:  # the common case: no logging, no state change
                continue
            if isinstance(event, HelloReceived):
                log.debug(
                    "shard %d: HELLO (heartbeat every %.3f s), sent %s",
                    self.shard_id,
                    event.heartbeat_interval,
                    "RESUME" if event.resuming else "IDENTIFY",
                )
                if not event.resuming:
                    self._identify_gate.identified(self.shard_id, loop_time())
                self._transition(Trigger.HELLO_RESUME if event.resuming else Trigger.HELLO_IDENTIFY)
            elif not isinstance(event, ConnectionEnded):
                _log_event(event)
                if isinstance(event, Connected):
                    self._backoff.connected(loop_time())
                    self._transition(Trigger.RESUMED if event.resumed else Trigger.READY)
                elif isinstance(event, Ready):
                    self._transition(Trigger.GUILDS_COMPLETE)

    def _transition(self, trigger: Trigger) -> None:
        if not self.machine.allows(trigger):
            log.debug("shard %d: %s ignored in %s", self.shard_id, trigger.value, self.state.value)
            return
        before = self.machine.state
        after = self.machine.apply(trigger)
        if after is not before and self.on_state is not None:
            self.on_state(self)


def _log_event(event: Event) -> None:
    """One clear log line per lifecycle milestone (dispatches are not logged)."""
    sid = event.shard_id
    if isinstance(event, Connected):
        log.info("shard %d: connected (%s)", sid, "resumed" if event.resumed else "new session")
    elif isinstance(event, Ready):
        log.info(
            "shard %d: ready: %d/%d guilds received, %d missing, %d unavailable",
            sid,
            event.guilds_received,
            event.guilds_expected,
            event.guilds_missing,
            event.guilds_unavailable,
        )
    elif isinstance(event, Resumed):
        log.info("shard %d: resumed; %d events replayed", sid, event.replayed)
    elif isinstance(event, SessionLost):
        log.warning(
            "shard %d: session lost (%s); events after seq %d, during %.2f s, may be missing",
            sid,
            event.reason,
            event.last_seq,
            event.until - event.since,
        )
    elif isinstance(event, (GuildAvailable, GuildUnavailable)):
        log.info("shard %d: %s %d", sid, type(event).__name__, event.guild_id)


def _watch_progress(ws: aiohttp.ClientWebSocketResponse, proto: ShardProtocol) -> None:
    """Tell the core whenever raw bytes arrive, even mid-message (see receive_progress).

    aiohttp offers a per-read callback on its connection protocol (it uses it for its own
    WebSocket heartbeat); it is not public API, so its absence only disables the refinement.
    """
    conn = getattr(ws, "_conn", None)
    handler = getattr(conn, "protocol", None)
    if handler is None or not hasattr(handler, "_data_received_cb"):
        log.debug("aiohttp offers no read callback; large-payload zombie grace disabled")
        return
    handler._data_received_cb = lambda: proto.receive_progress(loop_time())


def _parsed_messages(ws: aiohttp.ClientWebSocketResponse) -> Sized:
    """aiohttp's queue of messages parsed and not yet received (empty if not reachable).

    Only its length is read, to batch the hand-off of events; aiohttp does not make it
    public, so without it every message is handed out on its own (correct, just slower).
    """
    queue = getattr(getattr(ws, "_reader", None), "_buffer", None)
    return queue if isinstance(queue, Sized) else ()

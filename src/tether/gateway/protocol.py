"""ShardProtocol: the sans-I/O gateway client for one socket (spec sections 2-7).

The drain contract (STYLE habit 1): after every call to a ``receive_*`` method,
:meth:`ShardProtocol.timer` or :meth:`ShardProtocol.send_command`, the driver must

1. send everything in :meth:`data_to_send` (bytes are text frames; a :class:`CloseFrame`
   means "close the socket with this code"),
2. handle everything in :meth:`events_received` (user events and :class:`ConnectionEnded`),
3. call :meth:`timer` again no later than :meth:`next_deadline`.

The protocol never awaits, sleeps, reads a clock or touches a socket: ``now`` (seconds,
monotonic) and ``rng`` are parameters. Garbage from the server never raises out of it; it is
logged and turned into a close that keeps the session, so nothing is lost.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tether.errors import DecodeError, InvalidState, PayloadTooLarge, WireError
from tether.gateway.backoff import Rng
from tether.gateway.events import (
    Connected,
    Dispatch,
    Event,
    GuildAvailable,
    GuildUnavailable,
    LatencyUpdated,
    Ready,
    Resumed,
    SessionLost,
)
from tether.gateway.limiter import SendLimiter
from tether.gateway.policy import Action, Initiator, Verdict, decide
from tether.gateway.session import Session
from tether.token import Token
from tether.wire.close_codes import ABNORMAL_CLOSURE, RESUMABLE_CLIENT_CLOSE, CloseCode
from tether.wire.codec import Frame, decode_frame, decode_guild_ref, encode_payload
from tether.wire.compression import DEFAULT_MAX_PAYLOAD, make_inflater
from tether.wire.opcodes import Op

__all__ = [
    "MAX_SEND_PAYLOAD",
    "CloseFrame",
    "ConnectionEnded",
    "HelloReceived",
    "Phase",
    "ProtocolConfig",
    "ShardProtocol",
]

log = logging.getLogger("tether.gateway")

#: Client payloads over this many bytes get close 4002 (spec 6.4).
MAX_SEND_PAYLOAD = 4096
#: Unreadable payloads in a row at the same seq before a session is given up: a payload
#: the client cannot read (over ``max_payload``, undecodable) is replayed on every RESUME.
POISON_REPEATS = 3
_MAX_QUEUED_COMMANDS = 1000
#: A HELLO interval above this (one hour) is treated as garbage.
_MAX_HEARTBEAT_INTERVAL_MS = 3_600_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolConfig:
    """Per-shard settings of the gateway core.

    Attributes:
        token: the bot token (redacted in every repr).
        intents: the intents bitfield for IDENTIFY.
        shard: ``(shard_id, shard_count)`` or None for an unsharded session.
        compress: ``"zlib-stream"``, ``"zstd-stream"`` (needs ``zstandard``) or None.
        ack_timeout: seconds to wait for a heartbeat ACK before calling the connection a
            zombie; None means ``min(heartbeat_interval, 5 s)``.
        hello_timeout: seconds to wait for HELLO after the socket opened.
        guild_ready_timeout: idle gap in the guild stream after which Ready fires anyway.
        invalid_session_wait: (low, high) seconds to wait before IDENTIFY after op 9 false.
    """

    token: Token
    intents: int
    shard: tuple[int, int] | None = None
    compress: str | None = "zlib-stream"
    large_threshold: int = 250
    properties: dict[str, str] = field(
        default_factory=lambda: {"os": "linux", "browser": "tether", "device": "tether"}
    )
    presence: dict[str, Any] | None = None
    max_payload: int = DEFAULT_MAX_PAYLOAD
    ack_timeout: float | None = None
    hello_timeout: float = 20.0
    guild_ready_timeout: float = 10.0
    send_limit: int = 120
    send_window: float = 60.0
    send_reserved: int = 5
    invalid_session_wait: tuple[float, float] = (1.0, 5.0)

    @property
    def shard_id(self) -> int:
        """The shard id (0 when unsharded)."""
        return self.shard[0] if self.shard else 0


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """An instruction to close the socket with ``code``.

    ``await_reply`` is False when the peer is believed dead (zombie, no HELLO): the driver
    sends the frame and drops the connection instead of waiting for the server's answer.
    """

    code: int
    reason: str = ""
    await_reply: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloReceived(Event):
    """Internal: HELLO arrived and IDENTIFY (``resuming=False``) or RESUME was sent."""

    resuming: bool
    heartbeat_interval: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionEnded(Event):
    """Internal: the socket is finished; ``verdict`` says what to do next."""

    verdict: Verdict


class Phase(enum.Enum):
    """Where one socket is in its life."""

    AWAITING_HELLO = "awaiting_hello"
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    CLOSING = "closing"
    CLOSED = "closed"


class ShardProtocol:
    """The client side of one gateway socket. Build a new one for every socket.

    Args:
        config: the shard's settings.
        session: the session carried across sockets (mutated in place).
        now: the time the socket opened.
        rng: randomness for heartbeat jitter and the op 9 wait.
    """

    def __init__(self, config: ProtocolConfig, session: Session, *, now: float, rng: Rng) -> None:
        self.config = config
        self.session = session
        self.shard_id = config.shard_id
        self.phase = Phase.AWAITING_HELLO
        self.latency: float | None = None
        self.heartbeat_interval: float | None = None
        self._rng = rng
        self._opened_at = now
        self._out: list[bytes | CloseFrame] = []
        self._events: list[Event] = []
        self._inflater = make_inflater(config.compress, config.max_payload)
        self._next_heartbeat: float | None = None
        self._ack_deadline: float | None = None
        self._heartbeat_sent_at: float | None = None
        self._limiter = SendLimiter(
            limit=config.send_limit, window=config.send_window, reserved=config.send_reserved
        )
        self._commands: deque[bytes] = deque()
        self._resuming = False
        self._replayed = 0
        self._pending_verdict: Verdict | None = None
        self._bytes_at = now
        self._message_at = now
        self._paused = False
        self._deadline_moved = False
        self.ended: Verdict | None = None

    # ------------------------------------------------------------------ drain side
    @property
    def has_output(self) -> bool:
        """Whether :meth:`data_to_send` has something (lets drivers skip a drain)."""
        return bool(self._out)

    def take_deadline_moved(self) -> bool:
        """Whether an input since the last call may have brought :meth:`next_deadline`
        forward (HELLO, a heartbeat awaiting its ACK, READY, a queued command...); resets it.

        Drivers that sleep until the deadline use it to know when to wake their timer.
        """
        moved, self._deadline_moved = self._deadline_moved, False
        return moved

    def data_to_send(self) -> list[bytes | CloseFrame]:
        """Payloads (text frames) and close instructions to carry out, in order."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[Event]:
        """Events produced since the last call, in order."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """The time at which :meth:`timer` must be called next (None: no timer needed)."""
        if self.phase is Phase.CLOSED:
            return None
        if self.phase is Phase.AWAITING_HELLO:
            return self._opened_at + self.config.hello_timeout
        ack = None if self._paused else self._ack_deadline
        deadlines = [d for d in (self._next_heartbeat, ack) if d is not None]
        stream = self.session.stream
        if self.phase is Phase.CONNECTED:
            pending_ready = self.session.session_id is not None and not self.session.ready_fired
            if pending_ready and not self._paused:
                deadlines.append(stream.last_activity + self.config.guild_ready_timeout)
            if self._commands:
                deadlines.append(self._limiter.earliest_free())
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------ inputs
    def pause_reading(self, now: float) -> None:
        """The driver stopped reading the socket (its consumers are full: backpressure).

        Heartbeats go on; the zombie verdict and the guild-stream timeout are suspended,
        since ACKs and guilds may be waiting, unread, in the socket.
        """
        self._paused = True

    def resume_reading(self, now: float) -> None:
        """The driver reads again; a pending ACK gets a fresh deadline from ``now``."""
        if not self._paused:
            return
        self._paused = False
        self._deadline_moved = True
        if self._ack_deadline is not None:
            self._ack_deadline = max(self._ack_deadline, now + self._ack_timeout())
        stream = self.session.stream
        stream.last_activity = max(stream.last_activity, now)

    def receive_progress(self, now: float) -> None:
        """Note that bytes arrived from the socket (possibly part of a message).

        Optional: a driver that can see raw reads calls it, so that a large payload still
        arriving when a heartbeat ACK is due is not mistaken for a zombie connection.
        """
        self._bytes_at = now

    def receive_message(self, data: bytes | str, *, now: float) -> None:
        """Feed one WebSocket message (``bytes`` for binary frames, ``str`` for text)."""
        self._message_at = self._bytes_at = now
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return
        payload: bytes | str | None = data
        if isinstance(data, bytes) and self._inflater is not None:
            try:
                payload = self._inflater.feed(data)
            except PayloadTooLarge as exc:
                self._unreadable(f"payload from the gateway too large ({exc})")
                return
            except WireError as exc:
                self._unreadable(f"bad compressed data from the gateway: {exc}")
                return
            if payload is None:
                return
        assert payload is not None
        try:
            frame = decode_frame(payload)
        except DecodeError as exc:
            self._unreadable(f"undecodable payload from the gateway: {exc}")
            return
        try:
            self._handle(frame, now)
        except DecodeError as exc:  # d itself is undecodable (e.g. a number out of range)
            self._unreadable(f"undecodable payload body from the gateway: {exc}")

    def payload_too_large(self, size: int | None = None) -> None:
        """The driver refused a message over ``max_payload`` before it was complete."""
        got = f"{size} bytes" if size is not None else "over the limit"
        self._unreadable(
            f"payload from the gateway too large ({got}; max_payload {self.config.max_payload})"
        )

    def receive_closed(self, code: int | None, reason: str = "", *, now: float) -> None:
        """The socket is gone: closed by the server (``code``) or dropped (None or 1006).

        Always ends with exactly one :class:`ConnectionEnded` event for this socket.
        """
        if self.phase is Phase.CLOSED:
            return
        verdict = self._pending_verdict
        if verdict is None:
            if code is None or code == ABNORMAL_CLOSURE:
                initiator, why = Initiator.TRANSPORT, "connection dropped without a close frame"
            else:
                why = f"gateway closed the connection with {code}" + (
                    f": {reason}" if reason else ""
                )
                initiator = Initiator.SERVER
            action = decide(initiator, code)
            if action is Action.REIDENTIFY:
                self.session.clear(why)
            verdict = Verdict(action=action, code=code, initiator=initiator, reason=why)
        self._finish(verdict)

    def timer(self, now: float) -> None:
        """Run whatever is due at ``now`` (heartbeats, zombie check, timeouts, queued sends)."""
        if self.phase is Phase.AWAITING_HELLO:
            if now >= self._opened_at + self.config.hello_timeout:
                self._fail(
                    f"no HELLO within {self.config.hello_timeout:g} s of connecting", dead=True
                )
            return
        if self.phase not in (Phase.HANDSHAKING, Phase.CONNECTED):
            return
        if self._ack_deadline is not None and now >= self._ack_deadline and not self._paused:
            if self._transfer_in_progress(now):
                return
            self._fail(
                f"zombie connection: heartbeat not acknowledged within {self._ack_timeout():.3g} s",
                dead=True,
            )
            return
        if self._next_heartbeat is not None and now >= self._next_heartbeat:
            waiting = self._heartbeat_sent_at is not None and self._ack_deadline is not None
            if waiting and not self._paused:
                # Spec 3.2: never send beat N+1 while N is unacknowledged; judge N first.
                assert self._ack_deadline is not None
                self._next_heartbeat = max(now, self._ack_deadline)
            else:
                self._send_heartbeat(now)
                interval = self.heartbeat_interval or 0.0
                self._next_heartbeat = max(self._next_heartbeat + interval, now + interval / 2)
        if self.phase is Phase.CONNECTED:
            if not self._paused:
                self._check_guild_stream(now)
            self._flush_commands(now)

    def send_command(self, op: int, d: Any, *, now: float) -> None:
        """Queue a command (presence, voice state, member request, ...) for sending.

        Commands wait for the connection to be established and for room in the send limit.

        Raises:
            PayloadTooLarge: the encoded payload is over 4096 bytes (it is not sent).
            InvalidState: the socket is closing, or too many commands are queued.
        """
        if op in (Op.HEARTBEAT, Op.IDENTIFY, Op.RESUME):
            raise InvalidState(f"op {op} is sent by the protocol itself")
        payload = encode_payload(op, d)
        if len(payload) > MAX_SEND_PAYLOAD:
            raise PayloadTooLarge(len(payload), MAX_SEND_PAYLOAD)
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            raise InvalidState("the connection is closing")
        if len(self._commands) >= _MAX_QUEUED_COMMANDS:
            raise InvalidState("too many commands queued behind the send rate limit")
        self._commands.append(payload)
        self._deadline_moved = True
        if self.phase is Phase.CONNECTED:
            self._flush_commands(now)

    def close(self, *, resumable: bool, now: float) -> None:
        """Close this socket because the user stops the client.

        ``resumable=True`` closes with 4000 so that the session can be resumed later (by this
        or another process); otherwise 1000, which ends the session on Discord's side.
        """
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return
        code = RESUMABLE_CLIENT_CLOSE if resumable else 1000
        if not resumable:
            self.session.clear("stopped by the user")
            self.session.lost = None
        self._begin_close(
            code,
            Verdict(action=Action.STOP, code=code, initiator=Initiator.CLIENT, reason="stop()"),
        )

    # ------------------------------------------------------------------ handling
    def _handle(self, frame: Frame, now: float) -> None:
        op = frame.op
        if op == Op.DISPATCH:
            if self.phase is Phase.AWAITING_HELLO:  # spec 1.4: HELLO comes first
                self._fail(f"dispatch {frame.t!r} before HELLO")
                return
            self._on_dispatch(frame, now)
        elif op == Op.HEARTBEAT_ACK:
            self._on_ack(now)
        elif op == Op.HEARTBEAT:
            self._send_heartbeat(now)
        elif op == Op.HELLO:
            self._on_hello(frame, now)
        elif op == Op.RECONNECT:
            self._begin_close(
                RESUMABLE_CLIENT_CLOSE, self._verdict("gateway asked to reconnect (op 7)")
            )
        elif op == Op.INVALID_SESSION:
            self._on_invalid_session(frame)
        else:
            log.warning("shard %d: ignoring unknown opcode %r from the gateway", self.shard_id, op)

    def _on_hello(self, frame: Frame, now: float) -> None:
        if self.phase is not Phase.AWAITING_HELLO:
            log.warning("shard %d: ignoring a second HELLO", self.shard_id)
            return
        data = frame.data()
        interval = data.get("heartbeat_interval") if isinstance(data, dict) else None
        if (
            not isinstance(interval, (int, float))
            or isinstance(interval, bool)
            or not 0 < interval <= _MAX_HEARTBEAT_INTERVAL_MS
        ):
            self._fail(f"HELLO without a valid heartbeat_interval: {interval!r}")
            return
        self.heartbeat_interval = interval / 1000.0
        self._next_heartbeat = now + self.heartbeat_interval * self._rng.random()
        self._deadline_moved = True
        self.phase = Phase.HANDSHAKING
        session = self.session
        token = self.config.token.reveal()
        if session.resumable:
            self._resuming = True
            self._raw_send(
                encode_payload(
                    Op.RESUME,
                    {"token": token, "session_id": session.session_id, "seq": session.seq},
                ),
                now,
            )
        else:
            self._raw_send(encode_payload(Op.IDENTIFY, self._identify_body(token)), now)
        self._events.append(
            HelloReceived(
                shard_id=self.shard_id,
                resuming=self._resuming,
                heartbeat_interval=self.heartbeat_interval,
            )
        )

    def _identify_body(self, token: str) -> dict[str, Any]:
        cfg = self.config
        body: dict[str, Any] = {
            "token": token,
            "properties": dict(cfg.properties),
            "intents": int(cfg.intents),
            "large_threshold": cfg.large_threshold,
            "compress": False,
        }
        if cfg.shard is not None:
            body["shard"] = list(cfg.shard)
        if cfg.presence is not None:
            body["presence"] = cfg.presence
        return body

    def _on_ack(self, now: float) -> None:
        if self._heartbeat_sent_at is None:
            log.debug("shard %d: unsolicited heartbeat ACK", self.shard_id)
            return
        previous = self.latency
        self.latency = now - self._heartbeat_sent_at
        self._heartbeat_sent_at = None
        self._ack_deadline = None
        self._events.append(
            LatencyUpdated(shard_id=self.shard_id, latency=self.latency, previous=previous)
        )

    def _on_invalid_session(self, frame: Frame) -> None:
        if frame.data() is True and self.session.resumable:
            self._begin_close(RESUMABLE_CLIENT_CLOSE, self._verdict("invalid session (resumable)"))
            return
        reason = "gateway invalidated the session (op 9)"
        self.session.clear(reason)
        low, high = self.config.invalid_session_wait
        verdict = Verdict(
            action=Action.REIDENTIFY,
            code=RESUMABLE_CLIENT_CLOSE,
            initiator=Initiator.CLIENT,
            reason=reason,
            wait=self._rng.uniform(low, high),
        )
        self._begin_close(RESUMABLE_CLIENT_CLOSE, verdict)

    def _on_dispatch(self, frame: Frame, now: float) -> None:
        if self.phase is Phase.HANDSHAKING and (
            (frame.t == "READY" and self._resuming) or (frame.t == "RESUMED" and not self._resuming)
        ):  # spec 2.5/2.8: READY answers IDENTIFY, RESUMED answers RESUME, never crossed
            self._fail(
                f"{frame.t} does not answer the {'RESUME' if self._resuming else 'IDENTIFY'}"
            )
            return
        session = self.session
        seq = frame.s
        if seq is not None:
            if session.seq is not None and seq <= session.seq and frame.t != "READY":
                log.warning(
                    "shard %d: dropping %s with seq %d (already at %d): a replay seen before",
                    self.shard_id,
                    frame.t,
                    seq,
                    session.seq,
                )
                return
            if frame.t != "READY":  # a READY's seq is adopted only once it proves valid
                session.seq = seq
        session.last_event_at = now
        name = frame.t or ""
        if name == "READY":
            if not self._on_ready(frame, now):
                return
        elif name == "RESUMED":
            self._on_resumed(now)
        elif self._resuming and self.phase is Phase.HANDSHAKING:
            self._replayed += 1
        dispatch = Dispatch(shard_id=self.shard_id, name=name, seq=seq, frame=frame)
        self._events.append(dispatch)
        if name in {"GUILD_CREATE", "GUILD_DELETE"}:
            self._on_guild_event(name, frame, now)
        elif name == "READY":
            self._check_guild_stream(now)

    def _on_ready(self, frame: Frame, now: float) -> bool:
        data = frame.data()
        try:
            session_id = str(data["session_id"])
            resume_url = str(data["resume_gateway_url"])
            guild_ids = [int(g["id"]) for g in data.get("guilds", [])]
            user = data.get("user") or {}
        except (TypeError, KeyError, ValueError) as exc:
            self._fail(f"malformed READY: {exc!r}")
            return False
        session = self.session
        lost = session.lost
        if lost is not None:
            self._events.append(
                SessionLost(
                    shard_id=self.shard_id,
                    old_session_id=lost.session_id,
                    last_seq=lost.last_seq,
                    since=lost.since,
                    until=now,
                    reason=lost.reason,
                )
            )
            session.lost = None
        session.begin(session_id=session_id, resume_url=resume_url, user=user, now=now)
        session.seq = frame.s
        session.stream.start(guild_ids, now)
        self._deadline_moved = True
        self.phase = Phase.CONNECTED
        self._events.append(Connected(shard_id=self.shard_id, session_id=session_id, resumed=False))
        return True

    def _on_resumed(self, now: float) -> None:
        self.phase = Phase.CONNECTED
        session_id = self.session.session_id or ""
        self._events.append(Connected(shard_id=self.shard_id, session_id=session_id, resumed=True))
        self._events.append(
            Resumed(shard_id=self.shard_id, session_id=session_id, replayed=self._replayed)
        )
        self._flush_commands(now)

    def _on_guild_event(self, name: str, frame: Frame, now: float) -> None:
        # Only id and unavailable: the rest of a (large) GUILD_CREATE is skipped, not built.
        guild_id, unavailable = decode_guild_ref(frame.raw)
        if guild_id is None:
            log.warning("shard %d: %s without a usable guild id", self.shard_id, name)
            return
        stream = self.session.stream
        if name == "GUILD_CREATE":
            if stream.guild_created(guild_id, available=not unavailable, now=now):
                self._events.append(GuildAvailable(shard_id=self.shard_id, guild_id=guild_id))
        elif stream.guild_deleted(guild_id, unavailable=unavailable, now=now):
            self._events.append(GuildUnavailable(shard_id=self.shard_id, guild_id=guild_id))
        self._check_guild_stream(now)

    def _check_guild_stream(self, now: float) -> None:
        session = self.session
        if session.ready_fired or session.session_id is None or self.phase is not Phase.CONNECTED:
            return
        stream = session.stream
        timed_out = now >= stream.last_activity + self.config.guild_ready_timeout
        if stream.pending and not timed_out:
            return
        missing = len(stream.pending)
        stream.pending.clear()
        stream.complete = True
        session.ready_fired = True
        self._events.append(
            Ready(
                shard_id=self.shard_id,
                session_id=session.session_id,
                user=session.user,
                guilds_expected=stream.expected,
                guilds_received=stream.received,
                guilds_missing=missing,
                guilds_unavailable=len(stream.unavailable),
                timed_out=missing > 0,
            )
        )

    # ------------------------------------------------------------------ sending
    def _raw_send(self, payload: bytes, now: float) -> None:
        self._limiter.record(now)
        self._out.append(payload)

    def _send_heartbeat(self, now: float) -> None:
        if self.phase not in (Phase.HANDSHAKING, Phase.CONNECTED):
            return
        if not self._limiter.can_send(now, heartbeat=True):
            log.warning("shard %d: send limit reached; heartbeat held back", self.shard_id)
            return
        self._raw_send(encode_payload(Op.HEARTBEAT, self.session.seq), now)
        if self._heartbeat_sent_at is None:
            self._heartbeat_sent_at = now
            self._ack_deadline = now + self._ack_timeout()
            self._deadline_moved = True

    def _transfer_in_progress(self, now: float) -> bool:
        """Data is still arriving, so the ACK may be queued behind it: defer the verdict.

        "Arriving" means bytes of an incomplete message, compressed pieces of an incomplete
        payload, or bytes received since the heartbeat within the last ACK timeout. The
        deferral is bounded: at most one heartbeat interval after the beat, when the next
        beat would find the previous one unacknowledged (spec 3.2). A silent server gets no
        deferral; one that streams dispatches but never ACKs is a zombie at that bound.
        """
        sent = self._heartbeat_sent_at
        if sent is None:
            return False
        limit = sent + (self.heartbeat_interval or 0.0)
        if now >= limit:
            return False
        timeout = self._ack_timeout()
        partial = self._bytes_at > self._message_at
        buffered = self._inflater is not None and self._inflater.buffered > 0
        flowing = self._bytes_at > sent and now - self._bytes_at < timeout
        if not (partial or buffered or flowing):
            return False
        # Still mid-transfer: look again a timeout from now; only flowing: a timeout after
        # the last bytes (a server that went quiet is judged as soon as it has been quiet).
        again = now + timeout if partial or buffered else self._bytes_at + timeout
        self._ack_deadline = min(max(again, now), limit)
        return True

    def _ack_timeout(self) -> float:
        # Never beyond one interval: the next beat must find the previous one acknowledged.
        timeout = 5.0 if self.config.ack_timeout is None else self.config.ack_timeout
        return min(self.heartbeat_interval or timeout, timeout)

    def _flush_commands(self, now: float) -> None:
        commands = self._commands
        while commands and self._limiter.can_send(now):
            self._raw_send(commands.popleft(), now)

    # ------------------------------------------------------------------ ending
    def _verdict(self, reason: str) -> Verdict:
        return Verdict(
            action=Action.RESUME,
            code=RESUMABLE_CLIENT_CLOSE,
            initiator=Initiator.CLIENT,
            reason=reason,
        )

    def _unreadable(self, reason: str) -> None:
        """A payload could not be read: resume, unless the same spot failed
        ``POISON_REPEATS`` times in a row (the server replays it on every RESUME), in which
        case the session is given up so that the shard moves on (the gap is reported)."""
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return
        session = self.session
        if not session.resumable or session.note_unreadable() < POISON_REPEATS:
            self._fail(reason)
            return
        why = (
            f"{reason}, {POISON_REPEATS} times in a row after seq {session.seq}: the gateway "
            "replays it on every resume, so the session is given up"
        )
        log.warning("shard %d: %s; identifying anew", self.shard_id, why)
        session.clear(why)
        verdict = Verdict(
            action=Action.REIDENTIFY, code=CloseCode.NORMAL, initiator=Initiator.CLIENT, reason=why
        )
        self._begin_close(CloseCode.NORMAL, verdict)

    def _fail(self, reason: str, *, dead: bool = False) -> None:
        """Close with a resumable code because of a fault on this socket.

        ``dead``: the server is believed unresponsive; do not wait for its close reply.
        """
        log.warning("shard %d: %s; reconnecting", self.shard_id, reason)
        self._begin_close(RESUMABLE_CLIENT_CLOSE, self._verdict(reason), await_reply=not dead)

    def _begin_close(self, code: int, verdict: Verdict, *, await_reply: bool = True) -> None:
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return
        self.phase = Phase.CLOSING
        self._pending_verdict = verdict
        self._next_heartbeat = self._ack_deadline = None
        # A close frame's reason holds at most 123 bytes (RFC 6455 5.5).
        reason = verdict.reason.encode()[:123].decode("utf-8", "ignore")
        self._out.append(CloseFrame(code, reason, await_reply))

    def _finish(self, verdict: Verdict) -> None:
        self.phase = Phase.CLOSED
        self.ended = verdict
        self._next_heartbeat = self._ack_deadline = None
        self._events.append(ConnectionEnded(shard_id=self.shard_id, verdict=verdict))

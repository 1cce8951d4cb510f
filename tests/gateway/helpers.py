"""An in-memory Discord gateway that drives :class:`ShardProtocol` on virtual time.

:class:`FakeGateway` plays the server side of one socket: it builds envelopes as JSON bytes
(with the stdlib ``json``, independently of ``tether.wire.codec``) and, for ``zlib-stream``,
compresses them with one ``zlib.compressobj`` per connection and a ``Z_SYNC_FLUSH`` per payload
(spec 7.4). :class:`Pump` owns one protocol, a fake clock (a plain float), a seeded
``random.Random`` and that server; every input is followed by the drain contract
(``data_to_send()`` then ``events_received()``) and what the client sent is decoded back to
dicts. No sockets, no asyncio, no sleeps.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pytest

from tether.gateway import (
    CloseFrame,
    ConnectionEnded,
    Event,
    Phase,
    ProtocolConfig,
    Session,
    ShardProtocol,
    Verdict,
)
from tether.token import Token
from tether.wire.compression import ZLIB_SUFFIX

__all__ = [
    "BOT_USER",
    "INTERVAL",
    "INTERVAL_MS",
    "NEXT",
    "RESUME_URL",
    "SESSION_ID",
    "TOKEN_TEXT",
    "FakeGateway",
    "Output",
    "Pump",
    "connected",
    "make_config",
    "raises_redacted",
]

#: A distinctive token: no test output, log record or exception message may contain it.
TOKEN_TEXT = "MTE4NDU2Nzg5MDEyMzQ1Njc4.Gx7kQb.tether-secret-Zq9PwL3vRk"
INTERVAL_MS = 41250
INTERVAL = INTERVAL_MS / 1000.0
SESSION_ID = "d4c1a0d9e1f0ab12"
RESUME_URL = "wss://gateway-us-east1-b.discord.gg"
BOT_USER: dict[str, Any] = {
    "id": "80351110224678912",
    "username": "testbot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
}

E = TypeVar("E", bound=Event)

#: ``s=NEXT`` numbers a dispatch with the session's next sequence number.
NEXT: Literal["next"] = "next"
Seq = int | None | Literal["next"]


def make_config(**overrides: Any) -> ProtocolConfig:
    """A ProtocolConfig with the test token, GUILDS | GUILD_MESSAGES and zlib-stream."""
    values: dict[str, Any] = {
        "token": Token(TOKEN_TEXT),
        "intents": 513,
        "compress": "zlib-stream",
    }
    values.update(overrides)
    return ProtocolConfig(**values)


@contextmanager
def raises_redacted(exc_type: type[BaseException], match: str | None = None) -> Iterator[Any]:
    """``pytest.raises`` that also checks the exception text does not contain the token."""
    with pytest.raises(exc_type, match=match) as info:
        yield info
    assert TOKEN_TEXT not in str(info.value)
    assert TOKEN_TEXT not in repr(info.value)


def split_blob(blob: bytes, chunks: int) -> list[bytes]:
    """Split a compressed payload into ``chunks`` messages; only the last ends in 00 00 FF FF."""
    if chunks <= 1 or len(blob) < chunks:
        return [blob]
    size = len(blob) // chunks
    cuts = [size * i for i in range(1, chunks)]
    parts: list[bytes] = []
    start = 0
    for planned in cuts:
        cut = planned
        while blob[start:cut].endswith(ZLIB_SUFFIX) and cut < len(blob) - 1:
            cut += 1  # spec 7.4: never split so that a non-final chunk ends in the suffix
        if cut > start:
            parts.append(blob[start:cut])
            start = cut
    parts.append(blob[start:])
    return parts


class FakeGateway:
    """The server side of one socket: envelopes as JSON bytes, optionally zlib-stream.

    ``seq`` is the session's last sequence number; :meth:`dispatch` numbers from it.
    """

    def __init__(self, *, compress: bool, seq: int = 0) -> None:
        self._co = zlib.compressobj() if compress else None
        self.seq = seq

    @staticmethod
    def envelope(op: int, d: Any = None, *, s: int | None = None, t: str | None = None) -> bytes:
        """All four keys, as the emulator sends them (spec 2.1 [EMU])."""
        return json.dumps({"op": op, "d": d, "s": s, "t": t}, separators=(",", ":")).encode()

    def wire(self, payload: bytes, *, chunks: int = 1) -> list[bytes | str]:
        """The WebSocket messages carrying ``payload``: one text frame, or binary zlib chunks."""
        if self._co is None:
            return [payload.decode()]
        blob = self._co.compress(payload) + self._co.flush(zlib.Z_SYNC_FLUSH)
        assert blob.endswith(ZLIB_SUFFIX)
        return list(split_blob(blob, chunks))

    # ---------------------------------------------------------------- frames
    def hello(self, interval_ms: float = INTERVAL_MS) -> bytes:
        return self.envelope(10, {"heartbeat_interval": interval_ms, "_trace": ["gw-test"]})

    def ack(self) -> bytes:
        return self.envelope(11)

    def heartbeat_request(self) -> bytes:
        return self.envelope(1)

    def reconnect(self) -> bytes:
        return self.envelope(7)

    def invalid_session(self, resumable: bool) -> bytes:
        return self.envelope(9, resumable)

    def dispatch(self, t: str, d: Any, *, s: Seq = NEXT) -> bytes:
        """A dispatch numbered with the next sequence number (or with ``s``, int or None)."""
        if s == NEXT:
            self.seq += 1
            seq: int | None = self.seq
        else:
            seq = s if isinstance(s, int) else None
            if seq is not None:
                self.seq = max(self.seq, seq)
        return self.envelope(0, d, s=seq, t=t)

    def ready(
        self,
        guild_ids: Iterable[int] = (),
        *,
        session_id: str = SESSION_ID,
        s: Seq = NEXT,
        shard: Sequence[int] | None = None,
    ) -> bytes:
        d: dict[str, Any] = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session_id,
            "resume_gateway_url": RESUME_URL,
            "application": {"id": BOT_USER["id"], "flags": 0},
            "private_channels": [],
            "_trace": ["gw-test"],
        }
        if shard is not None:
            d["shard"] = list(shard)
        return self.dispatch("READY", d, s=s)

    def guild_create(self, guild_id: int, *, unavailable: bool = False) -> bytes:
        if unavailable:
            return self.dispatch("GUILD_CREATE", {"id": str(guild_id), "unavailable": True})
        return self.dispatch(
            "GUILD_CREATE",
            {"id": str(guild_id), "name": f"guild {guild_id}", "member_count": 3, "large": False},
        )

    def guild_delete(self, guild_id: int, *, unavailable: bool | None = True) -> bytes:
        d: dict[str, Any] = {"id": str(guild_id)}
        if unavailable is not None:
            d["unavailable"] = unavailable
        return self.dispatch("GUILD_DELETE", d)

    def message_create(self, content: str = "hello") -> bytes:
        return self.dispatch(
            "MESSAGE_CREATE", {"id": str(1000 + self.seq), "channel_id": "1", "content": content}
        )

    def resumed(self, *, s: Seq = NEXT) -> bytes:
        return self.dispatch("RESUMED", {"_trace": ["gw-test"]}, s=s)


@dataclass
class Output:
    """What the client did in reaction to some input, decoded."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    closes: list[CloseFrame] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __iadd__(self, other: Output) -> Output:
        self.sent += other.sent
        self.closes += other.closes
        self.events += other.events
        return self

    def of(self, cls: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, cls)]

    def ops(self) -> list[int]:
        """The opcodes the client sent, in order."""
        return [p["op"] for p in self.sent]

    def heartbeats(self) -> list[dict[str, Any]]:
        return [p for p in self.sent if p["op"] == 1]

    def verdict(self) -> Verdict:
        """The verdict of the single ConnectionEnded in this output."""
        ended = self.of(ConnectionEnded)
        assert len(ended) == 1, self.events
        return ended[0].verdict


class Pump:
    """One ShardProtocol against a FakeGateway, on a fake clock.

    Every method that feeds the protocol drains it right away and returns an :class:`Output`.
    ``history`` keeps ``(time, payload)`` for every payload the client ever sent.
    """

    def __init__(
        self,
        config: ProtocolConfig | None = None,
        session: Session | None = None,
        *,
        now: float = 0.0,
        seed: int = 0,
        seq: int = 0,
    ) -> None:
        self.config = config if config is not None else make_config()
        self.session = session if session is not None else Session()
        self.now = now
        self.rng = random.Random(seed)
        self.protocol = ShardProtocol(self.config, self.session, now=now, rng=self.rng)
        self.server = FakeGateway(compress=self.config.compress == "zlib-stream", seq=seq)
        self.history: list[tuple[float, dict[str, Any]]] = []
        self._inbox: list[tuple[float, int, bytes | str]] = []
        self._order = 0

    def phase(self) -> Phase:
        """The protocol's phase now (a call, so type checkers never narrow it)."""
        return self.protocol.phase

    # ---------------------------------------------------------------- drain
    def drain(self) -> Output:
        """Apply the drain contract once: data_to_send(), then events_received()."""
        out = Output()
        for item in self.protocol.data_to_send():
            if isinstance(item, CloseFrame):
                out.closes.append(item)
            else:
                assert isinstance(item, bytes)
                payload = json.loads(item)
                assert isinstance(payload, dict)
                out.sent.append(payload)
                self.history.append((self.now, payload))
        out.events = self.protocol.events_received()
        return out

    # ---------------------------------------------------------------- inputs
    def _at(self, at: float | None) -> None:
        if at is not None:
            assert at >= self.now, "the fake clock never goes back"
            self.now = at

    def feed(self, message: bytes | str, *, at: float | None = None) -> Output:
        """Hand one raw WebSocket message to the protocol (no compression applied)."""
        self._at(at)
        self.protocol.receive_message(message, now=self.now)
        return self.drain()

    def send(self, payload: bytes, *, at: float | None = None, chunks: int = 1) -> Output:
        """Send one server payload through the connection's transport (compressed if set)."""
        self._at(at)
        out = Output()
        for message in self.server.wire(payload, chunks=chunks):
            self.protocol.receive_message(message, now=self.now)
            out += self.drain()
        return out

    def hello(self, interval_ms: float = INTERVAL_MS, *, at: float | None = None) -> Output:
        return self.send(self.server.hello(interval_ms), at=at)

    def ready(self, guild_ids: Iterable[int] = (), *, at: float | None = None, **kw: Any) -> Output:
        return self.send(self.server.ready(guild_ids, **kw), at=at)

    def dispatch(self, t: str, d: Any, *, s: Seq = NEXT, at: float | None = None) -> Output:
        return self.send(self.server.dispatch(t, d, s=s), at=at)

    def guild_create(
        self, guild_id: int, *, unavailable: bool = False, at: float | None = None
    ) -> Output:
        return self.send(self.server.guild_create(guild_id, unavailable=unavailable), at=at)

    def guild_delete(
        self, guild_id: int, *, unavailable: bool | None = True, at: float | None = None
    ) -> Output:
        return self.send(self.server.guild_delete(guild_id, unavailable=unavailable), at=at)

    def ack(self, *, at: float | None = None) -> Output:
        return self.send(self.server.ack(), at=at)

    def closed(self, code: int | None, reason: str = "", *, at: float | None = None) -> Output:
        """The socket ended: the server's close code, or None for a drop."""
        self._at(at)
        self.protocol.receive_closed(code, reason, now=self.now)
        return self.drain()

    # ---------------------------------------------------------------- time
    def tick(self, at: float) -> Output:
        """Call ``timer`` at ``at`` (which may be earlier than the next deadline)."""
        self._at(at)
        self.protocol.timer(self.now)
        return self.drain()

    def advance(self, dt: float) -> Output:
        return self.tick(self.now + dt)

    def schedule(self, at: float, payload: bytes) -> None:
        """Deliver a server payload at a later time (during :meth:`run_until`)."""
        for message in self.server.wire(payload):
            self._order += 1
            self._inbox.append((at, self._order, message))
        self._inbox.sort(key=lambda item: (item[0], item[1]))

    def run_until(self, until: float, *, ack_after: float | None = None) -> Output:
        """Act as the driver up to ``until``: call ``timer`` at every ``next_deadline`` and
        deliver scheduled messages. With ``ack_after``, the server ACKs every heartbeat
        that many seconds after it was sent."""
        total = Output()
        for _ in range(100_000):
            if self.protocol.phase is Phase.CLOSED:
                break
            deadline = self.protocol.next_deadline()
            inbox_at = self._inbox[0][0] if self._inbox else None
            due = [x for x in (deadline, inbox_at) if x is not None and x <= until]
            if not due:
                break
            self.now = max(self.now, min(due))
            if inbox_at is not None and inbox_at <= self.now:
                while self._inbox and self._inbox[0][0] <= self.now:
                    _, _, message = self._inbox.pop(0)
                    self.protocol.receive_message(message, now=self.now)
                    total += self._drain_acking(ack_after)
            else:
                self.protocol.timer(self.now)
                total += self._drain_acking(ack_after)
        else:
            raise AssertionError("run_until: the protocol never stopped asking for the timer")
        self.now = max(self.now, until)
        return total

    def _drain_acking(self, ack_after: float | None) -> Output:
        out = self.drain()
        if ack_after is not None:
            for _ in out.heartbeats():
                self.schedule(self.now + ack_after, self.server.ack())
        return out

    # ---------------------------------------------------------------- next socket
    def next_socket(self, *, seed: int = 1, at: float | None = None) -> Pump:
        """A new socket (new protocol, new compression context) for the same session."""
        return Pump(
            self.config,
            self.session,
            now=self.now if at is None else at,
            seed=seed,
            seq=self.server.seq,
        )


def connected(
    guild_ids: Iterable[int] = (1001,),
    *,
    config: ProtocolConfig | None = None,
    seed: int = 0,
    now: float = 0.0,
) -> Pump:
    """A pump whose socket got HELLO and READY and whose guild stream is complete."""
    pump = Pump(config, now=now, seed=seed)
    pump.hello()
    ids = list(guild_ids)
    pump.ready(ids)
    for guild_id in ids:
        pump.guild_create(guild_id)
    assert pump.phase() is Phase.CONNECTED
    return pump

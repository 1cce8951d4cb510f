"""One gateway socket, server side: the outbound queue, compression and framing faults.

Every frame the emulator sends goes through :meth:`Connection.send_payload` (or one of the
raw senders) into one queue drained by one writer task, so frames leave in the order they
were queued and a fault (split, trickle, black hole) applies to exactly the frames after it.

Outbound encoding (spec 7): plain JSON in text frames; with ``compress=zlib-stream`` one
``zlib.compressobj`` per connection, a sync flush per payload, binary frames; with
IDENTIFY ``compress: true`` and no transport compression, large READY/GUILD_CREATE payloads
are independent zlib streams in binary frames. Every envelope carries op, d, s and t.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import zlib
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from tether.emulator.log import EventLog
from tether.emulator.sessions import Session
from tether.wire.codec import encode_json

__all__ = ["ZLIB_SUFFIX", "Connection", "split_zlib_blob"]

#: Every zlib-stream payload ends with this sync-flush marker (spec 7.4).
ZLIB_SUFFIX = b"\x00\x00\xff\xff"
_PAYLOAD_COMPRESSED_EVENTS = frozenset({"READY", "GUILD_CREATE"})
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CONTINUATION = 0x0
_MAX_CLOSE_REASON = 123


def split_zlib_blob(blob: bytes, parts: int) -> list[bytes]:
    """Cut a zlib-stream payload into ``parts`` pieces, none but the last ending in the suffix.

    A boundary that would leave a piece ending in ``00 00 FF FF`` is moved one byte later
    (spec 14 I51), so a client using the suffix rule never inflates half a payload.
    """
    parts = max(1, min(parts, len(blob)))
    step = len(blob) / parts
    cuts = sorted({round(step * i) for i in range(1, parts)})
    pieces: list[bytes] = []
    start = 0
    for planned in cuts:
        cut = planned
        if cut <= start:
            continue
        while cut < len(blob) and blob[start:cut].endswith(ZLIB_SUFFIX):
            cut += 1
        if cut >= len(blob):
            break
        pieces.append(blob[start:cut])
        start = cut
    pieces.append(blob[start:])
    return pieces


#: A zlib stream header (deflate, 32 KiB window, no preset dictionary).
_ZLIB_HEADER = b"\x78\x01"
#: An empty stored deflate block: what a sync flush ends with.
_EMPTY_STORED = b"\x00\x00\x00\xff\xff"


def _stored(data: bytes) -> bytes:
    """``data`` as one stored (uncompressed) deflate block, at a byte boundary."""
    size = len(data)
    return b"\x00" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little") + data


def _close_reason(text: str) -> bytes:
    """``text`` as a close reason: UTF-8, at most 123 bytes (RFC 6455 5.5), cut cleanly."""
    return text.encode()[:_MAX_CLOSE_REASON].decode(errors="ignore").encode()


def _frame_header(opcode: int, length: int, *, fin: bool) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return bytes([first, length])
    if length < 1 << 16:
        return bytes([first, 126]) + length.to_bytes(2, "big")
    return bytes([first, 127]) + length.to_bytes(8, "big")


@dataclasses.dataclass
class _Outbound:
    """One queued send."""

    body: bytes
    binary: bool
    op: int | None = None
    t: str | None = None
    s: int | None = None
    session: Session | None = None
    close_code: int | None = None
    close_reason: str = ""
    done: asyncio.Future[None] | None = None
    encode: bool = True
    parts: tuple[bytes, Any, bytes] | None = None


@dataclasses.dataclass
class TrickleSpec:
    """Write the next ``payloads`` frames ``chunk_bytes`` at a time, ``interval_s`` apart."""

    chunk_bytes: int = 1
    interval_s: float = 0.001
    payloads: int = 1


class Connection:
    """A live gateway WebSocket and its per-connection state and faults.

    Attributes:
        id: a small integer unique within the emulator run.
        path: the URL path the client connected to ("/" or "/resume").
        compress: the transport compression ("zlib-stream", "zstd-stream" or None).
        payload_compress: IDENTIFY asked for ``compress: true`` (spec 7.3).
        session: the attached session, or None before IDENTIFY/RESUME (or after op 9).
        authenticated: IDENTIFY or RESUME succeeded on this socket.
        hello_at: loop time HELLO was sent.
        last_heartbeat_at: loop time of the last client heartbeat (HELLO time before one).
        heartbeats: client heartbeats received.
        closing: a close (by either side) or an abort started.
        black_holed: nothing is sent or read any more (spec 14 H50).
        ack_drop_next / ack_drop_all / ack_drop_probability / ack_delay_s: ACK faults.
        split_next: the next payloads are each split into this many parts (list, FIFO).
        trickle: when set, the next payloads are trickled at the TCP level.
        unknown_fields: add an unknown key to every envelope sent.
        heartbeat_requested_at: when the server last sent op 1 (None once answered).
        ready_gate: set while READY is held back (spec 14 D28); set() it to release.
    """

    def __init__(
        self,
        conn_id: int,
        *,
        ws: web.WebSocketResponse,
        request: web.Request,
        compress: str | None,
        log: EventLog,
        clock: Any,
        rng: random.Random,
        zlib_level: int = -1,
        precompressed: dict[int, bytes] | None = None,
    ) -> None:
        self.id = conn_id
        self.ws = ws
        self.request = request
        self.path = request.path
        self.compress = compress
        self.payload_compress = False
        self.payload_compression_threshold = 0
        self.session: Session | None = None
        self.authenticated = False
        self.identified = False
        self.connected_at: float = clock()
        self.hello_at: float | None = None
        self.last_heartbeat_at: float = self.connected_at
        self.heartbeats = 0
        self.closing = False
        self.sent_close_code: int | None = None
        self.aborted = False
        self.black_holed = False
        self.ack_drop_next = 0
        self.ack_drop_all = False
        self.ack_drop_probability = 0.0
        self.ack_delay_s = 0.0
        self.split_next: list[tuple[int, str]] = []
        self.trickle: TrickleSpec | None = None
        self.unknown_fields = False
        self.heartbeat_requested_at: float | None = None
        self.ready_gate: asyncio.Event | None = None
        self.frames_in: list[float] = []
        self._log = log
        self._clock = clock
        self._rng = rng
        self._zlib = zlib.compressobj(zlib_level) if compress == "zlib-stream" else None
        # Independent-payload mode (benchmarks): every payload is compressed with no
        # reference to the ones before it (full flush), so a body compressed once can be
        # reused on any connection. The stream stays one valid zlib stream.
        self._precompressed = precompressed if compress == "zlib-stream" else None
        self._zlib_level = zlib_level
        if self._precompressed is not None:
            self._zlib = zlib.compressobj(zlib_level, zlib.DEFLATED, -15)
        self._zlib_header_sent = False
        self._zstd: Any = _zstd_compressor() if compress == "zstd-stream" else None
        self._queue: asyncio.Queue[_Outbound] = asyncio.Queue()
        self.writer_task: asyncio.Task[None] = asyncio.create_task(
            self._write_loop(), name=f"emulator writer (conn {conn_id})"
        )

    def __repr__(self) -> str:
        sid = self.session.id if self.session else None
        return f"Connection({self.id}, path={self.path!r}, session={sid!r})"

    @property
    def live(self) -> bool:
        """Open and not closing."""
        return not self.closing and not self.ws.closed

    # queueing ----------------------------------------------------------------------------

    def send_payload(
        self,
        op: int,
        d: Any = None,
        *,
        s: int | None = None,
        t: str | None = None,
        session: Session | None = None,
    ) -> None:
        """Queue one envelope ``{op, d, s, t}`` (ignored once the connection is closing).

        Args:
            op, d, s, t: the envelope fields.
            session: for dispatches, the session whose ``last_sent_seq`` the write updates.
        """
        if self.closing:
            return
        op = int(op)
        reusable = isinstance(d, msgspec.Raw) and not self.unknown_fields
        if self._precompressed is not None and reusable:
            prefix = b'{"op":' + str(op).encode() + b',"d":'
            suffix = b',"s":' + encode_json(s) + b',"t":' + encode_json(t) + b"}"
            item = _Outbound(prefix + bytes(d) + suffix, False, op=op, t=t, s=s, session=session)
            item.parts = (prefix, d, suffix)
            self._queue.put_nowait(item)
            return
        envelope: dict[str, Any] = {"op": op, "d": d, "s": s, "t": t}
        if self.unknown_fields:
            envelope["_emulator_unknown"] = {"note": "clients must ignore unknown keys"}
        body = encode_json(envelope)
        self._queue.put_nowait(_Outbound(body, False, op=op, t=t, s=s, session=session))

    def send_raw(
        self, data: bytes | str, *, binary: bool | None = None, encode: bool = True
    ) -> None:
        """Queue raw payload bytes (e.g. malformed JSON), still compressed if ``encode``.

        Args:
            data: the payload bytes (str is UTF-8 encoded).
            binary: force a binary (True) or text (False) frame; default follows compression.
            encode: pass the bytes through the connection's transport compression.
        """
        if self.closing:
            return
        body = data.encode() if isinstance(data, str) else data
        self._queue.put_nowait(_Outbound(body, bool(binary), encode=encode))

    def close(self, code: int, reason: str = "") -> asyncio.Future[None]:
        """Queue a close frame after what is already queued; returns when it was sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closing:
            done.set_result(None)
            return done
        self.closing = True
        self.sent_close_code = code
        self._queue.put_nowait(
            _Outbound(b"", False, close_code=code, close_reason=reason, done=done)
        )
        return done

    def abort(self) -> None:
        """Drop the TCP connection at once, without a close frame (spec 14 H49)."""
        self.closing = True
        self.aborted = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def set_black_hole(self) -> None:
        """Stop sending and reading; keep TCP open (spec 14 H50)."""
        self.black_holed = True
        transport = self.request.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    # writing -----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item.close_code is not None:
                await self._write_close(item)
                return
            if self.black_holed:
                self._log.add("frame_dropped", conn_id=self.id, op=item.op, t=item.t, s=item.s)
                continue
            try:
                await self._write(item)
            except (ConnectionError, RuntimeError) as exc:
                self._log.add("write_failed", conn_id=self.id, error=repr(exc))
                return

    async def _write_close(self, item: _Outbound) -> None:
        try:
            if self.black_holed:
                self.abort()
            else:
                reason = _close_reason(item.close_reason)
                await self.ws.close(code=item.close_code or 1000, message=reason)
        except (ConnectionError, RuntimeError) as exc:
            self._log.add("write_failed", conn_id=self.id, error=repr(exc))
        finally:
            if item.done is not None and not item.done.done():
                item.done.set_result(None)

    def _encode(self, item: _Outbound) -> tuple[bytes, bool]:
        """The bytes of one message and whether it is binary."""
        if not item.encode:
            return item.body, item.binary
        if self._precompressed is not None:
            return self._encode_independent(item), True
        if self._zlib is not None:
            return self._zlib.compress(item.body) + self._zlib.flush(zlib.Z_SYNC_FLUSH), True
        if self._zstd is not None:
            compressor, flush_block = self._zstd
            return compressor.compress(item.body) + compressor.flush(flush_block), True
        if (
            self.payload_compress
            and item.t in _PAYLOAD_COMPRESSED_EVENTS
            and len(item.body) >= self.payload_compression_threshold
        ):
            return zlib.compress(item.body), True
        return item.body, item.binary

    def _encode_independent(self, item: _Outbound) -> bytes:
        """Independent-payload zlib-stream: a pre-rendered body is compressed once (then
        reused), between its envelope's head and tail sent as stored blocks."""
        assert self._zlib is not None
        assert self._precompressed is not None
        if item.parts is not None:
            prefix, raw, suffix = item.parts
            piece = self._precompressed.get(id(raw))
            if piece is None:
                packer = zlib.compressobj(self._zlib_level, zlib.DEFLATED, -15)
                piece = packer.compress(bytes(raw)) + packer.flush(zlib.Z_SYNC_FLUSH)
                self._precompressed[id(raw)] = piece
            data = _stored(prefix) + piece + _stored(suffix) + _EMPTY_STORED
        else:
            data = self._zlib.compress(item.body) + self._zlib.flush(zlib.Z_FULL_FLUSH)
        if not self._zlib_header_sent:
            self._zlib_header_sent = True
            data = _ZLIB_HEADER + data
        return data

    async def _write(self, item: _Outbound) -> None:
        data, binary = self._encode(item)
        parts, mode = self.split_next.pop(0) if self.split_next else (1, "")
        trickle = self.trickle
        if trickle is not None:
            trickle.payloads -= 1
            if trickle.payloads <= 0:
                self.trickle = None
        if parts > 1 and binary and self._zlib is not None and mode != "frames":
            pieces = split_zlib_blob(data, parts)
            for piece in pieces:
                await self._write_message(piece, True, None if trickle is None else trickle)
        elif parts > 1 or trickle is not None:
            pieces = [data]
            if parts > 1:
                step = max(1, -(-len(data) // parts))
                pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
            await self._write_fragments(pieces, binary, trickle)
        else:
            await self.ws.send_frame(data, WSMsgType.BINARY if binary else WSMsgType.TEXT)
        if item.session is not None and item.s is not None and item.session.connection is self:
            item.session.last_sent_seq = item.s
        self._log.add(
            "frame_out",
            conn_id=self.id,
            session_id=item.session.id if item.session else None,
            op=item.op,
            t=item.t,
            s=item.s,
            size=len(item.body),
            binary=binary,
            parts=max(parts, 1),
        )

    async def _write_message(self, data: bytes, binary: bool, trickle: TrickleSpec | None) -> None:
        if trickle is None:
            await self.ws.send_frame(data, WSMsgType.BINARY if binary else WSMsgType.TEXT)
        else:
            await self._write_fragments([data], binary, trickle)

    async def _write_fragments(
        self, pieces: list[bytes], binary: bool, trickle: TrickleSpec | None
    ) -> None:
        """One message as WebSocket continuation frames, optionally trickled (spec 14 H51)."""
        raw = bytearray()
        for index, piece in enumerate(pieces):
            opcode = (_OP_BINARY if binary else _OP_TEXT) if index == 0 else _OP_CONTINUATION
            raw += _frame_header(opcode, len(piece), fin=index == len(pieces) - 1) + piece
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("transport closed")
        if trickle is None:
            transport.write(bytes(raw))
            return
        step = max(1, trickle.chunk_bytes)
        for start in range(0, len(raw), step):
            if transport.is_closing():
                raise ConnectionResetError("transport closed while trickling")
            transport.write(bytes(raw[start : start + step]))
            await asyncio.sleep(trickle.interval_s)

    def should_drop_ack(self) -> bool:
        """Apply the ACK-dropping faults to one heartbeat; True if its ACK must be dropped."""
        if self.ack_drop_all:
            return True
        if self.ack_drop_next > 0:
            self.ack_drop_next -= 1
            return True
        return self.ack_drop_probability > 0 and self._rng.random() < self.ack_drop_probability

    def clear_ack_faults(self) -> None:
        """ACK every heartbeat again, at once."""
        self.ack_drop_next = 0
        self.ack_drop_all = False
        self.ack_drop_probability = 0.0
        self.ack_delay_s = 0.0

    async def finish(self) -> None:
        """Stop the writer (after the connection ended) and wait for it."""
        if not self.writer_task.done():
            self.writer_task.cancel()
        try:
            await self.writer_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view for the control API."""
        return {
            "conn_id": self.id,
            "path": self.path,
            "compress": self.compress,
            "session_id": self.session.id if self.session else None,
            "authenticated": self.authenticated,
            "heartbeats": self.heartbeats,
            "black_holed": self.black_holed,
            "closing": self.closing,
        }


def _zstd_compressor() -> tuple[Any, int]:
    """A per-connection zstd streaming compressor and its block-flush mode (spec 7.5).

    Only called when the ``zstandard`` package is importable (checked at connect time).
    """
    import zstandard

    return zstandard.ZstdCompressor().compressobj(), zstandard.COMPRESSOBJ_FLUSH_BLOCK

"""Protocol fuzzing of the pure core: mutated real frames, broken compressed streams, bombs.

test_properties.py feeds arbitrary bytes and envelopes. This file starts from the frames
a real gateway sends (HELLO, READY, GUILD_CREATE, MESSAGE_CREATE, RESUMED, op 1/7/9/11) and
breaks them the ways a network, a proxy or a buggy server would: fields of the wrong type,
keys removed or added, bytes flipped, cut or inserted; zlib-stream and zstd-stream messages
truncated, corrupted, dropped, doubled or reordered; decompression bombs; huge payloads.
Whatever comes, ShardProtocol never raises, either keeps the connection (ignoring the
frame, with a log line) or closes it with a resumable verdict, and its memory stays bounded.
"""

from __future__ import annotations

import copy
import json
import logging
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.gateway import Action, ConnectionEnded, Dispatch, Phase
from tether.wire.compression import zstd_available

from .helpers import FakeGateway, Pump, connected, make_config
from .test_properties import check_invariant

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_G = FakeGateway(compress=False, seq=10)
#: Real frames, as the emulator and Discord send them (decoded, to mutate as JSON).
CORPUS: list[dict[str, Any]] = [
    json.loads(frame)
    for frame in (
        _G.hello(),
        _G.ack(),
        _G.heartbeat_request(),
        _G.reconnect(),
        _G.invalid_session(True),
        _G.ready([1001, 1002], session_id="fuzz-session"),
        _G.guild_create(1001),
        _G.guild_create(1003, unavailable=True),
        _G.guild_delete(1001),
        _G.message_create("fuzz"),
        _G.resumed(),
        _G.dispatch("PRESENCE_UPDATE", {"user": {"id": "5"}, "status": "idle"}),
    )
]

#: Values of every JSON type, the odd ones included.
wrong_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return root


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A corpus frame with a few JSON-level mutations, then maybe a few byte-level ones."""
    frame = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(frame)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["retype", "delete", "add"]))
        if action == "retype":
            frame = _set(frame, path, draw(wrong_values))
        elif action == "delete" and path:
            frame = _set(frame, path, None, delete=True)
        else:
            target = frame
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                target[draw(st.text(max_size=6))] = draw(wrong_values)
    data = bytearray(json.dumps(frame).encode())
    for _ in range(draw(st.integers(0, 2))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["flip", "cut", "insert"]))
        if edit == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


class TestMutatedFrames:
    """Spec 2.1 (the envelope) and every opcode of 2.2, broken field by field."""

    @SETTINGS
    @given(frames=st.lists(mutated_frames(), min_size=1, max_size=5))
    def test_uncompressed(self, frames: list[bytes]) -> None:
        pump = connected([1001, 1002], config=make_config(compress=None))
        fed: list[bytes | str] = [f.decode("utf-8", "replace") for f in frames]
        check_invariant(pump, fed, fed)

    @SETTINGS
    @given(frames=st.lists(mutated_frames(), min_size=1, max_size=5), chunks=st.integers(1, 4))
    def test_through_zlib_stream(self, frames: list[bytes], chunks: int) -> None:
        pump = connected([1001, 1002], config=make_config(compress="zlib-stream"))
        fed: list[bytes | str] = []
        for frame in frames:
            fed += pump.server.wire(frame, chunks=chunks)
        check_invariant(pump, fed, list(frames))


# --------------------------------------------------------------------- compressed streams


class ZstdServer:
    """The server side of one zstd-stream socket: one compressor, one payload per message,
    each flushed at a block boundary with the frame left open (spec 7.5)."""

    def __init__(self) -> None:
        import zstandard

        self._co = zstandard.ZstdCompressor().compressobj()
        self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def wire(self, payload: bytes) -> bytes:
        return self._co.compress(payload) + self._co.flush(self._flush)


def _break(messages: list[bytes], how: str, where: int, garbage: bytes) -> list[bytes]:
    """Damage a list of compressed messages the way a transport or a server might."""
    out = list(messages)
    i = where % len(out)
    if how == "truncate":
        out[i] = out[i][: max(0, len(out[i]) // 2)]
    elif how == "flip":
        blob = bytearray(out[i])
        blob[len(blob) // 2] ^= 0x5A
        out[i] = bytes(blob)
    elif how == "drop":
        del out[i]
    elif how == "double":
        out.insert(i, out[i])
    elif how == "swap" and len(out) > 1:
        j = (i + 1) % len(out)
        out[i], out[j] = out[j], out[i]
    elif how == "inject":
        out.insert(i, garbage)
    return [m for m in out if m]


breakages = st.sampled_from(["truncate", "flip", "drop", "double", "swap", "inject"])


def _payloads(count: int) -> list[bytes]:
    server = FakeGateway(compress=False, seq=10)
    return [server.message_create(f"m{n}") for n in range(count)]


class TestBrokenStreams:
    """Spec 7.4 / 7.5: a damaged stream closes the socket with a resume, never more."""

    @SETTINGS
    @given(
        count=st.integers(1, 5),
        chunks=st.integers(1, 3),
        how=breakages,
        where=st.integers(0, 50),
        garbage=st.binary(min_size=1, max_size=40),
    )
    def test_zlib_stream(
        self, count: int, chunks: int, how: str, where: int, garbage: bytes
    ) -> None:
        pump = connected([1001], config=make_config(compress="zlib-stream"))
        messages: list[bytes] = []
        for payload in _payloads(count):
            messages += [m for m in pump.server.wire(payload, chunks=chunks)
                         if isinstance(m, bytes)]  # fmt: skip
        fed: list[bytes | str] = list(_break(messages, how, where, garbage))
        check_invariant(pump, fed, [])

    @pytest.mark.skipif(not zstd_available(), reason="zstandard is not installed")
    @SETTINGS
    @given(
        count=st.integers(1, 5),
        how=breakages,
        where=st.integers(0, 50),
        garbage=st.binary(min_size=1, max_size=40),
    )
    def test_zstd_stream(self, count: int, how: str, where: int, garbage: bytes) -> None:
        pump = connected([1001], config=make_config(compress="zstd-stream"))
        server = ZstdServer()
        messages = [server.wire(p) for p in _payloads(count)]
        fed: list[bytes | str] = list(_break(messages, how, where, garbage))
        check_invariant(pump, fed, [])

    @pytest.mark.skipif(not zstd_available(), reason="zstandard is not installed")
    def test_an_intact_zstd_stream_is_read_whole(self) -> None:
        pump = connected([1001], config=make_config(compress="zstd-stream"))
        server = ZstdServer()
        events = []
        for payload in _payloads(5):
            events += pump.feed(server.wire(payload)).of(Dispatch)
        assert [e.name for e in events] == ["MESSAGE_CREATE"] * 5
        assert pump.phase() is Phase.CONNECTED


# --------------------------------------------------------------------- bombs and sizes

MAX = 1 << 20  # the max_payload these tests configure: 1 MiB
BOMB_BYTES = 48 << 20  # what the bombs would inflate to


def _bomb_payload() -> bytes:
    return b'{"op":0,"s":11,"t":"MESSAGE_CREATE","d":{"content":"' + b"a" * BOMB_BYTES + b'"}}'


def _feed_measured(pump: Pump, messages: list[bytes]) -> tuple[list[Any], int]:
    """Feed ``messages``; return the closes and the peak of traced allocations meanwhile."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        closes = []
        for message in messages:
            closes += pump.feed(message).closes
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return closes, peak


def _assert_refused_with_resume(pump: Pump, closes: list[Any]) -> None:
    assert [c.code for c in closes] == [4000]
    ended = pump.closed(None).of(ConnectionEnded)
    assert len(ended) == 1
    assert ended[0].verdict.action is Action.RESUME


class TestBombsAndHugePayloads:
    """Spec 7.4 / 7.5 and 6.4: a payload that inflates past ``max_payload`` is refused early
    (memory bounded by about max_payload), a big but allowed one is delivered."""

    @pytest.mark.parametrize("chunks", [1, 16], ids=["one_message", "spread"])
    def test_zlib_bomb(self, chunks: int) -> None:
        pump = connected([1001], config=make_config(compress="zlib-stream", max_payload=MAX))
        # Compressed by the socket's own stream (a separate stream would just be corrupt).
        pieces = [m for m in pump.server.wire(_bomb_payload(), chunks=chunks)
                  if isinstance(m, bytes)]  # fmt: skip
        assert sum(map(len, pieces)) < MAX // 4  # small on the wire
        closes, peak = _feed_measured(pump, pieces)
        _assert_refused_with_resume(pump, closes)
        assert peak < 4 * MAX, f"inflating a bomb allocated {peak / MAX:.1f} MiB"

    def test_compressed_garbage_never_ending_is_bounded(self) -> None:
        pump = connected([1001], config=make_config(compress="zlib-stream", max_payload=MAX))
        pieces = [bytes([n % 251]) * 65536 for n in range(40)]  # 2.5 MiB, never a suffix
        closes, peak = _feed_measured(pump, pieces)
        _assert_refused_with_resume(pump, closes)
        assert peak < 4 * MAX

    @pytest.mark.skipif(not zstd_available(), reason="zstandard is not installed")
    def test_zstd_bomb(self) -> None:
        pump = connected([1001], config=make_config(compress="zstd-stream", max_payload=MAX))
        bomb = ZstdServer().wire(_bomb_payload())
        assert len(bomb) < MAX // 4
        closes, peak = _feed_measured(pump, [bomb])
        _assert_refused_with_resume(pump, closes)
        assert peak < 4 * MAX

    def test_uncompressed_huge_payload_is_delivered(self) -> None:
        pump = connected([1001], config=make_config(compress=None))
        body = {"id": "77", "content": "x" * (5 << 20)}
        out = pump.send(pump.server.dispatch("MESSAGE_CREATE", body))
        assert [e.name for e in out.of(Dispatch)] == ["MESSAGE_CREATE"]
        assert pump.phase() is Phase.CONNECTED

    def test_zlib_huge_payload_within_the_limit_is_delivered(self) -> None:
        pump = connected([1001], config=make_config(compress="zlib-stream", max_payload=8 * MAX))
        body = {"id": "78", "content": "y" * (5 << 20)}
        out = pump.send(pump.server.dispatch("MESSAGE_CREATE", body), chunks=3)
        assert [e.name for e in out.of(Dispatch)] == ["MESSAGE_CREATE"]
        assert pump.phase() is Phase.CONNECTED


class TestMemoryStaysBounded:
    """Garbage the core ignores leaves nothing behind: 5,000 inputs, memory flat."""

    def test_ignored_input_keeps_no_state(self, caplog: pytest.LogCaptureFixture) -> None:
        pump = connected([1001], config=make_config(compress="zlib-stream"))
        # Each ignored frame logs a line; keep pytest from storing 5,000 of them meanwhile.
        caplog.set_level(logging.ERROR, logger="tether")
        server = pump.server

        def batch(n: int) -> None:
            for i in range(n):
                kind = i % 5
                if kind == 0:
                    pump.send(server.envelope(99, {"junk": "x" * 100}))
                elif kind == 1:
                    pump.send(server.dispatch(f"UNKNOWN_{i % 7}", {"n": i}))
                elif kind == 2:
                    pump.send(server.ack())
                elif kind == 3:
                    pump.send(server.heartbeat_request())
                else:
                    pump.send(server.hello())  # a second HELLO: ignored
            pump.advance(1.0)

        batch(500)  # warm-up: caches, interned strings, the log machinery
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            batch(5000)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert pump.phase() is Phase.CONNECTED
        assert after - before < 256 * 1024, f"grew {(after - before) / 1024:.0f} KiB"

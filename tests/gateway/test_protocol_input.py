"""ShardProtocol on what the server sends: spec 2.1 (envelope receiver rules), 2.3 (dispatch
and seq), 7.4 (zlib-stream) and STYLE habit 1 (garbage never raises; it becomes a close)."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence

import pytest

from tether.gateway import Action, Dispatch, Initiator, Phase

from .helpers import SESSION_ID, Pump, connected, make_config


def assert_failed_resumable(pump: Pump, closes: Sequence[object]) -> None:
    """The protocol closed with 4000, and the socket's end is a resume with the session kept."""
    assert [getattr(c, "code", None) for c in closes] == [4000]
    assert pump.phase() is Phase.CLOSING
    session_before = (pump.session.session_id, pump.session.seq)
    verdict = pump.closed(4000).verdict()
    assert verdict.action is Action.RESUME
    assert verdict.initiator is Initiator.CLIENT
    assert (pump.session.session_id, pump.session.seq) == session_before


@functools.cache
def zlib_bomb() -> bytes:
    """100 MB of zeros as one zlib-stream payload (about 100 KB compressed)."""
    co = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    parts = [co.compress(chunk) for _ in range(100)]
    parts.append(co.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)


class TestEnvelopeReceiverRules:
    """Spec 2.1: missing s/t/d read as null, unknown keys and opcodes ignored."""

    def test_minimal_ack_without_d(self) -> None:
        pump = connected([1], seed=0)
        pump.run_until(36.0)  # the first beat is at 34.8 s
        out = pump.feed('{"op": 11}', at=pump.now + 0.1)
        assert out.closes == []
        assert len(out.events) == 1

    def test_unknown_keys_are_ignored(self) -> None:
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed(
            '{"op":0,"t":"MESSAGE_CREATE","s":3,"d":{"a":1},"_trace":["x"],"extra":{"y":2}}'
        )
        [dispatch] = out.of(Dispatch)
        assert (dispatch.name, dispatch.seq, dispatch.data) == ("MESSAGE_CREATE", 3, {"a": 1})

    @pytest.mark.parametrize("op", [5, 12, 99, 2, 6, -1, 10**20])
    def test_unknown_or_client_only_opcodes_are_ignored(self, op: int) -> None:
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed(f'{{"op":{op},"d":{{"x":1}}}}')
        assert out.events == []
        assert out.sent == []
        assert out.closes == []
        assert pump.phase() is Phase.CONNECTED

    def test_unknown_dispatch_name_is_delivered(self) -> None:
        pump = connected([1])
        out = pump.send(pump.server.dispatch("GATEWAY_EVENT_NAME", {"new": [1, 2]}))
        assert [(d.name, d.seq, d.data) for d in out.of(Dispatch)] == [
            ("GATEWAY_EVENT_NAME", 3, {"new": [1, 2]})
        ]

    def test_dispatch_without_name_or_seq(self) -> None:
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed('{"op":0,"d":{"k":true}}')
        [dispatch] = out.of(Dispatch)
        assert (dispatch.name, dispatch.seq, dispatch.data) == ("", None, {"k": True})
        assert pump.session.seq == 2

    def test_text_frame_on_a_compressed_connection(self) -> None:
        pump = connected([1])
        out = pump.feed('{"op":0,"t":"TYPING_START","s":3,"d":{}}')
        assert [d.name for d in out.of(Dispatch)] == ["TYPING_START"]


class TestSequenceNumbers:
    """Spec 2.3 and 5.8: s grows per session; a replayed dispatch seen before is dropped."""

    def test_duplicates_with_seq_at_or_below_the_last_are_dropped(self) -> None:
        pump = connected([1])  # s = 1, 2
        out = pump.send(pump.server.dispatch("MESSAGE_CREATE", {"n": 1}, s=3))
        out += pump.send(pump.server.dispatch("MESSAGE_CREATE", {"n": 1}, s=3))
        out += pump.send(pump.server.dispatch("MESSAGE_CREATE", {"n": 0}, s=2))
        out += pump.send(pump.server.dispatch("MESSAGE_CREATE", {"n": 2}, s=4))
        assert [(d.seq, d.data["n"]) for d in out.of(Dispatch)] == [(3, 1), (4, 2)]
        assert pump.session.seq == 4
        assert out.closes == []

    def test_gaps_are_accepted(self) -> None:
        pump = connected([1])
        out = pump.send(pump.server.dispatch("MESSAGE_CREATE", {}, s=50))
        assert [d.seq for d in out.of(Dispatch)] == [50]
        assert pump.session.seq == 50

    def test_dispatch_event_carries_the_raw_frame(self) -> None:
        pump = connected([1])
        payload = pump.server.dispatch("MESSAGE_CREATE", {"content": "héllo 👋"})
        [dispatch] = pump.send(payload).of(Dispatch)
        assert dispatch.data == {"content": "héllo 👋"}
        assert dispatch.shard_id == 0
        assert dispatch == Dispatch(shard_id=0, name="MESSAGE_CREATE", seq=3, frame=dispatch.frame)


class TestZlibStreamTransport:
    """Spec 7.4: one inflate context per connection, payloads split over several messages."""

    def test_payload_split_over_many_messages(self) -> None:
        pump = connected([1])
        big = pump.server.dispatch("GUILD_MEMBERS_CHUNK", {"members": list(range(5000))})
        out = pump.send(big, chunks=7)
        [dispatch] = out.of(Dispatch)
        assert dispatch.data == {"members": list(range(5000))}

    def test_every_payload_uses_the_same_context(self) -> None:
        pump = connected([1, 2, 3])
        for i in range(50):
            out = pump.send(pump.server.dispatch("MESSAGE_CREATE", {"i": i}), chunks=2)
            assert [d.data["i"] for d in out.of(Dispatch)] == [i]

    def test_new_connection_needs_a_new_context(self) -> None:
        old = connected([1])
        old.closed(None)
        new = old.next_socket()
        assert new.protocol._inflater is not old.protocol._inflater
        out = new.hello()  # new.server has a fresh compressobj: the zlib header comes again
        assert out.ops() == [6]

    def test_stream_continued_from_an_old_connection_is_refused(self) -> None:
        old = connected([1])
        new = old.next_socket()
        # The server wrongly reuses the old compression context on the new socket.
        message = old.server.wire(old.server.hello())
        out = new.feed(message[0])
        assert_failed_resumable(new, out.closes)

    def test_corrupt_zlib_closes_resumable(self) -> None:
        pump = connected([1])
        out = pump.feed(b"\x78\x9c" + b"\xde\xad\xbe\xef" * 8 + b"\x00\x00\xff\xff")
        assert_failed_resumable(pump, out.closes)

    def test_corrupt_zlib_mid_stream_closes_resumable(self) -> None:
        pump = connected([1])
        out = pump.feed(b"\xff\xfe\xfd" * 10 + b"\x00\x00\xff\xff")
        assert_failed_resumable(pump, out.closes)

    def test_decompression_bomb_is_refused_within_the_bound(self) -> None:
        pump = connected([1], config=make_config(max_payload=1 << 20))
        blob = zlib_bomb()
        assert len(blob) < 1 << 20
        out = pump.feed(blob)
        assert_failed_resumable(pump, out.closes)

    def test_compressed_bytes_over_the_bound_are_refused(self) -> None:
        pump = connected([1], config=make_config(max_payload=4096))
        out = pump.feed(b"\x01" * 3000)
        assert out.closes == []  # buffered: waiting for 00 00 FF FF
        out = pump.feed(b"\x02" * 3000)
        assert_failed_resumable(pump, out.closes)

    def test_payload_exactly_at_the_bound_passes(self) -> None:
        pump = connected([1], config=make_config(max_payload=2000))
        filler = "x" * 2000
        payload = pump.server.dispatch("MESSAGE_CREATE", {"c": filler})
        payload = payload.replace(filler.encode(), filler[: 2000 - (len(payload) - 2000)].encode())
        assert len(payload) == 2000
        out = pump.send(payload)
        assert len(out.of(Dispatch)) == 1
        over = pump.server.dispatch("MESSAGE_CREATE", {"c": "y" * 2000})
        assert_failed_resumable(pump, pump.send(over).closes)


class TestGarbageNeverRaises:
    """STYLE habit 1 / spec 2.1: bad input from the server becomes close 4000 + resume."""

    @pytest.mark.parametrize(
        "message",
        [
            '{"op": 0, "d": ',
            "not json at all",
            "",
            "[1, 2, 3]",
            '"a string"',
            "42",
            "null",
            "true",
            '{"d": {}}',
            '{"op": "0", "d": {}}',
            '{"op": null}',
            '{"op": true}',
            '{"op": 1.5}',
            '{"op": 0, "s": "7", "t": "MESSAGE_CREATE", "d": {}}',
            '{"op": 0, "s": 7, "t": 5, "d": {}}',
            '{"op": 0, "s": 7.5, "t": "X", "d": {}}',
            '{"op": 0, "s": 7, "t": ["X"], "d": {}}',
            '{"op": 11}{"op": 11}',
            b"\xff\xfe{}",
            b'{"op":0,"t":"\xff","s":3,"d":{}}',
        ],
    )
    def test_undecodable_payload(self, message: str | bytes) -> None:
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed(message)
        assert out.events == []
        assert_failed_resumable(pump, out.closes)

    @pytest.mark.parametrize(
        "d",
        [
            {},
            {"session_id": "x"},
            {"resume_gateway_url": "wss://x"},
            {"session_id": "x", "resume_gateway_url": "u", "guilds": [{"no": "id"}]},
            {"session_id": "x", "resume_gateway_url": "u", "guilds": [{"id": "abc"}]},
            {"session_id": "x", "resume_gateway_url": "u", "guilds": None},
            {"session_id": "x", "resume_gateway_url": "u", "guilds": [1, 2]},
            [],
            "READY",
            None,
        ],
    )
    def test_malformed_ready(self, d: object) -> None:
        pump = Pump()
        pump.hello()
        out = pump.dispatch("READY", d)
        assert pump.session.session_id is None
        assert out.of(Dispatch) == []
        assert_failed_resumable(pump, out.closes)

    def test_malformed_ready_mid_session_keeps_the_old_session(self) -> None:
        pump = connected([1])
        out = pump.dispatch("READY", {"nope": True})
        assert pump.session.session_id == SESSION_ID
        assert_failed_resumable(pump, out.closes)

    def test_malformed_ready_does_not_rewind_the_sequence(self) -> None:
        pump = connected([1])
        for _ in range(5):
            pump.send(pump.server.message_create())
        assert pump.session.seq == 7
        out = pump.send(pump.server.dispatch("READY", {"nope": True}, s=1))
        assert [c.code for c in out.closes] == [4000]
        assert pump.session.seq == 7
        nxt = pump.next_socket()
        assert nxt.hello().sent[0]["d"]["seq"] == 7

    def test_binary_garbage_on_an_uncompressed_connection(self) -> None:
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed(zlib.compress(b'{"op":11}'))
        assert_failed_resumable(pump, out.closes)

    @pytest.mark.parametrize(
        "message",
        [
            '{"op":10,"d":{"heartbeat_interval":41250,"x":1e400}}',
            '{"op":9,"d":1e400}',
            '{"op":0,"t":"READY","s":1,"d":{"session_id":"s","resume_gateway_url":"u","x":1e999}}',
            '{"op":0,"t":"GUILD_CREATE","s":9,"d":{"id":1e400}}',
        ],
        ids=["hello", "op9", "ready", "guild_create"],
    )
    def test_out_of_range_number_in_d(self, message: str) -> None:
        pump = Pump(make_config(compress=None))
        if '"op":10' not in message:
            pump.hello()
        out = pump.feed(message)
        assert_failed_resumable(pump, out.closes)

    def test_guild_create_body_beyond_id_is_not_decoded_by_the_core(self) -> None:
        # The core reads only id and unavailable of a GUILD_CREATE; the rest (large) is
        # decoded later by whoever wants it, as for every other dispatch.
        pump = connected([1], config=make_config(compress=None))
        out = pump.feed('{"op":0,"t":"GUILD_CREATE","s":9,"d":{"id":"1","huge":-1e400}}')
        assert out.closes == []
        assert pump.session.stream.pending == set()

    def test_hello_with_a_huge_integer_interval(self) -> None:
        pump = Pump(make_config(compress=None))
        out = pump.feed('{"op":10,"d":{"heartbeat_interval":1' + "0" * 400 + "}}")
        assert_failed_resumable(pump, out.closes)

    @pytest.mark.parametrize(
        "message",
        [
            '{"op":10,"d":{"heartbeat_interval":"' + "é" * 200 + '"}}',
            '{"op":0,"t":"READY","s":1,"d":{"session_id":"s","resume_gateway_url":"u",'
            '"guilds":[{"id":"' + "ü" * 200 + '"}]}}',
        ],
        ids=["hello", "ready"],
    )
    def test_close_reason_quoting_server_data_fits_a_close_frame(self, message: str) -> None:
        pump = Pump(make_config(compress=None))
        if '"op":10' not in message:
            pump.hello()
        [close] = pump.feed(message).closes
        assert len(close.reason.encode()) <= 123

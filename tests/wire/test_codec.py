"""The JSON envelope codec (wire/codec.py): spec 2.1 (envelope, receiver and sender rules)
and 7.1 (JSON)."""

from __future__ import annotations

import json

import pytest

from tether.errors import DecodeError, WireError
from tether.wire.codec import Frame, decode_frame, decode_json, encode_json, encode_payload


class TestEnvelopeDecoding:
    """Spec 2.1 receiver rules: missing s/t/d read as null, unknown keys ignored."""

    def test_full_dispatch(self) -> None:
        frame = decode_frame(b'{"op":0,"d":{"a":[1,2]},"s":42,"t":"GATEWAY_EVENT_NAME"}')
        assert (frame.op, frame.s, frame.t) == (0, 42, "GATEWAY_EVENT_NAME")
        assert frame.raw == b'{"a":[1,2]}'
        assert frame.data() == {"a": [1, 2]}

    def test_text_input(self) -> None:
        frame = decode_frame('{"op": 11, "d": null, "s": null, "t": null}')
        assert (frame.op, frame.s, frame.t, frame.data()) == (11, None, None, None)

    def test_missing_keys_read_as_null(self) -> None:
        frame = decode_frame(b'{"op": 11}')
        assert (frame.s, frame.t, frame.raw, frame.data()) == (None, None, b"null", None)

    def test_unknown_keys_are_ignored(self) -> None:
        frame = decode_frame(b'{"op":10,"d":{"heartbeat_interval":45000},"_trace":["x"],"z":1}')
        assert frame.op == 10
        assert frame.data() == {"heartbeat_interval": 45000}

    @pytest.mark.parametrize("op", [99, 5, 12, -3, 2**40])
    def test_unknown_opcodes_are_kept(self, op: int) -> None:
        assert decode_frame(json.dumps({"op": op})).op == op

    @pytest.mark.parametrize(
        ("d", "expected"),
        [
            ("false", False),
            ("251", 251),
            ("null", None),
            ('"x"', "x"),
            ("[1]", [1]),
            ("1501184119561", 1501184119561),
            ("30.0", 30.0),
        ],
    )
    def test_d_of_any_type(self, d: str, expected: object) -> None:
        assert decode_frame('{"op":9,"d":' + d + "}").data() == expected

    def test_data_is_decoded_once(self) -> None:
        frame = decode_frame(b'{"op":0,"d":{"k":"v"}}')
        assert frame.data() is frame.data()

    def test_unicode_and_surrogate_pairs(self) -> None:
        frame = decode_frame('{"op":0,"t":"X","d":{"tags":"\\ud83d\\udc4b","e":"🔥"}}')
        assert frame.data() == {"tags": "👋", "e": "🔥"}

    def test_big_snowflake_strings_stay_strings(self) -> None:
        frame = decode_frame(b'{"op":0,"d":{"id":"111111111111111111111"}}')
        assert frame.data() == {"id": "111111111111111111111"}

    def test_repr_does_not_dump_the_body(self) -> None:
        frame = decode_frame(b'{"op":0,"t":"READY","s":1,"d":{"secret":"value"}}')
        assert "value" not in repr(frame)
        assert "READY" in repr(frame)

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"{",
            b"not json",
            b"[]",
            b"[1,2]",
            b'"op"',
            b"42",
            b"null",
            b"{}",
            b'{"d": 1}',
            b'{"op": "1"}',
            b'{"op": null}',
            b'{"op": true}',
            b'{"op": 1.5}',
            b'{"op": 1, "s": "2"}',
            b'{"op": 1, "s": true}',
            b'{"op": 1, "s": 1.5}',
            b'{"op": 1, "t": 5}',
            b'{"op": 1, "t": ["X"]}',
            b'{"op": 1} trailing',
            b'{"op": 1, "t": "\xff"}',
            b"\x78\x9c\x00\x00\xff\xff",
        ],
    )
    def test_not_an_envelope(self, data: bytes) -> None:
        with pytest.raises(DecodeError):
            decode_frame(data)

    def test_decode_error_is_a_wire_error(self) -> None:
        assert issubclass(DecodeError, WireError)

    def test_out_of_range_number_in_d_surfaces_only_as_decode_error(self) -> None:
        # The body is kept raw, so some bad bodies are only found when d is decoded. Either
        # way the only exception is DecodeError. (Frame.data()'s docstring says this "cannot
        # happen for frames from decode_frame"; it can: see the protocol test of the same name.)
        data = b'{"op":0,"t":"X","s":1,"d":{"n":1e400}}'
        try:
            frame = decode_frame(data)
        except DecodeError:
            return
        with pytest.raises(DecodeError):
            frame.data()


class TestEncoding:
    """Spec 2.1 sender rules: one JSON object with only op and d; 7.1 UTF-8 JSON."""

    def test_encode_payload_has_only_op_and_d(self) -> None:
        payload = encode_payload(1, 251)
        assert json.loads(payload) == {"op": 1, "d": 251}
        assert payload == b'{"op":1,"d":251}'

    def test_encode_payload_null_d(self) -> None:
        assert json.loads(encode_payload(1, None)) == {"op": 1, "d": None}

    def test_encode_json_is_utf8(self) -> None:
        assert encode_json({"s": "é👋"}).decode("utf-8") == '{"s":"é👋"}'

    def test_round_trip(self) -> None:
        value = {"a": [1, 2.5, None, True, "x"], "b": {"c": "d"}}
        assert decode_json(encode_json(value)) == value
        frame = decode_frame(encode_payload(3, value))
        assert (frame.op, frame.data()) == (3, value)

    def test_decode_json_rejects_garbage(self) -> None:
        with pytest.raises(DecodeError):
            decode_json(b"{nope")

    def test_frame_build(self) -> None:
        frame = Frame.build(0, {"x": 1}, s=5, t="MESSAGE_CREATE")
        assert (frame.op, frame.s, frame.t, frame.data()) == (0, 5, "MESSAGE_CREATE", {"x": 1})
        assert json.loads(frame.raw) == {"x": 1}

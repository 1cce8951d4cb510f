"""Property tests: whatever the server sends, ShardProtocol never raises (STYLE habit 1, spec 2.1
receiver rules), and a connected socket stays connected or closes with a resumable verdict."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.errors import WireError
from tether.gateway import Action, ConnectionEnded, Phase
from tether.wire.codec import decode_frame
from tether.wire.compression import ZLIB_SUFFIX, ZlibStreamInflater

from .helpers import Pump, connected, make_config

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)

DISPATCH_NAMES = ["READY", "RESUMED", "GUILD_CREATE", "GUILD_DELETE", "MESSAGE_CREATE", "X"]
known_ops = st.sampled_from([0, 1, 7, 9, 10, 11]) | st.integers(-(2**70), 2**70)
guild_like = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=5), st.integers(), json_values)},
    optional={"unavailable": json_values},
)
ready_like = st.fixed_dictionaries(
    {},
    optional={
        "session_id": json_values,
        "resume_gateway_url": json_values,
        "guilds": st.lists(guild_like, max_size=4) | json_values,
        "user": json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {"op": known_ops},
    optional={
        "d": json_values | ready_like | guild_like,
        "s": st.none() | st.integers(-5, 2**70),
        "t": st.none() | st.sampled_from(DISPATCH_NAMES) | st.text(max_size=8),
    },
)
messages = st.lists(
    st.one_of(
        envelopes.map(json.dumps),
        json_values.map(json.dumps),
        st.text(max_size=40),
        st.binary(max_size=64),
    ),
    min_size=1,
    max_size=8,
)


def may_reidentify(payloads: list[bytes | str]) -> bool:
    """Whether a well-formed op 9 is among the (decompressed) payloads: op 9 d=false
    legitimately drops the session."""
    for payload in payloads:
        try:
            if decode_frame(payload).op == 9:
                return True
        except WireError:
            continue
    return False


def check_invariant(
    pump: Pump, fed: list[bytes | str], payloads: list[bytes | str], advance: float = 0.0
) -> None:
    """Feed ``fed``, then check: no exception, connected or closing 4000 with a resume
    (a re-identify only if an op 9 was among the ``payloads`` carried by ``fed``)."""
    closes = []
    for message in fed:
        closes += pump.feed(message).closes
    closes += pump.tick(pump.now + advance).closes
    assert pump.phase() in (Phase.CONNECTED, Phase.CLOSING)
    assert len(closes) <= 1
    if pump.phase() is Phase.CONNECTED:
        assert closes == []
        return
    assert [c.code for c in closes] == [4000]
    ended = pump.closed(None).of(ConnectionEnded)
    assert len(ended) == 1
    allowed = {Action.RESUME}
    if may_reidentify(payloads):
        allowed.add(Action.REIDENTIFY)
    assert ended[0].verdict.action in allowed


def shadow_inflate(fed: list[bytes]) -> list[bytes | str]:
    """What a zlib-stream connection would decompress from ``fed`` (stopping at an error)."""
    inflater = ZlibStreamInflater()
    out: list[bytes | str] = []
    for message in fed:
        try:
            payload = inflater.feed(message)
        except WireError:
            break
        if payload is not None:
            out.append(payload)
    return out


class TestServerInputNeverRaises:
    """Spec 2.1 receiver rules / STYLE habit 1, over arbitrary input."""

    @SETTINGS
    @given(fed=st.lists(st.binary(max_size=256), min_size=1, max_size=6))
    def test_arbitrary_bytes_uncompressed(self, fed: list[bytes]) -> None:
        pump = connected([1, 2], config=make_config(compress=None))
        check_invariant(pump, list(fed), list(fed))

    @SETTINGS
    @given(
        fed=st.lists(
            st.binary(max_size=256) | st.binary(max_size=60).map(lambda b: b + ZLIB_SUFFIX),
            min_size=1,
            max_size=6,
        )
    )
    def test_arbitrary_bytes_zlib_stream(self, fed: list[bytes]) -> None:
        pump = connected([1, 2], config=make_config(compress="zlib-stream"))
        # A fresh inflater sees these bytes as the connection's stream would, minus the
        # handshake payloads already consumed; a decodable op 9 in random bytes is unlikely.
        check_invariant(pump, list(fed), shadow_inflate(fed))

    @SETTINGS
    @given(fed=messages, advance=st.floats(0.0, 200.0))
    def test_arbitrary_json_values_and_envelopes(
        self, fed: list[bytes | str], advance: float
    ) -> None:
        pump = connected([1, 2], config=make_config(compress=None))
        check_invariant(pump, fed, fed, advance)

    @SETTINGS
    @given(values=st.lists(envelopes, min_size=1, max_size=6), advance=st.floats(0.0, 200.0))
    def test_arbitrary_envelopes_zlib_stream(
        self, values: list[dict[str, Any]], advance: float
    ) -> None:
        pump = connected([1, 2], config=make_config(compress="zlib-stream"))
        payloads: list[bytes | str] = [json.dumps(v).encode() for v in values]
        fed: list[bytes | str] = []
        for payload in payloads:
            assert isinstance(payload, bytes)
            fed += pump.server.wire(payload, chunks=2)  # the connection's own stream
        check_invariant(pump, fed, payloads, advance)

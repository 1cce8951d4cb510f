"""ShardProtocol's phase table, checked exhaustively: every (phase, input) pair.

The shard state table (gateway/state.py) is walked pair by pair in test_state.py. The
protocol's own phases (one socket: awaiting HELLO, handshaking, connected, closing, closed)
are not a table in the code but follow from its handlers; this file writes the table out
independently and feeds every input in every phase. Each pair either moves to the phase
written here or is an explicit error (``InvalidState``) that leaves the phase unchanged;
whatever happens, nothing else is raised, a socket ends with exactly one
``ConnectionEnded``, and a live socket always has a deadline (it cannot hang).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tether.errors import InvalidState
from tether.gateway import ConnectionEnded, Phase, Session

from .helpers import Pump, connected, make_config

P = Phase

#: The phases a test can put a socket in, by name (two handshakes: IDENTIFY and RESUME).
SETUPS = ["awaiting_hello", "identifying", "resuming", "connected", "closing", "closed"]


def make(setup: str) -> Pump:
    """A pump (uncompressed) whose socket is in the named phase."""
    config = make_config(compress=None)
    if setup == "awaiting_hello":
        return Pump(config)
    if setup == "identifying":
        pump = Pump(config)
        pump.hello()
        return pump
    if setup == "resuming":
        session = Session(session_id="s1", seq=5, resume_url="wss://resume.example")
        session.ready_fired = True
        pump = Pump(config, session, seq=5)
        pump.hello()
        return pump
    pump = connected([1001], config=config)
    if setup in ("closing", "closed"):
        pump.send(pump.server.reconnect())
    if setup == "closed":
        pump.closed(4000)
    return pump


def _timer_late(p: Pump) -> None:
    # Twice: the first late tick may only send the due heartbeat; the second judges its ACK.
    p.tick(p.now + 10_000)
    p.tick(p.now + 10_000)


INPUTS: dict[str, Callable[[Pump], object]] = {
    "hello": lambda p: p.send(p.server.hello()),
    "heartbeat_request": lambda p: p.send(p.server.heartbeat_request()),
    "ack": lambda p: p.send(p.server.ack()),
    "reconnect": lambda p: p.send(p.server.reconnect()),
    "invalid_session_true": lambda p: p.send(p.server.invalid_session(True)),
    "invalid_session_false": lambda p: p.send(p.server.invalid_session(False)),
    "unknown_opcode": lambda p: p.send(p.server.envelope(99, {"x": 1})),
    "ready": lambda p: p.send(p.server.ready([1001], session_id="s2")),
    "resumed": lambda p: p.send(p.server.resumed()),
    "dispatch": lambda p: p.send(p.server.message_create()),
    "garbage": lambda p: p.feed("{not json"),
    "closed_resumable": lambda p: p.closed(4000),
    "closed_fatal": lambda p: p.closed(4004),
    "dropped": lambda p: p.closed(None),
    "timer_now": lambda p: p.tick(p.now),
    "timer_late": _timer_late,
    "send_command": lambda p: p.protocol.send_command(3, {"status": "idle"}, now=p.now),
    "stop": lambda p: p.protocol.close(resumable=True, now=p.now),
}

#: What raises (the phase stays as it was): commands on a socket that is going away.
ERRORS = {("closing", "send_command"), ("closed", "send_command")}

_LIVE_SERVER = {
    "hello": None,  # None: the phase does not change
    "heartbeat_request": None,
    "ack": None,
    "reconnect": P.CLOSING,
    "invalid_session_true": P.CLOSING,
    "invalid_session_false": P.CLOSING,
    "unknown_opcode": None,
    "ready": P.CONNECTED,
    "resumed": P.CONNECTED,
    "dispatch": None,
    "garbage": P.CLOSING,
    "closed_resumable": P.CLOSED,
    "closed_fatal": P.CLOSED,
    "dropped": P.CLOSED,
    "timer_now": None,
    "timer_late": P.CLOSING,
    "send_command": None,
    "stop": P.CLOSING,
}

#: The table, written from spec 1.4/2.x and the protocol's docstrings (None: unchanged).
EXPECTED: dict[tuple[str, str], Phase | None] = {
    **{("awaiting_hello", i): t for i, t in _LIVE_SERVER.items()},
    ("awaiting_hello", "hello"): P.HANDSHAKING,
    # A dispatch before HELLO is a protocol violation: close and resume.
    ("awaiting_hello", "ready"): P.CLOSING,
    ("awaiting_hello", "resumed"): P.CLOSING,
    ("awaiting_hello", "dispatch"): P.CLOSING,
    **{("identifying", i): t for i, t in _LIVE_SERVER.items()},
    **{("resuming", i): t for i, t in _LIVE_SERVER.items()},
    # RESUMED answers RESUME and READY answers IDENTIFY, never the other (spec 2.5, 2.8).
    ("identifying", "resumed"): P.CLOSING,
    ("resuming", "ready"): P.CLOSING,
    **{("connected", i): t for i, t in _LIVE_SERVER.items()},
    **{("closing", i): None for i in INPUTS},
    ("closing", "closed_resumable"): P.CLOSED,
    ("closing", "closed_fatal"): P.CLOSED,
    ("closing", "dropped"): P.CLOSED,
    **{("closed", i): None for i in INPUTS},
}

def _pairs() -> list[object]:
    params = []
    for setup, name in itertools.product(SETUPS, INPUTS):
        params.append(pytest.param(setup, name, id=f"{setup}-{name}"))
    return params


class TestPhaseTable:
    """Every (phase, input) pair of one socket (spec 1.4 lifecycle, 2.x opcodes, 5.x closes)."""

    def test_the_table_covers_every_pair(self) -> None:
        assert set(EXPECTED) == set(itertools.product(SETUPS, INPUTS))

    @pytest.mark.parametrize(("setup", "name"), _pairs())
    def test_pair(self, setup: str, name: str) -> None:
        pump = make(setup)
        before = pump.phase()
        ended_before = len(pump.drain().of(ConnectionEnded)) + (1 if before is P.CLOSED else 0)
        if (setup, name) in ERRORS:
            with pytest.raises(InvalidState):
                INPUTS[name](pump)
            assert pump.phase() is before
            return
        INPUTS[name](pump)
        expected = EXPECTED[(setup, name)]
        assert pump.phase() is (before if expected is None else expected)
        self._check_invariants(pump, ended_before)

    @staticmethod
    def _check_invariants(pump: Pump, ended_before: int) -> None:
        phase = pump.phase()
        if phase in (P.AWAITING_HELLO, P.HANDSHAKING, P.CONNECTED):
            # A live socket always has something to wait for: HELLO, a heartbeat, an ACK.
            assert pump.protocol.next_deadline() is not None
        # Closing always ends, once: one ConnectionEnded per socket, whatever comes next.
        pump.closed(4000)
        pump.closed(None)
        ended = pump.drain()
        assert pump.phase() is P.CLOSED
        assert pump.protocol.ended is not None
        assert len(ended.of(ConnectionEnded)) <= 1 - min(ended_before, 1)

"""ShardProtocol when a connection ends: spec 2.9 (op 7), 2.11 (op 9), 5.3 (client closes),
5.4/5.5 (server closes and drops) and 5.6 (the decision procedure, SessionLost)."""

from __future__ import annotations

import pytest

from tether.errors import InvalidState
from tether.gateway import (
    Action,
    CloseFrame,
    ConnectionEnded,
    Initiator,
    Phase,
    Ready,
    SessionLost,
)
from tether.wire.close_codes import CloseCode

from .helpers import SESSION_ID, Pump, connected, make_config, raises_redacted


class TestReconnectOpcode:
    """Spec 2.9: op 7 Reconnect -> close with a non-1000/1001 code, then resume."""

    def test_op7_closes_4000_and_resumes(self) -> None:
        pump = connected([1])
        out = pump.send(pump.server.reconnect(), at=5.0)
        assert out.closes == [CloseFrame(4000, out.closes[0].reason)]
        assert out.sent == []
        assert pump.phase() is Phase.CLOSING
        verdict = pump.closed(4000, at=5.1).verdict()
        assert verdict.action is Action.RESUME
        assert verdict.initiator is Initiator.CLIENT
        assert pump.session.resumable
        assert pump.session.session_id == SESSION_ID

    def test_op7_before_hello(self) -> None:
        pump = Pump()
        out = pump.send(pump.server.reconnect())
        assert [c.code for c in out.closes] == [4000]
        assert pump.closed(None).verdict().action is Action.RESUME

    def test_messages_after_the_close_frame_are_ignored(self) -> None:
        pump = connected([1])
        pump.send(pump.server.reconnect())
        out = pump.send(pump.server.message_create())
        out += pump.send(pump.server.heartbeat_request())
        assert out.events == []
        assert out.sent == []
        assert pump.session.seq == 2  # left for the replay after RESUME

    def test_server_close_code_after_our_close_keeps_our_verdict(self) -> None:
        pump = connected([1])
        pump.send(pump.server.reconnect())
        assert pump.closed(1000).verdict().action is Action.RESUME
        assert pump.session.resumable


class TestInvalidSession:
    """Spec 2.11 and 5.6: op 9 d=true resumes, d=false clears and waits 1-5 s to IDENTIFY."""

    def test_op9_true_with_a_session_resumes(self) -> None:
        pump = connected([1])
        out = pump.send(pump.server.invalid_session(True))
        assert [c.code for c in out.closes] == [4000]
        verdict = pump.closed(4000).verdict()
        assert verdict.action is Action.RESUME
        assert verdict.wait == 0.0
        assert pump.session.session_id == SESSION_ID

    def test_op9_true_without_a_session_identifies_after_a_wait(self) -> None:
        pump = Pump(seed=4)
        pump.hello()
        out = pump.send(pump.server.invalid_session(True))
        assert [c.code for c in out.closes] == [4000]
        verdict = pump.closed(4000).verdict()
        assert verdict.action is Action.REIDENTIFY
        assert 1.0 <= verdict.wait <= 5.0

    def test_op9_false_clears_the_session(self) -> None:
        pump = connected([1], seed=7)
        out = pump.send(pump.server.invalid_session(False), at=3.0)
        [close] = out.closes
        assert close.code in (4000, 1000)  # spec 5.6: "4000 or 1000, the session is dead anyway"
        assert pump.session.session_id is None
        assert pump.session.seq is None
        assert not pump.session.resumable
        verdict = pump.closed(close.code, at=3.1).verdict()
        assert verdict.action is Action.REIDENTIFY
        assert 1.0 <= verdict.wait <= 5.0
        assert Pump(session=pump.session).hello().ops() == [2]

    def test_op9_false_wait_is_random_in_1_to_5_s(self) -> None:
        waits = []
        for seed in range(30):
            pump = connected([1], seed=seed)
            pump.send(pump.server.invalid_session(False))
            waits.append(pump.closed(4000).verdict().wait)
        assert all(1.0 <= w <= 5.0 for w in waits)
        assert len(set(waits)) == len(waits)  # different seeds, different waits
        assert min(waits) < 2.0
        assert max(waits) > 4.0
        assert 5.0 not in waits  # never the fixed upper bound

    def test_op9_wait_bounds_are_configurable(self) -> None:
        pump = connected([1], config=make_config(invalid_session_wait=(0.5, 0.75)))
        pump.send(pump.server.invalid_session(False))
        assert 0.5 <= pump.closed(4000).verdict().wait <= 0.75


class TestSessionLost:
    """Spec 5.6: after a lost session the next READY reports the gap (SessionLost)."""

    def test_next_ready_reports_the_lost_session(self) -> None:
        pump = connected([1], seed=0)
        pump.send(pump.server.message_create(), at=4.0)
        pump.send(pump.server.message_create(), at=5.0)  # s=4, the last event of the session
        pump.send(pump.server.invalid_session(False), at=6.0)
        pump.closed(4000, at=6.1)
        fresh = Pump(session=pump.session, now=9.0, seed=1)
        fresh.hello(at=9.0)
        out = fresh.ready([1], session_id="second-session", at=10.0)
        assert out.of(SessionLost) == [
            SessionLost(
                shard_id=0,
                old_session_id=SESSION_ID,
                last_seq=4,
                since=5.0,
                until=10.0,
                reason="gateway invalidated the session (op 9)",
            )
        ]
        assert pump.session.session_id == "second-session"
        assert pump.session.lost is None
        assert len(fresh.guild_create(1).of(Ready)) == 1  # a new session gets its own Ready

    @pytest.mark.parametrize("code", [4003, 4007, 4009])
    def test_reidentify_close_codes_report_the_gap(self, code: int) -> None:
        pump = connected([1])
        pump.send(pump.server.message_create(), at=2.0)
        verdict = pump.closed(code, "session timed out", at=3.0).verdict()
        assert verdict.action is Action.REIDENTIFY
        assert not pump.session.resumable
        fresh = Pump(session=pump.session, now=4.0)
        assert fresh.hello().ops() == [2]
        [lost] = fresh.ready([1], session_id="new", at=5.0).of(SessionLost)
        assert (lost.old_session_id, lost.last_seq, lost.since, lost.until) == (
            SESSION_ID,
            3,
            2.0,
            5.0,
        )
        assert str(code) in lost.reason

    def test_no_session_lost_after_a_resume(self) -> None:
        pump = connected([1])
        pump.closed(None)
        nxt = pump.next_socket()
        nxt.hello()
        assert nxt.send(nxt.server.resumed()).of(SessionLost) == []

    def test_no_session_lost_on_the_first_session(self) -> None:
        pump = Pump()
        pump.hello()
        assert pump.ready([1]).of(SessionLost) == []


class TestServerCloses:
    """Spec 5.4 and 5.5 through the protocol: every code, drops, and the session's fate."""

    @pytest.mark.parametrize(
        ("code", "action"),
        [
            (int(c), a)
            for c, a in [
                (CloseCode.UNKNOWN_ERROR, Action.RESUME),
                (CloseCode.UNKNOWN_OPCODE, Action.RESUME),
                (CloseCode.DECODE_ERROR, Action.RESUME),
                (CloseCode.NOT_AUTHENTICATED, Action.REIDENTIFY),
                (CloseCode.AUTHENTICATION_FAILED, Action.FATAL),
                (CloseCode.ALREADY_AUTHENTICATED, Action.RESUME),
                (CloseCode.INVALID_SEQ, Action.REIDENTIFY),
                (CloseCode.RATE_LIMITED, Action.RESUME),
                (CloseCode.SESSION_TIMED_OUT, Action.REIDENTIFY),
                (CloseCode.INVALID_SHARD, Action.FATAL),
                (CloseCode.SHARDING_REQUIRED, Action.FATAL),
                (CloseCode.INVALID_API_VERSION, Action.FATAL),
                (CloseCode.INVALID_INTENTS, Action.FATAL),
                (CloseCode.DISALLOWED_INTENTS, Action.FATAL),
                (CloseCode.NORMAL, Action.RESUME),
                (CloseCode.GOING_AWAY, Action.RESUME),
            ]
        ]
        + [(4006, Action.RESUME)],
    )
    def test_server_close(self, code: int, action: Action) -> None:
        pump = connected([1])
        out = pump.closed(code, "bye", at=7.0)
        verdict = out.verdict()
        assert verdict.action is action
        assert verdict.code == code
        assert verdict.initiator is Initiator.SERVER
        assert out.closes == []  # the server closed; nothing for us to send
        assert pump.phase() is Phase.CLOSED
        assert pump.protocol.ended == verdict
        assert pump.session.resumable is (action is not Action.REIDENTIFY)

    @pytest.mark.parametrize("code", [None, 1006])
    def test_drop_without_close_frame_resumes(self, code: int | None) -> None:
        pump = connected([1])
        verdict = pump.closed(code).verdict()
        assert verdict.action is Action.RESUME
        assert verdict.initiator is Initiator.TRANSPORT
        assert pump.session.resumable

    def test_drop_during_handshake_resumes_without_a_session(self) -> None:
        pump = Pump()
        pump.hello()
        verdict = pump.closed(None).verdict()
        assert verdict.action is Action.RESUME  # "IDENTIFY when no session is held"
        assert not pump.session.resumable

    def test_nothing_happens_after_the_end(self) -> None:
        pump = connected([1])
        pump.closed(None)
        out = pump.send(pump.server.message_create())
        out += pump.run_until(1000.0)
        assert out.events == []
        assert out.sent == []
        assert pump.protocol.next_deadline() is None


class TestClientClose:
    """Spec 5.3: 1000/1001 only when giving the session up; otherwise a resume code (4000)."""

    def test_close_resumable_keeps_the_session(self) -> None:
        pump = connected([1])
        pump.protocol.close(resumable=True, now=1.0)
        drained = pump.drain()
        assert [c.code for c in drained.closes] == [4000]
        assert pump.session.resumable
        verdict = pump.closed(4000).verdict()
        assert verdict.action is Action.STOP
        assert verdict.initiator is Initiator.CLIENT
        assert verdict.code == 4000

    def test_close_for_good_sends_1000_and_forgets_the_session(self) -> None:
        pump = connected([1])
        pump.protocol.close(resumable=False, now=1.0)
        assert [c.code for c in pump.drain().closes] == [1000]
        assert pump.session.session_id is None
        assert not pump.session.resumable
        assert pump.session.lost is None  # a deliberate stop is not a "lost" session
        assert pump.closed(1000).verdict().action is Action.STOP
        fresh = Pump(session=pump.session)
        fresh.hello()
        assert fresh.ready([1]).of(SessionLost) == []

    def test_close_twice_sends_one_close_frame(self) -> None:
        pump = connected([1])
        pump.protocol.close(resumable=True, now=1.0)
        pump.protocol.close(resumable=False, now=1.1)
        assert [c.code for c in pump.drain().closes] == [4000]
        assert pump.session.resumable

    def test_commands_refused_once_closing(self) -> None:
        pump = connected([1])
        pump.protocol.close(resumable=True, now=1.0)
        with raises_redacted(InvalidState, match="closing"):
            pump.protocol.send_command(3, {"status": "idle"}, now=1.0)

    def test_every_socket_ends_with_exactly_one_connection_ended(self) -> None:
        pump = connected([1])
        pump.protocol.close(resumable=True, now=1.0)
        events = pump.drain().events
        events += pump.closed(None).events
        events += pump.closed(4000).events
        assert len([e for e in events if isinstance(e, ConnectionEnded)]) == 1

    def test_close_reason_fits_a_close_frame_for_our_own_closes(self) -> None:
        frames = []
        pump = connected([1])
        frames += pump.send(pump.server.reconnect()).closes
        pump = connected([1])
        pump.protocol.close(resumable=False, now=0.0)
        frames += pump.drain().closes
        pump = connected([1])
        frames += pump.run_until(600.0).closes  # zombie
        assert len(frames) == 3
        for frame in frames:
            assert 0 < len(frame.reason.encode()) <= 123

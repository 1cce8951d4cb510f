"""ShardProtocol from socket open to READY/RESUMED: HELLO, IDENTIFY, RESUME, hello timeout."""

from __future__ import annotations

import pytest

from tether.gateway import (
    Action,
    Connected,
    ConnectionEnded,
    Dispatch,
    HelloReceived,
    Initiator,
    Phase,
    Ready,
    Resumed,
    Session,
    SessionSnapshot,
)
from tether.token import Token

from .helpers import (
    INTERVAL,
    RESUME_URL,
    SESSION_ID,
    TOKEN_TEXT,
    Pump,
    connected,
    make_config,
)


class TestHelloAndIdentify:
    """Spec 2.5 (Identify), 2.12 (Hello) and 4.1 (Identify rules)."""

    def test_hello_answered_with_identify(self) -> None:
        pump = Pump()
        assert pump.phase() is Phase.AWAITING_HELLO
        out = pump.hello(at=0.25)
        assert out.ops() == [2]
        assert out.events == [
            HelloReceived(shard_id=0, resuming=False, heartbeat_interval=INTERVAL)
        ]
        assert pump.phase() is Phase.HANDSHAKING
        assert pump.protocol.heartbeat_interval == INTERVAL

    def test_identify_body(self) -> None:
        identify = Pump().hello().sent[0]
        assert set(identify) == {"op", "d"}  # spec 2.1: only op and d are needed
        d = identify["d"]
        assert d["token"] == TOKEN_TEXT
        assert d["properties"] == {"os": "linux", "browser": "tether", "device": "tether"}
        assert not any(key.startswith("$") for key in d["properties"])
        assert d["intents"] == 513
        assert type(d["intents"]) is int
        assert "shard" not in d
        assert "presence" not in d
        assert d["compress"] is False  # payload compression is off; transport may be on
        assert 50 <= d["large_threshold"] <= 250

    def test_identify_with_shard_and_presence(self) -> None:
        presence: dict[str, object] = {
            "since": None,
            "activities": [],
            "status": "idle",
            "afk": False,
        }
        config = make_config(shard=(3, 8), presence=presence, large_threshold=50)
        d = Pump(config).hello().sent[0]["d"]
        assert d["shard"] == [3, 8]
        assert d["presence"] == presence
        assert d["large_threshold"] == 50

    def test_shard_id_is_stamped_on_events(self) -> None:
        config = make_config(shard=(3, 8))
        pump = Pump(config)
        pump.hello()
        out = pump.ready([1], shard=[3, 8])
        assert {e.shard_id for e in out.events} == {3}

    def test_token_sent_bare_without_bot_prefix(self) -> None:
        config = make_config(token=Token(f"Bot {TOKEN_TEXT}"))
        assert Pump(config).hello().sent[0]["d"]["token"] == TOKEN_TEXT

    def test_identify_only_once_per_connection(self) -> None:
        pump = Pump()
        assert pump.hello().ops() == [2]
        out = pump.hello(at=1.0)
        assert out.sent == []
        assert out.closes == []
        assert pump.phase() is Phase.HANDSHAKING

    def test_ready_adopts_the_session(self) -> None:
        pump = Pump()
        pump.hello()
        out = pump.ready([1001, 1002], at=2.0)
        assert out.events[0] == Connected(shard_id=0, session_id=SESSION_ID, resumed=False)
        assert isinstance(out.events[1], Dispatch)
        assert out.events[1].name == "READY"
        assert pump.session.session_id == SESSION_ID
        assert pump.session.resume_url == RESUME_URL
        assert pump.session.seq == 1
        assert pump.session.user["username"] == "testbot"
        assert pump.phase() is Phase.CONNECTED

    @pytest.mark.parametrize(
        "d",
        [
            {},
            {"heartbeat_interval": None},
            {"heartbeat_interval": -5},
            {"heartbeat_interval": 0},
            {"heartbeat_interval": "41250"},
            {"heartbeat_interval": True},
            [41250],
            None,
            41250,
        ],
    )
    def test_hello_without_a_usable_interval_closes_resumable(self, d: object) -> None:
        pump = Pump()
        out = pump.send(pump.server.envelope(10, d))
        assert [c.code for c in out.closes] == [4000]
        assert out.sent == []
        assert pump.closed(4000).verdict().action is Action.RESUME


class TestHelloTimeout:
    """Spec 1.4 step 2 / 14.B.11 (fault: Hello delayed or never sent): no HELLO, no hang."""

    def test_deadline_is_the_hello_timeout(self) -> None:
        pump = Pump(now=100.0)
        assert pump.protocol.next_deadline() == 120.0

    def test_no_hello_closes_resumable_and_keeps_the_session(self) -> None:
        session = Session(session_id=SESSION_ID, seq=5, resume_url=RESUME_URL)
        pump = Pump(make_config(hello_timeout=3.0), session, now=10.0)
        assert pump.tick(12.999).closes == []
        out = pump.tick(13.0)
        assert [c.code for c in out.closes] == [4000]
        assert out.sent == []
        verdict = pump.closed(4000, at=13.1).verdict()
        assert verdict.action is Action.RESUME
        assert verdict.initiator is Initiator.CLIENT
        assert "HELLO" in verdict.reason
        assert session.resumable
        assert (session.session_id, session.seq) == (SESSION_ID, 5)

    def test_run_as_a_driver(self) -> None:
        pump = Pump(make_config(hello_timeout=20.0))
        out = pump.run_until(60.0)
        assert [c.code for c in out.closes] == [4000]
        assert pump.protocol.next_deadline() is None  # closing: the driver's close timer rules

    def test_hello_in_time_cancels_the_timeout(self) -> None:
        pump = Pump(make_config(hello_timeout=3.0))
        pump.hello(at=2.9)
        assert pump.tick(3.5).closes == []


class TestResume:
    """Spec 5.2 (resume procedure) and 4.5 (no Ready after a resume)."""

    @staticmethod
    def dropped_after(seq_dispatches: int = 3) -> Pump:
        pump = connected([1001])
        for _ in range(seq_dispatches):
            pump.send(pump.server.message_create(), at=pump.now + 1.0)
        pump.closed(None, at=pump.now + 1.0)
        return pump

    def test_resume_payload(self) -> None:
        old = self.dropped_after()
        seq = old.session.seq
        assert seq == 5  # READY, GUILD_CREATE, 3 messages
        pump = old.next_socket()
        out = pump.hello()
        assert out.sent == [
            {"op": 6, "d": {"token": TOKEN_TEXT, "session_id": SESSION_ID, "seq": 5}}
        ]
        assert out.of(HelloReceived)[0].resuming

    def test_replay_then_resumed(self) -> None:
        pump = self.dropped_after().next_socket()
        pump.hello()
        replay = pump.send(pump.server.message_create("missed 1"))
        replay += pump.send(pump.server.dispatch("MESSAGE_CREATE", {"dup": True}, s=5))  # seen
        replay += pump.send(pump.server.message_create("missed 2"))
        assert [e.seq for e in replay.of(Dispatch)] == [6, 7]
        out = pump.send(pump.server.resumed())
        assert out.of(Connected) == [Connected(shard_id=0, session_id=SESSION_ID, resumed=True)]
        assert out.of(Resumed) == [Resumed(shard_id=0, session_id=SESSION_ID, replayed=2)]
        assert pump.phase() is Phase.CONNECTED
        assert pump.session.seq == 8

    def test_resumed_with_null_seq_is_accepted(self) -> None:
        pump = self.dropped_after().next_socket()
        pump.hello()
        out = pump.send(pump.server.resumed(s=None))
        assert out.of(Resumed) == [Resumed(shard_id=0, session_id=SESSION_ID, replayed=0)]
        assert pump.session.seq == 5

    def test_resumed_never_fires_ready_again(self) -> None:
        pump = self.dropped_after().next_socket()
        pump.hello()
        out = pump.send(pump.server.resumed())
        out += pump.send(pump.server.guild_create(1001))
        out += pump.run_until(pump.now + 600.0, ack_after=0.05)
        assert out.of(Ready) == []
        assert out.closes == []

    def test_restored_snapshot_resumes(self) -> None:
        snap = SessionSnapshot(session_id="from-disk", seq=77, resume_url=RESUME_URL)
        pump = Pump(session=Session.restore(snap))
        assert pump.hello().sent[0] == {
            "op": 6,
            "d": {"token": TOKEN_TEXT, "session_id": "from-disk", "seq": 77},
        }

    def test_session_without_seq_identifies(self) -> None:
        session = Session(session_id=SESSION_ID, seq=None, resume_url=RESUME_URL)
        assert Pump(session=session).hello().ops() == [2]

    def test_resume_failure_as_op9_false_falls_back_to_identify(self) -> None:
        old = self.dropped_after()
        pump = old.next_socket()
        pump.hello()
        out = pump.send(pump.server.invalid_session(False), at=pump.now + 0.2)
        assert [c.code for c in out.closes] == [4000]
        assert pump.closed(4000).verdict().action is Action.REIDENTIFY
        assert Pump(session=pump.session).hello().ops() == [2]

    def test_connection_ended_once(self) -> None:
        pump = connected()
        first = pump.closed(None)
        assert len(first.of(ConnectionEnded)) == 1
        assert pump.closed(4000).events == []
        assert pump.phase() is Phase.CLOSED

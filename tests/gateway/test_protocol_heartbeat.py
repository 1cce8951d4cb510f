"""ShardProtocol heartbeating: spec section 3 (3.1 rules, 3.2 zombie detection, 3.3 latency)."""

from __future__ import annotations

import random

import pytest

from tether.gateway import Action, Initiator, LatencyUpdated, Phase

from .helpers import INTERVAL, SESSION_ID, Pump, connected, make_config


def first_beat_time(seed: int, *, hello_at: float = 0.0, interval: float = INTERVAL) -> float:
    """When the first heartbeat is due: interval x jitter, the jitter from the seeded rng."""
    return hello_at + interval * random.Random(seed).random()


class TestHeartbeatSchedule:
    """Spec 3.1: jittered first beat, then one beat per interval, d = last seq."""

    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_first_beat_is_jittered(self, seed: int) -> None:
        pump = Pump(seed=seed)
        pump.hello(at=10.0)
        due = first_beat_time(seed, hello_at=10.0)
        assert 10.0 < due < 10.0 + INTERVAL
        assert pump.protocol.next_deadline() == due
        assert pump.tick(due - 0.001).heartbeats() == []
        assert pump.tick(due).heartbeats() == [{"op": 1, "d": None}]

    def test_jitter_differs_between_seeds(self) -> None:
        dues = set()
        for seed in range(10):
            pump = Pump(seed=seed)
            pump.hello()
            dues.add(pump.protocol.next_deadline())
        assert len(dues) == 10

    def test_then_every_interval(self) -> None:
        pump = Pump(seed=5)
        pump.hello()
        first = first_beat_time(5)
        pump.run_until(first + 10 * INTERVAL + 1.0, ack_after=0.1)
        beats = [t for t, p in pump.history if p["op"] == 1]
        assert len(beats) == 11
        assert beats[0] == first
        for i, t in enumerate(beats):
            assert t == pytest.approx(first + i * INTERVAL)

    def test_late_timer_does_not_bunch_beats(self) -> None:
        pump = Pump(seed=0)
        pump.hello()
        first = first_beat_time(0)
        pump.tick(first)
        pump.ack(at=first + 0.1)
        # The driver wakes up 30 s late: one beat now, and the next no sooner than interval / 2.
        assert len(pump.tick(first + INTERVAL + 30.0).heartbeats()) == 1
        pump.ack(at=pump.now + 0.1)
        nxt = pump.protocol.next_deadline()
        assert nxt is not None
        assert nxt >= pump.now - 0.1 + INTERVAL / 2

    def test_d_is_null_before_any_dispatch(self) -> None:
        pump = Pump(seed=0)
        pump.hello()
        out = pump.run_until(first_beat_time(0) + 3 * INTERVAL, ack_after=0.1)
        assert [p["d"] for p in out.heartbeats()] == [None] * 4

    def test_d_is_the_last_seq(self) -> None:
        pump = connected([1, 2], seed=0)  # READY s=1, GUILD_CREATE s=2, s=3
        pump.send(pump.server.message_create())
        out = pump.run_until(first_beat_time(0))
        assert out.heartbeats() == [{"op": 1, "d": 4}]

    def test_d_ignores_dropped_duplicates_and_null_seq(self) -> None:
        pump = connected([1], seed=0)
        pump.send(pump.server.dispatch("MESSAGE_CREATE", {}, s=9))
        pump.send(pump.server.dispatch("MESSAGE_CREATE", {}, s=4))  # older: dropped
        pump.send(pump.server.dispatch("RATE_LIMITED", {"opcode": 8}, s=None))
        assert pump.run_until(first_beat_time(0)).heartbeats() == [{"op": 1, "d": 9}]

    def test_d_is_kept_after_a_resume(self) -> None:
        old = connected([1], seed=0)
        old.send(old.server.message_create())
        old.closed(None, at=1.0)
        pump = old.next_socket(seed=0)
        pump.hello()
        # Before any replay, the first beat carries the stored seq, not null.
        assert pump.run_until(pump.now + first_beat_time(0)).heartbeats() == [{"op": 1, "d": 3}]

    def test_server_heartbeat_request_is_answered_at_once(self) -> None:
        pump = connected([1], seed=0)
        out = pump.send(pump.server.heartbeat_request(), at=3.0)
        assert out.heartbeats() == [{"op": 1, "d": 2}]
        assert pump.history[-1][0] == 3.0
        assert pump.protocol.next_deadline() == 3.0 + 5.0  # that reply is ACKed too
        pump.ack(at=3.1)
        # The periodic schedule does not need to shift (spec 3.1 rule 5).
        assert pump.protocol.next_deadline() == first_beat_time(0)

    def test_server_heartbeat_request_before_hello_is_not_answered(self) -> None:
        pump = Pump()
        out = pump.send(pump.server.heartbeat_request())
        assert out.sent == []
        assert out.closes == []

    def test_heartbeats_continue_while_waiting_for_ready(self) -> None:
        # Spec 3.1 rule 6: during an outage READY may be held back while ACKs keep flowing.
        pump = Pump(seed=1)
        pump.hello()
        out = pump.run_until(600.0, ack_after=0.2)
        assert out.closes == []
        assert len(out.heartbeats()) >= 14
        assert pump.phase() is Phase.HANDSHAKING
        out = pump.ready([1])
        assert pump.phase() is Phase.CONNECTED


class TestZombieDetection:
    """Spec 3.2: a heartbeat not ACKed in time means a zombie: close 4000 and resume."""

    def test_missing_ack_closes_4000_then_resumes_with_the_session(self) -> None:
        pump = connected([1], seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        assert pump.tick(beat + 4.999).closes == []
        out = pump.tick(beat + 5.0)  # min(interval, 5 s)
        assert [c.code for c in out.closes] == [4000]
        assert out.sent == []
        assert pump.phase() is Phase.CLOSING
        verdict = pump.closed(4000, at=beat + 5.2).verdict()
        assert verdict.action is Action.RESUME
        assert verdict.initiator is Initiator.CLIENT
        assert verdict.code == 4000
        assert "zombie" in verdict.reason
        assert pump.session.resumable
        assert pump.session.session_id == SESSION_ID
        assert pump.session.seq == 2

    def test_ack_deadline_is_the_interval_when_shorter_than_5_s(self) -> None:
        pump = Pump(seed=0)
        pump.hello(interval_ms=2000)
        beat = first_beat_time(0, interval=2.0)
        pump.tick(beat)
        assert pump.protocol.next_deadline() == pytest.approx(beat + 2.0)
        out = pump.tick(beat + 2.0)
        # Beat N+1 is due at the same moment: the zombie verdict wins, N+1 is not sent.
        assert out.heartbeats() == []
        assert [c.code for c in out.closes] == [4000]

    def test_configured_ack_timeout(self) -> None:
        pump = connected([1], config=make_config(ack_timeout=1.5), seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        assert pump.protocol.next_deadline() == beat + 1.5
        assert pump.tick(beat + 1.4).closes == []
        assert [c.code for c in pump.tick(beat + 1.5).closes] == [4000]

    def test_as_a_driver_detects_a_black_hole_within_two_intervals(self) -> None:
        pump = connected([1], seed=3)
        out = pump.run_until(2 * INTERVAL)
        assert [c.code for c in out.closes] == [4000]
        assert len(out.heartbeats()) == 1

    def test_dispatches_without_acks_are_still_a_zombie(self) -> None:
        """Data that keeps flowing may hide an ACK queued behind it, but only until the next
        beat is due: then the unacknowledged beat makes it a zombie (spec 3.2)."""
        pump = connected([1], seed=0, config=make_config(compress=None))
        beat = first_beat_time(0)
        pump.tick(beat)
        at = beat
        while at + 0.5 < beat + INTERVAL:
            at += 0.5
            out = pump.send(pump.server.message_create(), at=at)
            assert out.closes == []
            assert pump.tick(at).closes == []
        assert [c.code for c in pump.tick(beat + INTERVAL).closes] == [4000]

    def test_a_server_silent_after_some_data_is_a_zombie_at_the_ack_deadline(self) -> None:
        pump = connected([1], seed=0, config=make_config(compress=None))
        beat = first_beat_time(0)
        pump.tick(beat)
        pump.send(pump.server.message_create(), at=beat + 0.1)
        assert pump.tick(beat + 5.0).closes == []  # data came 4.9 s ago: maybe ACK behind it
        assert [c.code for c in pump.tick(beat + 5.1).closes] == [4000]  # quiet for 5 s

    def test_ack_in_time_keeps_the_connection(self) -> None:
        pump = connected([1], seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        pump.ack(at=beat + 4.9)
        out = pump.run_until(beat + INTERVAL - 0.01)
        assert out.closes == []
        assert pump.phase() is Phase.CONNECTED

    def test_long_run_with_acks_never_closes(self) -> None:
        pump = connected([1], seed=2)
        out = pump.run_until(3600.0, ack_after=0.25)
        assert out.closes == []
        assert len(out.heartbeats()) == 87

    def test_large_compressed_payload_in_flight_defers_the_verdict(self) -> None:
        pump = connected([1], seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        big = pump.server.dispatch("GUILD_MEMBERS_CHUNK", {"members": ["x" * 64] * 20000})
        parts = pump.server.wire(big, chunks=50)
        assert len(parts) > 10
        for part in parts[:5]:
            assert pump.feed(part, at=beat + 1.0).closes == []
        assert pump.protocol._inflater is not None
        assert pump.protocol._inflater.buffered > 0
        assert pump.tick(beat + 5.0).closes == []  # still arriving: not a zombie yet
        assert pump.tick(beat + 20.0).closes == []
        out = pump.tick(beat + INTERVAL)  # but never longer than one interval
        assert [c.code for c in out.closes] == [4000]
        assert out.heartbeats() == []

    def test_deferred_verdict_cleared_when_the_payload_and_ack_arrive(self) -> None:
        pump = connected([1], seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        big = pump.server.dispatch("GUILD_MEMBERS_CHUNK", {"members": ["y" * 64] * 20000})
        parts = pump.server.wire(big, chunks=20)
        for part in parts[:-1]:
            pump.feed(part, at=beat + 3.0)
        assert pump.tick(beat + 6.0).closes == []
        out = pump.feed(parts[-1], at=beat + 7.0)
        assert [d.name for d in out.events if hasattr(d, "name")] == ["GUILD_MEMBERS_CHUNK"]
        pump.ack(at=beat + 7.1)
        assert pump.run_until(beat + 3 * INTERVAL, ack_after=0.1).closes == []

    def test_uncompressed_connection_does_not_defer(self) -> None:
        pump = connected([1], seed=0, config=make_config(compress=None))
        beat = first_beat_time(0)
        pump.tick(beat)
        assert [c.code for c in pump.tick(beat + 5.0).closes] == [4000]

    def test_never_sends_a_beat_while_the_previous_is_unacked(self) -> None:
        pump = connected([1], seed=0, config=make_config(ack_timeout=60.0))
        out = pump.run_until(first_beat_time(0) + INTERVAL)
        assert len(out.heartbeats()) == 1
        assert [c.code for c in out.closes] == [4000]


class TestLatency:
    """Spec 3.3: latency = ACK time - heartbeat send time."""

    def test_ack_reports_latency(self) -> None:
        pump = connected([1], seed=0)
        beat = first_beat_time(0)
        pump.tick(beat)
        out = pump.ack(at=beat + 0.125)
        [first] = out.of(LatencyUpdated)
        assert first == LatencyUpdated(shard_id=0, latency=first.latency, previous=None)
        assert first.latency == pytest.approx(0.125)
        pump.tick(beat + INTERVAL)
        out = pump.ack(at=beat + INTERVAL + 0.5)
        [update] = out.of(LatencyUpdated)
        assert update.latency == pytest.approx(0.5)
        assert update.previous == pytest.approx(0.125)
        assert pump.protocol.latency == pytest.approx(0.5)

    def test_answer_to_server_request_is_measured(self) -> None:
        pump = connected([1], seed=0)
        pump.send(pump.server.heartbeat_request(), at=2.0)
        [update] = pump.ack(at=2.25).of(LatencyUpdated)
        assert update.latency == pytest.approx(0.25)

    def test_unsolicited_ack_is_ignored(self) -> None:
        pump = connected([1], seed=0)
        out = pump.ack(at=1.0)
        assert out.events == []
        assert out.closes == []
        assert pump.protocol.latency is None

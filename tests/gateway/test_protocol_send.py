"""ShardProtocol.send_command: spec 6.1 (send rate, heartbeats never queued behind commands),
6.4 (4096-byte client payloads) and 4.1 (nothing but heartbeats before IDENTIFY/RESUME done)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.errors import InvalidState, PayloadTooLarge
from tether.gateway import Phase
from tether.gateway.protocol import MAX_SEND_PAYLOAD
from tether.wire.opcodes import Op

from .helpers import INTERVAL, Pump, connected, make_config, raises_redacted

PRESENCE: dict[str, Any] = {"since": None, "activities": [], "status": "online", "afk": False}


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    """The largest number of sends inside any half-open window of ``window`` seconds."""
    times = sorted(times)
    return max(
        (len([t for t in times[i:] if t < start + window]) for i, start in enumerate(times)),
        default=0,
    )


class TestPayloadSize:
    """Spec 6.4: client payloads over 4096 bytes are refused before they reach the wire."""

    def test_over_4096_bytes_raises(self) -> None:
        pump = connected([1])
        with raises_redacted(PayloadTooLarge) as info:
            pump.protocol.send_command(Op.PRESENCE_UPDATE, {"x": "y" * 5000}, now=1.0)
        assert info.value.limit == MAX_SEND_PAYLOAD == 4096
        assert info.value.size > 4096
        assert pump.drain().sent == []
        assert pump.phase() is Phase.CONNECTED

    def test_exactly_4096_bytes_is_sent(self) -> None:
        pump = connected([1])
        empty = len(json.dumps({"op": 3, "d": {"x": ""}}, separators=(",", ":")))
        d = {"x": "y" * (4096 - empty)}
        pump.protocol.send_command(Op.PRESENCE_UPDATE, d, now=1.0)
        [payload] = pump.drain().sent
        assert payload == {"op": 3, "d": d}
        assert len(json.dumps(payload, separators=(",", ":")).encode()) == 4096

    def test_size_is_measured_in_utf8_bytes(self) -> None:
        pump = connected([1])
        with raises_redacted(PayloadTooLarge):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, {"x": "é" * 2100}, now=1.0)


class TestCommandsWaitForTheConnection:
    """Spec 4.1: before IDENTIFY/RESUME succeeded only heartbeats may be sent (else 4003)."""

    def test_queued_before_hello_and_before_ready(self) -> None:
        pump = Pump()
        pump.protocol.send_command(Op.PRESENCE_UPDATE, PRESENCE, now=0.0)
        assert pump.drain().sent == []
        assert pump.hello().ops() == [2]  # IDENTIFY only
        out = pump.run_until(100.0, ack_after=0.1)  # READY held back: heartbeats only
        assert set(out.ops()) == {1}
        out = pump.ready([1], at=100.5)
        out += pump.run_until(100.5)  # the driver honours next_deadline()
        assert out.sent == [{"op": 3, "d": PRESENCE}]

    def test_flushed_in_order_on_resumed(self) -> None:
        old = connected([1])
        old.closed(None)
        pump = old.next_socket()
        for status in ("idle", "dnd", "online"):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, {**PRESENCE, "status": status}, now=0)
        assert pump.hello().ops() == [6]
        assert pump.send(pump.server.message_create()).sent == []  # replay: still waiting
        out = pump.send(pump.server.resumed())
        assert [p["d"]["status"] for p in out.sent] == ["idle", "dnd", "online"]

    def test_sent_at_once_when_connected(self) -> None:
        pump = connected([1])
        pump.protocol.send_command(
            Op.REQUEST_GUILD_MEMBERS, {"guild_id": "1", "query": "", "limit": 0}, now=pump.now
        )
        assert pump.drain().ops() == [8]

    @pytest.mark.parametrize("op", [Op.HEARTBEAT, Op.IDENTIFY, Op.RESUME])
    def test_protocol_owned_opcodes_are_refused(self, op: Op) -> None:
        pump = connected([1])
        with raises_redacted(InvalidState):
            pump.protocol.send_command(op, None, now=1.0)

    def test_queue_is_bounded(self) -> None:
        pump = Pump()
        for _ in range(1000):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, PRESENCE, now=0.0)
        with raises_redacted(InvalidState, match="too many"):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, PRESENCE, now=0.0)


class TestSendRateLimit:
    """Spec 6.1: at most 120 payloads per 60 s; commands get 115, heartbeats are never held."""

    def test_burst_of_commands_is_paced(self) -> None:
        pump = connected([1], seed=0)
        for i in range(300):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, {**PRESENCE, "since": i}, now=1.0)
        first = pump.drain()
        # IDENTIFY already used one slot of the window.
        assert len(first.sent) == 114
        out = pump.run_until(400.0, ack_after=0.05)
        assert out.closes == []
        commands = [p for _, p in pump.history if p["op"] == 3]
        assert [p["d"]["since"] for p in commands] == list(range(300))
        assert max_in_any_window([t for t, _ in pump.history]) <= 120
        command_times = [t for t, p in pump.history if p["op"] in (2, 3)]
        assert max_in_any_window(command_times) <= 115

    def test_heartbeats_go_out_while_commands_are_throttled(self) -> None:
        pump = connected([1], seed=0)
        for _ in range(400):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, PRESENCE, now=1.0)
        pump.drain()
        out = pump.run_until(1.0 + 3 * INTERVAL, ack_after=0.05)
        beats = [t for t, p in pump.history if p["op"] == 1]
        assert len(beats) == 3
        assert out.closes == []  # every beat was ACKed: no zombie verdict

    def test_next_deadline_waits_for_room(self) -> None:
        pump = connected([1], config=make_config(send_limit=10, send_reserved=2), seed=0)
        for _ in range(20):
            pump.protocol.send_command(Op.PRESENCE_UPDATE, PRESENCE, now=2.0)
        assert len(pump.drain().sent) == 7  # 8 command slots, IDENTIFY took one
        beat = pump.protocol.next_deadline()
        assert beat is not None
        assert beat < 60.0  # the jittered first heartbeat comes first...
        assert pump.tick(beat).ops() == [1]  # ...and is not held back by the full window
        pump.ack(at=beat + 0.1)
        # IDENTIFY leaves the window at 60 s, but the heartbeat took a slot: the first
        # command slot frees when the commands sent at 2 s leave it.
        assert pump.protocol.next_deadline() == 62.0
        assert pump.tick(61.9).sent == []
        assert pump.tick(62.0).ops() == [3] * 7

    def test_server_heartbeat_spam_cannot_push_past_the_limit(self) -> None:
        pump = connected([1], config=make_config(compress=None), seed=0)
        for i in range(200):
            pump.feed('{"op":1}', at=1.0 + i * 0.01)
        assert max_in_any_window([t for t, _ in pump.history]) <= 120

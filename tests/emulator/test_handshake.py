"""Connection handshake and IDENTIFY validation (spec 1.2, 2.5, 4.1, 6; checklist 14 B, C20)."""

from __future__ import annotations

import json

import pytest

from tether.emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig

from .rawclient import Closed, Connect, RawGateway

PROPS = {"os": "linux", "browser": "raw", "device": "raw"}


class TestQueryString:
    """Spec 1.2 / 14 B10: v must be 10, encoding json, compress known."""

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ({"v": "9"}, 4012),
            ({"v": "abc"}, 4012),
            ({"encoding": "etf"}, 4002),
            ({"compress": "lz4"}, 4002),
        ],
    )
    async def test_bad_query_closes(
        self, connect: Connect, emu: Emulator, query: dict[str, str], code: int
    ) -> None:
        client = await connect(query=query)
        assert await client.closed() == code
        record = await emu.wait_for("close_sent", code=code)
        assert record.get("session_effect") == "none"


class TestHello:
    """Spec 2.12 / 14 B11, B12: HELLO at once, heartbeats ACKed before IDENTIFY."""

    async def test_hello_first_with_all_envelope_keys(self, connect: Connect) -> None:
        client = await connect()
        hello = await client.hello()
        assert set(hello) == {"op", "d", "s", "t"}
        assert hello["s"] is None
        assert hello["t"] is None
        assert hello["d"]["heartbeat_interval"] == 1000

    async def test_heartbeat_before_identify_is_acked(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect()
        await client.hello()
        await client.send(1, None)
        ack = await client.recv()
        assert ack == {"op": 11, "d": None, "s": None, "t": None}
        record = await emu.wait_for("heartbeat")
        assert record.get("first") is True
        assert record.get("matches") is None
        assert 0 <= record.get("since_hello") < 1.0

    async def test_non_heartbeat_before_identify_is_4003(self, connect: Connect) -> None:
        client = await connect()
        await client.hello()
        await client.send(3, {"since": None, "activities": [], "status": "online", "afk": False})
        assert await client.closed() == 4003

    async def test_hello_delay_and_no_hello(self, connect: Connect, emu: Emulator) -> None:
        emu.faults.next_connection(hello_delay_s=0.2)
        client = await connect()
        await client.hello()
        connect_time = emu.log.find("connect")[-1].time
        hello_time = emu.log.find("hello")[-1].time
        assert hello_time - connect_time >= 0.2
        emu.faults.next_connection(no_hello=True)
        silent = await connect()
        await emu.wait_for("fault", name="no_hello")
        await silent.send(1, None)  # heartbeats are still answered
        assert (await silent.recv())["op"] == 11

    async def test_reconnect_instead_of_hello(self, connect: Connect, emu: Emulator) -> None:
        emu.faults.next_connection(reconnect_instead_of_hello=True)
        client = await connect()
        first = await client.recv()
        assert first["op"] == 7
        assert await client.closed() == 4000  # after config.reconnect_close_delay_s


class TestIdentifyValidation:
    """Spec 2.5 / 14 B14: every IDENTIFY rejection and its close code."""

    @pytest.mark.parametrize(
        ("d", "code"),
        [
            ({"token": "nope", "properties": PROPS, "intents": 1}, 4004),
            ({"token": DEFAULT_TOKEN, "intents": 1}, 4001),
            ({"properties": PROPS, "intents": 1}, 4001),
            ("not an object", 4001),
            ({"token": DEFAULT_TOKEN, "properties": PROPS}, 4013),
            ({"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1 << 17}, 4013),
            ({"token": DEFAULT_TOKEN, "properties": PROPS, "intents": "x"}, 4013),
            ({"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1, "shard": [2, 2]}, 4010),
            ({"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1, "shard": [0]}, 4010),
            ({"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1, "shard": [-1, 2]}, 4010),
        ],
    )
    async def test_rejections(self, connect: Connect, d: object, code: int) -> None:
        client = await connect()
        await client.hello()
        await client.send(2, d)
        assert await client.closed() == code

    async def test_privileged_not_enabled_is_4014(self, connect: Connect, emu: Emulator) -> None:
        emu.config.enabled_privileged_intents = 0
        client = await connect()
        await client.hello()
        await client.identify(intents=1 | (1 << 15))
        assert await client.closed() == 4014
        ok = await connect()
        ready = await ok.ready(intents=1 | 512)
        assert ready["s"] == 1

    async def test_too_many_guilds_is_4011(self, connect: Connect, emu: Emulator) -> None:
        emu.config.max_guilds_per_shard = 2
        client = await connect()
        await client.hello()
        await client.identify()
        assert await client.closed() == 4011
        sharded = await connect()
        ready = await sharded.ready(shard=[0, 2])
        assert len(ready["d"]["guilds"]) <= 2

    async def test_shard_count_multiple(self, connect: Connect, emu: Emulator) -> None:
        emu.config.shard_count_multiple = 4
        client = await connect()
        await client.hello()
        await client.identify(shard=[0, 3])
        assert await client.closed() == 4010

    async def test_second_identify_is_4005_and_keeps_session(
        self, connect: Connect, emu: Emulator
    ) -> None:
        client = await connect()
        ready = await client.ready()
        await client.identify()
        assert await client.closed() == 4005
        session = emu.sessions[ready["d"]["session_id"]]
        assert session.resumable

    async def test_large_threshold_is_clamped(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        await client.ready(large_threshold=10)
        assert (await emu.wait_for("identify")).get("large_threshold") == 50

    async def test_identify_budget(self, connect: Connect, emu: Emulator) -> None:
        emu.config.session_start_remaining = 1
        first = await connect()
        await first.ready()
        assert emu.config.session_start_remaining == 0
        second = await connect()
        await second.hello()
        await second.identify()
        assert await second.closed() == 4004
        assert emu.identify_count == 1

    async def test_identify_concurrency_gets_op9_and_socket_stays_open(
        self, connect: Connect, emu: Emulator
    ) -> None:
        emu.config.identify_window_s = 30
        first = await connect()
        await first.ready()
        second = await connect()
        await second.hello()
        await second.identify()
        invalid = await second.recv_until(lambda p: p["op"] == 9)
        assert invalid["d"] is False
        emu.config.identify_window_s = 0
        await second.identify()  # a fresh IDENTIFY on the same socket is accepted
        assert (await second.recv_dispatch("READY"))["s"] == 1


class TestFrameRules:
    """Spec 6.1, 6.4, 7.1 / 14 B17, B18, H52: size, JSON, opcode and rate rules."""

    async def test_bad_json_is_4002(self, connect: Connect) -> None:
        client = await connect()
        await client.hello()
        await client.ws.send_str('{"op": 1, "d": ')
        assert await client.closed() == 4002

    async def test_oversized_frame_is_4002(self, connect: Connect) -> None:
        client = await connect()
        await client.hello()
        await client.ws.send_str(json.dumps({"op": 1, "d": None, "pad": "x" * 5000}))
        assert await client.closed() == 4002

    async def test_binary_json_frames_are_accepted(self, connect: Connect) -> None:
        client = await connect()
        await client.hello()
        await client.ws.send_bytes(json.dumps({"op": 1, "d": None}).encode())
        assert (await client.recv())["op"] == 11
        await client.ws.send_bytes(b"\x83\x74\x00")  # ETF-ish garbage
        assert await client.closed() == 4002

    @pytest.mark.parametrize("op", [0, 5, 7, 9, 10, 11, 12, 99])
    async def test_forbidden_opcodes_are_4001(self, connect: Connect, op: int) -> None:
        client = await connect()
        await client.ready()
        await client.send(op, None)
        assert await client.closed() == 4001

    async def test_invalid_op8_is_4001(self, connect: Connect) -> None:
        client = await connect()
        await client.ready()
        await client.send(8, {"guild_id": "1", "limit": 0})
        assert await client.closed() == 4001

    async def test_send_rate_limit_is_4008_and_session_survives(
        self, connect: Connect, emu: Emulator
    ) -> None:
        emu.config.send_limit = 5
        client = await connect()
        ready = await client.ready()  # IDENTIFY is frame 1
        for _ in range(5):
            await client.send(1, 1)
        assert await client.closed() == 4008
        assert emu.sessions[ready["d"]["session_id"]].resumable


class TestHeartbeatTimeout:
    """Spec 3.1 rule 7 / 14 C20, H53: silence closes 4009 and ends the session."""

    @pytest.fixture
    def config(self) -> EmulatorConfig:
        return EmulatorConfig(heartbeat_interval_ms=100, identify_window_s=0)

    async def test_no_heartbeat_closes_4009(self, connect: Connect, emu: Emulator) -> None:
        client = await connect()
        ready = await client.ready()
        assert await client.closed() == 4009
        record = await emu.wait_for("close_sent", code=4009)
        assert record.get("session_effect") == "invalidated"
        assert not emu.sessions[ready["d"]["session_id"]].resumable

    async def test_custom_timeout_code(self, connect: Connect, emu: Emulator) -> None:
        emu.config.heartbeat_timeout_close_code = 4000
        client = await connect()
        ready = await client.ready()
        assert await client.closed() == 4000
        assert emu.sessions[ready["d"]["session_id"]].resumable


async def test_closed_exception_type() -> None:
    """The test client's Closed carries the code (sanity check of the harness)."""
    assert Closed(4000).code == 4000


async def test_long_close_reason_is_cut(connect: Connect) -> None:
    """RFC 6455 5.5: a close reason quoting client data still fits in a close frame."""
    client = await connect()
    await client.hello()
    await client.send(2, {"token": DEFAULT_TOKEN, "properties": {}, "intents": "é" * 300})
    with pytest.raises(Closed) as closed:
        await client.recv()
    assert closed.value.code == 4013
    assert closed.value.reason.startswith("invalid intents")
    assert len(closed.value.reason.encode()) <= 123


GARBAGE = [
    (2, {"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 2**70}),
    (2, {"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1, "shard": [True, 2]}),
    (2, {"token": DEFAULT_TOKEN, "properties": PROPS, "intents": 1, "large_threshold": "x"}),
    (2, [1, 2, 3]),
    (6, {"token": DEFAULT_TOKEN, "session_id": 5, "seq": 1}),
    (6, {"token": DEFAULT_TOKEN, "session_id": "x", "seq": -1}),
    (6, None),
    (1, {"weird": True}),
    (1, 1.5),
]
AFTER_READY = [
    (8, {"guild_id": {"a": 1}, "query": ""}),
    (8, {"guild_id": ["1", "2"], "user_ids": [{"x": 1}, None, "abc"]}),
    (8, {"guild_id": "1", "query": 5, "limit": "x"}),
    (4, {"guild_id": None, "channel_id": []}),
    (4, [1]),
    (31, {"guild_ids": "not a list"}),
    (31, {"guild_ids": [None, {}, "x"]}),
    (43, {"guild_id": {"x": 1}}),
    (3, "not an object"),
]


async def _answer_or_close(client: RawGateway, ops: tuple[int, ...]) -> int | None:
    """None once a payload with one of ``ops`` arrives, or the close code if closed first."""
    try:
        await client.recv_until(lambda p: p["op"] in ops)
    except Closed as closed:
        return closed.code
    return None


@pytest.mark.parametrize(("op", "d"), GARBAGE)
async def test_garbage_before_ready_never_breaks_the_server(
    connect: Connect, op: int, d: object
) -> None:
    """Malformed client payloads end in a close code or an answer, never an emulator error."""
    client = await connect()
    await client.hello()
    await client.send(op, d)
    await client.send(1, None)
    assert await _answer_or_close(client, (9, 11)) in (None, 4001, 4002, 4004, 4010, 4013)


@pytest.mark.parametrize(("op", "d"), AFTER_READY)
async def test_garbage_after_ready_never_breaks_the_server(
    connect: Connect, op: int, d: object
) -> None:
    """As above, for the requests only allowed after IDENTIFY."""
    client = await connect()
    await client.ready()
    await client.send(op, d)
    await client.send(1, None)
    assert await _answer_or_close(client, (11,)) in (None, 4001, 4002)

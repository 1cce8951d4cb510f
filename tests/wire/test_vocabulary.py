"""The wire vocabulary: spec 2.2 (opcodes), 5.5 (close codes), 8 (intents), 9 and 10.1
(snowflakes and shard routing)."""

from __future__ import annotations

import pytest

from tether.wire.close_codes import ABNORMAL_CLOSURE, RESUMABLE_CLIENT_CLOSE, CloseCode
from tether.wire.intents import ALL_DEFINED, PRIVILEGED, Intents
from tether.wire.opcodes import CLIENT_SENDABLE, Op
from tether.wire.snowflake import DISCORD_EPOCH_MS, snowflake_from_ms, snowflake_time_ms


class TestOpcodes:
    """Spec 2.2: the gateway opcode table and who may send what."""

    def test_values(self) -> None:
        assert {op.name: int(op) for op in Op} == {
            "DISPATCH": 0,
            "HEARTBEAT": 1,
            "IDENTIFY": 2,
            "PRESENCE_UPDATE": 3,
            "VOICE_STATE_UPDATE": 4,
            "RESUME": 6,
            "RECONNECT": 7,
            "REQUEST_GUILD_MEMBERS": 8,
            "INVALID_SESSION": 9,
            "HELLO": 10,
            "HEARTBEAT_ACK": 11,
            "REQUEST_SOUNDBOARD_SOUNDS": 31,
            "REQUEST_CHANNEL_INFO": 43,
        }

    def test_client_sendable(self) -> None:
        assert {1, 2, 3, 4, 6, 8, 31, 43} == CLIENT_SENDABLE
        for server_only in (0, 7, 9, 10, 11, 5, 12):
            assert server_only not in CLIENT_SENDABLE


class TestCloseCodes:
    """Spec 5.5: gateway close codes (there is no 4006) and the client's resume code."""

    def test_values(self) -> None:
        assert {int(c) for c in CloseCode} == {1000, 1001, *range(4000, 4006), *range(4007, 4015)}
        assert 4006 not in {int(c) for c in CloseCode}

    def test_special_codes(self) -> None:
        assert ABNORMAL_CLOSURE == 1006
        assert RESUMABLE_CLIENT_CLOSE == 4000
        assert RESUMABLE_CLIENT_CLOSE not in (1000, 1001)


class TestIntents:
    """Spec 8: bits, the privileged mask and the derived totals (checked arithmetically)."""

    def test_derived_numbers(self) -> None:
        assert ALL_DEFINED == 53608447
        assert hex(ALL_DEFINED) == "0x331ffff"
        assert PRIVILEGED == 33026
        assert int(Intents.default()) == 53575421
        assert int(Intents.all()) == ALL_DEFINED
        assert sum(int(i) for i in Intents) == ALL_DEFINED

    def test_privileged_bits(self) -> None:
        privileged = Intents.GUILD_MEMBERS | Intents.GUILD_PRESENCES | Intents.MESSAGE_CONTENT
        assert int(privileged) == PRIVILEGED
        assert not Intents.default() & privileged

    def test_documented_example(self) -> None:
        assert int(Intents.GUILDS | Intents.GUILD_MESSAGES) == 513

    @pytest.mark.parametrize("bit", [17, 18, 19, 22, 23, 26, 30])
    def test_undefined_bits(self, bit: int) -> None:
        assert not ALL_DEFINED & (1 << bit)


class TestSnowflakes:
    """Spec 10.1 (snowflake layout) and 9 (shard routing formula)."""

    def test_worked_example(self) -> None:
        assert snowflake_time_ms("175928847299117063") == 1462015105796
        assert snowflake_time_ms(175928847299117063) == 1462015105796

    def test_epoch(self) -> None:
        assert DISCORD_EPOCH_MS == 1420070400000
        assert snowflake_time_ms(0) == DISCORD_EPOCH_MS

    def test_round_trip(self) -> None:
        snowflake = snowflake_from_ms(1462015105796, increment=7)
        assert snowflake_time_ms(snowflake) == 1462015105796
        assert snowflake & 0xFFF == 7
        assert snowflake_from_ms(DISCORD_EPOCH_MS, increment=0x1FFF) == 0xFFF

    def test_shard_routing_example(self) -> None:
        assert (41771983444115456 >> 22) % 3 == 2

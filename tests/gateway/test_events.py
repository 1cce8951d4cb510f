"""The event records (gateway/events.py): frozen, slotted, keyword-only value objects that
compare by value (STYLE habit 6), as the driver hands them to handlers (spec 4.5, 3.3, 5.6)."""

from __future__ import annotations

import dataclasses

import pytest

from tether.gateway import (
    Connected,
    ConnectionEnded,
    Disconnected,
    Dispatch,
    Event,
    GuildAvailable,
    GuildUnavailable,
    HelloReceived,
    LatencyUpdated,
    Ready,
    Resumed,
    SessionLost,
)
from tether.wire.codec import Frame, decode_frame

RECORDS = [
    Connected,
    ConnectionEnded,
    Disconnected,
    Dispatch,
    GuildAvailable,
    GuildUnavailable,
    HelloReceived,
    LatencyUpdated,
    Ready,
    Resumed,
    SessionLost,
]


class TestEventRecords:
    """STYLE habit 6: events are frozen, slotted, keyword-only and compare by value."""

    @pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
    def test_frozen_slotted_keyword_only(self, cls: type[Event]) -> None:
        assert issubclass(cls, Event)
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen
        assert "__slots__" in cls.__dict__
        assert all(f.kw_only for f in dataclasses.fields(cls))

    def test_compare_by_value(self) -> None:
        assert GuildAvailable(guild_id=1) == GuildAvailable(shard_id=0, guild_id=1)
        available: Event = GuildAvailable(guild_id=1)
        assert available != GuildUnavailable(guild_id=1)
        assert Resumed(session_id="a", replayed=2) != Resumed(session_id="a", replayed=3)
        with pytest.raises(dataclasses.FrozenInstanceError):
            Resumed(session_id="a", replayed=2).replayed = 1  # type: ignore[misc]

    def test_ready_ignores_the_user_payload_in_comparisons(self) -> None:
        counts = {
            "guilds_expected": 1,
            "guilds_received": 1,
            "guilds_missing": 0,
            "guilds_unavailable": 0,
            "timed_out": False,
        }
        with_user = Ready(session_id="s", user={"id": "1"}, **counts)  # type: ignore[arg-type]
        assert with_user == Ready(session_id="s", **counts)  # type: ignore[arg-type]

    def test_dispatch_compares_by_raw_body_and_decodes_lazily(self) -> None:
        first = Dispatch(name="X", seq=3, frame=decode_frame(b'{"op":0,"t":"X","s":3,"d":{"a":1}}'))
        same = Dispatch(name="X", seq=3, frame=Frame(0, b'{"a":1}', 3, "X"))
        other = Dispatch(name="X", seq=3, frame=Frame(0, b'{"a":2}', 3, "X"))
        assert first == same
        assert hash(first) == hash(same)
        assert first != other
        assert first.data == {"a": 1}
        assert "frame" not in repr(first)

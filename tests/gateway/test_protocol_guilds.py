"""ShardProtocol and the guild stream: spec 4.3 (how the stream works) and 4.5 (the ready rule)."""

from __future__ import annotations

import pytest

from tether.gateway import Dispatch, GuildAvailable, GuildUnavailable, Ready

from .helpers import SESSION_ID, Pump, connected, make_config

GUILDS = [101, 102, 103]


def ready_event(**counts: int | bool) -> Ready:
    return Ready(shard_id=0, session_id=SESSION_ID, **counts)  # type: ignore[arg-type]


def after_ready(guild_ids: list[int], **config: object) -> Pump:
    pump = Pump(make_config(**config))
    pump.hello()
    pump.ready(guild_ids, at=1.0)
    return pump


class TestReadyRule:
    """Spec 4.5: Ready once every READY guild arrived, or after an idle gap; once per session."""

    def test_ready_after_every_guild_created(self) -> None:
        pump = after_ready(GUILDS)
        assert pump.guild_create(101, at=1.1).of(Ready) == []
        assert pump.guild_create(102, at=1.2).of(Ready) == []
        out = pump.guild_create(103, at=1.3)
        assert out.of(Ready) == [
            ready_event(
                guilds_expected=3,
                guilds_received=3,
                guilds_missing=0,
                guilds_unavailable=0,
                timed_out=False,
            )
        ]
        # Ready comes after the GUILD_CREATE that completed the stream.
        assert isinstance(out.events[0], Dispatch)
        assert isinstance(out.events[-1], Ready)
        assert out.of(Ready)[0].user["username"] == "testbot"

    def test_unavailable_and_deleted_guilds_complete_the_stream(self) -> None:
        pump = after_ready([101, 102, 103, 104])
        pump.guild_create(101)
        pump.guild_create(102, unavailable=True)  # outage variant of GUILD_CREATE
        pump.guild_delete(103, unavailable=True)  # outage reported as GUILD_DELETE
        out = pump.guild_delete(104, unavailable=None)  # removed while streaming
        assert out.of(Ready) == [
            ready_event(
                guilds_expected=4,
                guilds_received=4,
                guilds_missing=0,
                guilds_unavailable=2,
                timed_out=False,
            )
        ]
        # No GuildUnavailable for guilds that were never available in this stream.
        assert out.of(GuildUnavailable) == []

    def test_interleaved_dispatches_neither_count_nor_block(self) -> None:
        pump = after_ready([101, 102])
        pump.guild_create(101)
        out = pump.send(pump.server.message_create())
        out += pump.guild_create(999)  # a guild joined while streaming
        assert out.of(Ready) == []
        out = pump.guild_create(102)
        [ready] = out.of(Ready)
        assert (ready.guilds_expected, ready.guilds_received) == (2, 2)

    def test_idle_gap_fires_ready_with_missing_guilds(self) -> None:
        pump = after_ready(GUILDS)
        pump.guild_create(101, at=3.0)
        assert pump.tick(12.999).of(Ready) == []
        assert pump.protocol.next_deadline() == pytest.approx(13.0)
        out = pump.tick(13.0)
        assert out.of(Ready) == [
            ready_event(
                guilds_expected=3,
                guilds_received=1,
                guilds_missing=2,
                guilds_unavailable=2,
                timed_out=True,
            )
        ]

    def test_idle_gap_is_reset_only_by_guild_stream_events(self) -> None:
        pump = after_ready(GUILDS, guild_ready_timeout=5.0)  # READY at 1.0
        pump.guild_create(101, at=4.0)
        pump.send(pump.server.message_create(), at=8.0)  # not a guild-stream event
        pump.guild_create(555, at=8.5)  # not a pending id
        out = pump.run_until(9.0, ack_after=0.1)
        [ready] = out.of(Ready)
        assert ready.timed_out
        assert ready.guilds_missing == 2

    def test_idle_gap_as_a_driver(self) -> None:
        pump = after_ready(GUILDS)
        for i, guild in enumerate(GUILDS[:2]):
            pump.schedule(1.0 + 8.0 * (i + 1), pump.server.guild_create(guild))
        out = pump.run_until(100.0, ack_after=0.1)
        [ready] = out.of(Ready)
        assert ready.guilds_missing == 1
        assert [t for t, p in pump.history if p["op"] == 1]  # heartbeats kept going
        ready_at = [e for e in out.events if isinstance(e, (Ready, Dispatch))]
        assert isinstance(ready_at[-1], Ready)

    def test_ready_exactly_once(self) -> None:
        pump = after_ready([101])
        assert len(pump.guild_create(101).of(Ready)) == 1
        out = pump.guild_create(101)
        out += pump.guild_create(102)
        out += pump.run_until(600.0, ack_after=0.1)
        assert out.of(Ready) == []

    def test_late_guild_after_timeout_is_announced_available(self) -> None:
        pump = after_ready([101, 102])
        pump.guild_create(101, at=2.0)
        pump.tick(12.0)
        out = pump.guild_create(102, at=40.0)
        assert out.of(GuildAvailable) == [GuildAvailable(shard_id=0, guild_id=102)]

    @pytest.mark.parametrize(
        ("guilds", "timeout"),
        [
            pytest.param([], 10.0, id="no-guilds"),
            pytest.param([101, 102], 0.0, id="timeout-0"),
        ],
    )
    def test_ready_right_after_ready_when_nothing_is_pending(
        self, guilds: list[int], timeout: float
    ) -> None:
        # Spec 4.5: "pending is empty" -> ready; and "0 means ready straight after READY".
        # A driver that honours next_deadline() must see Ready without time passing.
        pump = Pump(make_config(guild_ready_timeout=timeout))
        pump.hello()
        out = pump.ready(guilds, at=1.0)
        out += pump.run_until(1.0)
        assert out.of(Ready) == [
            ready_event(
                guilds_expected=len(guilds),
                guilds_received=0,
                guilds_missing=len(guilds),
                guilds_unavailable=len(guilds),
                timed_out=bool(guilds),
            )
        ]
        assert out.sent == []


class TestGuildAvailability:
    """Spec 4.3: outages, recoveries, mid-session GUILD_DELETE, joins and removals."""

    def test_guild_recovering_after_ready_is_available(self) -> None:
        pump = after_ready([101, 102])
        pump.guild_create(101)
        assert len(pump.guild_create(102, unavailable=True).of(Ready)) == 1
        out = pump.guild_create(102, at=300.0)
        assert out.of(GuildAvailable) == [GuildAvailable(shard_id=0, guild_id=102)]
        assert [e.name for e in out.of(Dispatch)] == ["GUILD_CREATE"]

    def test_guild_deleted_unavailable_during_the_stream_then_recovering(self) -> None:
        pump = after_ready([101, 102])
        pump.guild_create(101)
        pump.guild_delete(102, unavailable=True)
        assert pump.guild_create(102).of(GuildAvailable) == [
            GuildAvailable(shard_id=0, guild_id=102)
        ]

    def test_mid_session_outage_and_recovery(self) -> None:
        pump = connected([101, 102])
        out = pump.guild_delete(102, unavailable=True, at=50.0)
        assert out.of(GuildUnavailable) == [GuildUnavailable(shard_id=0, guild_id=102)]
        assert [e.name for e in out.of(Dispatch)] == ["GUILD_DELETE"]
        assert pump.guild_delete(102, unavailable=True).of(GuildUnavailable) == []
        out = pump.guild_create(102, at=60.0)
        assert out.of(GuildAvailable) == [GuildAvailable(shard_id=0, guild_id=102)]

    def test_removed_from_a_guild_is_not_an_outage(self) -> None:
        pump = connected([101])
        out = pump.guild_delete(101, unavailable=None)
        assert out.of(GuildUnavailable) == []
        assert out.of(GuildAvailable) == []
        assert [e.name for e in out.of(Dispatch)] == ["GUILD_DELETE"]

    def test_joined_guild_is_not_a_recovery(self) -> None:
        pump = connected([101])
        out = pump.guild_create(777)
        assert out.of(GuildAvailable) == []
        assert [e.name for e in out.of(Dispatch)] == ["GUILD_CREATE"]

    def test_guild_event_without_usable_id_is_delivered_not_fatal(self) -> None:
        pump = connected([101])
        out = pump.send(pump.server.dispatch("GUILD_CREATE", {"name": "no id"}))
        out += pump.send(pump.server.dispatch("GUILD_DELETE", {"id": "not-a-number"}))
        out += pump.send(pump.server.dispatch("GUILD_CREATE", ["a", "list"]))
        assert out.closes == []
        assert [e.name for e in out.of(Dispatch)] == [
            "GUILD_CREATE",
            "GUILD_DELETE",
            "GUILD_CREATE",
        ]

"""Every fault of spec section 14 (B, C, D, E, G, H, I) against the real client.

Across every resumable fault, each message reaches the handler exactly once and in order;
re-identifying faults are reported as ``SessionLost``; fatal closes stop the client with a
typed error and no retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

import tether
from tether.emulator import Emulator
from tether.gateway.protocol import POISON_REPEATS

from .conftest import HEARTBEAT_MS, Recorder, send_messages


async def ready_client(
    make_client: Callable[..., Any], **kwargs: Any
) -> tuple[tether.Client, Recorder]:
    client, rec = make_client(**kwargs)
    await client.start()
    await client.wait_until_ready(timeout=10)
    return client, rec


async def resumed_after(rec: Recorder, count: int) -> None:
    await rec.wait(lambda: len(rec.of(tether.Resumed)) >= count)


# Each resumable fault: (name, callable injecting it).
RESUMABLE: dict[str, Callable[[Emulator], Any]] = {
    "close_4000": lambda emu: emu.faults.close(4000),
    "close_4001": lambda emu: emu.faults.close(4001),
    "close_4002": lambda emu: emu.faults.close(4002),
    "close_4005": lambda emu: emu.faults.close(4005),
    "close_4008": lambda emu: emu.faults.close(4008),
    "close_4006_unknown": lambda emu: emu.faults.close(4006),
    "close_1000_by_server": lambda emu: emu.faults.close(1000, keep_session=True),
    "close_1001_by_server": lambda emu: emu.faults.close(1001, keep_session=True),
    "tcp_drop": lambda emu: emu.faults.drop(),
    "op7_reconnect": lambda emu: emu.faults.reconnect(),
    "op7_reconnect_never_closed": lambda emu: emu.faults.reconnect(close_after_s=None),
    "op9_resumable": lambda emu: emu.faults.invalid_session(True),
    "black_hole_zombie": lambda emu: emu.faults.black_hole(),
    "acks_stop_while_dispatching": lambda emu: emu.faults.drop_acks(),
    "corrupt_zlib": lambda emu: emu.faults.corrupt_zlib(),
    "malformed_json": lambda emu: emu.faults.malformed_frame(),
}


@pytest.mark.parametrize("fault", sorted(RESUMABLE))
async def test_resumable_fault_loses_and_doubles_nothing(
    emu: Emulator, make_client: Callable[..., Any], fault: str
) -> None:
    client, rec = await ready_client(make_client)
    before = await send_messages(emu, 20)
    await rec.wait(lambda: rec.message_ids == before)
    RESUMABLE[fault](emu)
    during = await send_messages(emu, 20, start=20)  # sent while the fault unfolds
    await resumed_after(rec, 1)
    after = await send_messages(emu, 20, start=40)
    await rec.wait(lambda: len(rec.message_ids) >= 60)
    assert rec.message_ids == before + during + after  # each once, in order
    assert emu.identify_count == 1  # never re-identified
    assert emu.resume_count >= 1
    assert len(rec.of(tether.Ready)) == 1  # Ready never fires again on a resume
    assert rec.of(tether.SessionLost) == []
    [disconnected, *_] = rec.of(tether.Disconnected)
    assert disconnected.will_reconnect and disconnected.resumable
    assert client.state is tether.ShardState.READY
    # The resume used the resume URL the emulator gave in READY.
    resume = emu.log.find("resume")[0]
    assert resume.get("path") == "/resume"


REIDENTIFY: dict[str, Callable[[Emulator], Any]] = {
    "close_4003": lambda emu: emu.faults.close(4003),
    "close_4007": lambda emu: emu.faults.close(4007),
    "close_4009": lambda emu: emu.faults.close(4009),
    "op9_not_resumable": lambda emu: emu.faults.invalid_session(False),
    "session_expired_then_drop": lambda emu: (
        emu.faults.expire_session(include_active=True),
        emu.faults.drop(),
    ),
}


@pytest.mark.parametrize("fault", sorted(REIDENTIFY))
async def test_reidentify_fault_reports_the_gap(
    emu: Emulator, make_client: Callable[..., Any], fault: str
) -> None:
    client, rec = await ready_client(make_client, guild_ready_timeout=1.0)
    before = await send_messages(emu, 5)
    await rec.wait(lambda: rec.message_ids == before)
    old_session = client.shards[0].session_id
    REIDENTIFY[fault](emu)
    await rec.wait(lambda: len(rec.of(tether.Ready)) >= 2, timeout=15)
    [lost] = rec.of(tether.SessionLost)
    assert lost.old_session_id == old_session
    assert lost.last_seq >= 5 and lost.since <= lost.until
    assert emu.identify_count == 2
    assert client.shards[0].session_id != old_session
    after = await send_messages(emu, 5, start=5)
    await rec.wait(lambda: rec.message_ids[-5:] == after)
    assert len(rec.message_ids) == len(set(rec.message_ids))


async def test_invalid_session_false_waits_a_random_1_to_5_seconds(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    import random

    waits = []
    for seed in (3, 4):
        client, rec = await ready_client(make_client, rng=random.Random(seed))
        mark = emu.log.mark()
        emu.faults.invalid_session(False)
        sent = await emu.log.wait_for("frame_out", op=9, since=mark)
        identify = await emu.log.wait_for("identify", since=sent.index, timeout=10)
        waits.append(identify.time - sent.time)
        await client.wait_until_ready(timeout=10)
        await client.stop()
    assert all(1.0 <= w <= 5.5 for w in waits), waits
    assert abs(waits[0] - waits[1]) > 0.05, waits  # random, never a fixed 5 s


@pytest.mark.parametrize("code", [4004, 4010, 4011, 4012, 4013, 4014])
async def test_fatal_close_stops_with_a_typed_error_and_no_retry(
    emu: Emulator, make_client: Callable[..., Any], code: int
) -> None:
    client, rec = await ready_client(make_client)
    emu.faults.close(code)
    with pytest.raises(tether.FatalCloseError) as info:
        await client.wait_stopped()
    assert info.value.code == code
    assert client.state is tether.ShardState.FATALLY_CLOSED
    assert client.shards[0].error is info.value
    await rec.wait(lambda: rec.of(tether.Disconnected) != [])
    [disconnected] = rec.of(tether.Disconnected)
    assert disconnected.code == code and not disconnected.will_reconnect
    connects = emu.log.count("connect")
    with pytest.raises(tether.FatalCloseError):
        await client.wait_until_ready(timeout=1)
    assert emu.log.count("connect") == connects == 1  # no retry loop


async def test_bad_token_is_fatal_and_never_retried(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, _rec = make_client(token="bad.token.value", gateway_url=emu.gateway_url)
    await client.start()
    with pytest.raises(tether.AuthenticationFailed):
        await client.wait_until_ready(timeout=10)
    assert emu.log.count("connect") == 1
    assert emu.identify_count == 0


async def test_bad_token_on_rest_bootstrap_is_fatal(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, _rec = make_client(token="bad.token.value")
    await client.start()
    with pytest.raises(tether.AuthenticationFailed):
        await client.wait_until_ready(timeout=10)
    assert emu.log.count("connect") == 0


async def test_zombie_detected_within_an_interval_plus_the_ack_deadline(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = await ready_client(make_client)
    mark = emu.log.mark()
    emu.faults.black_hole()
    fault = await emu.log.wait_for("fault", since=mark)
    await resumed_after(rec, 1)
    [disconnected] = rec.of(tether.Disconnected)
    assert "zombie" in disconnected.reason
    resume = emu.log.find("resume", since=mark)[0]
    interval = HEARTBEAT_MS / 1000
    # Silence starts at the fault; the next heartbeat is at most one interval later and its ACK
    # deadline min(interval, 5 s) after that; closing and reconnecting add a little.
    assert resume.time - fault.time < 2 * interval + 1.5


async def test_first_resume_after_a_drop_starts_at_once(
    emu: Emulator, make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The first reconnect after a working connection has no backoff wait: the shard logs
    every wait it makes ("reconnecting in ... s"), and none comes before the resume."""
    caplog.set_level(logging.INFO, logger="tether.runtime")
    client, rec = await ready_client(make_client, stable_after=0.0)
    mark = emu.log.mark()
    emu.faults.drop()
    await emu.log.wait_for("drop", since=mark)
    await emu.log.wait_for("connect", since=mark)
    await resumed_after(rec, 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "tether.runtime"]
    resumed_at = next(i for i, line in enumerate(lines) if "resumed;" in line)
    assert not [line for line in lines[:resumed_at] if "reconnecting in" in line]


async def test_server_requested_heartbeat_is_answered_at_once(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = await ready_client(make_client)
    mark = emu.log.mark()
    emu.faults.request_heartbeat()
    beat = await emu.log.wait_for("heartbeat", since=mark)
    assert beat.get("matches") is True
    assert beat.get("requested_latency") is not None and beat.get("requested_latency") < 0.2
    assert rec.of(tether.Disconnected) == []


async def test_heartbeats_carry_the_last_seq_and_the_first_is_jittered(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = await ready_client(make_client)
    await send_messages(emu, 3)
    mark = emu.log.mark()
    await emu.log.wait_for("heartbeat", since=mark, timeout=3)
    beats = emu.log.find("heartbeat")
    assert all(b.get("matches") for b in beats)
    first = beats[0]
    assert 0 < first.get("since_hello") < HEARTBEAT_MS / 1000 + 0.1


async def test_no_hello_gives_a_new_socket_after_the_hello_timeout(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    emu.faults.next_connection(no_hello=True)
    client, rec = make_client(hello_timeout=0.5)
    await client.start()
    await client.wait_until_ready(timeout=10)
    assert emu.log.count("connect") == 2
    [disconnected] = rec.of(tether.Disconnected)
    assert "HELLO" in disconnected.reason


async def test_op7_instead_of_hello_and_a_delayed_hello(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    emu.faults.next_connection(reconnect_instead_of_hello=True)
    emu.faults.next_connection(hello_delay_s=0.3)
    client, _rec = make_client()
    await client.start()
    await client.wait_until_ready(timeout=10)
    assert emu.identify_count == 1


async def test_delayed_ready_keeps_heartbeating(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    emu.faults.next_connection(ready_delay_s=3 * HEARTBEAT_MS / 1000)
    client, rec = make_client()
    await client.start()
    await client.wait_until_ready(timeout=10)
    assert rec.of(tether.Disconnected) == []
    assert emu.log.count("heartbeat") >= 2


async def test_harmless_oddities_are_ignored_or_delivered(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = await ready_client(make_client)
    unknown: list[tether.Dispatch] = []
    client.on("SOMETHING_NEW")(unknown.append)
    emu.faults.unknown_opcode(99)
    emu.faults.unknown_fields(True)
    await emu.dispatch("SOMETHING_NEW", {"x": 1})
    ids = await send_messages(emu, 5)
    await rec.wait(lambda: rec.message_ids == ids)
    assert [e.data for e in unknown] == [{"x": 1}]
    assert rec.of(tether.Disconnected) == []


async def test_oversized_and_split_payloads_arrive_whole(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    client, rec = await ready_client(make_client)
    emu.faults.split_next(parts=5)
    emu.faults.oversized(size=2 * 1024 * 1024)
    ids = await send_messages(emu, 5)
    await rec.wait(lambda: rec.message_ids == ids)
    assert rec.of(tether.Disconnected) == []


@pytest.mark.parametrize("compress", ["zlib-stream", None])
async def test_unreadable_payload_replayed_on_every_resume_ends_the_session(
    emu: Emulator, make_client: Callable[..., Any], compress: str | None
) -> None:
    """A dispatch over the client's ``max_payload`` comes back on every RESUME: after
    ``POISON_REPEATS`` tries at the same seq the client identifies anew and reports the gap,
    instead of reconnecting forever."""
    client, rec = await ready_client(make_client, max_payload=100_000, compress=compress)
    before = await send_messages(emu, 2)
    await rec.wait(lambda: rec.message_ids == before)
    emu.faults.oversized(size=200_000)
    await rec.wait(lambda: len(rec.of(tether.Ready)) == 2)
    [lost] = rec.of(tether.SessionLost)
    assert "too large" in lost.reason and f"{POISON_REPEATS} times in a row" in lost.reason
    assert emu.identify_count == 2
    assert emu.resume_count == POISON_REPEATS - 1
    after = await send_messages(emu, 3)
    await rec.wait(lambda: rec.message_ids == before + after)


async def test_guild_outage_and_recovery(emu: Emulator, make_client: Callable[..., Any]) -> None:
    gid = emu.world.guild_ids()[0]
    emu.faults.guild_outage(gid)
    client, rec = await ready_client(make_client)
    [ready] = rec.of(tether.Ready)
    assert ready.guilds_received == 3 and ready.guilds_unavailable == 1
    emu.faults.guild_recover(gid)
    await rec.wait(lambda: rec.of(tether.GuildAvailable) != [])
    assert rec.of(tether.GuildAvailable)[0].guild_id == gid
    emu.faults.guild_outage(gid, now=True)
    await rec.wait(lambda: rec.of(tether.GuildUnavailable) != [])


async def test_guilds_never_streamed_make_ready_wait_for_the_timeout(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    emu.faults.never_stream(emu.world.guild_ids()[1])
    client, rec = await ready_client(make_client, guild_ready_timeout=0.5)
    [ready] = rec.of(tether.Ready)
    assert ready.timed_out and ready.guilds_missing == 1 and ready.guilds_received == 2


async def test_thousands_of_messages_while_faults_fire(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    """3000 messages stream while nine resumable faults fire: each once, in order."""
    client, rec = await ready_client(make_client)
    faults = [
        lambda: emu.faults.close(4000),
        lambda: emu.faults.drop(),
        lambda: emu.faults.reconnect(),
        lambda: emu.faults.invalid_session(True),
        lambda: emu.faults.corrupt_zlib(),
        lambda: emu.faults.close(4008),
        lambda: emu.faults.black_hole(),
        lambda: emu.faults.close(4001),
        lambda: emu.faults.malformed_frame(),
    ]
    channel = emu.world.text_channel_ids()[0]
    sent: list[int] = []

    async def stream() -> None:
        for n in range(3000):
            sent.append(int((await emu.send_message(channel, f"m{n}"))["id"]))
            if n % 5 == 0:
                await asyncio.sleep(0)  # let sockets move: the stream runs *while* faults fire

    async def inject() -> None:
        for i, fault in enumerate(faults):
            await rec.wait(lambda i=i: len(rec.message_ids) >= 250 * (i + 1), timeout=30)
            fault()
            await resumed_after(rec, i + 1)

    await asyncio.gather(stream(), inject())
    await rec.wait(lambda: len(rec.message_ids) >= len(sent), timeout=30)
    assert rec.message_ids == sent
    assert emu.identify_count == 1
    assert len(rec.of(tether.Resumed)) == len(faults)
    assert rec.of(tether.SessionLost) == []


async def test_a_large_payload_in_flight_is_not_mistaken_for_a_zombie(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    """The ACK of a heartbeat sent while a big payload trickles in arrives after the payload.

    The ACK deadline (0.1 s here) passes mid-payload; bytes are still arriving, so the
    client waits (up to one heartbeat interval) instead of declaring a zombie.
    """
    import secrets

    emu.config.heartbeat_interval_ms = 2000
    client, rec = await ready_client(make_client, ack_timeout=0.1)
    blob = secrets.token_hex(200_000)  # incompressible enough: ~200 KB on the wire
    emu.faults.trickle_next(chunk_bytes=4096, interval_s=0.01, payloads=2)  # ~0.5 s
    mark = emu.log.mark()
    emu.faults.request_heartbeat()
    await emu.dispatch("BIG_PAYLOAD", {"blob": blob})
    big = await client.wait_for("BIG_PAYLOAD", timeout=10)
    assert big.data["blob"] == blob
    beat = await emu.log.wait_for("heartbeat", since=mark)
    ack = await emu.log.wait_for("frame_out", op=11, since=beat.index)
    assert ack.time - beat.time > 0.1  # the ACK really was held behind the payload
    await rec.wait(lambda: any(e.latency > 0.1 for e in rec.of(tether.LatencyUpdated)))
    assert rec.of(tether.Disconnected) == []


async def test_heartbeats_start_when_hello_arrives_late(
    emu: Emulator, make_client: Callable[..., Any]
) -> None:
    """The heartbeat timer, already waiting for HELLO, is woken by it (no 4009 from the server)."""
    emu.faults.next_connection(hello_delay_s=0.3)
    client, rec = await ready_client(make_client)
    hello = emu.log.find("hello")[0]
    beat = await emu.log.wait_for("heartbeat", timeout=3)
    # within the server's grace (interval x 1.5): a beat later than that is what 4009 punishes
    assert beat.time - hello.time <= HEARTBEAT_MS / 1000 * 1.5
    mark = emu.log.mark()
    for _ in range(3):
        await emu.log.wait_for("heartbeat", since=emu.log.mark(), timeout=3)
    assert emu.log.count("close_sent", since=mark) == 0
    assert rec.of(tether.Disconnected) == []

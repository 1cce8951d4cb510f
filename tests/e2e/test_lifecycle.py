"""Start, Ready, stop: the client's lifecycle against the emulator (spec 1.4, 4.5, 13.2)."""

from __future__ import annotations

import asyncio

import pytest

import tether
from tether.emulator import Emulator

from .conftest import send_messages


def tether_tasks() -> list[object]:
    """Tasks and threads of tether still alive (tether names all of them 'tether ...')."""
    import threading

    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("tether") and not t.done()]
    threads = [t for t in threading.enumerate() if t.name.startswith("tether") and t.is_alive()]
    return [*tasks, *threads]


async def test_start_returns_before_any_socket_and_ready_follows_the_guild_stream(
    emu: Emulator, make_client
) -> None:
    client, rec = make_client()
    before = emu.log.mark()
    await client.start()
    # start() only signalled the manager: the server has not seen a connection yet.
    assert emu.log.count("connect", since=before) == 0
    assert client.state is tether.ShardState.CONNECTING
    await client.wait_until_ready(timeout=10)
    assert client.state is tether.ShardState.READY
    [ready] = rec.of(tether.Ready)
    assert ready.guilds_expected == len(emu.world.guild_ids()) == 3
    assert ready.guilds_received == 3 and ready.guilds_missing == 0 and not ready.timed_out
    [connected] = rec.of(tether.Connected)
    assert not connected.resumed
    assert rec.events.index(connected) < rec.events.index(ready)
    # the guild stream arrived before Ready: every GUILD_CREATE was handed out first
    assert emu.identify_count == 1


async def test_stop_returns_after_the_server_saw_the_close_and_leaves_no_task(
    emu: Emulator, make_client
) -> None:
    client, _rec = make_client()
    await client.start()
    await client.wait_until_ready(timeout=10)
    mark = emu.log.mark()
    await client.stop()
    closes = emu.log.find("close_received", since=mark)
    assert [r.get("code") for r in closes] == [1000]
    assert client.state is tether.ShardState.STOPPED
    assert tether_tasks() == []


async def test_stop_resumable_keeps_the_session_and_a_restart_resumes(
    emu: Emulator, make_client
) -> None:
    client, rec = make_client()
    await client.start()
    await client.wait_until_ready(timeout=10)
    mark = emu.log.mark()
    await client.stop(resumable=True)
    assert [r.get("code") for r in emu.log.find("close_received", since=mark)] == [4000]
    ids = await send_messages(emu, 5)  # dispatched while the bot is down
    await client.start()
    await client.wait_until_ready(timeout=10)
    await rec.wait(lambda: rec.message_ids[-5:] == ids)
    assert emu.identify_count == 1 and emu.resume_count == 1
    assert len(rec.of(tether.Ready)) == 1
    assert tether_tasks() != []  # running again
    await client.stop()
    assert tether_tasks() == []


async def test_messages_reach_handlers_in_order_with_their_payload(
    emu: Emulator, make_client
) -> None:
    client, rec = make_client(intents=tether.Intents.default() | tether.Intents.MESSAGE_CONTENT)
    await client.start()
    await client.wait_until_ready(timeout=10)
    ids = await send_messages(emu, 50)
    await rec.wait(lambda: len(rec.message_ids) >= 50)
    assert rec.message_ids == ids
    event = await asyncio.wait_for(_next_message(client, emu), 5)
    assert event.data["content"] == "hello there"
    assert event.shard_id == 0 and isinstance(event.seq, int)


async def _next_message(client: tether.Client, emu: Emulator) -> tether.Dispatch:
    waiter = asyncio.ensure_future(client.wait_for("MESSAGE_CREATE", timeout=5))
    await asyncio.sleep(0)
    await emu.send_message(emu.world.text_channel_ids()[0], "hello there")
    return await waiter


async def test_wait_until_ready_times_out_clearly_when_nothing_answers(make_client) -> None:
    client, _rec = make_client(gateway_url="ws://127.0.0.1:9/", connect_timeout=0.5)
    await client.start()
    with pytest.raises(TimeoutError):
        await client.wait_until_ready(timeout=0.5)
    status = client.shards[0]
    assert status.state in (tether.ShardState.BACKOFF, tether.ShardState.CONNECTING)


async def test_config_errors_are_raised_before_any_io() -> None:
    with pytest.raises(tether.ConfigError):
        tether.Client("")
    with pytest.raises(tether.ConfigError):
        tether.Client("x", intents=1 << 30)
    with pytest.raises(tether.ConfigError):
        tether.Client("x", gateway_url="ws://example.com/")  # plain ws only for loopback
    with pytest.raises(tether.ConfigError):
        tether.Client("x", api_url="http://example.com/api/v10")
    with pytest.raises(tether.ConfigError):
        tether.Client("x", shards=0)


async def test_a_new_client_resumes_a_saved_session(emu: Emulator, make_client) -> None:
    """A restarted process given the saved snapshot RESUMEs; the emulator replays the gap."""
    from tether.gateway.session import SessionSnapshot

    first, first_rec = make_client()
    await first.start()
    await first.wait_until_ready(timeout=10)
    seen = await send_messages(emu, 3)
    await first_rec.wait(lambda: first_rec.message_ids == seen)
    await first.stop(resumable=True)
    saved = {sid: snap.to_dict() for sid, snap in first.session_snapshots().items()}
    assert emu.token not in repr(saved)
    missed = await send_messages(emu, 4, start=3)
    second, rec = make_client(
        resume={int(k): SessionSnapshot.from_dict(v) for k, v in saved.items()}
    )
    await second.start()
    await second.wait_until_ready(timeout=10)
    await rec.wait(lambda: rec.message_ids == missed)
    assert emu.identify_count == 1 and emu.resume_count == 1
    [resumed] = rec.of(tether.Resumed)
    assert resumed.replayed == 4
    assert rec.of(tether.Ready) == []  # the session's Ready happened in the first process


async def test_stop_is_prompt_while_waiting_to_reidentify(emu: Emulator, make_client) -> None:
    """stop() does not wait out the op 9 wait nor the identify pacing (5 s on Discord)."""
    client, _rec = make_client(identify_window=30.0)
    await client.start()
    await client.wait_until_ready(timeout=10)
    emu.faults.invalid_session(False)  # the next IDENTIFY must wait 30 s for its slot
    await emu.log.wait_for("close_received", timeout=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.stop(timeout=20)
    assert loop.time() - started < 5
    assert tether_tasks() == []

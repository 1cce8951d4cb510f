"""discord.py and hikari, unmodified but for their base URL, against the emulator.

The contract (ARCHITECTURE.md, "The emulator's contract"): libraries we did not write
connect, reach their ready signal with the world's guilds, receive dispatched messages and
resume after a server close 4000. When one of them fails here, the emulator is wrong.

Every test ends with ``stop_cleanly``: the peer closes with its own code (hikari 1001;
discord.py 4000, see ``DiscordPyBot.shutdown_code``), the emulator settles the session by
that code, and no task, thread, aiohttp session, loop error or peer warning is left over.
"""

from __future__ import annotations

import pytest

from tether.emulator import Emulator, SessionState

from .harness import RESUME_TIMEOUT, STEP, PeerBot, Seen

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning", "error::RuntimeWarning")


async def test_ready_with_the_world_guilds(peer: PeerBot, emu: Emulator) -> None:
    """The peer identifies once on the base URL and its ready signal holds every guild."""
    await peer.start()
    guilds = await peer.wait_ready()

    world = emu.world
    assert len(guilds) == len(world.guild_ids()) == 3
    assert guilds == {gid: world.guild(gid).name for gid in world.guild_ids()}
    assert peer.ready_count == 1
    connect = emu.log.find("connect")[0]
    assert connect.get("path") == "/"
    assert connect.get("query", {}).get("v") == "10"
    assert connect.get("query", {}).get("encoding") == "json"
    identify = emu.log.find("identify")
    assert [r.get("path") for r in identify] == ["/"]
    # hikari sends JSON in binary frames; Discord accepts that, so must the emulator.
    assert [r.get("binary") for r in emu.log.find("frame_in", op=2)] == [peer.sends_binary]
    assert peer.ready_session().get("guilds") == 3
    await peer.stop_cleanly()


async def test_receives_dispatched_messages(peer: PeerBot, emu: Emulator) -> None:
    """One message per guild reaches the peer's handler with its id, channel, guild, author."""
    await peer.start()
    await peer.wait_ready()

    sent = [
        await emu.send_message(emu.world.text_channel_ids(gid)[0], f"hello guild {n}")
        for n, gid in enumerate(emu.world.guild_ids())
    ]
    await peer.wait(lambda: len(peer.messages) >= len(sent), f"{len(sent)} messages")

    assert peer.messages == [Seen.from_emulator(m) for m in sent]
    await peer.stop_cleanly()


async def test_resumes_after_server_close_4000(peer: PeerBot, emu: Emulator) -> None:
    """After close 4000 the peer RESUMEs on the resume URL: no second IDENTIFY, no second
    ready, the message sent while it was away is replayed, and live traffic goes on."""
    await peer.start()
    await peer.wait_ready()
    channel = emu.world.text_channel_ids()[0]
    before = await emu.send_message(channel, "before the close")
    await peer.wait_for_content("before the close")
    session_id = peer.ready_session().session_id
    assert session_id is not None
    last_seq = emu.sessions[session_id].seq
    mark = emu.log.mark()

    assert emu.faults.close(4000) == 1
    assert emu.sessions[session_id].state is SessionState.DETACHED
    away = await emu.send_message(channel, "sent while disconnected")
    await peer.wait(lambda: peer.resumed_count == 1, "resume signal", RESUME_TIMEOUT)
    after = await emu.send_message(channel, "sent after the resume")
    await peer.wait_for_content("sent after the resume")

    resumes = emu.log.find("resume", since=mark)
    assert len(resumes) == 1, resumes
    resume = resumes[0]
    assert resume.session_id == session_id
    assert resume.get("path") == "/resume"
    assert resume.get("seq") == last_seq
    assert resume.get("replayed") == 1
    assert not emu.log.find("resume_rejected")
    assert emu.identify_count == 1
    assert len(emu.log.find("identify")) == 1
    assert peer.ready_count == 1
    assert peer.messages == [Seen.from_emulator(m) for m in (before, away, after)]
    # The seq carried over the resume is the one the peer heartbeats with.
    await emu.wait_for("heartbeat", conn_id=resume.conn_id, matches=True, timeout=STEP)
    await peer.stop_cleanly()


@pytest.mark.parametrize("fault", ["reconnect", "drop"])
async def test_resumes_after_op7_or_tcp_drop(peer: PeerBot, emu: Emulator, fault: str) -> None:
    """Op 7 Reconnect and an abrupt TCP drop also end in a RESUME on the resume URL, and a
    message sent at that moment arrives exactly once."""
    if fault == "drop" and peer.name == "hikari":
        # hikari reports a dropped socket as a warning before it resumes.
        peer.hygiene.allow("hikari.gateway", "Socket has closed")
    await peer.start()
    await peer.wait_ready()
    channel = emu.world.text_channel_ids()[0]
    mark = emu.log.mark()

    assert getattr(emu.faults, fault)() == 1
    during = await emu.send_message(channel, f"sent during the {fault}")
    await peer.wait(lambda: peer.resumed_count == 1, "resume signal", RESUME_TIMEOUT)
    after = await emu.send_message(channel, "sent after the resume")
    await peer.wait_for_content("sent after the resume")

    resumes = emu.log.find("resume", since=mark)
    assert [r.get("path") for r in resumes] == ["/resume"]
    assert emu.identify_count == 1
    assert peer.ready_count == 1
    assert peer.messages == [Seen.from_emulator(m) for m in (during, after)]
    await peer.stop_cleanly()


async def test_replies_to_ping_over_rest(peer: PeerBot, emu: Emulator) -> None:
    """The peer answers "!ping" with "pong" through its own REST client: the emulator
    accepts the POST, answers with the message, and dispatches it back as MESSAGE_CREATE."""
    peer.reply_to_ping = True
    await peer.start()
    await peer.wait_ready()
    channel = emu.world.text_channel_ids()[0]

    ping = await emu.send_message(channel, "!ping")
    await peer.wait(lambda: len(peer.replies) == 1, "REST reply")
    echoed = await peer.wait_for_content("pong")

    reply = peer.replies[0]
    assert reply.content == "pong"
    assert reply.channel_id == channel
    assert reply.author_id == emu.world.bot.id
    assert echoed.without_guild() == reply
    assert echoed.guild_id == int(ping["guild_id"])
    recorded = emu.world.channel(channel)
    assert recorded is not None
    assert recorded.last_message_id == reply.id
    posts = [r for r in emu.log.find("rest") if r.get("method") == "POST"]
    assert [(r.get("path"), r.get("status")) for r in posts] == [
        (f"/api/v10/channels/{channel}/messages", 200)
    ]
    assert peer.contents() == ["!ping", "pong"]
    await peer.stop_cleanly()


async def test_fetches_its_application_over_rest(peer: PeerBot, emu: Emulator) -> None:
    """GET /oauth2/applications/@me parses in the peer's own model of an application."""
    await peer.start()
    await peer.wait_ready()

    assert await peer.fetch_application() == (emu.world.application_id, emu.world.bot.username)
    gets = [r for r in emu.log.find("rest") if r.get("path") == "/api/v10/oauth2/applications/@me"]
    assert gets
    assert {r.get("status") for r in gets} == {200}
    await peer.stop_cleanly()


async def test_fetches_users_and_pages_through_history(peer: PeerBot, emu: Emulator) -> None:
    """GET /users/{id} and GET /channels/{id}/messages, paged by the peer (over 100)."""
    await peer.start()
    await peer.wait_ready()
    guild = emu.world.guild(emu.world.guild_ids()[0])
    user = guild.members[next(iter(guild.members))].user
    assert await peer.fetch_user(user.id) == (user.id, user.username)
    channel = emu.world.text_channel_ids()[0]
    ids = [int((await emu.send_message(channel, f"m{n}"))["id"]) for n in range(130)]
    assert await peer.history(channel, 120) == ids[:-121:-1]
    pages = [r for r in emu.log.find("rest") if r.get("path", "").endswith("/messages")]
    assert len(pages) >= 2 and {r.get("status") for r in pages} == {200}
    await peer.stop_cleanly()

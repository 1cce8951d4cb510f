"""The emulator's REST, as libraries we did not write use it (spec 11, 14 A).

- discord.py's own sample bot ``examples/reply.py`` (a ``discord.Client`` whose
  ``on_message`` answers ``!hello`` with ``message.reply('Hello!', mention_author=True)``),
  unmodified but for the base URLs, replies through the emulator.
- discord.py and hikari pace themselves from the emulator's rate-limit headers: a burst on
  a small bucket gets no 429 (a 429 would also show up as a peer warning), and a forced 429
  of each scope is retried, not taken for a ban.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from typing import Any

import pytest
import yarl

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

from tether.emulator import Emulator

from .harness import GUILD_READY_TIMEOUT, STEP, DiscordPyBot, Hygiene, PeerBot

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning", "error::RuntimeWarning")

MSG = "POST /channels/{channel_id}/messages"


class ReplyExample(discord.Client):
    """discord.py ``examples/reply.py``, as published (only the prints are left out)."""

    async def on_message(self, message: discord.Message) -> None:
        # we do not want the bot to reply to itself
        assert self.user is not None
        if message.author.id == self.user.id:
            return
        if message.content.startswith("!hello"):
            await message.reply("Hello!", mention_author=True)


class ReplyExampleBot(DiscordPyBot):
    """Runs :class:`ReplyExample` with the harness's URL patching and hygiene checks."""

    async def start(self) -> None:
        self._patch(discord.http.Route, "BASE", self.emu.api_url)
        self._patch(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.emu.gateway_url)
        )
        intents = discord.Intents.default()
        intents.message_content = True
        client = ReplyExample(intents=intents, guild_ready_timeout=GUILD_READY_TIMEOUT)
        self.client = client

        async def on_ready() -> None:
            self.ready_count += 1
            self._note()

        async def on_error(event: str, *args: Any, **kwargs: Any) -> None:
            self._fail(sys.exc_info()[1] or RuntimeError(event))

        client.event(on_ready)
        client.event(on_error)
        self.started = True
        self._task = asyncio.create_task(client.start(self.emu.token), name="reply.py")
        self._task.add_done_callback(self._client_ended)


async def test_discordpy_reply_example_answers_over_rest(
    emu: Emulator, hygiene: Hygiene
) -> None:
    bot = ReplyExampleBot(emu, hygiene)
    try:
        await bot.start()
        await bot.wait(lambda: bot.ready_count > 0, "on_ready")
        channel = emu.world.text_channel_ids()[0]
        hello = await emu.send_message(channel, "!hello there")
        call = await emu.rest.wait_for_call(route=MSG, status=200, timeout=STEP)
        body = call.get("body")
        assert body["content"] == "Hello!"
        assert str(body["message_reference"]["message_id"]) == hello["id"]  # an int here
        assert body["allowed_mentions"]["replied_user"] is True
        [reply] = emu.rest.bot_messages(channel)
        assert reply["type"] == 19 and reply["referenced_message"]["id"] == hello["id"]
        assert [m["id"] for m in reply["mentions"]] == [hello["author"]["id"]]
        assert len(emu.rest.calls(route=MSG)) == 1  # it did not answer itself
        await bot.stop_cleanly()
    finally:
        await bot.close()


async def _send(peer: PeerBot, channel: int, content: str) -> Any:
    if peer.name == "discord.py":
        return await peer.client.get_channel(channel).send(content)
    return await peer.bot.rest.create_message(channel, content)


async def test_peers_pace_themselves_from_the_headers(peer: PeerBot, emu: Emulator) -> None:
    emu.rest.set_bucket(MSG, "peer burst", 3, 0.3)
    await peer.start()
    await peer.wait_ready()
    channel = emu.world.text_channel_ids()[0]
    for i in range(10):
        await _send(peer, channel, f"burst {i}")
    calls = emu.rest.calls(route=MSG)
    assert [c.get("status") for c in calls] == [200] * 10
    assert [c.get("body")["content"] for c in calls] == [f"burst {i}" for i in range(10)]
    gaps = [b.time - a.time for a, b in zip(calls[2::3], calls[3::3], strict=False)]
    assert all(gap > 0.25 for gap in gaps), gaps  # each 4th waited for the next window
    await peer.stop_cleanly()


@pytest.mark.parametrize("scope", ["user", "global"])
async def test_peers_retry_after_a_429(peer: PeerBot, emu: Emulator, scope: str) -> None:
    """A 429 in Discord's shape (body, ``Retry-After``, scope headers, ``Via``) is retried by
    the peers as a real one would be. (discord.py takes a 429 without ``Via`` for a
    Cloudflare ban and gives up; how long each peer waits is its own business.)"""
    peer.hygiene.allow("discord.http", "ate limit")
    peer.hygiene.allow("hikari", "rate limited")
    peer.hygiene.allow("hikari.ratelimits", "changed its slide period")  # a forced 429
    await peer.start()
    await peer.wait_ready()
    channel = emu.world.text_channel_ids()[0]
    emu.rest.faults.rate_limit(scope=scope, retry_after=0.3, route=MSG)
    await _send(peer, channel, "after a 429")
    calls = emu.rest.calls(route=MSG)
    assert [c.get("status") for c in calls] == [429, 200]
    assert calls[1].get("body")["content"] == "after a 429"
    await peer.stop_cleanly()

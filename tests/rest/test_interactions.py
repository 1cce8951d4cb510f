"""A tether.Client's INTERACTION_CREATE handlers answer through ``client.rest`` (spec 10.11,
11.6): within the 3 s window, deferred then edited, and with a clear error when late or twice.

The emulator dispatches the interaction over the gateway and records every answer; the
handlers signal the test through futures, so nothing here sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import tether
from tether.emulator import Emulator
from tether.errors import InteractionAlreadyResponded, InteractionTimedOut
from tether.rest import InteractionCallback, RestClient

CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
ORIGINAL = "PATCH /webhooks/{application_id}/{interaction_token}/messages/@original"
FOLLOWUP = "POST /webhooks/{application_id}/{interaction_token}"

Handler = Callable[[tether.Dispatch], Awaitable[Any]]


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[Callable[[Handler], Awaitable[tether.Client]]]:
    """Start a client whose INTERACTION_CREATE handler is the given coroutine function."""
    clients: list[tether.Client] = []

    async def start(handler: Handler) -> tether.Client:
        client = tether.Client(
            emu.token,
            api_url=emu.api_url,
            intents=tether.Intents.default() | tether.Intents.MESSAGE_CONTENT,
            guild_ready_timeout=0.5,
        )
        clients.append(client)
        client.on("INTERACTION_CREATE")(handler)
        await client.start()
        await client.wait_until_ready(timeout=10)
        return client

    yield start
    for client in clients:
        await client.stop()


def outcome() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


async def test_a_handler_answers_within_the_window(
    emu: Emulator, bot: Callable[[Handler], Awaitable[tether.Client]]
) -> None:
    done = outcome()
    client: tether.Client | None = None

    async def on_interaction(event: tether.Dispatch) -> None:
        assert client is not None
        interaction = client.rest.interaction(event)
        assert interaction.name == "ping"
        remaining = interaction.time_left()
        callback = await interaction.respond("pong", with_response=True)
        done.set_result((remaining, callback))

    client = await bot(on_interaction)
    channel = emu.world.text_channel_ids()[0]
    echoed = asyncio.ensure_future(client.wait_for(
        "MESSAGE_CREATE", check=lambda e: e.data.get("content") == "pong", timeout=5
    ))  # fmt: skip
    payload = emu.rest.interactions.create(channel, "ping")
    remaining, callback = await asyncio.wait_for(done, 5)
    assert remaining is not None and 0 < remaining <= 3.0
    assert isinstance(callback, InteractionCallback)
    assert callback.message is not None and callback.message.content == "pong"
    [call] = emu.rest.calls(route=CALLBACK)
    assert (call.get("status"), call.get("body")["type"]) == (200, 4)
    assert "Authorization" not in str(call.data) and call.get("auth") == "none"
    message = (await echoed).data
    assert message["interaction_metadata"]["id"] == payload["id"]
    assert message["author"]["id"] == str(emu.world.bot.id)
    assert message["webhook_id"] == str(emu.world.application_id)
    record = emu.rest.interactions.get(payload["id"])
    assert record is not None and record.callback_type == 4


async def test_defer_then_edit_then_follow_up(
    emu: Emulator, bot: Callable[[Handler], Awaitable[tether.Client]]
) -> None:
    done = outcome()
    work = asyncio.Event()
    client: tether.Client | None = None

    async def on_interaction(event: tether.Dispatch) -> None:
        assert client is not None
        interaction = client.rest.interaction(event)
        await interaction.defer()
        await work.wait()  # the slow part of the command
        edited = await interaction.edit_response(content="result: 42")
        secret = await interaction.followup("only you see this", ephemeral=True)
        done.set_result((edited, secret))

    client = await bot(on_interaction)
    channel = emu.world.text_channel_ids()[0]
    mark = emu.log.mark()
    payload = emu.rest.interactions.create(channel, "compute")
    await emu.rest.wait_for_call(route=CALLBACK, status=204)
    emu.rest.interactions.expire(payload["id"])  # past 3 s: the token still works for edits
    work.set()
    edited, secret = await asyncio.wait_for(done, 5)
    assert edited.content == "result: 42" and not edited.flags & 128
    assert secret.flags & 64
    statuses = [(c.get("route"), c.get("status")) for c in emu.rest.calls(since=mark)]
    assert statuses == [(CALLBACK, 204), (ORIGINAL, 200), (FOLLOWUP, 200)]
    dispatched = [r.get("t") for r in emu.log.find("dispatch", since=mark)]
    # the loading message, then its edit; the ephemeral follow-up is not dispatched
    assert dispatched == ["INTERACTION_CREATE", "MESSAGE_CREATE", "MESSAGE_UPDATE"]


async def test_a_late_answer_fails_clearly(
    emu: Emulator, bot: Callable[[Handler], Awaitable[tether.Client]]
) -> None:
    done = outcome()
    go = asyncio.Event()
    client: tether.Client | None = None

    async def on_interaction(event: tether.Dispatch) -> None:
        assert client is not None
        await go.wait()
        try:
            await client.rest.respond(event, "too late")
        except InteractionTimedOut as exc:
            done.set_result(exc)

    client = await bot(on_interaction)
    payload = emu.rest.interactions.create(emu.world.text_channel_ids()[0], "slow")
    emu.rest.interactions.expire(payload["id"])
    go.set()
    error = await asyncio.wait_for(done, 5)
    assert (error.status, error.code, error.sent) == (404, 10062, True)
    assert error.elapsed is not None and "within 3 s" in str(error) and "defer()" in str(error)
    assert [c.get("status") for c in emu.rest.calls(route=CALLBACK)] == [404]


async def test_lateness_known_locally_is_not_sent(
    emu: Emulator, bot: Callable[[Handler], Awaitable[tether.Client]]
) -> None:
    done = outcome()
    client: tether.Client | None = None

    async def on_interaction(event: tether.Dispatch) -> None:
        assert client is not None
        try:
            await client.rest.respond(event, "late")
        except InteractionTimedOut as exc:
            done.set_result(exc)

    client = await bot(on_interaction)
    # A window of zero: any answer is late (a test should not wait 3 s to show it).
    client.rest = RestClient(emu.token, api_url=emu.api_url, interaction_window=0.0)
    emu.rest.interactions.create(emu.world.text_channel_ids()[0], "slow")
    error = await asyncio.wait_for(done, 5)
    assert error.sent is False
    assert emu.rest.calls(route=CALLBACK) == []


async def test_a_second_answer_is_refused_before_sending(
    emu: Emulator, bot: Callable[[Handler], Awaitable[tether.Client]]
) -> None:
    done = outcome()
    client: tether.Client | None = None

    async def on_interaction(event: tether.Dispatch) -> None:
        assert client is not None
        await client.rest.defer(event, ephemeral=True)
        try:
            await client.rest.respond(event, "again")
        except InteractionAlreadyResponded as exc:
            done.set_result(exc)

    client = await bot(on_interaction)
    emu.rest.interactions.create(emu.world.text_channel_ids()[0], "twice")
    error = await asyncio.wait_for(done, 5)
    assert error.code == 40060
    assert [c.get("status") for c in emu.rest.calls(route=CALLBACK)] == [204]

"""The emulator's REST surface beyond the bootstrap (spec 10.8, 10.11, 11.5-11.6, 14 A5-A6):
messages, replies, edits, deletes, reactions, typing, members and interactions, seen by a
raw HTTP client and a raw gateway client."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tether.emulator import DEFAULT_TOKEN, Emulator

from .rawclient import Connect

AUTH = {"Authorization": f"Bot {DEFAULT_TOKEN}"}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, url, json=body, **kw) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


class TestMessages:
    """Spec 10.8, 11.6: messages created, replied to, edited and deleted, with their dispatches."""

    async def test_reply_edit_react_type_delete(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        gateway = await connect()
        await gateway.ready()
        channel = emu.world.text_channel_ids()[0]
        ping = await emu.send_message(channel, "!ping")
        await gateway.recv_dispatch("MESSAGE_CREATE")
        base = f"{emu.api_url}/channels/{channel}/messages"
        status, reply = await call(http, "POST", base, {
            "content": "pong", "message_reference": {"message_id": ping["id"]},
        }, headers=AUTH)  # fmt: skip
        assert status == 200
        assert reply["type"] == 19
        assert reply["message_reference"]["message_id"] == ping["id"]
        assert reply["referenced_message"]["content"] == "!ping"
        assert [m["id"] for m in reply["mentions"]] == [ping["author"]["id"]]  # replied user
        assert "guild_id" not in reply and "member" not in reply
        created = (await gateway.recv_dispatch("MESSAGE_CREATE"))["d"]
        assert (created["id"], created["guild_id"]) == (reply["id"], ping["guild_id"])
        status, edited = await call(http, "PATCH", f"{base}/{reply['id']}", {"content": "pong!"},
                                    headers=AUTH)  # fmt: skip
        assert (status, edited["content"]) == (200, "pong!")
        assert edited["edited_timestamp"] is not None
        update = (await gateway.recv_dispatch("MESSAGE_UPDATE"))["d"]
        assert update["content"] == "pong!"
        status, _ = await call(http, "PUT", f"{base}/{reply['id']}/reactions/%E2%9C%85/@me",
                               headers=AUTH)  # fmt: skip
        assert status == 204
        reaction = (await gateway.recv_dispatch("MESSAGE_REACTION_ADD"))["d"]
        assert (reaction["emoji"], reaction["user_id"]) == (
            {"id": None, "name": "✅"}, str(emu.world.bot.id),
        )  # fmt: skip
        assert (await call(http, "POST", f"{emu.api_url}/channels/{channel}/typing",
                           headers=AUTH))[0] == 204  # fmt: skip
        typing = (await gateway.recv_dispatch("TYPING_START"))["d"]
        assert typing["user_id"] == str(emu.world.bot.id)
        status, got = await call(http, "GET", f"{base}/{reply['id']}", headers=AUTH)
        assert got["reactions"][0]["count"] == 1
        assert (await call(http, "DELETE", f"{base}/{reply['id']}", headers=AUTH))[0] == 204
        deleted = (await gateway.recv_dispatch("MESSAGE_DELETE"))["d"]
        assert deleted == {"id": reply["id"], "channel_id": str(channel),
                           "guild_id": ping["guild_id"]}  # fmt: skip
        assert (await call(http, "GET", f"{base}/{reply['id']}", headers=AUTH))[0] == 404

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"content": "x", "message_reference": {"message_id": "1"}}, 400, 50035),
            ({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
             400, 50035),
            ({"embeds": [{}] * 11}, 400, 50035),
            ({"content": "x", "message_reference": {"message_id": "1",
                                                    "fail_if_not_exists": False}}, 200, None),
        ],
    )  # fmt: skip
    async def test_bodies_are_validated(
        self, emu: Emulator, http: aiohttp.ClientSession, body: Any, status: int, code: Any
    ) -> None:
        url = f"{emu.api_url}/channels/{emu.world.text_channel_ids()[0]}/messages"
        got_status, got = await call(http, "POST", url, body, headers=AUTH)
        assert got_status == status
        if code is not None:
            assert got["code"] == code

    async def test_permissions_and_channel_kinds(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        channel = emu.world.text_channel_ids()[0]
        human = await emu.send_message(channel, "mine")
        base = f"{emu.api_url}/channels/{channel}/messages"
        status, error = await call(http, "PATCH", f"{base}/{human['id']}", {"content": "x"},
                                   headers=AUTH)  # fmt: skip
        assert (status, error["code"]) == (403, 50005)
        guild = emu.world.guild(emu.world.guild_ids()[0])
        voice = next(c for c in guild.channels if c.type == 2)
        status, error = await call(http, "POST", f"{emu.api_url}/channels/{voice.id}/messages",
                                   {"content": "x"}, headers=AUTH)  # fmt: skip
        assert (status, error["code"]) == (400, 50008)
        emu.rest.faults.forbid_channel(channel)
        assert (await call(http, "POST", base, {"content": "x"}, headers=AUTH))[1]["code"] == 50013
        status, error = await call(http, "PUT", f"{base}/{human['id']}/reactions/abc/@me",
                                   headers=AUTH)  # fmt: skip
        assert (status, error["code"]) == (400, 10014)

    async def test_members(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        guild = emu.world.guild_ids()[0]
        user = next(iter(emu.world.guild(guild).members))
        status, member = await call(http, "GET", f"{emu.api_url}/guilds/{guild}/members/{user}",
                                    headers=AUTH)  # fmt: skip
        assert (status, member["user"]["id"]) == (200, str(user))
        status, error = await call(http, "GET", f"{emu.api_url}/guilds/{guild}/members/1",
                                   headers=AUTH)  # fmt: skip
        assert (status, error["code"]) == (404, 10007)

    async def test_users_channels_roles(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        guild = emu.world.guild(emu.world.guild_ids()[0])
        user = next(iter(guild.members))
        api = emu.api_url
        status, got = await call(http, "GET", f"{api}/users/{user}", headers=AUTH)
        assert (status, got["id"]) == (200, str(user))
        status, got = await call(http, "GET", f"{api}/users/{emu.world.bot.id}", headers=AUTH)
        assert (status, got["id"], got["bot"]) == (200, str(emu.world.bot.id), True)
        status, got = await call(http, "GET", f"{api}/users/@me", headers=AUTH)
        assert (status, got["id"]) == (200, str(emu.world.bot.id))
        status, error = await call(http, "GET", f"{api}/users/1", headers=AUTH)
        assert (status, error["code"]) == (404, 10013)
        status, channels = await call(
            http, "GET", f"{api}/guilds/{guild.id}/channels", headers=AUTH
        )
        assert status == 200 and [c["id"] for c in channels] == [str(c.id) for c in guild.channels]
        status, roles = await call(http, "GET", f"{api}/guilds/{guild.id}/roles", headers=AUTH)
        assert status == 200 and [r["id"] for r in roles] == [str(r.id) for r in guild.roles]
        status, error = await call(http, "GET", f"{api}/guilds/1/roles", headers=AUTH)
        assert (status, error["code"]) == (404, 10004)

    async def test_history(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        """Newest first; before, after (the ones right after) and around pick the window."""
        channel = emu.world.text_channel_ids()[0]
        ids = [int((await emu.send_message(channel, f"m{n}"))["id"]) for n in range(10)]
        base = f"{emu.api_url}/channels/{channel}/messages"

        async def history(query: str) -> list[int]:
            status, got = await call(http, "GET", f"{base}?{query}", headers=AUTH)
            assert status == 200, got
            return [int(m["id"]) for m in got]

        assert await history("") == ids[::-1]
        assert await history("limit=3") == ids[:-4:-1]
        assert await history(f"before={ids[5]}&limit=2") == [ids[4], ids[3]]
        assert await history(f"after={ids[2]}&limit=3") == [ids[5], ids[4], ids[3]]
        assert await history(f"around={ids[5]}&limit=4") == [ids[6], ids[5], ids[4], ids[3]]
        for bad in ("limit=0", "limit=101", "limit=x", "before=abc"):
            status, error = await call(http, "GET", f"{base}?{bad}", headers=AUTH)
            assert (status, error["code"]) == (400, 50035), bad
        status, error = await call(http, "GET", f"{emu.api_url}/channels/1/messages", headers=AUTH)
        assert (status, error["code"]) == (404, 10003)


class TestInteractions:
    """Spec 11.6, 14 A6: the callback's window, its second use, and the webhook endpoints."""

    async def test_callback_rules(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        gateway = await connect()
        await gateway.ready()
        channel = emu.world.text_channel_ids()[0]
        status, payload = await call(http, "POST", f"{emu.control_url}/interactions",
                                     {"channel_id": str(channel), "name": "hello"})  # fmt: skip
        assert status == 200
        dispatched = (await gateway.recv_dispatch("INTERACTION_CREATE"))["d"]
        assert dispatched["id"] == payload["id"] and dispatched["data"]["name"] == "hello"
        assert dispatched["member"]["user"]["id"] and dispatched["version"] == 1
        url = f"{emu.api_url}/interactions/{payload['id']}/{payload['token']}/callback"
        wrong = f"{emu.api_url}/interactions/{payload['id']}/nope/callback"
        assert (await call(http, "POST", wrong, {"type": 4}))[1]["code"] == 10062
        status, error = await call(http, "POST", url, {"type": 8})
        assert (status, error["code"]) == (400, 50035)  # autocomplete result for a command
        status, answer = await call(http, "POST", url + "?with_response=true",
                                    {"type": 4, "data": {"content": "hi"}})  # fmt: skip
        assert status == 200
        assert answer["interaction"]["response_message_id"] == answer["resource"]["message"]["id"]
        assert answer["resource"]["type"] == 4
        message = (await gateway.recv_dispatch("MESSAGE_CREATE"))["d"]
        assert message["interaction_metadata"]["id"] == payload["id"]
        status, error = await call(http, "POST", url, {"type": 4, "data": {"content": "again"}})
        assert (status, error["code"]) == (400, 40060)
        [logged] = [c for c in emu.rest.calls(method="POST") if c.get("status") == 200]
        assert payload["token"] not in logged.get("path") and "<token>" in logged.get("path")

    async def test_late_and_webhook_rules(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        channel = emu.world.text_channel_ids()[0]
        late = emu.rest.interactions.create(channel, "slow")
        status, _ = await call(http, "POST", f"{emu.control_url}/interactions/{late['id']}/expire")
        assert status == 200
        url = f"{emu.api_url}/interactions/{late['id']}/{late['token']}/callback"
        assert (await call(http, "POST", url, {"type": 5}))[1]["code"] == 10062
        fresh = emu.rest.interactions.create(channel, "ok")
        app = emu.world.application_id
        hook = f"{emu.api_url}/webhooks/{app}/{fresh['token']}"
        assert (await call(http, "POST", hook, {"content": "early"}))[1]["code"] == 10015
        assert (await call(http, "PATCH", f"{hook}/messages/@original", {"content": "x"}))[1][
            "code"
        ] == 10008
        callback = f"{emu.api_url}/interactions/{fresh['id']}/{fresh['token']}/callback"
        assert (await call(http, "POST", callback, {"type": 5, "data": {"flags": 64}}))[0] == 204
        status, original = await call(http, "GET", f"{hook}/messages/@original")
        assert status == 200 and original["flags"] == 64 | 128  # ephemeral, loading
        status, edited = await call(http, "PATCH", f"{hook}/messages/@original",
                                    {"content": "done"})  # fmt: skip
        assert (status, edited["content"], edited["flags"]) == (200, "done", 64)
        status, follow = await call(http, "POST", hook + "?wait=true", {"content": "more"})
        assert (status, follow["webhook_id"]) == (200, str(app))
        assert (await call(http, "DELETE", f"{hook}/messages/@original"))[0] == 204
        other_app = f"{emu.api_url}/webhooks/1/{fresh['token']}"
        assert (await call(http, "POST", other_app, {"content": "x"}))[1]["code"] == 10015
        emu.rest.configure(interaction_token_ttl_s=0.0)
        assert (await call(http, "POST", hook, {"content": "x"}))[1]["code"] == 50027
